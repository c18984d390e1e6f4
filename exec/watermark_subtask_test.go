package exec

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A split watermark assigner chained into a source subtask (SignalIdle) sends IdleWatermark while none of its
// splits counts (none assigned yet, all idle) and its watermark again once one does; without SignalIdle it
// stays silent, as the single assigner of a source does.
func TestSplitWatermarkAssignerSignalsIdle(t *testing.T) {
	for _, signal := range []bool{true, false} {
		now := time.Unix(0, 0)
		var rec recorder
		op, sw := NewSplitWatermarkAssigner(colExpr{i: 0, t: types.TimestampType(3)}, 100*time.Millisecond, func() time.Time { return now }, &rec)
		if signal {
			sw.SignalIdle()
		}
		var b changelog.Batch
		push := func(ts ...int64) {
			b.Reset()
			for _, v := range ts {
				b.Rows = append(b.Rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.TimestampValue(v, 0)}})
			}
			if err := op.Push(&b); err != nil {
				t.Fatal(err)
			}
		}
		push() // no split yet
		push()
		sw.AddSplit(0)
		push() // split 0 counts, without a watermark yet
		sw.SplitRows(0)
		push(1000)
		now = now.Add(200 * time.Millisecond)
		push() // split 0 idle
		sw.SplitRows(0)
		push(2000)
		got := strings.ReplaceAll(rec.b.String(), "\n", "; ")
		want := "WM -9223372036854775807; WM -9223372036854775808; +I[ts1000]; WM 1000; WM -9223372036854775807; +I[ts2000]; WM 2000; "
		if !signal {
			want = "+I[ts1000]; WM 1000; +I[ts2000]; WM 2000; "
		}
		if got != want {
			t.Errorf("signal=%v:\n got  %s\n want %s", signal, got, want)
		}
	}
}

// In an alignment group, a subtask's tracker that has not pushed yet (its subtask is still assigning its
// partitions) holds the group back; once it pushed without any split it no longer does.
func TestSplitWatermarksSubtaskAlignmentStart(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	g := NewAlignGroup()
	var rec recorder
	fast, fastSW := NewSplitWatermarkAssigner(colExpr{i: 0, t: types.TimestampType(3)}, 0, clock, &rec)
	fastSW.SignalIdle()
	g.Join(fastSW, time.Minute)
	late, lateSW := NewSplitWatermarkAssigner(colExpr{i: 0, t: types.TimestampType(3)}, 0, clock, &rec)
	lateSW.SignalIdle()
	g.Join(lateSW, time.Minute)

	fastSW.AddSplit(0)
	fastSW.SplitRows(0)
	b := changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.TimestampValue(600_000, 0)}}}}
	if err := fast.Push(&b); err != nil {
		t.Fatal(err)
	}
	if got := fastSW.Blocked(nil); len(got) != 1 || got[0] != 0 {
		t.Fatalf("blocked before the other subtask started: %v, want [0]", got)
	}
	b.Reset()
	if err := late.Push(&b); err != nil { // the other subtask owns no partition
		t.Fatal(err)
	}
	if got := fastSW.Blocked(nil); len(got) != 0 {
		t.Fatalf("blocked by a subtask without partitions: %v, want none", got)
	}
}

// The assigners of a source's subtasks checkpoint as one WatermarkAssigner holding the watermark their union
// sent downstream: restored at another parallelism (3, or 1: the source's single assigner), no assigner sends
// a watermark at or below it.
func TestSubtaskWatermarkStateRestoresAtAnyParallelism(t *testing.T) {
	rowtime := colExpr{i: 0, t: types.TimestampType(3)}
	push := func(op changelog.Output, sw *SplitWatermarks, ts int64) {
		t.Helper()
		sw.SplitRows(0)
		b := changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.TimestampValue(ts, 0)}}}}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	subtasks := func(n int, rec *recorder) ([]changelog.Output, []*SplitWatermarks, changelog.Output) {
		ins := NewUnion(n, rec)
		var ops []changelog.Output
		var sws []*SplitWatermarks
		for i := range n {
			op, sw := NewSplitWatermarkAssigner(rowtime, 0, nil, ins[i])
			sw.SignalIdle()
			sw.AddSplit(0)
			ops, sws = append(ops, op), append(sws, sw)
		}
		return ops, sws, SubtaskWatermarkState(ops, ins)
	}
	var rec recorder
	ops, sws, st := subtasks(2, &rec)
	push(ops[0], sws[0], 1000)
	push(ops[1], sws[1], 2000)
	w := state.NewFileWriter(state.DefaultMaxParallelism)
	if err := StateOf(st).SnapshotState(w); err != nil {
		t.Fatal(err)
	}
	if got := rec.b.String(); !strings.HasSuffix(got, "WM 1000\n") {
		t.Fatalf("union output before the checkpoint: %q, want WM 1000 last", got)
	}

	var rec3 recorder
	ops3, sws3, st3 := subtasks(3, &rec3)
	var rec1 recorder
	op1, sw1 := NewSplitWatermarkAssigner(rowtime, 0, nil, &rec1)
	sw1.AddSplit(0)
	for _, s := range []changelog.Output{st3, op1} {
		r, err := w.Reader()
		if err != nil {
			t.Fatal(err)
		}
		if err := StateOf(s).RestoreState(r); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	for i := range ops3 {
		push(ops3[i], sws3[i], 900+int64(i))
	}
	push(op1, sw1, 900)
	if rec3.b.String() != "+I[ts900]\n+I[ts901]\n+I[ts902]\n" || rec1.b.String() != "+I[ts900]\n" {
		t.Fatalf("watermarks at or below the restored 1000 were sent:\nparallelism 3: %q\nparallelism 1: %q", rec3.b.String(), rec1.b.String())
	}
	for i := range ops3 {
		push(ops3[i], sws3[i], 1500+int64(i))
	}
	push(op1, sw1, 1500)
	if !strings.HasSuffix(rec3.b.String(), "WM 1500\n") || !strings.HasSuffix(rec1.b.String(), "WM 1500\n") {
		t.Fatalf("after the restore:\nparallelism 3: %q\nparallelism 1: %q", rec3.b.String(), rec1.b.String())
	}
}

