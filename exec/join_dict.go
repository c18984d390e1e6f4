package exec

import (
	"encoding/binary"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// Dictionaries of repeated strings in a join side's stored rows (join_rec.go).
//
// Each CHAR/VARCHAR column of a side has a dictionary: while it is open, a string stored in a row body
// (at least joinDictMinLen bytes) is added to it, and the body holds tagDictString and the value's id
// (a uvarint) in place of TagString, the length and the bytes. A dictionary closes for good — it adds no
// value after that — when it would hold more than joinDictMaxValues values or joinDictMaxBytes bytes, or
// once it holds joinDictTrial values and most values stored were new (a column of unique strings: names,
// descriptions, 'extra'); its values stay, as rows reference them. Nexmark's bids repeat 'channel' and
// 'url' (10,004 values each).
//
// A value's encoding never changes: a string is in a dictionary from the first time it is stored while the
// dictionary is open, and stored in place only when it is not in it, which, as a closed dictionary adds
// nothing, stays so. So on a side whose identity is the body (exactIdentity) equal rows have equal bodies,
// and a retraction (which encodes its row without adding: encodeRow with add false) finds its row.
//
// Decoding reads the dictionary's string (no copy, no allocation); snapshots hold decoded rows
// (appendBucket), so the state format is unchanged and a restored join rebuilds its dictionaries from the
// rows it stores.

// tagDictString is the tag of a dictionary-encoded string in a stored body: not a types.Tag.
const tagDictString = 0xd5

const (
	joinDictMinLen    = 2       // shorter strings are stored in place (tag, length, bytes: at most 3 bytes)
	joinDictMaxValues = 1 << 16 // ids take at most 3 bytes
	joinDictMaxBytes  = 8 << 20
	// joinDictTrial: a dictionary with this many values closes when fewer than 3 in 2 of the values added
	// so far were repeats (on average each value stored less than 1.5 times): it would cost more than it saves.
	joinDictTrial = 1024
)

// joinDict is the dictionary of one string column of a join side.
type joinDict struct {
	open  bool
	ids   map[string]uint32
	vals  []string
	seen  int // strings stored while open
	bytes int // bytes of vals
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
	if id, ok := d.ids[s]; ok {
		if add && d.open {
			d.seen++
		}
		return id, true
	}
	if !add || !d.open {
		return 0, false
	}
	d.seen++
	n := len(d.vals)
	if n >= joinDictMaxValues || d.bytes+len(s) > joinDictMaxBytes || n >= joinDictTrial && 2*d.seen < 3*n {
		d.open = false
		return 0, false
	}
	v := strings.Clone(s) // s may point into an input batch
	d.ids[v] = uint32(n)
	d.vals = append(d.vals, v)
	d.bytes += len(v)
	return uint32(n), true
}

// appendValue appends the stored encoding of v (column c of side s): a dictionary id or appendValueBinary's.
func (j *joinOp) appendValue(b []byte, s, c int, v types.Value, add bool) []byte {
	if v.T == types.TagString {
		if ds := j.sides[s].dicts; ds != nil && ds[c] != nil {
			if id, ok := ds[c].id(v.S, add); ok {
				b = append(b, tagDictString)
				return binary.AppendUvarint(b, uint64(id))
			}
		}
	}
	return appendValueBinary(b, v)
}

// dictValue decodes the dictionary id at the start of b (after the tag) of column c of side s; n is the
// bytes it took, 0 when it does not decode.
func (j *joinOp) dictValue(s, c int, b []byte) (types.Value, int) {
	id, n := binary.Uvarint(b)
	ds := j.sides[s].dicts
	if n <= 0 || ds == nil || ds[c] == nil || id >= uint64(len(ds[c].vals)) {
		return types.NullValue, 0
	}
	return types.Value{T: types.TagString, S: ds[c].vals[id]}, n
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
