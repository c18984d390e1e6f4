package exec

import "github.com/sluicesql/sluice/changelog"

// Key lookups of a large Rank (a deduplication over millions of keys, Nexmark q18) miss the caches twice per
// row: once in the key table (joinStore.find) and, for a partition that is there, once in the arena where
// its record is (rankStore.load). Done row after row, each miss waits for the one before it. warm instead
// computes the partition keys and hashes of a push's rows up front (the push then uses them), then reads,
// in a loop of loads only, the key table's home slot of every row's key, and then, those slots being in the
// caches, the first bytes of the record of the first slot with the key's hash tag. The reads of a pass do
// not depend on one another, so the processor overlaps their misses (a prefetch: nothing read is used but
// the keys and hashes). Tables that fit in the caches are not warmed.

const rankWarmSlots = 1 << 15 // 256 KiB of key table

// warm fills r.pkeys, r.pkoff and r.phash for rows[:n] and returns n: the rows up to the first one whose
// partition columns are missing (Push refuses it), or 0 when the table is small.
func (r *rankOp) warm(rows []changelog.Row) int {
	st := &r.st.st
	if len(st.slots) == 0 || len(st.slots) < r.warmSlots || len(rows) < 2 {
		return 0
	}
	r.pkeys, r.pkoff, r.phash = r.pkeys[:0], append(r.pkoff[:0], 0), r.phash[:0]
	for _, row := range rows {
		if !keyColsFit(row.Vals, r.cfg.Partition) {
			break
		}
		start := len(r.pkeys)
		r.pkeys = r.partKey(r.pkeys, row.Vals)
		r.pkoff = append(r.pkoff, len(r.pkeys))
		r.phash = append(r.phash, st.hash(r.pkeys[start:]))
	}
	r.warmReads()
	return len(r.phash)
}

// warmReads reads the key table's slots and records of the keys r.phash (computed by warm or, for columns,
// by columnKeys).
func (r *rankOp) warmReads() {
	st := &r.st.st
	// a loop of loads only, so that many of them are in flight at once
	slots := st.slots
	n := uint64(len(slots))
	var sink uint64
	for _, h := range r.phash {
		i := (h >> jsPosBits) * n >> (64 - jsPosBits) // st.home(h)
		sink += slots[i] + slots[min(i+8, n-1)]       // and the next line, where a miss's probe often goes on
	}
	for _, h := range r.phash {
		tag := jsTag(h)
		for i, k := st.home(h), 0; k < 4; k++ {
			v := slots[i]
			if v == 0 {
				break
			}
			if v&^jsPosMask == tag {
				b := st.at(v&jsPosMask - 1)
				sink += uint64(b[0])
				if len(b) > 64 {
					sink += uint64(b[64])
				}
				break
			}
			if i++; i == len(slots) {
				i = 0
			}
		}
	}
	r.warmSink = sink // the reads stay
}

// warmKey returns the partition key and hash of rows[i] computed by warm.
func (r *rankOp) warmKey(i int) ([]byte, uint64) {
	return r.pkeys[r.pkoff[i]:r.pkoff[i+1]:r.pkoff[i+1]], r.phash[i]
}
