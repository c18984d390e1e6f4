package exec

import (
	"encoding/binary"
)

// Rows of a Rank's partitions (all but a deduplication's, whose single row is its record) live in an arena
// of their own, apart from the partition records:
// a record's entry names its row by length and position (rsRefLen bytes, little endian, a joinStore arena
// position), so that a change to a partition rewrites its entries — sort key, arrival number, length,
// reference: about 20 bytes a row — and writes only the row that came; the rows that stay are neither
// copied nor read (a row is read when it is emitted or compared: rankStore.row). A row is stored once:
// uvarint length, the row (appendRowBinary).
//
// Rows that leave a partition (retracted, pushed past the limit, expired) become garbage
// of the row arena; when it is more than half the live rows, compactRows copies the live rows, partition by
// partition, into new chunks and rewrites the references in place in the records (the old chunks are left to
// the GC: emitted rows reference their strings). Every row byte is so copied about twice on average, and the
// arena stays within 1.5 times its live rows (a rankChunks' references are rewritten in its chunks the
// same way); the same bound holds for the records (rankStore.tidy).

const rsRefLen = 5 // bytes of a row reference: a joinStore position (jsPosBits)

// putRow stores row in the row arena and returns its reference (its position + 1; 0 means not stored).
func (rs *rankStore) putRow(row []byte) uint64 {
	a := &rs.rows
	n := uvarintLen(uint64(len(row))) + len(row)
	c := a.reserve(n)
	b := a.chunks[c]
	off := len(b)
	b = binary.AppendUvarint(b, uint64(len(row)))
	a.chunks[c] = append(b, row...)
	a.used += n
	return (uint64(c)<<jsChunkBits | uint64(off)) + 1
}

// row returns e's row, reading it from the row arena when it is not at hand yet.
func (rs *rankStore) row(e *rEnt) []byte {
	if e.row == nil && e.ref != 0 {
		e.row, _ = rowIn(rs.rows.chunks, e.ref-1)
	}
	return e.row
}

// rowLen is the length of e's row.
func (e *rEnt) rowLen() int {
	if e.row == nil && e.ref != 0 {
		return e.rl
	}
	return len(e.row)
}

// rowIn returns the row stored at position pos of chunks, and its bytes in the arena (length included).
func rowIn(chunks [][]byte, pos uint64) (row []byte, size int) {
	b := chunks[pos>>jsChunkBits][pos&(jsChunkMax-1):]
	n, k := binary.Uvarint(b)
	end := k + int(n)
	return b[k:end:end], end
}

// dropRow counts the stored row of e (if any) as garbage: the entry left its partition.
func (rs *rankStore) dropRow(e *rEnt) {
	if e.ref != 0 {
		n := e.rowLen()
		rs.rows.garbage += uvarintLen(uint64(n)) + n
		e.ref = 0
	}
}

// appendRefEnt appends e as an entry of an inline partition record: uvarint length of the sort key, the
// sort key and arrival number, uvarint length of the row, the row's reference (so that neither the order
// nor the sizes read the row arena).
func appendRefEnt(dst []byte, e *rEnt) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.ol))
	dst = append(dst, e.sk...)
	dst = binary.AppendUvarint(dst, uint64(e.rowLen()))
	r := e.ref - 1
	return append(dst, byte(r), byte(r>>8), byte(r>>16), byte(r>>24), byte(r>>32))
}

// refEntAt parses the entry at b[p:] (appendRefEnt) without its row: it returns the entry, the offset of
// its reference and the offset after it.
func refEntAt(b []byte, p int) (e rEnt, refAt, next int) {
	l, k := binary.Uvarint(b[p:])
	p += k
	end := p + int(l) + seqLen(b[p+int(l)])
	e.sk, e.ol = b[p:end:end], int(l)
	rl, k := binary.Uvarint(b[end:])
	e.rl = int(rl)
	end += k
	r := b[end : end+rsRefLen]
	e.ref = (uint64(r[0]) | uint64(r[1])<<8 | uint64(r[2])<<16 | uint64(r[3])<<24 | uint64(r[4])<<32) + 1
	return e, end, end + rsRefLen
}

func putRef(b []byte, ref uint64) {
	r := ref - 1
	b[0], b[1], b[2], b[3], b[4] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24), byte(r>>32)
}

// eachRefEnt calls fn with each entry of an inline record's body (after the form byte) and the offset of
// its reference. The entry is passed by value: a pointer to it would escape through fn, an allocation an
// entry (a Rank's row compaction allocated once a row until December 2026).
func eachRefEnt(b []byte, fn func(e rEnt, refAt int)) {
	for q := 0; q < len(b); {
		e, at, next := refEntAt(b, q)
		fn(e, at)
		q = next
	}
}

// compactRows copies the live rows into new chunks, partition by partition, and points the records at them.
func (rs *rankStore) compactRows() {
	old := rs.newRowArena()
	f := rs.formAt()
	for i, v := range rs.st.slots {
		if v == 0 {
			continue
		}
		body := rs.st.record(i).body
		if body[f] == rsFormBig {
			j, _ := binary.Uvarint(body[f+1:])
			rs.bigs[j].moveRows(rs, old)
			continue
		}
		if body[f] != rsFormInline {
			continue
		}
		ents := body[f+1:]
		eachRefEnt(ents, func(e rEnt, at int) {
			row, _ := rowIn(old, e.ref-1)
			putRef(ents[at:], rs.putRow(row))
		})
	}
}

// newRowArena starts the row arena anew for a compaction (sized for its live rows) and returns its old
// chunks, whose live rows the caller copies (rankChunks.moveRows).
func (rs *rankStore) newRowArena() [][]byte {
	a := &rs.rows
	rs.rowCompactions++
	old := a.chunks
	live := a.used - a.garbage
	a.chunks, a.used, a.garbage = nil, 0, 0
	if live > 0 {
		a.chunks = [][]byte{make([]byte, 0, min(max(live, jsChunkMin), jsChunkMax))}
	}
	return old
}
