package exec

import (
	"encoding/binary"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// ident is the row's full-row key encoding: stores and retractions find their row by it.
func (r *joinRec) ident() string { return r.data[:r.split] }

// enc is the row in the binary row encoding (appendRowBinary), as join state entries hold it.
func (r *joinRec) enc() string { return r.data[r.split:] }

// newRec returns a record of row (whose identity is id) with count 0: one allocation for the identity and
// the encoded values.
func (j *joinOp) newRec(id string, row []types.Value) *joinRec {
	j.ebuf = append(j.ebuf[:0], id...)
	j.ebuf = appendRowBinary(j.ebuf, row)
	return &joinRec{data: string(j.ebuf), split: len(id)}
}

// recVals decodes r's values into scratch slot (0 or 1); they are valid until the slot is used again.
// Strings and bytes are substrings of the record (no copy).
func (j *joinOp) recVals(r *joinRec, slot int) []types.Value {
	j.dec[slot] = decodeRowString(r.enc(), j.dec[slot])
	return j.dec[slot]
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
