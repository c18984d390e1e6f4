package exec

import (
	"github.com/sluicesql/sluice/types"
)

// SortKey is one ORDER BY column: its input column, direction and null placement.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// appendSortKey appends an order-preserving encoding of row's sort columns: bytes.Compare of two encodings
// orders the rows as the keys ask. It needs no column types: types.AppendKey encodes by the value's tag
// (decimals normalized, -0.0 = 0.0, NaN last); the null marker is then set from NullsFirst, independently
// of the direction.
func appendSortKey(dst []byte, row []types.Value, keys []SortKey) []byte {
	for _, k := range keys {
		v := row[k.Col]
		n := len(dst)
		if k.Desc {
			dst = types.AppendKeyDesc(dst, v, types.Type{})
		} else {
			dst = types.AppendKey(dst, v, types.Type{})
		}
		// AppendKey starts with 0x00 (NULL) or 0x01 (not null); AppendKeyDesc with their inverses. Nulls
		// become 0x00 (first) or 0xFF (last); non-null markers stay 0x01 / 0xFE, strictly between them.
		if v.T == types.TagNull {
			if k.NullsFirst {
				dst[n] = 0x00
			} else {
				dst[n] = 0xFF
			}
		}
	}
	return dst
}

// appendGroupKey appends the grouping encoding of row's key columns (equal keys give equal bytes).
func appendGroupKey(dst []byte, row []types.Value, cols []int, ts []types.Type) []byte {
	for i, c := range cols {
		dst = types.AppendKey(dst, row[c], ts[i])
	}
	return dst
}

// isTrue reports a BOOLEAN TRUE (NULL and FALSE are not).
func isTrue(v types.Value) bool { return v.T == types.TagBool && v.I != 0 }
