package types

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// errShort is returned when the input ends inside a value.
var errShort = errors.New("decode value: unexpected end of input")

// AppendValueBinary appends a compact serialization of v for state and spill files. The encoding is
// self-describing (a tag byte, then the payload), so t is not needed to decode it; it is not
// order-preserving (use AppendKey for that). Layout by tag: NULL nothing; BOOL one byte; INT, DATE, TIME
// zig-zag varint; FLOAT 8 bytes little endian; STRING/BYTES uvarint length + bytes; DECIMAL uvarint scale
// (zig-zag) then either 0 + zig-zag varint unscaled or 1 + uvarint length + big-endian magnitude and a sign
// byte; TIMESTAMP zig-zag varint millis + uvarint nanos; ARRAY uvarint count + elements; MAP uvarint count
// + key, value pairs; ROW uvarint count + fields.
func AppendValueBinary(dst []byte, v Value, t Type) []byte {
	dst = append(dst, byte(v.T))
	switch v.T {
	case TagNull:
	case TagBool:
		dst = append(dst, byte(v.I&1))
	case TagInt, TagDate, TagTime:
		dst = binary.AppendVarint(dst, v.I)
	case TagFloat:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
	case TagString, TagBytes:
		dst = binary.AppendUvarint(dst, uint64(len(v.S)))
		dst = append(dst, v.S...)
	case TagDecimal:
		dst = binary.AppendVarint(dst, int64(v.N))
		if b, ok := v.X.(*big.Int); ok {
			dst = append(dst, 1)
			mag := b.Bytes()
			dst = binary.AppendUvarint(dst, uint64(len(mag)))
			dst = append(dst, mag...)
			dst = append(dst, byte(boolInt(b.Sign() < 0)))
		} else {
			dst = append(dst, 0)
			dst = binary.AppendVarint(dst, v.I)
		}
	case TagTimestamp:
		dst = binary.AppendVarint(dst, v.I)
		dst = binary.AppendUvarint(dst, uint64(uint32(v.N)))
	case TagArray:
		et := elemType(t)
		a := v.Array()
		dst = binary.AppendUvarint(dst, uint64(len(a)))
		for _, e := range a {
			dst = AppendValueBinary(dst, e, et)
		}
	case TagMap:
		kt, vt := keyType(t), elemType(t)
		m := v.Map()
		if m == nil {
			return binary.AppendUvarint(dst, 0)
		}
		dst = binary.AppendUvarint(dst, uint64(len(m.Keys)))
		for i := range m.Keys {
			dst = AppendValueBinary(dst, m.Keys[i], kt)
			dst = AppendValueBinary(dst, m.Vals[i], vt)
		}
	case TagRow:
		fs := v.Fields()
		dst = binary.AppendUvarint(dst, uint64(len(fs)))
		for i, f := range fs {
			var ft Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			dst = AppendValueBinary(dst, f, ft)
		}
	}
	return dst
}

func readVarint(src []byte) (int64, []byte, error) {
	x, n := binary.Varint(src)
	if n <= 0 {
		return 0, src, errShort
	}
	return x, src[n:], nil
}

func readUvarint(src []byte) (uint64, []byte, error) {
	x, n := binary.Uvarint(src)
	if n <= 0 {
		return 0, src, errShort
	}
	return x, src[n:], nil
}

