package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// Keys and rows as a joinStore keeps them (join_store.go).
//
// Keys: when the join key columns of both sides are, pair by pair, integers (TINYINT..BIGINT), strings
// (CHAR, VARCHAR), timestamps, dates or times — ids, names, window bounds — a key is a compact encoding of
// its values (compactKeys: signed varints; a uvarint length and the bytes; varint millis and uvarint nanos),
// and the rows stored under it leave the key columns out (they are the key's values, decoded exactly);
// rows with a NULL key column go under nullCompactKey, whole. Otherwise a key is the key encoding
// (types.AppendKey) of its columns, NULL keys share nullJoinKey, and rows are whole.
//
// Row bodies: the stored columns' values, without a count (the side's width says it): integers, timestamps
// and strings without a tag byte (join_dict_codec.go), repeated strings as ids in a dictionary of their
// column (join_dict.go), other values in the binary value encoding of rowcodec.go. Values decode without
// copying strings (rowVals).
//
// Identity (which stored row a retraction removes): on a side whose column types each have one value
// representation (exactIdentity) the body's bytes; on others (floating point, DECIMAL, collections...) the
// key encoding of the whole row, as before, so 1 and 1.0 in a DOUBLE column stay the same row.

const nullJoinKey = "\xff\xff<null key>"

// keyNullByte is the key encoding (types.AppendKey) of a NULL.
var keyNullByte = types.AppendKey(nil, types.NullValue, types.BigIntType())[0]

// nullCompactKey is the compactKeys key of rows with a NULL key column (no compact key is 0xff alone: a
// varint or length that starts with it goes on).
const nullCompactKey = "\xff"

// keyCat is how a compact key encodes a column.
type keyCat uint8

const (
	kcInt keyCat = iota + 1
	kcString
	kcTimestamp
	kcDate
	kcTime
)

// tag is the value tag a column of the category holds.
func (c keyCat) tag() types.Tag {
	switch c {
	case kcString:
		return types.TagString
	case kcTimestamp:
		return types.TagTimestamp
	case kcDate:
		return types.TagDate
	case kcTime:
		return types.TagTime
	}
	return types.TagInt
}

func keyCatOf(t types.Type) keyCat {
	switch t.Kind {
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return kcInt
	case types.Char, types.VarChar:
		return kcString
	case types.Timestamp, types.TimestampLTZ:
		return kcTimestamp
	case types.Date:
		return kcDate
	case types.Time:
		return kcTime
	}
	return 0
}

// compactKeyCats returns the categories of the key columns when both sides' keys can be compact, else nil.
func compactKeyCats(cfg JoinConfig) []keyCat {
	if len(cfg.LeftKeys) == 0 || len(cfg.LeftKeys) != len(cfg.RightKeys) {
		return nil
	}
	cats := make([]keyCat, len(cfg.LeftKeys))
	for i, lc := range cfg.LeftKeys {
		rc := cfg.RightKeys[i]
		if lc >= len(cfg.LeftTypes) || rc >= len(cfg.RightTypes) {
			return nil
		}
		c := keyCatOf(cfg.LeftTypes[lc])
		if c == 0 || c != keyCatOf(cfg.RightTypes[rc]) {
			return nil
		}
		cats[i] = c
	}
	return cats
}

// exactIdentity reports whether values of these column types have one binary encoding per key encoding.
func exactIdentity(ts []types.Type) bool {
	for _, t := range ts {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Boolean, types.Char, types.VarChar,
			types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		default:
			return false
		}
	}
	return true
}

// keyBytes encodes the join key of row on side s into j.kbuf; hasKey is false (and the key the NULL key)
// when a key column is NULL.
func (j *joinOp) keyBytes(s int, row []types.Value) (key []byte, hasKey bool, err error) {
	sd := &j.sides[s]
	b := j.kbuf[:0]
	for i, c := range sd.keys {
		v := row[c]
		if v.IsNull() {
			if j.kcats != nil {
				j.kbuf = append(b[:0], nullCompactKey...)
			} else {
				j.kbuf = append(b[:0], nullJoinKey...)
			}
			return j.kbuf, false, nil
		}
		if j.kcats == nil {
			b = types.AppendKey(b, v, sd.types[c])
			continue
		}
		cat := j.kcats[i]
		if v.T != cat.tag() {
			return nil, false, fmt.Errorf("join: key column %d holds a %v value, its type is %s", c, v.T, sd.types[c])
		}
		switch cat {
		case kcString:
			b = binary.AppendUvarint(b, uint64(len(v.S)))
			b = append(b, v.S...)
		case kcTimestamp:
			b = binary.AppendVarint(b, v.I)
			b = binary.AppendUvarint(b, uint64(uint32(v.N)))
		default:
			b = binary.AppendVarint(b, v.I)
		}
	}
	j.kbuf = b
	return b, true, nil
}

// nextKeyVal decodes the value of key column i at the start of a compact key and returns the rest; ok is
// false when the key does not decode.
func (j *joinOp) nextKeyVal(key []byte, i int) (v types.Value, rest []byte, ok bool) {
	cat := j.kcats[i]
	x, n := binary.Varint(key)
	if cat == kcString {
		l, m := binary.Uvarint(key)
		if m <= 0 || l > uint64(len(key)-m) {
			return v, nil, false
		}
		var str string
		if l > 0 {
			str = unsafe.String(&key[m], int(l))
		}
		return types.Value{T: types.TagString, S: str}, key[m+int(l):], true
	}
	if n <= 0 {
		return v, nil, false
	}
	key = key[n:]
	v = types.Value{T: cat.tag(), I: x}
	if cat == kcTimestamp {
		ns, m := binary.Uvarint(key)
		if m <= 0 {
			return v, nil, false
		}
		v.N = int32(uint32(ns))
		key = key[m:]
	}
	return v, key, true
}

