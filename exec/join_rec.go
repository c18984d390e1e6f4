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
// Keys: when every join key column of both sides is an integer (TINYINT..BIGINT) — the common case of ids —
// a key is the signed varints of its values (intKeys), and the rows stored under it leave the key columns
// out (they are the key's values); rows with a NULL key column go under nullIntKey, whole. Otherwise a key
// is the key encoding (types.AppendKey) of its columns, NULL keys share nullJoinKey, and rows are whole.
//
// Row bodies: the stored columns' values in the binary value encoding of rowcodec.go (a tag byte each),
// without a count (the side's width says it). Values decode without copying strings (rowVals).
//
// Identity (which stored row a retraction removes): on a side whose column types each have one value
// representation (exactIdentity) the body's bytes; on others (floating point, DECIMAL, collections...) the
// key encoding of the whole row, as before, so 1 and 1.0 in a DOUBLE column stay the same row.

const nullJoinKey = "\xff\xff<null key>"

// keyNullByte is the key encoding (types.AppendKey) of a NULL.
var keyNullByte = types.AppendKey(nil, types.NullValue, types.BigIntType())[0]

// nullIntKey is the intKeys key of rows with a NULL key column (no varint sequence ends in 0xff).
const nullIntKey = "\xff"

// intKeyKinds reports whether every column cols of ts is an integer.
func intKeyKinds(ts []types.Type, cols []int) bool {
	for _, c := range cols {
		if c >= len(ts) {
			return false
		}
		switch ts[c].Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		default:
			return false
		}
	}
	return len(cols) > 0
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
	for _, c := range sd.keys {
		v := row[c]
		if v.IsNull() {
			if j.intKeys {
				j.kbuf = append(b[:0], nullIntKey...)
			} else {
				j.kbuf = append(b[:0], nullJoinKey...)
			}
			return j.kbuf, false, nil
		}
		if j.intKeys {
			if v.T != types.TagInt {
				return nil, false, fmt.Errorf("join: key column %d holds a %v value, its type is %s", c, v.T, sd.types[c])
			}
			b = binary.AppendVarint(b, v.I)
		} else {
			b = types.AppendKey(b, v, sd.types[c])
		}
	}
	j.kbuf = b
	return b, true, nil
}

// stateKey appends the snapshot key of a stored key on side s: the key encoding of its columns, or
// nullJoinKey.
func (j *joinOp) stateKey(dst []byte, s int, key []byte) []byte {
	if !j.intKeys {
		return append(dst, key...)
	}
	if string(key) == nullIntKey {
		return append(dst, nullJoinKey...)
	}
	sd := &j.sides[s]
	for _, c := range sd.keys {
		v, n := binary.Varint(key)
		key = key[n:]
		dst = types.AppendKey(dst, types.IntValue(v), sd.types[c])
	}
	return dst
}

// keyVals returns the values of a stored key (j.kv), or nil when rows under it are whole.
func (j *joinOp) keyVals(key []byte) []types.Value {
	if !j.intKeys || string(key) == nullIntKey {
		return nil
	}
	j.kv = j.kv[:0]
	for len(key) > 0 {
		v, n := binary.Varint(key)
		if n <= 0 {
			break
		}
		key = key[n:]
		j.kv = append(j.kv, types.IntValue(v))
	}
	return j.kv
}

// rowKeyVals returns the key values of row (side s) for decoding rows stored under its key (either side),
// or nil when rows under the key are whole.
func (j *joinOp) rowKeyVals(s int, row []types.Value, hasKey bool) []types.Value {
	if !j.intKeys || !hasKey {
		return nil
	}
	j.kv = j.kv[:0]
	for _, c := range j.sides[s].keys {
		j.kv = append(j.kv, row[c])
	}
	return j.kv
}

// encodeRow writes the body of row (side s) into j.ebuf; whole: the key columns are kept.
func (j *joinOp) encodeRow(s int, row []types.Value, whole bool) []byte {
	sd := &j.sides[s]
	b := j.ebuf[:0]
	for c, v := range row {
		if !whole && sd.keyPos[c] >= 0 {
			continue
		}
		b = appendValueBinary(b, v)
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
	sd := &j.sides[s]
	dst := j.dec[slot][:0]
	pos := 0
	for c := 0; c < sd.width; c++ {
		if kv != nil {
			if k := sd.keyPos[c]; k >= 0 {
				dst = append(dst, kv[k])
				continue
			}
		}
		if pos >= len(body) {
			dst = append(dst, types.NullValue)
			continue
		}
		switch tag := types.Tag(body[pos]); tag {
		case types.TagString, types.TagBytes:
			l, m := binary.Uvarint(body[pos+1:])
			start := pos + 1 + m
			if m <= 0 || l > uint64(len(body)-start) {
				dst = append(dst, types.NullValue)
				pos = len(body)
				continue
			}
			var str string
			if l > 0 {
				str = unsafe.String(&body[start], int(l))
			}
			dst = append(dst, types.Value{T: tag, S: str})
			pos = start + int(l)
		case types.TagInt:
			v, m := binary.Varint(body[pos+1:])
			if m <= 0 {
				dst = append(dst, types.NullValue)
				pos = len(body)
				continue
			}
			dst = append(dst, types.IntValue(v))
			pos += 1 + m
		default:
			v, rest, err := decodeValueBinary(body[pos:])
			if err != nil {
				dst = append(dst, types.NullValue)
				pos = len(body)
				continue
			}
			dst = append(dst, v)
			pos = len(body) - len(rest)
		}
	}
	j.dec[slot] = dst
	return dst
}
