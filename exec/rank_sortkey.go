package exec

import (
	"encoding/binary"
	"math/bits"

	"github.com/sluicesql/sluice/types"
)

// Sort keys of a Rank in memory (the entries of rank_store.go): bytes that compare (bytes.Compare) as the
// rows' order and are equal exactly when the order columns' values are, as appendSortKey's, but shorter for
// the columns Ranks are mostly ordered by. A column typed as an integer, DATE, TIME or interval holds, when
// not NULL, one ordered integer (rankAppendInt: a length byte and the value's significant bytes, 1 to 9
// bytes where appendSortKey takes 9); a TIMESTAMP or TIMESTAMP_LTZ column its milliseconds and then its
// nanoseconds within the millisecond as two of them (8 bytes for a current time, not 13). NULL is 0x00 or
// 0xFF as in appendSortKey (first or last); a value of another tag in such a column (not planned) is 0xF0
// and its key encoding. Other columns take appendSortKey's encoding. DESC inverts a value's bytes. Every
// column's encoding is self-delimiting, so a key is one only for its values, and a prefix of entries'
// keys (rankOp.removeEntry) is their order.
//
// Sort keys are never written to snapshots (they hold rows: rank_state.go), so this form can change freely.

const (
	rskGeneric = iota // appendSortKey's encoding
	rskInt            // one integer
	rskTime           // milliseconds and nanoseconds
)

// rankSortCols returns how each order column is encoded, or nil when every one takes appendSortKey's
// encoding.
func rankSortCols(cfg RankConfig) []uint8 {
	var out []uint8
	compact := false
	for _, k := range cfg.Order {
		var t types.Type
		if k.Col >= 0 && k.Col < len(cfg.Types) {
			t = cfg.Types[k.Col]
		}
		c := uint8(rskGeneric)
		switch t.Kind {
		case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.Date, types.Time,
			types.IntervalYearMonth, types.IntervalDayTime:
			c = rskInt
		case types.Timestamp, types.TimestampLTZ:
			c = rskTime
		}
		compact = compact || c != rskGeneric
		out = append(out, c)
	}
	if !compact {
		return nil
	}
	return out
}

// sortKey appends the in-memory sort key of row (see above).
func (r *rankOp) sortKey(dst []byte, row []types.Value) []byte {
	if r.skCols == nil {
		return appendSortKey(dst, row, r.cfg.Order)
	}
	for i, k := range r.cfg.Order {
		v := row[k.Col]
		n := len(dst)
		switch {
		case v.T == types.TagNull:
			if k.NullsFirst {
				dst = append(dst, 0x00)
			} else {
				dst = append(dst, 0xFF)
			}
			continue
		case r.skCols[i] == rskGeneric:
			dst = appendSortKey(dst, row, r.cfg.Order[i:i+1])
			continue // appendSortKey inverted a DESC value
		case r.skCols[i] == rskInt && (v.T == types.TagInt || v.T == types.TagDate || v.T == types.TagTime):
			dst = rankAppendInt(dst, v.I)
		case r.skCols[i] == rskTime && v.T == types.TagTimestamp:
			dst = rankAppendInt(rankAppendInt(dst, v.I), int64(v.N))
		default:
			dst = types.AppendKey(append(dst, 0xF0), v, types.Type{})
		}
		if k.Desc {
			for j := n; j < len(dst); j++ {
				dst[j] = ^dst[j]
			}
		}
	}
	return dst
}

// rankAppendInt appends v in 1 to 9 bytes that compare as the integers do: a length byte 0x80+k and the k
// significant bytes of v, big-endian, for v >= 0; 0x7F-k and the k low bytes of v for v < 0, where k bytes
// hold ^v. The length bytes stay within 0x77..0x88, strictly between the NULL markers.
func rankAppendInt(dst []byte, v int64) []byte {
	u, lb := uint64(v), byte(0x80)
	if v < 0 {
		u, lb = ^uint64(v), 0x7F
	}
	k := (bits.Len64(u) + 7) / 8
	if v < 0 {
		lb -= byte(k)
	} else {
		lb += byte(k)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return append(append(dst, lb), b[8-k:]...)
}
