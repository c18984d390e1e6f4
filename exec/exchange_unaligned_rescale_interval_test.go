package exec

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestUnalignedRescaleIntervalState: an interval join restored at another parallelism resumes from the lowest
// fired watermark of its key groups (joinOp.setFired, join_floor.go), not from the operator-wide entry it
// restores, which is the first old subtask's. Here that one ran ahead (its watermark 20 s) while the slow
// subtask (at 5 s) had a left row at 12 s in flight; the slow subtask's state holds a right row at 8 s of the
// same user (within the join's 5 s). In the uninterrupted job the row in flight is not late there and joins
// it. Resumed from the fast subtask's watermark, the new subtask would take the row in flight as late (its
// probe starting at 20 s - 5 s, past the stored row's 8 s; not stored) and lose the pair. The restored
// output, after what was emitted before the cut, equals the uninterrupted job's (2 → 1, 2 → 3, 3 → 2: the
// first old subtask is a fast one).
func TestUnalignedRescaleIntervalState(t *testing.T) {
	for _, tc := range []struct{ from, to, block int }{{2, 1, 1}, {2, 3, 1}, {3, 2, 2}} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			testRescaleIntervalState(t, tc.from, tc.to, tc.block)
		})
	}
}

func testRescaleIntervalState(t *testing.T, from, to, block int) {
	probe := newFloorRun(t, "interval", from, -1)
	var slow, fast []int64
	for u := int64(0); len(slow) < 3 || len(fast) < 3; u++ {
		if probe.snd.owner([]types.Value{types.IntValue(u)}) == block {
			slow = append(slow, u)
		} else {
			fast = append(fast, u)
		}
	}
	all := append(slices.Clone(slow), fast...)
	// before the cut: every subtask stores the right rows at 8 s and takes the watermark 5 s; the slow one
	// then waits in its next push (rows of its users at 100 s) while the others join the left rows at 12 s
	// with the stored right rows and take the watermark 20 s
	before := func(t *testing.T, r *floorRun) {
		for k, g := range r.blockers {
			g.at = -1 // never waits
			if k == block {
				g.at = 2
			}
		}
		r.run()
		r.pushSide(t, 1, sideRows(all, 8_000))
		r.watermark(t, 5_000)
		r.push(t, sideRows(slow, 100_000)...)
		r.flush(t)
		<-r.blockers[block].blocked
		r.pushSide(t, 0, sideRows(all, 12_000))
		r.watermark(t, 20_000)
		r.waitLogs(t, block, "wm=20000") // the others joined and pruned up to 20 s
	}
	after := func(t *testing.T, r *floorRun) {
		r.push(t, sideRows(all, 30_000)...)
		r.watermark(t, 35_000)
		r.push(t, sideRows(all, 40_000)...)
		r.finish(t)
	}
	pair := func(u int64) string { return fmt.Sprintf("%d/1/2000/12000/%d/1/-2000/8000", u, u) }

	ref := newFloorRun(t, "interval", from, block)
	before(t, ref)
	ref.unblock()
	after(t, ref)
	want := ref.rows()
	slices.Sort(want)
	wantLate := LateRows(ref.x.State())
	// the case happens: the slow users' left rows at 12 s joined their stored right rows at 8 s
	for _, u := range slow {
		if !slices.Contains(want, pair(u)) {
			t.Fatalf("the uninterrupted job did not emit %s: %v", pair(u), want)
		}
	}

	cut := newFloorRun(t, "interval", from, block)
	before(t, cut)
	c0 := UnalignedTotals()
	w, got := cutUnaligned(t, cut.x, cut.unblock, cut.rows)
	cut.cancel()
	<-cut.done
	if c := UnalignedTotals(); c.Watermark-c0.Watermark < 2 || c.Written-c0.Written < 3 {
		t.Fatalf("the barrier overtook %d watermarks, %d items written; want both sides' watermarks and the rows", c.Watermark-c0.Watermark, c.Written-c0.Written)
	}
	for _, u := range slow {
		if slices.Contains(got, pair(u)) {
			t.Fatalf("the slow subtask joined its row in flight before the cut: %v", got)
		}
	}

	restoreAndCompare(t, "interval", from, to, 1, w, got, want, wantLate, after)
}

// sideRows returns rows (user, window_end) of users at end.
func sideRows(users []int64, end int64) [][2]int64 {
	rs := make([][2]int64, 0, len(users))
	for _, u := range users {
		rs = append(rs, [2]int64{u, end})
	}
	return rs
}

// pushSide sends rows (user, window_end) with amount 1 each into side's sender only, and flushes it.
func (r *floorRun) pushSide(t *testing.T, side int, rows [][2]int64) {
	t.Helper()
	var b changelog.Batch
	for _, rw := range rows {
		b.Append(changelog.Insert, []types.Value{types.IntValue(rw[0]), types.IntValue(1), types.TimestampValue(rw[1]-r.width, 0), types.TimestampValue(rw[1], 0)})
	}
	if err := r.snds[side].Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := r.snds[side].Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitLogs waits until the output log of every subtask but skip holds entry.
func (r *floorRun) waitLogs(t *testing.T, skip int, entry string) {
	t.Helper()
	for k := range r.logs {
		for deadline := time.Now().Add(10 * time.Second); k != skip && !slices.Contains(r.log(k), entry); {
			if time.Now().After(deadline) {
				t.Fatalf("subtask %d output %v, want %s", k, r.log(k), entry)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
