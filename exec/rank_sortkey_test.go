package exec

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// TestRankSortKeyProperty: the in-memory sort keys (rank_sortkey.go) of random rows — integers at and near
// the byte-length boundaries and the extremes, timestamps with and without nanoseconds, DATE, DOUBLE and
// string columns, NULLs, ASC and DESC, NULLS FIRST and LAST, one to three columns — compare as
// appendSortKey's (the order Ranks had) and are equal exactly when those are; no key is a proper prefix of
// another (a sort key and its arrival number parse apart); and the integer and timestamp columns take fewer
// bytes than appendSortKey's.
func TestRankSortKeyProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.TimestampType(3), types.DoubleType(), types.StringType(), types.DateType(),
		types.TimestampType(9)}
	ints := []int64{0, 1, -1, 127, 128, 255, 256, -255, -256, -257, 65535, 65536, -65536, 1 << 40, -(1 << 40),
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 1_700_000_000_000}
	val := func(rng *rand.Rand, c int) types.Value {
		if rng.IntN(8) == 0 {
			return types.NullValue
		}
		n := ints[rng.IntN(len(ints))]
		if rng.IntN(2) == 0 {
			n = rng.Int64N(2000) - 1000
		}
		switch c {
		case 0:
			return types.IntValue(n)
		case 1:
			return types.TimestampValue(n, 0)
		case 2:
			return types.FloatValue(float64(rng.IntN(7)) - 3.5)
		case 3:
			return types.StringValue([]string{"", "a", "ab", "b", "a\x00"}[rng.IntN(5)])
		case 4:
			return types.DateValue(n % 100_000)
		default:
			return types.TimestampValue(n%5, int32(rng.IntN(3))*1000)
		}
	}
	sign := func(x int) int { return min(max(x, -1), 1) }
	shorter := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 0x50f7))
		var order []SortKey
		for range 1 + rng.IntN(3) {
			order = append(order, SortKey{Col: rng.IntN(len(ts)), Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0})
		}
		op := NewRank(RankConfig{Partition: []int{3}, Order: order, Limit: 3, Types: ts}, &recorder{}).(*rankOp)
		rows := make([][]types.Value, 60)
		for i := range rows {
			rows[i] = make([]types.Value, len(ts))
			for c := range ts {
				rows[i][c] = val(rng, c)
			}
		}
		for _, a := range rows {
			ka, wa := op.sortKey(nil, a), appendSortKey(nil, a, order)
			if len(ka) < len(wa) {
				shorter++
			}
			for _, b := range rows {
				kb, wb := op.sortKey(nil, b), appendSortKey(nil, b, order)
				if got, want := sign(bytes.Compare(ka, kb)), sign(bytes.Compare(wa, wb)); got != want {
					t.Fatalf("seed %d %+v: %v vs %v compare %d, want %d (keys %x, %x)", seed, order, a, b, got, want, ka, kb)
				}
				if len(ka) < len(kb) && bytes.HasPrefix(kb, ka) {
					t.Fatalf("seed %d %+v: key %x of %v is a prefix of %x of %v", seed, order, ka, a, kb, b)
				}
			}
		}
	}
	if shorter == 0 {
		t.Fatal("no sort key was shorter than appendSortKey's")
	}
	// a timestamp of now: 8 bytes (appendSortKey: 13)
	op := NewRank(RankConfig{Partition: []int{3}, Order: []SortKey{{Col: 1}}, Limit: 1, Types: ts}, &recorder{}).(*rankOp)
	if k := op.sortKey(nil, []types.Value{1: types.TimestampValue(1_765_000_000_000, 0)}); len(k) != 8 {
		t.Fatalf("a timestamp's key %x, want 8 bytes", k)
	}
}
