package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/sluicesql/sluice/types"
)

// The spill row encoding: per value its tag byte, then by tag — Bool/Int/Date/Time: varint I; Float: the
// 8 bits of I; Timestamp: varint I, uvarint N; String/Bytes: uvarint length and bytes; Decimal: varint
// scale, then 0 and varint I, or 1 and the big.Int's GobEncode bytes with a uvarint length; Array/Row:
// uvarint count and the values; Map: uvarint count, then keys, then values. It needs no column types.

var errCorruptSpill = errors.New("corrupt spill record")

func appendValueBinary(dst []byte, v types.Value) []byte {
	dst = append(dst, byte(v.T))
	switch v.T {
	case types.TagNull:
	case types.TagBool, types.TagInt, types.TagDate, types.TagTime:
		dst = binary.AppendVarint(dst, v.I)
	case types.TagFloat:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.I))
	case types.TagTimestamp:
		dst = binary.AppendVarint(dst, v.I)
		dst = binary.AppendUvarint(dst, uint64(uint32(v.N)))
	case types.TagString, types.TagBytes:
		dst = binary.AppendUvarint(dst, uint64(len(v.S)))
		dst = append(dst, v.S...)
	case types.TagDecimal:
		dst = binary.AppendVarint(dst, int64(v.N))
		if b, ok := v.X.(*big.Int); ok {
			enc, _ := b.GobEncode()
			dst = append(dst, 1)
			dst = binary.AppendUvarint(dst, uint64(len(enc)))
			dst = append(dst, enc...)
		} else {
			dst = append(dst, 0)
			dst = binary.AppendVarint(dst, v.I)
		}
	case types.TagArray, types.TagRow:
		vs, _ := v.X.([]types.Value)
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, e := range vs {
			dst = appendValueBinary(dst, e)
		}
	case types.TagMap:
		m := v.Map()
		if m == nil {
			m = &types.MapValue{}
		}
		dst = binary.AppendUvarint(dst, uint64(len(m.Keys)))
		for _, k := range m.Keys {
			dst = appendValueBinary(dst, k)
		}
		for _, e := range m.Vals {
			dst = appendValueBinary(dst, e)
		}
	}
	return dst
}

// appendRowBinary appends the values of a row preceded by their count.
func appendRowBinary(dst []byte, vals []types.Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, v := range vals {
		dst = appendValueBinary(dst, v)
	}
	return dst
}

// decodeRowBinary decodes a row written by appendRowBinary into dst[:0] and returns the values and the rest.
func decodeRowBinary(src []byte, dst []types.Value) ([]types.Value, []byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return nil, nil, errCorruptSpill
	}
	src = src[k:]
	dst = dst[:0]
	for range n {
		var v types.Value
		var err error
		v, src, err = decodeValueBinary(src)
		if err != nil {
			return nil, nil, err
		}
		dst = append(dst, v)
	}
	return dst, src, nil
}

func decodeValueBinary(src []byte) (types.Value, []byte, error) {
	if len(src) == 0 {
		return types.Value{}, nil, errCorruptSpill
	}
	v := types.Value{T: types.Tag(src[0])}
	src = src[1:]
	varint := func() (int64, error) {
		x, k := binary.Varint(src)
		if k <= 0 {
			return 0, errCorruptSpill
		}
		src = src[k:]
		return x, nil
	}
	uvarint := func() (uint64, error) {
		x, k := binary.Uvarint(src)
		if k <= 0 {
			return 0, errCorruptSpill
		}
		src = src[k:]
		return x, nil
	}
	var err error
	switch v.T {
	case types.TagNull:
	case types.TagBool, types.TagInt, types.TagDate, types.TagTime:
		v.I, err = varint()
	case types.TagFloat:
		if len(src) < 8 {
			return v, nil, errCorruptSpill
		}
		v.I = int64(binary.LittleEndian.Uint64(src))
		src = src[8:]
	case types.TagTimestamp:
		if v.I, err = varint(); err == nil {
			var n uint64
			n, err = uvarint()
			v.N = int32(uint32(n))
		}
	case types.TagString, types.TagBytes:
		var n uint64
		if n, err = uvarint(); err == nil {
			if n > uint64(len(src)) {
				return v, nil, errCorruptSpill
			}
			v.S = string(src[:n])
			src = src[n:]
		}
	case types.TagDecimal:
		var s int64
		if s, err = varint(); err != nil {
			break
		}
		v.N = int32(s)
		if len(src) == 0 {
			return v, nil, errCorruptSpill
		}
		isBig := src[0] == 1
		src = src[1:]
		if !isBig {
			v.I, err = varint()
			break
		}
		var n uint64
		if n, err = uvarint(); err != nil {
			break
		}
		if n > uint64(len(src)) {
			return v, nil, errCorruptSpill
		}
		b := new(big.Int)
		if err = b.GobDecode(src[:n]); err != nil {
			break
		}
		src = src[n:]
		v = types.BigDecimalValue(b, int(s))
	case types.TagArray, types.TagRow:
		var n uint64
		if n, err = uvarint(); err != nil {
			break
		}
		if n > uint64(len(src)) {
			return v, nil, errCorruptSpill
		}
		vs := make([]types.Value, n)
		for i := range vs {
			if vs[i], src, err = decodeValueBinary(src); err != nil {
				return v, nil, err
			}
		}
		v.X = vs
	case types.TagMap:
		var n uint64
		if n, err = uvarint(); err != nil {
			break
		}
		if n > uint64(len(src)) {
			return v, nil, errCorruptSpill
		}
		m := &types.MapValue{Keys: make([]types.Value, n), Vals: make([]types.Value, n)}
		for _, part := range [][]types.Value{m.Keys, m.Vals} {
			for i := range part {
				if part[i], src, err = decodeValueBinary(src); err != nil {
					return v, nil, err
				}
			}
		}
		v.X = m
	default:
		return v, nil, fmt.Errorf("%w: unknown value tag %d", errCorruptSpill, v.T)
	}
	if err != nil {
		return v, nil, err
	}
	return v, src, nil
}
