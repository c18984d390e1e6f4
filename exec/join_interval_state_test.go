package exec

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// intervalStateSize is what an interval join holds: live rows and bytes (the key arena's written bytes
// and the big buckets' chunk capacity and index), the most seen after any watermark.
type intervalStateSize struct{ rows, bytes int }

func joinStateBytes(j *joinOp) int {
	n := 0
	for s := range 2 {
		st := &j.sides[s].st
		n += st.used + 8*len(st.slots) + j.dictBytes(s)
		for _, bb := range st.bigs {
			n += 8 * len(bb.idx)
			for _, c := range bb.chunks {
				n += cap(c)
			}
		}
	}
	return n
}

// runIntervalState pushes events rows (a q7-like shape: a few hot keys that hold hundreds of rows in big
// buckets, many cold ones) into an interval join whose watermark trails the rows' times, and returns the
// largest state seen after a watermark.
func runIntervalState(t *testing.T, events int) intervalStateSize {
	t.Helper()
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()} // key, time, payload
	env := expr.NewEnv(nil)
	mk := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	const lower, upper = -100, 0 // l.t <= r.t <= l.t + 100
	diff := mk("-", expr.Column(1, "lt", ts[1]), expr.Column(4, "rt", ts[1]))
	residual := mk("AND", mk(">=", diff, expr.Literal(types.IntValue(lower), types.BigIntType())),
		mk("<=", diff, expr.Literal(types.IntValue(upper), types.BigIntType())))
	matched := 0
	left, right := NewJoin(JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
		Residual: residual, Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: lower, Upper: upper}},
		NewCollect(func(changelog.Row) error { matched++; return nil }))
	j := left.(*joinInput).j
	rng := rand.New(rand.NewPCG(1, 2))
	var size intervalStateSize
	var b changelog.Batch
	for i := range events {
		now := int64(i) // one row per millisecond
		key := int64(rng.IntN(4))
		if rng.IntN(2) == 0 {
			key = 1000 + int64(rng.IntN(1<<20))
		}
		row := []types.Value{types.IntValue(key), types.IntValue(now), types.StringValue("payload of a bid")}
		b.Rows = append(b.Rows[:0], changelog.Row{Kind: changelog.Insert, Vals: row})
		in := left
		if i%10 == 9 {
			in = right
		}
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			for _, o := range []changelog.Output{left, right} {
				if err := o.Watermark(now - 10); err != nil {
					t.Fatal(err)
				}
			}
			l, r := j.StateRows()
			size.rows = max(size.rows, l+r)
			size.bytes = max(size.bytes, joinStateBytes(j))
		}
	}
	if matched == 0 {
		t.Fatal("no row matched: the test does not exercise the join")
	}
	return size
}

// TestIntervalJoinStateBounded: an interval join's state (rows and bytes, hot keys' big buckets included)
// depends on the interval and the watermark's delay, not on how many rows went through: after ten times
// more watermarks it holds no more.
func TestIntervalJoinStateBounded(t *testing.T) {
	small := runIntervalState(t, 20_000)
	large := runIntervalState(t, 200_000)
	t.Logf("20K rows: at most %d rows, %d bytes in state; 200K rows: %d rows, %d bytes", small.rows, small.bytes, large.rows, large.bytes)
	if small.rows > 200 || large.rows > 200 {
		t.Fatalf("an interval of 100 ms with a watermark 10 ms behind holds at most ~110 rows; held %d and %d", small.rows, large.rows)
	}
	if large.bytes > small.bytes*3/2 {
		t.Fatalf("state bytes grow with the rows that went through: %d after 20K rows, %d after 200K", small.bytes, large.bytes)
	}
}

