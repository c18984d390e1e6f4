package exec

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestUnalignedRescaleGroupBy: an unaligned checkpoint of a GROUP BY whose slow subtask had rows and a
// watermark in flight restores at another parallelism (2 → 1, 2 → 3, 1 → 2, 3 → 2) and with another number
// of senders (also at the same parallelism, 2 → 2). The GROUP BY only forwards watermarks: its output after
// what was emitted before the cut equals the uninterrupted job's (every row in flight and every row sent
// again counted once), and each restored subtask forwards no watermark ahead of the job's: with the senders
// it had, its first is the watermark in flight (15 s, which the uninterrupted job forwarded once its subtasks
// processed their channel state), after the rows of its channel state; with other senders the restored
// sources' one (35 s), after the rows sent again.
func TestUnalignedRescaleGroupBy(t *testing.T) {
	for _, senders := range []int{1, 2} {
		for _, tc := range []struct{ from, to, block int }{{2, 1, 1}, {2, 3, 1}, {1, 2, 0}, {3, 2, 2}, {2, 2, 1}} {
			if senders == 1 && tc.from == tc.to {
				continue // the same parallelism and senders: not rescaled
			}
			t.Run(fmt.Sprintf("senders%d/%d-%d", senders, tc.from, tc.to), func(t *testing.T) {
				w, got, want, _, after := cutWithWatermarks(t, "group", tc.from, tc.block)
				res := newFloorRunSenders(t, "group", tc.to, -1, senders)
				if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
					t.Fatal(err)
				}
				if rows, at := res.x.RestoredInFlight(); rows == 0 || at != tc.from {
					t.Fatalf("restored %d rows in flight taken at %d; want some, at %d", rows, at, tc.from)
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
					if i < 0 || log[i] != first || i < inFlight[k] {
						// (each row in flight is at least one output row)
						t.Fatalf("subtask %d forwarded %v; want its first watermark %s after the output of its %d rows in flight", k, log, first, inFlight[k])
					}
				}
			})
		}
	}
}

// TestUnalignedRescaleSenders: channel state with watermarks taken at 2 keyed subtasks fed by one sender
// restores at 2 keyed subtasks fed by two (the senders changed only): window operators resume from their own
// fired watermarks with the late floors of the rows after the channel state, and their output equals the
// uninterrupted job's; an operator that cannot take floors refuses, naming the senders to restore with
// (before, both failed with "channel state does not decode").
func TestUnalignedRescaleSenders(t *testing.T) {
	for _, kind := range []string{"window", "slice", "hop", "cumulate", "session", "rank", "join", "interval", "over"} {
		t.Run(kind, func(t *testing.T) {
			testRescaleFloorsSenders(t, kind, 2, 2, 1, 2)
		})
	}
	t.Run("sort", func(t *testing.T) {
		w, _, _, _, _ := cutWithWatermarks(t, "sort", 2, 1)
		err := StateOf(newFloorRunSenders(t, "sort", 2, -1, 2).x.State()).RestoreState(entriesReader(w.es))
		if err == nil || !strings.Contains(err.Error(), "holds watermarks in flight to its 2 keyed subtasks from 1 source subtasks") ||
			!strings.Contains(err.Error(), "restores it only from as many source subtasks (here 2): restore it with its sources at the parallelism they had") {
			t.Fatalf("sort restored with 2 senders: %v", err)
		}
	})
}

// TestUnalignedRescaleSendersRowsOnly: channel state of rows only (no watermark in flight) taken at 2 keyed
// subtasks fed by one sender restores at 2 fed by two; the union watermarks written with it do not fit the
// new channels and are left out (before, the restore failed with "channel state does not decode"), and the
// output equals the uninterrupted job's.
func TestUnalignedRescaleSendersRowsOnly(t *testing.T) {
	users := []int64{0, 1, 2, 3, 4, 5}
	rowsAt := func(end int64) [][2]int64 {
		var rs [][2]int64
		for _, u := range users {
			rs = append(rs, [2]int64{u, end})
		}
		return rs
	}
	before := func(t *testing.T, r *floorRun) {
		r.push(t, rowsAt(10_000)...)
		r.flush(t)
		<-r.blockers[1].blocked // the slow subtask in its first push
		r.push(t, rowsAt(20_000)...)
		r.flush(t)
		<-r.blockers[0].blocked // the other in its second
		r.push(t, rowsAt(20_000)...)
		r.flush(t)
	}
	after := func(t *testing.T, r *floorRun) {
		r.push(t, rowsAt(30_000)...)
		r.watermark(t, 35_000)
		r.finish(t)
	}
	ref := newFloorRun(t, "window", 2, 1)
	ref.run()
	before(t, ref)
	ref.unblock()
	after(t, ref)
	want := ref.rows()
	slices.Sort(want)

	cut := newFloorRun(t, "window", 2, 1)
	cut.run()
	before(t, cut)
	c0 := UnalignedTotals()
	w, got := cutUnaligned(t, cut.x, cut.unblock, cut.rows)
	cut.cancel()
	<-cut.done
	if c := UnalignedTotals(); c.Written-c0.Written < 1 || c.Watermark != c0.Watermark {
		t.Fatalf("the checkpoint wrote %d items, %d watermarks; want rows only", c.Written-c0.Written, c.Watermark-c0.Watermark)
	}

	res := newFloorRunSenders(t, "window", 2, -1, 2)
	if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
		t.Fatal(err)
	}
	res.run()
	after(t, res)
	got = append(got, res.rows()...)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("restored with 2 senders:\n got %v\nwant %v", got, want)
	}
}

// restoredRows is, per subtask of x, the rows of the channel state it restored.
func restoredRows(x *Exchange) []int {
	n := make([]int, len(x.subs))
	for k, s := range x.subs {
		for _, it := range s.restored {
			if it.kind == xRows {
				n[k] += len(it.b.batch.Rows)
			}
		}
	}
	return n
}
