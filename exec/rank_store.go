package exec

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// Rank state in memory: the partitions of a Rank live in a joinStore's key table and byte arena
// (join_store.go), without a Go object, string or map entry per row or per partition. A partition's record
// has the partition key (appendGroupKey, or rank_key.go's compact key for integer columns) and the body
// tag len(body)<<1 (joinStore never sees a big bucket of its own), and its body is:
//
//	[with a TTL: 8 bytes, little endian, the last change (Unix ms), updated in place]
//	form byte: 0 — the rows' entries follow, in order; 1 — a uvarint index of the partition's rankChunks (rs.bigs)
//
// An entry of a record is: uvarint length of the sort key, the sort key (rank_sortkey.go) followed by the
// row's arrival number (appendSeq: 1 to 9 bytes that sort as the numbers do, so entries order as (sort key,
// arrival) and the number identifies the row), the uvarint length of the row and its reference (rsRefLen
// bytes) into the row arena (rank_rows.go), where the row is stored once (appendRowBinary: the snapshot's row encoding). A change to a
// partition writes its record anew at the arena's end — its entries, about 20 bytes a row — and only the
// row that came into the row arena: the cost is the partition's entries, not its rows. Rows are decoded
// only when they are emitted or a retraction must compare them; strings decode in place (rankDecodeRow),
// which is safe because row bytes once written are never changed: compaction copies them to new chunks.
//
// A deduplication (ROW_NUMBER = 1 over insert-only input: a partition keeps one row) stores its entry in
// the record with its row (dedup form: uvarint length of the sort key, the sort key and arrival number,
// uvarint length of the row, the row: appendREnt), so that loading a partition and comparing a new row with
// it reads no row: the row is decoded only when it is emitted (replaced). Sort keys are rank_sortkey.go's
// compact form (8 bytes for a timestamp of now, 13 before); snapshots hold arrival numbers and rows, not
// sort keys, and do not change. (Until December 2026 the entry had no sort key and loading derived it from
// the decoded row: 310–480 ns a row of Nexmark q18's shape, most of the deduplication's cost.)
//
// A partition whose entries would take more than rsSmallBytes in its record keeps them in a rankChunks
// instead (rank_chunks.go): sorted chunks of the same entries, changed in place, so that an insertion or
// retraction moves at most one chunk's bytes however many rows the partition holds (a Top-N over an
// updating input keeps every row of its partition); it goes back into its record when its entries shrink
// to half of rsSmallBytes. The global Top-N (topn.go) is one such rankChunks, with a rankStore of its own for
// the row arena.

const (
	rsSmallBytes = 512
	rsFormInline = 0
	rsFormBig    = 1
	// rsFormSeen: a keep-first deduplication's partition whose row was emitted: its key is all it keeps
	rsFormSeen = 2
)

// rEnt is a row entry: its sort key and arrival number (sk; the sort key is sk[:ol]), and its row; ref is
// the row's place in the row arena (rank_rows.go) when it is stored there, else 0. A stored row is read
// from the arena only when needed (rankStore.row; row is nil until then), rl is its length.
type rEnt struct {
	sk  []byte
	row []byte
	ol  int
	rl  int
	ref uint64
}

func (e *rEnt) seq() uint64   { return readSeq(e.sk[e.ol:]) }
func (e *rEnt) order() []byte { return e.sk[:e.ol] }

func appendREnt(dst []byte, e rEnt) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.ol))
	dst = append(dst, e.sk...)
	dst = binary.AppendUvarint(dst, uint64(len(e.row)))
	return append(dst, e.row...)
}

// parseREnt parses the entry at b[p:] and returns it and the offset after it.
func parseREnt(b []byte, p int) (rEnt, int) {
	l, k := binary.Uvarint(b[p:])
	p += k
	end := p + int(l) + seqLen(b[p+int(l)])
	sk := b[p:end:end]
	p = end
	n, k := binary.Uvarint(b[p:])
	p += k
	return rEnt{sk: sk, row: b[p : p+int(n) : p+int(n)], ol: int(l)}, p + int(n)
}