// BenchmarkIntervalJoinStore stores b.N rows shaped like Nexmark q7's bids (the join key a price drawn
// log-uniformly from 100 to 10^8, as the generator does: a few thousand hot prices hold most rows' keys
// in big buckets, most prices hold one row) into one side of an interval join whose other side is empty
// and whose watermark never passes them: the cost of a store as the state grows. Run it with -benchtime
// 1000000x and 10000000x to compare the cost per row at both sizes.
func BenchmarkIntervalJoinStore(b *testing.B) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.TimestampType(3), types.StringType()}
	left, _ := NewJoin(JoinConfig{Type: InnerJoin, LeftKeys: []int{1}, RightKeys: []int{1}, LeftTypes: ts, RightTypes: ts,
		Interval: &IntervalBounds{LeftTime: 3, RightTime: 3, Lower: -10_000, Upper: 0}},
		NewCollect(func(changelog.Row) error { return nil }))
	rng := rand.New(rand.NewPCG(3, 4))
	const batch = 1024
	vals := make([]types.Value, batch*len(ts))
	var bt changelog.Batch
	extra := "abcdefghijklmnopqrstuvwxyz0123456789"
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i += batch {
		bt.Rows = bt.Rows[:0]
		for k := range min(batch, b.N-i) {
			row := vals[k*len(ts) : (k+1)*len(ts)]
			price := int64(math.Round(math.Pow(10, rng.Float64()*6) * 100))
			n := int64(i + k)
			row[0] = types.IntValue(1000 + n/50)
			row[1] = types.IntValue(price)
			row[2] = types.IntValue(rng.Int64N(1 << 20))
			row[3] = types.TimestampValue(n/10, 0)
			row[4] = types.StringValue(extra[:rng.IntN(len(extra))])
			bt.Rows = append(bt.Rows, changelog.Row{Kind: changelog.Insert, Vals: row})
		}
		if err := left.Push(&bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// TestIntervalJoinRestoresCountedRows: checkpoints written before interval joins stored rows append-only
// hold a row stored twice as one entry of multiplicity 2, and a key's many rows in an indexed big bucket.
// Restored into today's join they produce the same matches as the join that wrote them, and snapshot the
// same entries again.
func TestIntervalJoinRestoresCountedRows(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()} // key, time, payload
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
		Interval: &IntervalBounds{LeftTime: 1, RightTime: 1, Lower: -1000, Upper: 1000}}
	var rec1, rec2 recorder
	l1, r1 := NewJoin(cfg, &rec1)
	old := l1.(*joinInput).j
	old.sides[0].st.appendOnly, old.sides[1].st.appendOnly = false, false // as the join stored rows before
	var b changelog.Batch
	for i := range 300 {
		key := int64(i % 3) // key 0..2: big buckets
		if i%5 == 0 {
			key = 10 + int64(i) // keys of one row
		}
		row := []types.Value{types.IntValue(key), types.IntValue(int64(i % 40)), types.StringValue("bid")}
		b.Append(changelog.Insert, row)
	}
	for range 2 { // every row twice: multiplicity 2
		if err := l1.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	snap := state.NewMemory()
	if err := old.SnapshotState(snap); err != nil {
		t.Fatal(err)
	}
	l2, r2 := NewJoin(cfg, &rec2)
	j2 := l2.(*joinInput).j
	if err := j2.RestoreState(snap.Reader()); err != nil {
		t.Fatal(err)
	}
	if !j2.sides[0].st.appendOnly {
		t.Fatal("an interval join's sides are append-only")
	}
	again := state.NewMemory()
	if err := j2.SnapshotState(again); err != nil {
		t.Fatal(err)
	}
	if a, b := strings.Join(stateEntries(t, snap), "\n"), strings.Join(stateEntries(t, again), "\n"); a != b {
		t.Fatalf("the restored join snapshots\n%s\nthe original\n%s", b, a)
	}
	var probe changelog.Batch
	for _, k := range []int64{0, 1, 2, 15, 20, 99} {
		probe.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(20), types.StringValue("max")})
	}
	if err := r1.Push(&probe); err != nil {
		t.Fatal(err)
	}
	if err := r2.Push(&probe); err != nil {
		t.Fatal(err)
	}
	a, c := sortedLines(rec1.b.String()), sortedLines(rec2.b.String())
	if a != c || strings.Count(a, "\n") < 400 {
		t.Fatalf("after the restore the join emitted\n%s\nthe join that wrote the checkpoint\n%s", c, a)
	}
}
