package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestRankWarmProperty runs random streams in pushes of up to 40 rows — deduplications, Top-N over inserts
// and retractions, RANK and DENSE_RANK — through a Rank that warms every push (rank_warm.go: keys and hashes
// computed up front, whatever the table's size) and through the reference Rank (rank_ref_test.go): the
// output must be the same push for push. Rows of a push share partitions, and the pushes change the table
// (inserts, deletions, resizes) after their keys were computed.
func TestRankWarmProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	warmed := 0
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 0x3a7e))
		var cfg RankConfig
		retract := 0.0
		if seed%2 == 0 {
			cfg = dedupConfig(rng)
		} else {
			cfg = RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Limit: []int64{1, 3, 10}[rng.IntN(3)],
				RowNumber: rng.IntN(2) == 0, Types: ts, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}}}
			if rng.IntN(2) == 0 {
				cfg.Partition = []int{0, 1}
			}
			retract = 0.4
		}
		ch := &changes{rng: rng, retract: retract, update: true}
		parts := 1 + rng.IntN(300)
		got, want := &recorder{}, &recorder{}
		op, ref := NewRank(cfg, got), newRefRank(cfg, want)
		op.(*rankOp).warmSlots = 0
		for i := range 150 {
			b := &changelog.Batch{}
			for range 1 + rng.IntN(15) {
				b.Rows = append(b.Rows, ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, 50, 20) }).rows...)
			}
			if err := op.Push(b); err != nil {
				t.Fatalf("seed %d push %d: %v", seed, i, err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatalf("seed %d push %d (reference): %v", seed, i, err)
			}
			if len(b.Rows) >= 2 {
				warmed++
			}
		}
		if got.b.String() != want.b.String() || got.pushes != want.pushes {
			t.Fatalf("seed %d (%+v): output differs\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
	}
	if warmed == 0 {
		t.Fatal("no push was warmed")
	}
}

// TestRankWarmLargeTable: a deduplication over two BIGINT keys (Nexmark q18's shape) with more partitions
// than rankWarmSlots, in pushes of 1000 rows of which some repeat earlier partitions, emits what the
// reference Rank emits, and a short row within a warmed push is refused as without warming.
func TestRankWarmLargeTable(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	cfg := RankConfig{Partition: []int{0, 1}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true}
	got, want := &recorder{}, &recorder{}
	op, ref := NewRank(cfg, got), newRefRank(cfg, want)
	rng := rand.New(rand.NewPCG(7, 18))
	for i := range 60 {
		b := &changelog.Batch{}
		for j := range 1000 {
			k := int64(i*1000 + j)
			if i > 0 && rng.IntN(3) == 0 {
				k = rng.Int64N(int64(i * 1000))
			}
			b.Append(changelog.Insert, []types.Value{types.IntValue(k / 7), types.IntValue(k % 7 * 1_000_003),
				types.IntValue(int64(i*1000 + j)), types.StringValue(strings.Repeat("x", rng.IntN(30)))})
		}
		if err := op.Push(b); err != nil {
			t.Fatal(err)
		}
		if err := ref.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(op.(*rankOp).st.st.slots); n < rankWarmSlots {
		t.Fatalf("%d slots: the table was never large enough to be warmed", n)
	}
	if got.b.String() != want.b.String() || got.pushes != want.pushes {
		t.Fatalf("output differs from the reference (%d vs %d bytes)", got.b.Len(), want.b.Len())
	}
	b := &changelog.Batch{}
	b.Append(changelog.Insert, []types.Value{types.IntValue(1), types.IntValue(2), types.IntValue(3), types.StringValue("")})
	b.Append(changelog.Insert, []types.Value{types.IntValue(1)})
	if err := op.Push(b); err == nil || !strings.Contains(err.Error(), "fewer than the operator reads") {
		t.Fatalf("a short row in a warmed push: %v", err)
	}
}

// BenchmarkDedupWarm measures a deduplication over two BIGINT keys (Nexmark q18's shape: a third of the rows
// repeat an earlier partition, the others start one) in pushes of 1000 rows, per row, with and without
// warm (rank_warm.go), for 1M and 8M rows: process CPU per row (generating the rows included).
func BenchmarkDedupWarm(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	cfg := RankConfig{Partition: []int{0, 1}, Order: []SortKey{{Col: 2, Desc: true}}, Limit: 1, Types: ts, InsertOnly: true}
	for _, n := range []int{1_000_000, 8_000_000} {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("rows=%d/warm=%t", n, warm), func(b *testing.B) {
				vals := make([]types.Value, 4*1000)
				batch := &changelog.Batch{}
				cpu := processCPU()
				for b.Loop() {
					op := NewRank(cfg, &discard{})
					if !warm {
						op.(*rankOp).warmSlots = math.MaxInt
					}
					rng := rand.New(rand.NewPCG(1, 2))
					for i := 0; i < n; {
						batch.Reset()
						for j := 0; j < 1000; j, i = j+1, i+1 {
							k := int64(i)
							if i > 0 && rng.IntN(3) == 0 {
								k = rng.Int64N(int64(i))
							}
							v := vals[4*j : 4*j+4 : 4*j+4]
							v[0], v[1], v[2], v[3] = types.IntValue(k>>3), types.IntValue(k&7*1_000_003), types.IntValue(int64(i)), types.StringValue("extra")
							batch.Append(changelog.Insert, v)
						}
						if err := op.Push(batch); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/row")
			})
		}
	}
}
