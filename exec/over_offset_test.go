package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestOverLagRestoreProperty: streaming LAG (lagAcc's ring of the last offset+1 values, its default the
// last added row's column, which is not in the state: a row is added before every result) restored from a snapshot taken at any cut gives the output of the uninterrupted run.
func TestOverLagRestoreProperty(t *testing.T) {
	forEachCut(t, "OVER LAG", 200, func(rng *rand.Rand) (builder, []step) {
		off := int64(rng.IntN(4))
		lag := func(args ...int) AggCall {
			c := AggCall{Func: "LAG", Args: args, Filter: -1, Type: types.BigIntType()}
			for range args {
				c.ArgTypes = append(c.ArgTypes, types.BigIntType())
			}
			return c
		}
		cfg := OverConfig{Partition: []int{0}, OrderCol: 1, InTypes: timedInput,
			Frame: OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: off, Following: off},
			Aggs:  []AggCall{lag(2), lag(2, 2)}}
		return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op, err := NewOverAgg(cfg, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}, timedRows(rng, 20+rng.IntN(60), 1)
	})
}

// TestOverLagStreaming: streaming LAG over one partition in time order, as Flink's LagAggFunction over
// RANGE UNBOUNDED PRECEDING: rows of equal time are all added before any is emitted.
func TestOverLagStreaming(t *testing.T) {
	cfg := OverConfig{OrderCol: 0, InTypes: []types.Type{types.TimestampType(3), types.BigIntType()},
		Frame: OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 1, Following: 1},
		Aggs:  []AggCall{{Func: "LAG", Args: []int{1}, ArgTypes: []types.Type{types.BigIntType()}, Filter: -1, Type: types.BigIntType()}}}
	rec := &valRecorder{}
	op, err := NewOverAgg(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	for _, r := range [][2]int64{{1, 10}, {2, 20}, {2, 21}, {3, 30}, {5, 50}} {
		b.Append(changelog.Insert, []types.Value{types.TimestampValue(r[0], 0), types.IntValue(r[1])})
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	// 1: none (NULL, printed as 0 by valRecorder's %d of the zero value); 2, 2: 20 (the value before the
	// last peer, 21); 3: 21; 5: 30.
	want := []string{"1 10 0 ", "2 20 20 ", "2 21 20 ", "3 30 21 ", "5 50 30 "}
	if len(rec.rows) != len(want) {
		t.Fatalf("got %q, want %q", rec.rows, want)
	}
	for i := range want {
		if rec.rows[i] != want[i] {
			t.Fatalf("row %d: got %q, want %q (all: %q)", i, rec.rows[i], want[i], rec.rows)
		}
	}
}

// TestOverLagStreamingDefault: without a row at the offset, streaming LAG gives the default of the last row
// it accumulated, as Flink's LagAggFunction (LagAcc.defaultValue is set by every accumulate), not the
// emitted row's own: peers of equal time, all added before any is emitted, share the last peer's default.
func TestOverLagStreamingDefault(t *testing.T) {
	bt := types.BigIntType()
	cfg := OverConfig{OrderCol: 0, InTypes: []types.Type{types.TimestampType(3), bt, bt},
		Frame: OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 3, Following: 3},
		Aggs:  []AggCall{{Func: "LAG", Args: []int{1, 2}, ArgTypes: []types.Type{bt, bt}, Filter: -1, Type: bt}}}
	rec := &valRecorder{}
	op, err := NewOverAgg(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	for _, r := range [][3]int64{{1, 10, 100}, {2, 20, 200}, {2, 21, 210}, {3, 30, 300}} {
		b.Append(changelog.Insert, []types.Value{types.TimestampValue(r[0], 0), types.IntValue(r[1]), types.IntValue(r[2])})
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	// 1: no row 3 before: its own default, 100; 2, 2: none either, the default of the last peer added (210)
	// for both; 3: 10, three rows before.
	want := []string{"1 10 100 100 ", "2 20 200 210 ", "2 21 210 210 ", "3 30 300 10 "}
	if len(rec.rows) != len(want) {
		t.Fatalf("got %q, want %q", rec.rows, want)
	}
	for i := range want {
		if rec.rows[i] != want[i] {
			t.Fatalf("row %d: got %q, want %q (all: %q)", i, rec.rows[i], want[i], rec.rows)
		}
	}
}

// TestOverLeadStreamingRefused: the streaming operator refuses LEAD, as Flink ("LEAD Function is not
// supported in stream mode").
func TestOverLeadStreamingRefused(t *testing.T) {
	_, err := NewOverAgg(OverConfig{OrderCol: 0, InTypes: []types.Type{types.TimestampType(3), types.BigIntType()},
		Frame: OverFrame{Rows: true, Ahead: true, StartFollowing: true, Preceding: 1, Following: 1},
		Aggs:  []AggCall{{Func: "LEAD", Args: []int{1}, Filter: -1, Type: types.BigIntType()}}}, &valRecorder{})
	if err == nil || err.Error() != "LEAD Function is not supported in stream mode" {
		t.Fatalf("got %v, want LEAD refused in stream mode", err)
	}
}
