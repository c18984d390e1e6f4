package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// rankPropertyRow makes a row (partition STRING, order BIGINT or NULL, a DOUBLE, a padding STRING): few
// partitions and order values (ties), a DOUBLE (its rows are compared by key encoding, not by their bytes),
// and padding long enough that busy partitions outgrow rsSmallBytes and move to
// a rankBig.
func rankPropertyRow(rng *rand.Rand, parts, orders, pad int) []types.Value {
	o := types.IntValue(int64(rng.IntN(orders)))
	if rng.IntN(9) == 0 {
		o = types.NullValue
	}
	return []types.Value{
		types.StringValue(fmt.Sprint("p", rng.IntN(parts))),
		o,
		types.FloatValue(float64(rng.IntN(3))),
		types.StringValue(strings.Repeat(string(rune('a'+rng.IntN(3))), rng.IntN(pad+1))),
	}
}

// TestRankStoreProperty runs random inserts and retractions (and -U/+U pairs) with ties, N in {1, 3, 10}
// or unbounded, ROW_NUMBER/RANK/DENSE_RANK, with and without the row number, through the Rank and through
// the Rank as it was before its compact state (rank_ref_test.go): the output must be the same, row for row
// and push for push. Insert-only streams run the Rank with InsertOnly (rows past N are dropped), and batch
// streams both in batch mode.
func TestRankStoreProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	limits := []int64{1, 3, 10, -1}
	bigs := 0
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 0x7a4c))
		mode := rng.IntN(3) // 0: retractions, 1: insert-only, 2: batch
		cfg := RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Limit: limits[rng.IntN(len(limits))],
			RowNumber: rng.IntN(4) != 0, Types: ts, InsertOnly: mode == 1, Batch: mode == 2}
		cfg.Order = []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		if rng.IntN(3) == 0 {
			cfg.Order = append(cfg.Order, SortKey{Col: 2, Desc: rng.IntN(2) == 0})
		}
		parts, orders, pad := 1+rng.IntN(4), 1+rng.IntN(8), rng.IntN(400)
		retract := 0.0
		if mode == 0 {
			retract = 0.4
		}
		ch := &changes{rng: rng, retract: retract, update: true}
		var steps []step
		n := 20 + rng.IntN(200)
		if cfg.Limit < 0 { // every change renumbers the rows after it: keep the output small
			n = 20 + rng.IntN(60)
		}
		for range n {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, parts, orders, pad) }))
		}
		got, want := &recorder{}, &recorder{}
		op, ref := NewRank(cfg, got), newRefRank(cfg, want)
		for i, s := range steps {
			b := &changelog.Batch{}
			for _, r := range s.rows {
				b.Append(r.Kind, r.Vals)
			}
			if err := op.Push(b); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatalf("seed %d step %d (reference): %v", seed, i, err)
			}
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		if err := ref.End(); err != nil {
			t.Fatal(err)
		}
		if got.b.String() != want.b.String() {
			t.Fatalf("seed %d (%+v): output differs\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
		if got.pushes != want.pushes {
			t.Fatalf("seed %d: %d pushes, want %d", seed, got.pushes, want.pushes)
		}
		for _, bb := range op.(*rankOp).st.bigs {
			if bb != nil {
				bigs++
			}
		}
	}
	if bigs == 0 {
		t.Fatal("no seed kept a partition in a rankBig")
	}
}

// TestRankInsertOnlyRestoreProperty: an insert-only Rank (rows past N dropped) restored from a snapshot
// taken mid-stream (and split over subtasks) emits what the uninterrupted run emits.
func TestRankInsertOnlyRestoreProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	limits := []int64{1, 3, 10}
	forEachCut(t, "insert-only rank", 200, func(rng *rand.Rand) (builder, []step) {
		cfg := RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}},
			Limit: limits[rng.IntN(3)], RowNumber: true, Types: ts, InsertOnly: true}
		ch := &changes{rng: rng}
		pad := rng.IntN(600)
		var steps []step
		for range 10 + rng.IntN(80) {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, 3, 6, pad) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

// TestRankBigRestoreProperty: partitions kept in rankBigs (an updating input, long rows) survive a
// snapshot mid-stream.
func TestRankBigRestoreProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	forEachCut(t, "big rank", 60, func(rng *rand.Rand) (builder, []step) {
		cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: rng.IntN(2) == 0}},
			Limit: int64(1 + rng.IntN(10)), RowNumber: true, Types: ts}
		ch := &changes{rng: rng, retract: 0.3, update: true}
		var steps []step
		for range 100 + rng.IntN(100) {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, 2, 20, 300) }))
		}
		steps = append(steps, step{end: true})
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewRank(cfg, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, steps
	})
}

// TestRankInsertOnlyRefusesRetractions: a retraction into a Rank planned insert-only is an error, not a
// wrong result.
func TestRankInsertOnlyRefusesRetractions(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	op := NewRank(RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true}, &recorder{})
	b := &changelog.Batch{}
	b.Append(changelog.Delete, []types.Value{types.IntValue(1), types.IntValue(2)})
	err := op.Push(b)
	if err == nil || !strings.Contains(err.Error(), "insert-only") {
		t.Fatalf("got %v, want an insert-only error", err)
	}
}

