package types

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// Compare is a total order on values of type t, used for sorting, MIN/MAX and Top-N:
// NULL sorts first; numbers compare numerically (decimals of different scales included); FLOAT/DOUBLE
// treat -0.0 as 0.0 and put NaN after +Infinity (NaN equals NaN); strings and bytes compare bytewise;
// date/time/timestamps chronologically; ARRAY and ROW lexicographically (a shorter prefix first); MAP and
// MULTISET compare as their entries sorted by key encoding (so equal maps compare equal regardless of
// insertion order). The order agrees with bytes.Compare on AppendKey encodings.
func Compare(a, b Value, t Type) int {
	if a.T == TagNull || b.T == TagNull {
		return cmpInt(int64(boolInt(a.T != TagNull)), int64(boolInt(b.T != TagNull)))
	}
	if a.T != b.T {
		return compareMixed(a, b, t)
	}
	switch a.T {
	case TagBool, TagInt, TagDate, TagTime:
		return cmpInt(a.I, b.I)
	case TagFloat:
		return cmpFloat(a.Float(), b.Float())
	case TagString, TagBytes:
		return strings.Compare(a.S, b.S)
	case TagDecimal:
		return DecimalCmp(a, b)
	case TagTimestamp:
		if c := cmpInt(a.I, b.I); c != 0 {
			return c
		}
		return cmpInt(int64(a.N), int64(b.N))
	case TagArray:
		if t.Kind == Multiset {
			return bytes.Compare(AppendKey(nil, a, t), AppendKey(nil, b, t))
		}
		et := elemType(t)
		x, y := a.Array(), b.Array()
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i], et); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(x)), int64(len(y)))
	case TagRow:
		x, y := a.Fields(), b.Fields()
		for i := 0; i < len(x) && i < len(y); i++ {
			var ft Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			if c := Compare(x[i], y[i], ft); c != 0 {
				return c
			}
		}
		return cmpInt(int64(len(x)), int64(len(y)))
	case TagMap:
		return bytes.Compare(AppendKey(nil, a, t), AppendKey(nil, b, t))
	}
	return 0
}

// compareMixed handles representations that differ for the same logical type (a numeric literal of
// another representation); it falls back to the numeric value, then to the tag.
func compareMixed(a, b Value, t Type) int {
	if isNumTag(a.T) && isNumTag(b.T) {
		if a.T == TagFloat || b.T == TagFloat {
			return cmpFloat(numToFloat(a), numToFloat(b))
		}
		return DecimalCmp(numToDecimal(a), numToDecimal(b))
	}
	return cmpInt(int64(a.T), int64(b.T))
}

func isNumTag(t Tag) bool { return t == TagInt || t == TagFloat || t == TagDecimal }

func numToFloat(v Value) float64 {
	switch v.T {
	case TagInt:
		return float64(v.I)
	case TagDecimal:
		return DecimalToFloat(v)
	}
	return v.Float()
}