// DecodeValueBinary decodes one value written by AppendValueBinary and returns the rest of src. Strings
// and bytes are copied out of src.
func DecodeValueBinary(src []byte, t Type) (Value, []byte, error) {
	if len(src) == 0 {
		return NullValue, src, errShort
	}
	tag := Tag(src[0])
	src = src[1:]
	var err error
	switch tag {
	case TagNull:
		return NullValue, src, nil
	case TagBool:
		if len(src) < 1 {
			return NullValue, src, errShort
		}
		return BoolValue(src[0] != 0), src[1:], nil
	case TagInt, TagDate, TagTime:
		var x int64
		x, src, err = readVarint(src)
		return Value{T: tag, I: x}, src, err
	case TagFloat:
		if len(src) < 8 {
			return NullValue, src, errShort
		}
		return Value{T: TagFloat, I: int64(binary.LittleEndian.Uint64(src))}, src[8:], nil
	case TagString, TagBytes:
		var n uint64
		n, src, err = readUvarint(src)
		if err != nil {
			return NullValue, src, err
		}
		if uint64(len(src)) < n {
			return NullValue, src, errShort
		}
		return Value{T: tag, S: string(src[:n])}, src[n:], nil
	case TagDecimal:
		var scale int64
		if scale, src, err = readVarint(src); err != nil {
			return NullValue, src, err
		}
		if len(src) < 1 {
			return NullValue, src, errShort
		}
		form := src[0]
		src = src[1:]
		if form == 0 {
			var x int64
			x, src, err = readVarint(src)
			return DecimalValue(x, int(scale)), src, err
		}
		var n uint64
		if n, src, err = readUvarint(src); err != nil {
			return NullValue, src, err
		}
		if uint64(len(src)) < n+1 {
			return NullValue, src, errShort
		}
		b := new(big.Int).SetBytes(src[:n])
		if src[n] != 0 {
			b.Neg(b)
		}
		return BigDecimalValue(b, int(scale)), src[n+1:], nil
	case TagTimestamp:
		var ms int64
		var ns uint64
		if ms, src, err = readVarint(src); err != nil {
			return NullValue, src, err
		}
		ns, src, err = readUvarint(src)
		return TimestampValue(ms, int32(ns)), src, err
	case TagArray:
		var n uint64
		if n, src, err = readUvarint(src); err != nil {
			return NullValue, src, err
		}
		if n > uint64(len(src)) {
			return NullValue, src, errShort
		}
		et := elemType(t)
		a := make([]Value, n)
		for i := range a {
			if a[i], src, err = DecodeValueBinary(src, et); err != nil {
				return NullValue, src, err
			}
		}
		return ArrayValue(a), src, nil
	case TagMap:
		var n uint64
		if n, src, err = readUvarint(src); err != nil {
			return NullValue, src, err
		}
		if n > uint64(len(src)) {
			return NullValue, src, errShort
		}
		kt, vt := keyType(t), elemType(t)
		m := &MapValue{Keys: make([]Value, n), Vals: make([]Value, n)}
		for i := range m.Keys {
			if m.Keys[i], src, err = DecodeValueBinary(src, kt); err != nil {
				return NullValue, src, err
			}
			if m.Vals[i], src, err = DecodeValueBinary(src, vt); err != nil {
				return NullValue, src, err
			}
		}
		return MapOf(m), src, nil
	case TagRow:
		var n uint64
		if n, src, err = readUvarint(src); err != nil {
			return NullValue, src, err
		}
		if n > uint64(len(src)) {
			return NullValue, src, errShort
		}
		fs := make([]Value, n)
		for i := range fs {
			var ft Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			if fs[i], src, err = DecodeValueBinary(src, ft); err != nil {
				return NullValue, src, err
			}
		}
		return RowValue(fs), src, nil
	}
	return NullValue, src, fmt.Errorf("decode value: unknown tag %d", tag)
}

// AppendRowBinary appends AppendValueBinary of each value (vals[i] has type ts[i]).
func AppendRowBinary(dst []byte, vals []Value, ts []Type) []byte {
	for i, v := range vals {
		var t Type
		if i < len(ts) {
			t = ts[i]
		}
		dst = AppendValueBinary(dst, v, t)
	}
	return dst
}

// DecodeRowBinary decodes len(ts) values written by AppendRowBinary, appending them to dst (pass dst[:0]
// to reuse a buffer), and returns the extended slice and the rest of src.
func DecodeRowBinary(src []byte, ts []Type, dst []Value) ([]Value, []byte, error) {
	for _, t := range ts {
		var v Value
		var err error
		if v, src, err = DecodeValueBinary(src, t); err != nil {
			return dst, src, err
		}
		dst = append(dst, v)
	}
	return dst, src, nil
}
