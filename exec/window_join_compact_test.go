package exec

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Rows [k STRING, window_end BIGINT, id BIGINT, x DOUBLE, ts TIMESTAMP(3), d DECIMAL(10, 2), a ARRAY<STRING>]
// on both inputs: every value encoding the window join's byte rows hold, NULLs in all but the window end.
var wjWideTypes = []types.Type{types.StringType(), types.BigIntType(), types.BigIntType(), types.DoubleType(),
	types.TimestampType(3), types.DecimalType(10, 2), types.ArrayType(types.StringType())}

func wjWideConfig(t testing.TB, rng *rand.Rand) WindowJoinConfig {
	typ := JoinType(rng.IntN(6))
	cfg := WindowJoinConfig{Type: typ, LeftKeys: []int{1, 0}, RightKeys: []int{1, 0}, LeftTypes: wjWideTypes,
		RightTypes: wjWideTypes, LeftEnd: 1, RightEnd: 1}
	if typ == AntiJoin && rng.IntN(2) == 0 {
		cfg.NullAware = true
	}
	if rng.IntN(2) == 0 {
		// l.id < r.id + 3 (NULL when either is NULL)
		env := expr.NewEnv(nil)
		w := len(wjWideTypes)
		plus, err := expr.Call(env, "+", expr.Column(w+2, "rid", types.BigIntType()), expr.Literal(types.IntValue(3), types.BigIntType()))
		if err == nil {
			cfg.Residual, err = expr.Call(env, "<", expr.Column(2, "lid", types.BigIntType()), plus)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func wjWideSteps(rng *rand.Rand) []step {
	var steps []step
	wm, id := [2]int64{}, int64(0)
	null := func(v types.Value) types.Value {
		if rng.IntN(6) == 0 {
			return types.NullValue
		}
		return v
	}
	for range 5 + rng.IntN(60) {
		in := rng.IntN(2)
		if rng.IntN(4) == 0 {
			wm[in] += int64(rng.IntN(15))
			steps = append(steps, step{in: in, wm: wm[in], isWM: true})
			continue
		}
		var rows []changelog.Row
		for range 1 + rng.IntN(4) {
			end := 10 * (min(wm[0], wm[1])/10 + int64(rng.IntN(3)))
			id++
			k := []string{"", "a", "bb", "ünï"}[rng.IntN(4)]
			elems := []types.Value{types.StringValue(fmt.Sprint(rng.IntN(5))), types.NullValue}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{
				null(types.StringValue(k)), types.IntValue(end), null(types.IntValue(id)),
				null(types.FloatValue(rng.NormFloat64())), null(types.TimestampValue(rng.Int64N(1<<40), int32(rng.IntN(1000000)))),
				null(types.DecimalValue(rng.Int64N(1<<33)-1<<32, 2)), null(types.ArrayValue(elems[:rng.IntN(3)])),
			}})
		}
		steps = append(steps, step{in: in, rows: rows})
	}
	return append(steps, step{in: 0, end: true}, step{in: 1, end: true})
}

// TestWindowJoinMatchesReference: the window join over byte rows emits exactly (rows, their values,
// batches, watermarks, End) what the window join over copied value rows (window_join_ref_test.go) does.
func TestWindowJoinMatchesReference(t *testing.T) {
	strong := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 41))
		cfg := wjWideConfig(t, rng)
		steps := wjWideSteps(rng)
		got, want := &recorder{}, &recorder{}
		l, r := NewWindowJoin(cfg, got)
		rl, rr := newRefWindowJoin(cfg, want)
		runSteps(t, []changelog.Output{l, r}, steps)
		runSteps(t, []changelog.Output{rl, rr}, steps)
		if got.b.String() != want.b.String() || !sameRows(got.rows, want.rows) || got.pushes != want.pushes {
			t.Fatalf("seed %d (%s): differs from the reference\ngot:\n%s\nwant:\n%s", seed, cfg.Type, got.b.String(), want.b.String())
		}
		if len(want.rows) > 0 {
			strong++
		}
	}
	if strong < 200 {
		t.Fatalf("only %d of 400 seeds emit rows", strong)
	}
}

