package exec

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/sluicesql/sluice/types"
)

// How a join side's stored bodies encode each column (join_rec.go): columns of the types below take no tag
// byte, as the column's type says what a value is; other columns (FLOAT, DOUBLE, DECIMAL, collections...)
// are appendValueBinary's encoding (a tag byte, then the value).
//
// A tagless value starts with a uvarint u:
//
//   - u = 0 in one byte (0x00): NULL (so a nullable column's NULL takes one byte, as its tag did);
//   - u = 0 in two bytes (0x80 0x00, which no canonical uvarint is): appendValueBinary's encoding of the
//     value follows — a value whose tag is not the column's (an integer column holding a string, say), or an
//     integer whose u would overflow; each value has one encoding, so a body stays a row's identity;
//   - integers (TINYINT..BIGINT, BOOLEAN, DATE, TIME): u is the zigzag encoding of the value plus one;
//   - timestamps (TIMESTAMP, TIMESTAMP_LTZ): u is the millis' zigzag plus one, then a uvarint of the nanos;
//   - strings (CHAR, VARCHAR; BINARY, VARBINARY, which have no dictionary): u = 2·length + 1, then the
//     bytes; or u = 2·(id + 1), the id of the value in the column's dictionary (join_dict.go).
//
// A non-NULL value so takes a byte less than with its tag (an integer of -64..62, a string of up to 63
// bytes or a dictionary id below 63 is one byte plus its bytes). Stored bodies live only in memory:
// snapshots hold decoded rows (join_state.go), so this encoding needs no version, and a snapshot of any
// build restores into it.

// jcKind is how a column of a join side is encoded.
type jcKind uint8

const (
	jcTagged jcKind = iota
	jcInt
	jcTimestamp
	jcString
)

// joinCol is the encoding of one column: its kind and the value tag it holds.
type joinCol struct {
	kind jcKind
	tag  types.Tag
}

// newJoinCols returns the column encodings of a side with column types ts.
func newJoinCols(ts []types.Type) []joinCol {
	cols := make([]joinCol, len(ts))
	for c, t := range ts {
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
			cols[c] = joinCol{jcInt, types.TagInt}
		case types.Boolean:
			cols[c] = joinCol{jcInt, types.TagBool}
		case types.Date:
			cols[c] = joinCol{jcInt, types.TagDate}
		case types.Time:
			cols[c] = joinCol{jcInt, types.TagTime}
		case types.Timestamp, types.TimestampLTZ:
			cols[c] = joinCol{jcTimestamp, types.TagTimestamp}
		case types.Char, types.VarChar:
			cols[c] = joinCol{jcString, types.TagString}
		case types.Binary, types.VarBinary:
			cols[c] = joinCol{jcString, types.TagBytes}
		}
	}
	return cols
}

// jcEscape starts a tagless column's value that is in appendValueBinary's encoding.
var jcEscape = []byte{0x80, 0x00}

// appendValue appends the stored encoding of v (column c of side s); add: the row is being stored (a string
// may join its column's dictionary), not looked up.
func (j *joinOp) appendValue(b []byte, s, c int, v types.Value, add bool) []byte {
	sd := &j.sides[s]
	col := sd.cols[c]
	if col.kind == jcTagged {
		return appendValueBinary(b, v)
	}
	if v.T != col.tag {
		if v.T == types.TagNull {
			return append(b, 0)
		}
		return appendValueBinary(append(b, jcEscape...), v)
	}
	switch col.kind {
	case jcString:
		if ds := sd.dicts; ds != nil {
			if d := ds[c]; d != nil && !d.off {
				if id, ok := d.id(v.S, add && !j.recoding); ok {
					return binary.AppendUvarint(b, uint64(id+1)<<1)
				}
			}
		}
		b = binary.AppendUvarint(b, uint64(len(v.S))<<1|1)
		return append(b, v.S...)
	}
	z := zigzag(v.I)
	if z == math.MaxUint64 {
		return appendValueBinary(append(b, jcEscape...), v)
	}
	b = binary.AppendUvarint(b, z+1)
	if col.kind == jcTimestamp {
		b = binary.AppendUvarint(b, uint64(uint32(v.N)))
	}
	return b
}

func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// decodeCol decodes the value of column c (side s) at the start of b and returns the bytes it took, 0 when it
// does not decode. Strings point into b or into the column's dictionary.
func (j *joinOp) decodeCol(s, c int, b []byte) (types.Value, int) {
	col := j.sides[s].cols[c]
	if col.kind == jcTagged {
		return decodeTagged(b)
	}
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return types.NullValue, 0
	}
	if u == 0 {
		if n == 1 {
			return types.NullValue, 1
		}
		v, m := decodeTagged(b[n:])
		if m == 0 {
			return v, 0
		}
		return v, n + m
	}
	switch col.kind {
	case jcString:
		if u&1 == 0 {
			return j.dictValue(s, c, u>>1-1), n
		}
		l := u >> 1
		if l > uint64(len(b)-n) {
			return types.NullValue, 0
		}
		var str string
		if l > 0 {
			str = unsafe.String(&b[n], int(l))
		}
		return types.Value{T: col.tag, S: str}, n + int(l)
	case jcTimestamp:
		ns, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return types.NullValue, 0
		}
		return types.Value{T: col.tag, I: unzigzag(u - 1), N: int32(uint32(ns))}, n + m
	}
	return types.Value{T: col.tag, I: unzigzag(u - 1)}, n
}

// decodeTagged decodes an appendValueBinary value at the start of b (strings without a copy) and returns the
// bytes it took, 0 when it does not decode.
func decodeTagged(b []byte) (types.Value, int) {
	if len(b) == 0 {
		return types.NullValue, 0
	}
	switch tag := types.Tag(b[0]); tag {
	case types.TagString, types.TagBytes:
		l, m := binary.Uvarint(b[1:])
		start := 1 + m
		if m <= 0 || l > uint64(len(b)-start) {
			return types.NullValue, 0
		}
		var str string
		if l > 0 {
			str = unsafe.String(&b[start], int(l))
		}
		return types.Value{T: tag, S: str}, start + int(l)
	case types.TagInt:
		v, m := binary.Varint(b[1:])
		if m <= 0 {
			return types.NullValue, 0
		}
		return types.IntValue(v), 1 + m
	}
	v, rest, err := decodeValueBinary(b)
	if err != nil {
		return types.NullValue, 0
	}
	return v, len(b) - len(rest)
}