// BenchmarkRankStateSize measures the heap a Rank keeps per stored row, next to the Rank as it was
// (rank_ref_test.go), over rows shaped like Nexmark's bids (auction, bidder, price BIGINT, channel STRING
// of 8 bytes, url STRING of 40, dateTime TIMESTAMP(3), extra STRING of 24): raw B/row is their width in
// fixed-size binary form (8 per BIGINT and TIMESTAMP, the strings' bytes: 104).
//   - dedup: keep the last row per (bidder, auction) (ROW_NUMBER ORDER BY dateTime DESC, rownum <= 1, Nexmark
//     q18), every key written twice: one row kept per key;
//   - top10: the 10 highest prices per auction (q19), 30 rows per auction: 10 kept per auction.
//
// B/row is the live heap after a full GC with the operator alive minus before it was built, over the rows
// that the current Rank keeps (the old one kept every row); x-raw is B/row over raw. Run with -benchtime 1x:
// go test ./exec -run '^$' -bench RankStateSize -benchtime 1x (-state.keys sets the row counts n)
func BenchmarkRankStateSize(b *testing.B) {
	for _, k := range splitComma(*stateKeys) {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil || n < 10 {
			b.Fatalf("bad -state.keys entry %q", k)
		}
		for _, shape := range []string{"dedup", "top10"} {
			for _, impl := range []string{"compact", "before"} {
				b.Run(fmt.Sprintf("%s/%s/rows=%d", shape, impl, n), func(b *testing.B) { benchRankState(b, shape, impl, n) })
			}
		}
	}
}

func benchRankState(b *testing.B, shape, impl string, n int64) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	cfg := RankConfig{Partition: []int{1, 0}, Order: []SortKey{{Col: 5, Desc: true}}, Limit: 1, RowNumber: true, Types: ts,
		InsertOnly: impl == "compact"}
	const raw = 8*4 + 8 + 40 + 24
	rows, kept := 2*n, n // dedup: n keys written twice
	if shape == "top10" {
		cfg.Partition, cfg.Order, cfg.Limit = []int{0}, []SortKey{{Col: 2, Desc: true}}, 10
		rows, kept = 3*n, n // n/10 auctions, 30 rows each
	}
	keys := rows / 2
	if shape == "top10" {
		keys = n / 10
	}
	batch := &changelog.Batch{}
	vals := make([]types.Value, 7*1024)
	rng := rand.New(rand.NewPCG(1, 2))
	var perRow float64
	var cpu time.Duration
	for b.Loop() {
		out := &discard{}
		before := heapInUse()
		var op changelog.Output
		if impl == "compact" {
			op = NewRank(cfg, out)
		} else {
			op = newRefRank(cfg, out)
		}
		c := processCPU()
		for i := int64(0); i < rows; {
			batch.Reset()
			for j := 0; j < 1024 && i < rows; j, i = j+1, i+1 {
				k := scatter(i%keys, keys)
				v := vals[7*j : 7*j+7 : 7*j+7]
				v[0], v[1] = types.IntValue(k), types.IntValue(k*7+1)
				v[2] = types.IntValue(rng.Int64N(1_000_000))
				v[3] = types.StringValue(fmt.Sprintf("chan-%03d", k%1000))
				v[4] = types.StringValue(fmt.Sprintf("https://www.nexmark.com/item.htm?q=%05d", k%100000))
				v[5] = types.TimestampValue(1_700_000_000_000+i, 0)
				v[6] = types.StringValue(fmt.Sprintf("extra-%018d", i))
				batch.Append(changelog.Insert, v)
			}
			if err := op.Push(batch); err != nil {
				b.Fatal(err)
			}
		}
		cpu = processCPU() - c
		after := heapInUse()
		runtime.KeepAlive(op)
		perRow = float64(after-before) / float64(kept)
	}
	b.ReportMetric(perRow, "B/row")
	b.ReportMetric(perRow/raw, "x-raw")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(rows), "cpu-ns/input-row")
}

// TestTopNStoreProperty runs random inserts and retractions with ties and NULLs, long rows (so that the list
// spans many chunks), through the global Top-N and through the Top-N as it was (topn_ref_test.go): the
// output must be the same, row for row and push for push.
func TestTopNStoreProperty(t *testing.T) {
	chunks := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 0x70e))
		keys := []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		limit, offset := int64(rng.IntN(12))-1, int64(rng.IntN(4))
		ch := &changes{rng: rng, retract: 0.35, update: true}
		pad := rng.IntN(500)
		var steps []step
		for range 20 + rng.IntN(300) {
			steps = append(steps, ch.next(0, func() []types.Value { return rankPropertyRow(rng, 3, 1+rng.IntN(10), pad) }))
		}
		got, want := &recorder{}, &recorder{}
		op, ref := NewTopN(keys, limit, offset, got), newRefTopN(keys, limit, offset, want)
		for i, s := range steps {
			b := &changelog.Batch{}
			for _, r := range s.rows {
				b.Append(r.Kind, r.Vals)
			}
			if err := op.Push(b); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatalf("seed %d step %d (reference): %v", seed, i, err)
			}
		}
		if got.b.String() != want.b.String() || got.pushes != want.pushes {
			t.Fatalf("seed %d (limit %d offset %d): output differs\n got:\n%s\nwant:\n%s", seed, limit, offset, got.b.String(), want.b.String())
		}
		chunks = max(chunks, op.(*topN).list.chunks())
	}
	if chunks < 5 {
		t.Fatalf("the lists spanned at most %d chunks", chunks)
	}
}