// A split watermark assigner checkpoints each named split's watermark; restored (as the single assigner, or
// as subtask assigners that each read one of the partitions), a split whose rows were all read before the
// checkpoint starts from its own watermark, so that the other split's rows move the watermark on. Without
// its name it starts from the lowest watermark and holds the watermark back.
func TestSplitWatermarksRestoreByName(t *testing.T) {
	rowtime := colExpr{i: 0, t: types.TimestampType(3)}
	push := func(op changelog.Output, sw *SplitWatermarks, split int, ts int64) {
		t.Helper()
		sw.SplitRows(split)
		b := changelog.Batch{Rows: []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.TimestampValue(ts, 0)}}}}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	var rec recorder
	op, sw := NewSplitWatermarkAssigner(rowtime, 0, nil, &rec)
	for i, name := range []string{"t/0", "t/1"} {
		sw.AddSplit(i)
		sw.NameSplit(i, name)
	}
	push(op, sw, 0, 5000) // t/0 read to its end
	push(op, sw, 1, 1000)
	if got := rec.b.String(); !strings.HasSuffix(got, "WM 1000\n") {
		t.Fatalf("before the checkpoint: %q, want WM 1000 last", got)
	}
	w := state.NewFileWriter(state.DefaultMaxParallelism)
	if err := StateOf(op).SnapshotState(w); err != nil {
		t.Fatal(err)
	}
	restore := func(op changelog.Output) {
		t.Helper()
		r, err := w.Reader()
		if err != nil {
			t.Fatal(err)
		}
		if err := StateOf(op).RestoreState(r); err != nil {
			t.Fatalf("restore: %v", err)
		}
	}
	for _, named := range []bool{true, false} {
		var rec1 recorder
		op1, sw1 := NewSplitWatermarkAssigner(rowtime, 0, nil, &rec1)
		restore(op1)
		for i, name := range []string{"t/0", "t/1"} {
			sw1.AddSplit(i)
			if named {
				sw1.NameSplit(i, name)
			}
		}
		push(op1, sw1, 1, 3000)
		want := "+I[ts3000]\nWM 3000\n"
		if !named {
			want = "+I[ts3000]\n" // t/0 holds it back
		}
		if got := rec1.b.String(); got != want {
			t.Errorf("restored, splits named %v: %q, want %q", named, got, want)
		}
	}

	// at parallelism 2: subtask 0 reads t/0, subtask 1 reads t/1 (each its split 0)
	var rec2 recorder
	ins := NewUnion(2, &rec2)
	var ops []changelog.Output
	var sws []*SplitWatermarks
	for i := range 2 {
		op, sw := NewSplitWatermarkAssigner(rowtime, 0, nil, ins[i])
		sw.SignalIdle()
		ops, sws = append(ops, op), append(sws, sw)
	}
	restore(SubtaskWatermarkState(ops, ins))
	for i, name := range []string{"t/0", "t/1"} {
		sws[i].AddSplit(0)
		sws[i].NameSplit(0, name)
	}
	push(ops[0], sws[0], 0, 900) // behind the restored watermark: no watermark goes out for it
	push(ops[1], sws[1], 0, 3000)
	if got := rec2.b.String(); !strings.HasSuffix(got, "WM 3000\n") {
		t.Fatalf("restored at parallelism 2: %q, want WM 3000 last", got)
	}
}
