package exec

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// twoSidedFloorKind reports whether newFloorKindOp's kind has two inputs.
func twoSidedFloorKind(kind string) bool { return kind == "regular" || kind == "temporal" }

// newFloorKindOp makes the operator of the floor tests' kinds beyond window operators (newFloorRunSenders):
// "match": MATCH_RECOGNIZE per user ordered by window_end, PATTERN (A) (every row fed to the matcher is a
// match: the fast subtasks emit one per user at the watermark before the cut), MEASURES FIRST(window_end),
// MATCH_ROWTIME(); "regular": an inner (regular) join of two sides by user; "materialize": a
// SinkUpsertMaterializer keyed by user.
func newFloorKindOp(t *testing.T, kind string, in []types.Type, out changelog.Output) (changelog.Output, []changelog.Output, error) {
	t.Helper()
	switch kind {
	case "match":
		op, err := NewMatch(MatchConfig{Partition: []int{0}, TimeCol: 3, Types: in,
			Elems:    []MatchElem{{Min: 1, Max: 1}},
			Defines:  []expr.Expr{nil},
			Slots:    []MatchSlot{{Kind: SlotFirst, Elem: -1, Arg: expr.Column(3, "window_end", in[3])}, {Kind: SlotRowtime, Elem: -1}},
			Measures: []expr.Expr{expr.Column(4, "first", in[3]), expr.Column(5, "rt", in[3])}}, out)
		return op, []changelog.Output{op}, err
	case "temporal":
		left, right := NewTemporalJoin(TemporalJoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 3, RightTime: 3,
			LeftTypes: in, RightTypes: in, Outer: true}, out)
		return left, []changelog.Output{left, right}, nil
	case "regular":
		left, right := NewJoin(JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: in, RightTypes: in}, out)
		return left, []changelog.Output{left, right}, nil
	case "materialize":
		op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: in}, out)
		return op, []changelog.Output{op}, nil
	}
	t.Fatalf("no floor test operator %q", kind)
	return nil, nil, nil
}

// TestUnalignedRescaleMatchFloors: an unaligned checkpoint of MATCH_RECOGNIZE whose slow subtask had rows and
// a watermark in flight while the others had fed the rows behind it to their matchers and had late rows in
// flight restores at another parallelism (2 → 3, 3 → 2, 2 → 1, 1 → 2), with the senders it had and with two
// (also at the same parallelism; the rows sent again after the cut then late by the watermark the old
// subtask would have reached; TestUnalignedRescaleLateFloorsCheckpoint checkpoints it under those floors). The
// output after what was emitted before the cut equals the uninterrupted job's: no row the old subtask had fed
// is fed again (a late row of a key group ahead is dropped, no match twice), no row in flight is dropped
// (its key group resumes from the watermark it had), and the late-row count is the same.
func TestUnalignedRescaleMatchFloors(t *testing.T) {
	for _, senders := range []int{1, 2} {
		for _, tc := range []struct{ from, to, block int }{{2, 3, 1}, {3, 2, 2}, {2, 1, 1}, {1, 2, 0}, {2, 2, 1}} {
			if senders == 1 && tc.from == tc.to {
				continue // not rescaled
			}
			t.Run(fmt.Sprintf("senders%d/%d-%d", senders, tc.from, tc.to), func(t *testing.T) {
				testRescaleFloorsSenders(t, "match", tc.from, tc.to, tc.block, senders)
			})
		}
	}
}