// TestWindowJoinSnapshotCompatible: a snapshot of the reference (the layout by window end, before byte rows)
// restores into the byte-row window join, and one of the byte-row join (the layout by join key) into a fresh
// byte-row join; either way the run continues as the uninterrupted reference run does. (The layout by join key
// does not restore into the reference: new checkpoints do not go back to an older Sluice.)
func TestWindowJoinSnapshotCompatible(t *testing.T) {
	strong := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 43))
		cfg := wjWideConfig(t, rng)
		steps := wjWideSteps(rng)
		cut := rng.IntN(len(steps))
		whole := &recorder{}
		rl, rr := newRefWindowJoin(cfg, whole)
		runSteps(t, []changelog.Output{rl, rr}, steps)

		for dir := range 2 {
			rec := &recorder{}
			var first, second []changelog.Output
			var snap, restore state.Snapshotter
			nl, nr := NewWindowJoin(cfg, rec)
			ol, or := newRefWindowJoin(cfg, rec)
			if dir == 0 {
				first, second = []changelog.Output{ol, or}, []changelog.Output{nl, nr}
				snap, restore = ol.(*refWindowJoinInput).j, StateOf(nl)
			} else {
				n2l, n2r := NewWindowJoin(cfg, rec)
				first, second = []changelog.Output{nl, nr}, []changelog.Output{n2l, n2r}
				snap, restore = StateOf(nl), StateOf(n2l)
			}
			runSteps(t, first, steps[:cut])
			before := len(rec.rows)
			mem := state.NewMemory()
			if err := snap.SnapshotState(mem); err != nil {
				t.Fatalf("seed %d: snapshot: %v", seed, err)
			}
			if err := restore.RestoreState(mem.Reader()); err != nil {
				t.Fatalf("seed %d: restore: %v", seed, err)
			}
			runSteps(t, second, steps[cut:])
			if rec.b.String() != whole.b.String() || !sameRows(rec.rows, whole.rows) {
				t.Fatalf("seed %d direction %d cut %d: restored run differs\ngot:\n%s\nwant:\n%s", seed, dir, cut, rec.b.String(), whole.b.String())
			}
			if dir == 0 && before > 0 && len(rec.rows) > before {
				strong++
			}
		}
	}
	if strong < 30 {
		t.Fatalf("only %d seeds emit rows on both sides of the cut", strong)
	}
}

// TestWindowJoinRestoreRejectsForeignRow: a stored row whose window end is not its entry's is refused.
func TestWindowJoinRestoreRejectsForeignRow(t *testing.T) {
	cfg := windowJoinConfig(InnerJoin)
	l, _ := NewWindowJoin(cfg, &recorder{})
	if err := l.Push(&changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.IntValue(10), types.IntValue(1)}}}}); err != nil {
		t.Fatal(err)
	}
	mem := state.NewMemory()
	if err := StateOf(l).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	cfg.LeftEnd = 2 // the same bytes now say the rows end at their id
	l2, _ := NewWindowJoin(cfg, &recorder{})
	err := StateOf(l2).RestoreState(mem.Reader())
	if err == nil {
		t.Fatal("restore accepted a row of another window")
	}
}

// wjWindowRowsBytes is the live heap the window join's state takes for n rows [auction BIGINT, num BIGINT,
// window_start TIMESTAMP(3), window_end TIMESTAMP(3)] (Nexmark q5's AuctionBids) in one window.
func wjWindowRowsBytes(b *testing.B, n int, ref bool) float64 {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.TimestampType(3), types.TimestampType(3)}
	cfg := WindowJoinConfig{Type: InnerJoin, LeftKeys: []int{2, 3}, RightKeys: []int{2, 3}, LeftTypes: ts, RightTypes: ts, LeftEnd: 3, RightEnd: 3}
	rows := make([]changelog.Row, 1024)
	for i := range rows {
		rows[i].Kind = changelog.Insert
		rows[i].Vals = make([]types.Value, 4)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var l changelog.Output
	if ref {
		l, _ = newRefWindowJoin(cfg, &recorder{})
	} else {
		l, _ = NewWindowJoin(cfg, &recorder{})
	}
	for i := 0; i < n; {
		batch := rows[:min(len(rows), n-i)]
		for k := range batch {
			v := batch[k].Vals
			v[0], v[1] = types.IntValue(int64(1000+i)), types.IntValue(int64(1+i%37))
			v[2], v[3] = types.TimestampValue(1_700_000_000_000, 0), types.TimestampValue(1_700_000_010_000, 0)
			i++
		}
		if err := l.Push(&changelog.Batch{Rows: batch}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(l)
	return float64(int64(ms.HeapAlloc)-int64(base)) / float64(n)
}

// BenchmarkWindowJoinState reports the live heap per stored row (B/row) of a window join holding 1M rows of
// one window, in byte rows and (ref) in copied value rows.
func BenchmarkWindowJoinState(b *testing.B) {
	for _, ref := range []bool{false, true} {
		b.Run(map[bool]string{false: "bytes", true: "ref"}[ref], func(b *testing.B) {
			var per float64
			for range b.N {
				per = wjWindowRowsBytes(b, 1_000_000, ref)
			}
			b.ReportMetric(per, "B/row")
		})
	}
}