// appendSeq appends an arrival number in 1 to 9 bytes that compare (bytes.Compare) as the numbers do: the
// first byte's leading one bits count the bytes that follow it (8 of them after 0xff), its other bits and
// those bytes hold the number big-endian. Numbers below 2^21 take at most 3 bytes.
func appendSeq(dst []byte, n uint64) []byte {
	l := 1
	for l < 9 && n >= 1<<(7*l) {
		l++
	}
	if l == 9 {
		return binary.BigEndian.AppendUint64(append(dst, 0xff), n)
	}
	dst = append(dst, byte(0xff<<(9-l))|byte(n>>(8*(l-1))))
	for i := l - 2; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// seqLen is the length of the appendSeq encoding that starts with byte b.
func seqLen(b byte) int { return bits.LeadingZeros8(^b) + 1 }

// readSeq decodes the appendSeq encoding at the start of b.
func readSeq(b []byte) uint64 {
	l := seqLen(b[0])
	if l == 9 {
		return binary.BigEndian.Uint64(b[1:9])
	}
	n := uint64(b[0] & (0xff >> l))
	for _, c := range b[1:l] {
		n = n<<8 | uint64(c)
	}
	return n
}

// rankPart is a partition loaded for a change: where its record is, its rows (inline: parsed into the
// operator's scratch; big: its rankChunks) and its last change.
type rankPart struct {
	slot    int // -1: not stored
	size    int // bytes of its record
	touched int64
	big     *rankChunks
	bigIdx  int
	ents    []rEnt // inline rows, in order
	seen    bool   // a keep-first deduplication's flag (rsFormSeen): its row was emitted and is not kept
}

func (p *rankPart) count() int {
	if p.big != nil {
		return p.big.total
	}
	return len(p.ents)
}

// each calls fn with the partition's rows in order until it returns false.
func (p *rankPart) each(fn func(e rEnt) bool) {
	if p.big == nil {
		for _, e := range p.ents {
			if !fn(e) {
				return
			}
		}
		return
	}
	p.big.each(fn)
}

// rankStore is the partitions of a Rank (see above).
type rankStore struct {
	st       joinStore
	ttl      bool
	bigs     []*rankChunks
	freeBigs []uint32
	// freeChunks: chunks of rankChunks given back, for the next split (rank_chunks.go)
	freeChunks [][]byte
	gone       []byte // the sort key of the entry a rankChunks removed last
	body       []byte
	// dedup: entries are stored in the dedup form, their rows in the record (above)
	dedup bool
	// seenOnly: a keep-first deduplication (RankConfig.KeepFirst) keeps only its partitions' keys, a flag
	// (rsFormSeen): a partition's later rows are dropped unread, so its row is never needed again once
	// emitted (Flink's ProcTimeDeduplicateKeepFirstRow keeps a boolean per key). Snapshots hold the key
	// with no rows (rank_state.go).
	seenOnly bool
	// rows is the row arena of inline partitions (rank_rows.go); only its chunks and counters are used.
	rows           joinStore
	rowCompactions int
	compactions    int // of the records (tidy)
}

func (rs *rankStore) formAt() int {
	if rs.ttl {
		return 8
	}
	return 0
}

// load reads the partition at slot into p (its inline entries into p.ents[:0]).
func (rs *rankStore) load(slot int, p *rankPart) {
	r := rs.st.record(slot)
	b := r.body
	*p = rankPart{slot: slot, size: r.size, ents: p.ents[:0]}
	f := rs.formAt()
	if rs.ttl {
		p.touched = int64(binary.LittleEndian.Uint64(b))
	}
	if b[f] == rsFormBig {
		i, _ := binary.Uvarint(b[f+1:])
		p.big, p.bigIdx = rs.bigs[i], int(i)
		return
	}
	if b[f] == rsFormSeen {
		p.seen = true
		return
	}
	if rs.dedup {
		for q := f + 1; q < len(b); {
			var e rEnt
			e, q = parseREnt(b, q)
			p.ents = append(p.ents, e)
		}
		return
	}
	for q := f + 1; q < len(b); {
		var e rEnt
		e, _, q = refEntAt(b, q)
		p.ents = append(p.ents, e)
	}
}

// touchedAt returns the last change of the partition at slot.
func (rs *rankStore) touchedAt(slot int) int64 {
	if !rs.ttl {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(rs.st.record(slot).body))
}

// setTouched writes the last change of a stored partition in place.
func (rs *rankStore) setTouched(p *rankPart, t int64) {
	p.touched = t
	if rs.ttl && p.slot >= 0 {
		binary.LittleEndian.PutUint64(rs.st.record(p.slot).body, uint64(t))
	}
}

// save writes partition p (key, hash h) back: a new record for inline rows (a rankChunks when they outgrow
// rsSmallBytes), or only its last change for a big one; a partition without rows is deleted.
func (rs *rankStore) save(key []byte, h uint64, p *rankPart) {
	if p.count() == 0 && !p.seen {
		if p.slot >= 0 {
			rs.deleteSlot(p.slot, false) // its rows were dropped as they left
		}
		return
	}
	var shrunk *rankChunks // a rankChunks whose entries are written inline again
	if p.big != nil && p.slot >= 0 {
		if p.big.size > rsSmallBytes/2 {
			rs.setTouched(p, p.touched)
			return
		}
		shrunk, p.big = p.big, nil
		p.ents = shrunk.appendEnts(p.ents[:0], 0, int64(shrunk.total))
	}
	b := rs.body[:0]
	if rs.ttl {
		b = binary.LittleEndian.AppendUint64(b, uint64(p.touched))
	}
	hdr := len(b)
	b = append(b, rsFormInline)
	if rs.seenOnly {
		b = append(b[:hdr], rsFormSeen) // the row was emitted (or restored): only the key stays
	} else if p.big == nil && rs.dedup {
		for _, e := range p.ents {
			b = appendREnt(b, e)
		}
	} else if p.big == nil {
		// a partition whose entries would take more than rsSmallBytes moves to a rankChunks (rank_chunks.go)
		size := 0
		for i := range p.ents {
			size += refEntLen(&p.ents[i])
		}
		if size > rsSmallBytes && len(p.ents) > 1 {
			bb := &rankChunks{}
			for i := range p.ents {
				e := &p.ents[i]
				if e.ref == 0 {
					e.rl, e.ref = len(e.row), rs.putRow(e.row)
				}
				bb.add(rs, e, size)
				size -= refEntLen(e)
			}
			p.big, p.ents = bb, p.ents[:0]
		}
		for i := range p.ents {
			e := &p.ents[i]
			if e.ref == 0 {
				e.ref = rs.putRow(e.row)
			}
			b = appendRefEnt(b, e)
		}
	}
	if p.big != nil {
		b = append(b[:hdr], rsFormBig)
		b = binary.AppendUvarint(b, uint64(rs.newBig(p.big)))
	}
	rs.body = b
	if p.slot >= 0 {
		rs.st.replace(p.slot, p.size, key, uint64(len(b))<<1, b)
	} else {
		rs.st.insertKey(h, key, uint64(len(b))<<1, b)
	}
	if shrunk != nil {
		rs.bigs[p.bigIdx] = nil
		rs.freeBigs = append(rs.freeBigs, uint32(p.bigIdx))
		shrunk.release(rs)
	}
}

func (rs *rankStore) newBig(bb *rankChunks) int {
	if n := len(rs.freeBigs); n > 0 {
		i := rs.freeBigs[n-1]
		rs.freeBigs = rs.freeBigs[:n-1]
		rs.bigs[i] = bb
		return int(i)
	}
	rs.bigs = append(rs.bigs, bb)
	return len(rs.bigs) - 1
}

// deletePart removes the partition at slot (and frees its rankChunks and its rows).
func (rs *rankStore) deletePart(slot int) { rs.deleteSlot(slot, true) }

// deleteSlot removes the partition at slot and frees its rankChunks; dropRows: and counts its stored rows as
// garbage (unless they were dropped one by one already).
func (rs *rankStore) deleteSlot(slot int, dropRows bool) {
	b := rs.st.record(slot).body
	if f := rs.formAt(); b[f] == rsFormBig {
		i, _ := binary.Uvarint(b[f+1:])
		bb := rs.bigs[i]
		if dropRows {
			bb.each(func(e rEnt) bool { rs.dropRow(&e); return true })
		}
		bb.release(rs)
		rs.bigs[i] = nil
		rs.freeBigs = append(rs.freeBigs, uint32(i))
	} else if !rs.dedup && dropRows {
		eachRefEnt(b[f+1:], func(e rEnt, _ int) { rs.dropRow(&e) })
	}
	rs.st.deleteSlot(slot)
}

// tidy compacts the arenas and shrinks the key table when most partitions went. The records (a
// deduplication's hold its rows; other Ranks' hold only sort keys and row references) and the row arena
// (rank_rows.go) are each compacted once their garbage is more than half their live bytes: state stays
// within 1.5 times its live size, and every byte written is copied about twice on average. (A
// deduplication's records were compacted at an eighth: each byte copied about eight times, the largest
// cost of a Top-1 over an updating stream, Nexmark q9.)
func (rs *rankStore) tidy() {
	st := &rs.st
	if st.keys == 0 && len(rs.bigs) > 0 {
		rs.bigs, rs.freeBigs = nil, nil
	}
	if st.keys == 0 && rs.rows.used > 0 {
		rs.rows = joinStore{}
	}
	if a := &rs.rows; a.garbage > jsChunkMin && a.garbage*3 > a.used {
		rs.compactRows()
	}
	if st.garbage > jsChunkMin && st.garbage*3 > st.used {
		rs.compactions++
		st.compact()
	}
	st.tidy()
}

// rankDecodeRow decodes an appendRowBinary row into dst[:0]; strings reference b in place (b is never
// changed). A malformed row decodes as far as it goes (rows are written by this package).
func rankDecodeRow(b []byte, dst []types.Value) []types.Value {
	dst = dst[:0]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return dst
	}
	pos := k
	for range n {
		if pos >= len(b) {
			dst = append(dst, types.NullValue)
			continue
		}
		switch tag := types.Tag(b[pos]); tag {
		case types.TagString, types.TagBytes:
			l, m := binary.Uvarint(b[pos+1:])
			start := pos + 1 + m
			if m <= 0 || l > uint64(len(b)-start) {
				dst = append(dst, types.NullValue)
				pos = len(b)
				continue
			}
			var s string
			if l > 0 {
				s = unsafe.String(&b[start], int(l))
			}
			dst = append(dst, types.Value{T: tag, S: s})
			pos = start + int(l)
		case types.TagInt:
			v, m := binary.Varint(b[pos+1:])
			if m <= 0 {
				dst = append(dst, types.NullValue)
				pos = len(b)
				continue
			}
			dst = append(dst, types.IntValue(v))
			pos += 1 + m
		default:
			v, rest, err := decodeValueBinary(b[pos:])
			if err != nil {
				dst = append(dst, types.NullValue)
				pos = len(b)
				continue
			}
			dst = append(dst, v)
			pos = len(b) - len(rest)
		}
	}
	return dst
}