// TestUnalignedRescaleMatchProcTime: ORDER BY a processing-time attribute takes no floors (no row is late):
// channel state with watermarks keeps the refusal at another parallelism.
func TestUnalignedRescaleMatchProcTime(t *testing.T) {
	m, err := NewMatch(MatchConfig{ProcTime: true}, NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if m.(floorable).canFloor() {
		t.Fatal("a processing-time MATCH_RECOGNIZE takes floors")
	}
}

// TestUnalignedRescaleRegularJoin: a regular join (no interval) only forwards watermarks, so an unaligned
// checkpoint whose slow subtask had rows and a watermark in flight restores at another parallelism (and with
// other senders) without floors. Its output after what was emitted before the cut equals the uninterrupted
// job's, and every restored subtask's first watermark (what a downstream event-time operator goes by) comes
// after the output of its rows in flight and is the one the uninterrupted job forwarded then: the watermark in
// flight (15 s) with the senders it had, the restored sources' (35 s) with other senders. The join restores
// the first old subtask's watermarks, which would hold back a replayed watermark at or behind them
// (forgetWatermarks).
func TestUnalignedRescaleRegularJoin(t *testing.T) {
	testRescaleForwarder(t, "regular", 2)
}

// TestUnalignedRescaleSinkMaterializer: a SinkUpsertMaterializer (a regular join's LEFT rows into an upsert
// sink keyed by another column) only forwards watermarks too: restored at another parallelism as the regular
// join, each row in flight emitting one row before its subtask's first watermark. (Before, its restore was
// refused, crashtest TestUnalignedKillRescaleRegularJoin found it.)
func TestUnalignedRescaleSinkMaterializer(t *testing.T) {
	testRescaleForwarder(t, "materialize", 1)
}

// testRescaleForwarder is TestUnalignedRescaleRegularJoin for kind, whose every row in flight emits at least
// 1/perRow rows.
func testRescaleForwarder(t *testing.T, kind string, perRow int) {
	for _, senders := range []int{1, 2} {
		for _, tc := range []struct{ from, to, block int }{{2, 3, 1}, {3, 2, 2}, {2, 1, 1}, {1, 2, 0}, {2, 2, 1}} {
			if senders == 1 && tc.from == tc.to {
				continue // not rescaled
			}
			t.Run(fmt.Sprintf("senders%d/%d-%d", senders, tc.from, tc.to), func(t *testing.T) {
				w, got, want, _, after := cutWithWatermarks(t, kind, tc.from, tc.block)
				res := newFloorRunSenders(t, kind, tc.to, -1, senders)
				if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
					t.Fatal(err)
				}
				inFlight := restoredRows(res.x)
				res.run()
				after(t, res)
				got = append(got, res.rows()...)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("restored at %d (taken at %d):\n got %v\nwant %v", tc.to, tc.from, got, want)
				}
				first := "wm=15000"
				if senders != 1 {
					first = "wm=35000"
				}
				for k := range tc.to {
					log := res.log(k)
					i := slices.IndexFunc(log, func(e string) bool { return strings.HasPrefix(e, "wm=") })
					// a join: a row in flight of one side joins the other side's row of its user in flight
					// (every row is pushed to both sides): at least half as many output rows as rows in flight
					if i < 0 || log[i] != first || perRow*i < inFlight[k] {
						got := "none"
						if i >= 0 {
							got = fmt.Sprintf("%s after %d rows", log[i], i)
						}
						t.Fatalf("subtask %d forwarded first %s; want %s after the output of its %d rows in flight", k, got, first, inFlight[k])
					}
				}
			})
		}
	}
}

// TestUnalignedRescaleTemporalRefused: an event-time temporal join keeps the refusal of channel state with
// watermarks at another parallelism and with other senders, naming what to restore with (its output for a
// left row behind the watermark depends on the versions pruned at the watermarks its old subtask passed,
// which the channel state does not order against the rows); at the same parallelism and senders it restores
// and its output equals the uninterrupted job's.
func TestUnalignedRescaleTemporalRefused(t *testing.T) {
	w, got, want, _, after := cutWithWatermarks(t, "temporal", 2, 1)
	err := StateOf(newFloorRun(t, "temporal", 3, -1).x.State()).RestoreState(entriesReader(w.es))
	if err == nil || !strings.Contains(err.Error(), "holds watermarks in flight to its 2 keyed subtasks") || !strings.Contains(err.Error(), "restore it at 2") {
		t.Fatalf("temporal join restored at 3: %v", err)
	}
	err = StateOf(newFloorRunSenders(t, "temporal", 2, -1, 2).x.State()).RestoreState(entriesReader(w.es))
	if err == nil || !strings.Contains(err.Error(), "from 1, 1 source subtasks") {
		t.Fatalf("temporal join restored with 2 senders: %v", err)
	}
	res := newFloorRun(t, "temporal", 2, -1)
	if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatalf("temporal join restored at 2: %v", err)
	}
	res.run()
	after(t, res)
	got = append(got, res.rows()...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("restored at 2:\n got %v\nwant %v", got, want)
	}
}
