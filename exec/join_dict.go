package exec

import (
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Dictionaries of repeated strings in a join side's stored rows (join_rec.go).
//
// Each CHAR/VARCHAR column of a side has a dictionary: while it is open, a string stored in a row body
// (at least joinDictMinLen bytes) is added to it, and the body holds the value's id (join_dict_codec.go) in
// place of its length and bytes. A dictionary closes for good — it adds no value after that — when it would
// hold more than joinDictMaxValues values or joinDictMaxBytes bytes, or once it holds joinDictTrial values
// and most values stored were new (a column of unique strings: names, descriptions, 'extra'). Nexmark's
// bids repeat 'channel' and 'url' (10,004 values each).
//
// A value's encoding never changes while the dictionary is: a string is in it from the first time it is
// stored while it is open, and stored in place only when it is not in it, which, as a closed dictionary adds
// nothing, stays so. So on a side whose identity is the body (exactIdentity) equal rows have equal bodies,
// and a retraction (which encodes its row without adding: encodeRow with add false) finds its row.
//
// A closed dictionary whose values are seldom stored again — one the trial closed, or one that closed full
// and then found fewer than a quarter of joinDictWindow strings stored — is dropped: at the end of the push
// (dropDicts) the side's rows are encoded anew with the column's strings in place, and the column looks up
// no dictionary after that (each lookup hashes the string). Dropping costs a pass over the side's rows,
// once per column; a trial ends after about 1,500 rows.
//
// Decoding reads the dictionary's string (no copy, no allocation); snapshots hold decoded rows
// (appendBucket), so the state format is unchanged and a restored join rebuilds its dictionaries from the
// rows it stores.

const (
	joinDictMinLen    = 2       // shorter strings are stored in place (length, bytes: at most 2 bytes)
	joinDictMaxValues = 1 << 16 // ids take at most 3 bytes
	joinDictMaxBytes  = 8 << 20
	// joinDictTrial: a dictionary with this many values closes when fewer than 3 in 2 of the values added
	// so far were repeats (on average each value stored less than 1.5 times): it would cost more than it saves.
	joinDictTrial = 1024
	// joinDictWindow: a full dictionary is dropped when fewer than a quarter of this many strings stored
	// after it closed (or after the last such count) were in it.
	joinDictWindow = 1 << 16
)

// joinDictLimit and joinDictReview are joinDictMaxValues and joinDictWindow but in tests.
var joinDictLimit, joinDictReview = joinDictMaxValues, joinDictWindow

// joinDict is the dictionary of one string column of a join side.
type joinDict struct {
	open  bool
	drop  bool // closed with few hits: dropDicts drops it at the end of the push
	off   bool // being dropped: values are stored in place
	ids   map[string]uint32
	vals  []string
	seen  int // strings stored while open
	bytes int // bytes of vals
	looks int // strings stored since it closed (or since the last count)
	hits  int // of which it held
}

// newJoinDicts returns the dictionaries of a side with column types ts: one per string column, nil for
// other columns (and nil when there are none).
func newJoinDicts(ts []types.Type) []*joinDict {
	var ds []*joinDict
	for c, t := range ts {
		if t.Kind != types.Char && t.Kind != types.VarChar {
			continue
		}
		if ds == nil {
			ds = make([]*joinDict, len(ts))
		}
		ds[c] = &joinDict{open: true, ids: map[string]uint32{}}
	}
	return ds
}

// id returns the id of s, adding it when add is true and the dictionary is open; ok is false when s is
// stored in place.
func (d *joinDict) id(s string, add bool) (uint32, bool) {
	if len(s) < joinDictMinLen {
		return 0, false
	}
	id, ok := d.ids[s]
	if !d.open {
		if add {
			d.looks++
			if ok {
				d.hits++
			}
			if d.looks >= joinDictReview {
				d.drop = d.drop || d.hits*4 < d.looks
				d.looks, d.hits = 0, 0
			}
		}
		return id, ok
	}
	if ok {
		if add {
			d.seen++
		}
		return id, true
	}
	if !add {
		return 0, false
	}
	d.seen++
	n := len(d.vals)
	if n >= joinDictLimit || d.bytes+len(s) > joinDictMaxBytes {
		d.open = false
		return 0, false
	}
	if n >= joinDictTrial && 2*d.seen < 3*n {
		d.open, d.drop = false, true
		return 0, false
	}
	v := strings.Clone(s) // s may point into an input batch
	d.ids[v] = uint32(n)
	d.vals = append(d.vals, v)
	d.bytes += len(v)
	return uint32(n), true
}

// dictValue is the value of id in the dictionary of column c of side s (NULL when there is none).
func (j *joinOp) dictValue(s, c int, id uint64) types.Value {
	ds := j.sides[s].dicts
	if ds == nil || ds[c] == nil || id >= uint64(len(ds[c].vals)) {
		return types.NullValue
	}
	return types.Value{T: types.TagString, S: ds[c].vals[id]}
}

// dropDicts drops the dictionaries of side s that are to be dropped (joinDict.drop), at a point where no
// row of the side is being iterated: its rows are decoded (with those dictionaries) and stored into a new
// store (without them), with their counts, matches and write times, key by key in the same order.
func (j *joinOp) dropDicts(s int) error {
	sd := &j.sides[s]
	drop := false
	for _, d := range sd.dicts {
		if d != nil && d.drop {
			d.off, drop = true, true
		}
	}
	if !drop {
		return nil
	}
	// The other dictionaries do not count the rows stored again: they hold their strings already (an open
	// one each it was given, a closed one those it maps).
	j.recoding = true
	defer func() { j.recoding = false }()
	old := sd.st
	sd.st = newJoinStore(old.outer, old.ttl, old.seed)
	sd.st.appendOnly = old.appendOnly
	for i, v := range old.slots {
		if v == 0 {
			continue
		}
		r := old.record(i)
		kv := j.keyVals(r.key)
		h := old.hash(r.key)
		for it := old.iter(&r); it.next(); {
			row := j.rowVals(s, it.row(), kv, 0)
			if err := j.store(s, r.key, h, kv, row, uint64(it.count()), it.assoc(), it.touched()); err != nil {
				return err
			}
		}
	}
	for c, d := range sd.dicts {
		if d != nil && d.off {
			sd.dicts[c] = nil
		}
	}
	sd.dropped++
	return nil
}

// dictStats returns, for tests and measurements, the values and open dictionaries of side s.
func (j *joinOp) dictStats(s int) (values, open int) {
	for _, d := range j.sides[s].dicts {
		if d != nil {
			values += len(d.vals)
			if d.open {
				open++
			}
		}
	}
	return values, open
}

// dictBytes estimates the memory of side s's dictionaries: each value's bytes, its string header in vals
// and its map entry (key, id, about as much again in the map's groups and free room).
func (j *joinOp) dictBytes(s int) int {
	n := 0
	for _, d := range j.sides[s].dicts {
		if d != nil {
			n += d.bytes + len(d.vals)*(16+40)
		}
	}
	return n
}