func numToDecimal(v Value) Value {
	if v.T == TagInt {
		return DecimalFromInt(v.I)
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpFloat(x, y float64) int {
	xn, yn := x != x, y != y
	switch {
	case xn || yn:
		return cmpInt(int64(boolInt(xn)), int64(boolInt(yn)))
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Equal reports grouping equality: NULL equals NULL, 1.0 equals 1.00, NaN equals NaN, -0.0 equals 0.0.
// It is Compare(a, b, t) == 0, with fast paths.
func Equal(a, b Value, t Type) bool {
	if a.T == b.T {
		switch a.T {
		case TagNull:
			return true
		case TagBool, TagInt, TagDate, TagTime:
			return a.I == b.I
		case TagString, TagBytes:
			return a.S == b.S
		case TagTimestamp:
			return a.I == b.I && a.N == b.N
		case TagDecimal:
			if a.N == b.N && a.X == nil && b.X == nil {
				return a.I == b.I
			}
		}
	}
	return Compare(a, b, t) == 0
}

// Key encoding. Every encoding starts with a null marker (0x00 NULL, 0x01 not null) and is prefix-free, so
// encodings can be concatenated and inverted (AppendKeyDesc) while bytes.Compare keeps agreeing with
// Compare.
const (
	keyNull    = 0x00
	keyNotNull = 0x01
	keyEnd     = 0x00 // ends an ARRAY/MAP/MULTISET
	keyMore    = 0x01 // precedes each element
)

// AppendKey appends an order-preserving, self-delimiting encoding of v: bytes.Compare of two encodings
// equals Compare of the values, and values that are Equal encode identically (decimals are normalized, so
// 1.0 and 1.00 give the same bytes). It is used for group keys, DISTINCT sets, join keys and sorting.
//
// The encoding follows the value's representation (v.T), so t may be the zero Type; t matters only for
// MULTISET (encoded order-insensitively, as its sorted elements) and for a numeric value whose
// representation differs from its column's (a TagInt in a DECIMAL or DOUBLE column). MAP entries are
// always encoded sorted by key, so equal maps give equal keys whatever their insertion order.
func AppendKey(dst []byte, v Value, t Type) []byte {
	if v.T == TagNull {
		return append(dst, keyNull)
	}
	dst = append(dst, keyNotNull)
	switch v.T {
	case TagBool:
		return append(dst, byte(v.I&1))
	case TagInt, TagDate, TagTime:
		if t.Kind == Decimal { // integer literal in a decimal column
			return appendDecimalKey(dst, DecimalFromInt(v.I))
		}
		if t.Kind == Float || t.Kind == Double {
			return appendFloatKey(dst, float64(v.I))
		}
		return binary.BigEndian.AppendUint64(dst, uint64(v.I)^(1<<63))
	case TagFloat:
		return appendFloatKey(dst, v.Float())
	case TagString, TagBytes:
		return appendEscaped(dst, v.S)
	case TagDecimal:
		if t.Kind == Float || t.Kind == Double {
			return appendFloatKey(dst, DecimalToFloat(v))
		}
		return appendDecimalKey(dst, v)
	case TagTimestamp:
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.I)^(1<<63))
		return binary.BigEndian.AppendUint32(dst, uint32(v.N))
	case TagArray:
		et := elemType(t)
		if t.Kind == Multiset {
			return appendSortedKeys(dst, v.Array(), nil, et, Type{})
		}
		for _, e := range v.Array() {
			dst = append(dst, keyMore)
			dst = AppendKey(dst, e, et)
		}
		return append(dst, keyEnd)
	case TagRow:
		for i, f := range v.Fields() {
			var ft Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			dst = AppendKey(dst, f, ft)
		}
		return dst
	case TagMap:
		m := v.Map()
		if m == nil {
			return append(dst, keyEnd)
		}
		return appendSortedKeys(dst, m.Keys, m.Vals, keyType(t), elemType(t))
	}
	return dst
}

// appendSortedKeys encodes a MULTISET (vals nil) or MAP as its entries sorted by encoding.
func appendSortedKeys(dst []byte, keys, vals []Value, kt, vt Type) []byte {
	encs := make([][]byte, len(keys))
	for i, k := range keys {
		e := AppendKey(nil, k, kt)
		if vals != nil {
			e = AppendKey(e, vals[i], vt)
		}
		encs[i] = e
	}
	sort.Slice(encs, func(i, j int) bool { return bytes.Compare(encs[i], encs[j]) < 0 })
	for _, e := range encs {
		dst = append(dst, keyMore)
		dst = append(dst, e...)
	}
	return append(dst, keyEnd)
}

// appendEscaped writes s with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01.
func appendEscaped(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, 0x00, 0xFF)
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, 0x00, 0x01)
}

func appendFloatKey(dst []byte, f float64) []byte {
	if f != f {
		f = math.NaN()
	} else if f == 0 {
		f = 0 // -0.0 → 0.0
	}
	u := math.Float64bits(f)
	if f != f {
		u = 0x7FF8000000000000
	}
	if u>>63 == 1 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// appendDecimalKey encodes a decimal independently of its scale. Zero is 0x02. A non-zero value
// 0.d1d2…dn × 10^E (d1 ≠ 0, dn ≠ 0) is 0x03 (positive) or 0x01 (negative), then E as a sign-flipped
// big-endian uint32, then the digits in pairs (byte = pair+1, a trailing single digit padded with 0),
// then 0x00. For negatives, E and the digit bytes are inverted and the terminator is 0xFF.
func appendDecimalKey(dst []byte, v Value) []byte {
	sign := decSign(v)
	if sign == 0 {
		return append(dst, 0x02)
	}
	var digits []byte
	var tmp [24]byte
	if b, ok := v.X.(*big.Int); ok {
		digits = new(big.Int).Abs(b).Append(tmp[:0], 10)
	} else {
		digits = strconv.AppendUint(tmp[:0], absU(v.I), 10)
	}
	e := len(digits) - int(v.N)
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	var inv byte
	if sign < 0 {
		inv = 0xFF
		dst = append(dst, 0x01)
	} else {
		dst = append(dst, 0x03)
	}
	ue := uint32(int32(e)) ^ (1 << 31)
	if sign < 0 {
		ue = ^ue
	}
	dst = binary.BigEndian.AppendUint32(dst, ue)
	for i := 0; i < len(digits); i += 2 {
		p := (digits[i] - '0') * 10
		if i+1 < len(digits) {
			p += digits[i+1] - '0'
		}
		dst = append(dst, (p+1)^inv)
	}
	return append(dst, inv)
}

// AppendKeyDesc appends the AppendKey encoding with every byte inverted, so that bytes.Compare orders
// descending (NULL then sorts last, as Flink's default NULLS LAST for DESC).
func AppendKeyDesc(dst []byte, v Value, t Type) []byte {
	n := len(dst)
	dst = AppendKey(dst, v, t)
	for i := n; i < len(dst); i++ {
		dst[i] = ^dst[i]
	}
	return dst
}

// AppendRowKey appends the AppendKey encodings of vals[c] for each c in cols (ts[c] is its type).
func AppendRowKey(dst []byte, vals []Value, ts []Type, cols []int) []byte {
	for _, c := range cols {
		dst = AppendKey(dst, vals[c], ts[c])
	}
	return dst
}
