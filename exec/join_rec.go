package exec

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// A join record keeps one distinct row in one string: its identity (the full-row key encoding that stores
// and retractions look rows up by), then — unless the values decode exactly from the identity — the row in
// the binary row encoding of rowcodec.go. Values are decoded when the row matches (recVals), without
// copying strings.

// ident is the row's full-row key encoding.
func (r *joinRec) ident() string { return r.data[:r.split] }

// enc is the row in the binary row encoding, or "" when the identity holds the values.
func (r *joinRec) enc() string { return r.data[r.split:] }

var (
	keyNullByte    = types.AppendKey(nil, types.NullValue, types.BigIntType())[0]
	keyNotNullByte = types.AppendKey(nil, types.IntValue(0), types.BigIntType())[0]
)

// identDecodable reports whether rows of these column types can be decoded from their identity.
func identDecodable(ts []types.Type) bool {
	for _, t := range ts {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Boolean, types.Char, types.VarChar:
		default:
			return false
		}
	}
	return len(ts) > 0
}

// newRec returns a record of row on side s (whose identity is id) with count 0, in one allocation.
func (j *joinOp) newRec(s int, id string, row []types.Value) *joinRec {
	if sd := &j.sides[s]; sd.identOnly {
		if vals, ok := decodeIdent(id, sd.types, j.dec[0][:0]); ok && sameVals(vals, row) {
			j.dec[0] = vals
			return &joinRec{data: id, split: len(id)}
		}
	}
	j.ebuf = append(j.ebuf[:0], id...)
	j.ebuf = appendRowBinary(j.ebuf, row)
	return &joinRec{data: string(j.ebuf), split: len(id)}
}

// sameVals reports whether a and b are the same values bit for bit (scalars only).
func sameVals(a, b []types.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].T != b[i].T || a[i].N != b[i].N || a[i].I != b[i].I || a[i].S != b[i].S || a[i].X != nil || b[i].X != nil {
			return false
		}
	}
	return true
}

// recVals decodes the values of r (a record of side s) into scratch slot (0 or 1); they are valid until the
// slot is used again.
func (j *joinOp) recVals(s int, r *joinRec, slot int) []types.Value {
	if r.split == len(r.data) {
		j.dec[slot], _ = decodeIdent(r.data, j.sides[s].types, j.dec[slot][:0])
	} else {
		j.dec[slot] = decodeRowString(r.enc(), j.dec[slot])
	}
	return j.dec[slot]
}

// appendRecRow appends r's row in the binary row encoding (as state entries hold rows).
func (j *joinOp) appendRecRow(dst []byte, s int, r *joinRec) []byte {
	if r.split != len(r.data) {
		return append(dst, r.enc()...)
	}
	return appendRowBinary(dst, j.recVals(s, r, 0))
}

// decodeIdent decodes an identity of columns ts (identDecodable) into dst; ok is false when it does not
// decode (then the record holds its binary encoding).
func decodeIdent(id string, ts []types.Type, dst []types.Value) ([]types.Value, bool) {
	for _, t := range ts {
		if len(id) == 0 {
			return dst, false
		}
		if id[0] == keyNullByte {
			dst = append(dst, types.NullValue)
			id = id[1:]
			continue
		}
		if id[0] != keyNotNullByte {
			return dst, false
		}
		id = id[1:]
		switch t.Kind {
		case types.Boolean:
			if len(id) < 1 {
				return dst, false
			}
			dst = append(dst, types.BoolValue(id[0] == 1))
			id = id[1:]
		case types.Char, types.VarChar:
			end := strings.Index(id, "\x00")
			if end < 0 || end+1 >= len(id) || id[end+1] != 0x01 {
				return dst, false // no terminator, or an escaped NUL: not decoded here
			}
			dst = append(dst, types.StringValue(id[:end]))
			id = id[end+2:]
		default:
			if len(id) < 8 {
				return dst, false
			}
			b := unsafe.Slice(unsafe.StringData(id), 8)
			dst = append(dst, types.IntValue(int64(binary.BigEndian.Uint64(b)^(1<<63))))
			id = id[8:]
		}
	}
	return dst, len(id) == 0
}

// decodeRowString decodes a row that appendRowBinary wrote into dst[:0], without copying its strings. The
// encoding was made by this process, so it is well formed; a malformed tail decodes as NULLs.
func decodeRowString(enc string, dst []types.Value) []types.Value {
	b := unsafe.Slice(unsafe.StringData(enc), len(enc))
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
			dst = append(dst, types.Value{T: tag, S: enc[start : start+int(l)]})
			pos = start + int(l)
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