// stateKey appends the snapshot key of a stored key on side s: the key encoding of its columns, or
// nullJoinKey.
func (j *joinOp) stateKey(dst []byte, s int, key []byte) []byte {
	if j.kcats == nil {
		return append(dst, key...)
	}
	if string(key) == nullCompactKey {
		return append(dst, nullJoinKey...)
	}
	sd := &j.sides[s]
	for i, c := range sd.keys {
		v, rest, _ := j.nextKeyVal(key, i)
		key = rest
		dst = types.AppendKey(dst, v, sd.types[c])
	}
	return dst
}

// keyVals returns the values of a stored key (j.kv), or nil when rows under it are whole.
func (j *joinOp) keyVals(key []byte) []types.Value {
	if j.kcats == nil || string(key) == nullCompactKey {
		return nil
	}
	j.kv = j.kv[:0]
	for i := range j.kcats {
		v, rest, _ := j.nextKeyVal(key, i)
		key = rest
		j.kv = append(j.kv, v)
	}
	return j.kv
}

// rowKeyVals returns the key values of row (side s) for decoding rows stored under its key (either side),
// or nil when rows under the key are whole.
func (j *joinOp) rowKeyVals(s int, row []types.Value, hasKey bool) []types.Value {
	if j.kcats == nil || !hasKey {
		return nil
	}
	j.kv = j.kv[:0]
	for _, c := range j.sides[s].keys {
		j.kv = append(j.kv, row[c])
	}
	return j.kv
}

// encodeRow writes the body of row (side s) into j.ebuf; whole: the key columns are kept; add: the row is
// being stored (its strings may join their column's dictionary, join_dict.go), not looked up.
func (j *joinOp) encodeRow(s int, row []types.Value, whole, add bool) []byte {
	sd := &j.sides[s]
	b := j.ebuf[:0]
	for c, v := range row {
		if !whole && sd.keyPos[c] >= 0 {
			continue
		}
		b = j.appendValue(b, s, c, v, add)
	}
	j.ebuf = b
	return b
}

// ident returns the identity of row (side s) given its body: the body itself, or the key encoding of the
// row (j.rbuf).
func (j *joinOp) ident(s int, row []types.Value, body []byte) []byte {
	sd := &j.sides[s]
	if sd.exact {
		return body
	}
	j.rbuf = j.rbuf[:0]
	for i, v := range row {
		j.rbuf = types.AppendKey(j.rbuf, v, sd.types[i])
	}
	return j.rbuf
}

// bodyIdent returns the identity of a stored body (kv: its key values, nil when whole).
func (j *joinOp) bodyIdent(s int, body []byte, kv []types.Value) []byte {
	sd := &j.sides[s]
	if sd.exact {
		return body
	}
	vals := j.rowVals(s, body, kv, 2)
	j.cbuf = j.cbuf[:0]
	for i, v := range vals {
		j.cbuf = types.AppendKey(j.cbuf, v, sd.types[i])
	}
	return j.cbuf
}

// sameRow reports whether a stored body is the row with identity id.
func (j *joinOp) sameRow(s int, body, id []byte, kv []types.Value) bool {
	if j.sides[s].exact {
		return bytes.Equal(body, id)
	}
	return bytes.Equal(j.bodyIdent(s, body, kv), id)
}

// bodyHash is the bigBucket hash of a stored body.
func (j *joinOp) bodyHash(s int, body []byte, kv []types.Value) uint32 {
	return uint32(j.sides[s].st.hash(j.bodyIdent(s, body, kv)))
}

// rowVals decodes a stored body of side s (kv: the values of its key, nil when the body is whole) into
// scratch slot 0 (a row of the pushing side), 1 (of the other side) or 2 (comparisons); the values are
// valid until the slot is used again, their strings as long as anything references them.
func (j *joinOp) rowVals(s int, body []byte, kv []types.Value, slot int) []types.Value {
	w := j.sides[s].width
	dst := j.dec[slot]
	if cap(dst) < w {
		dst = make([]types.Value, w)
	}
	dst = dst[:w]
	j.dec[slot] = dst
	j.decodeRow(dst, s, body, kv)
	return dst
}

// decodeRow decodes a stored body of side s (kv as for rowVals) into dst (len: the side's width). Strings
// point into the body.
func (j *joinOp) decodeRow(dst []types.Value, s int, body []byte, kv []types.Value) {
	sd := &j.sides[s]
	pos := 0
	for c := range dst {
		if kv != nil {
			if k := sd.keyPos[c]; k >= 0 {
				dst[c] = kv[k]
				continue
			}
		}
		if pos >= len(body) {
			dst[c] = types.NullValue
			continue
		}
		v, n := j.decodeCol(s, c, body[pos:])
		if n == 0 {
			dst[c] = types.NullValue
			pos = len(body)
			continue
		}
		dst[c] = v
		pos += n
	}
}
