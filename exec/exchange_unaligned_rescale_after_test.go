package exec

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestUnalignedRescaleLateFloorsCheckpoint: window operators restored with another number of senders (2 → 3
// and 3 → 2 keyed subtasks) and checkpointed while their floors are on (aligned: the rows sent after the
// channel state are processed; some count in their later windows only), then restored from that checkpoint
// at the first parallelism: the output equals the uninterrupted job's. HOP/CUMULATE: no window of a key
// group fires twice or with rows its old subtask had not counted, the rows partly late count in the later
// windows (the after floors are recorded as fired); the others: the rows behind a key group's after floor
// sent after the second restore are late (key {5}).
func TestUnalignedRescaleLateFloorsCheckpoint(t *testing.T) {
	parts := func(all []int64) (p1, p2 func(*testing.T, *floorRun)) {
		rowsAt := func(end int64) [][2]int64 {
			var rs [][2]int64
			for _, u := range all {
				rs = append(rs, [2]int64{u, end})
			}
			return rs
		}
		// rows late for every window, late for some, for none
		p1 = func(t *testing.T, r *floorRun) {
			r.push(t, rowsAt(10_000)...)
			r.push(t, rowsAt(15_000)...)
			r.push(t, rowsAt(20_000)...)
			r.flush(t)
		}
		p2 = func(t *testing.T, r *floorRun) {
			r.push(t, rowsAt(15_000)...)
			r.push(t, rowsAt(10_000)...)
			r.push(t, rowsAt(30_000)...)
			r.watermark(t, 35_000)
			r.push(t, rowsAt(20_000)...)
			r.push(t, rowsAt(40_000)...)
		}
		return p1, p2
	}
	for _, kind := range []string{"hop", "cumulate", "window", "slice", "session", "rank", "join", "interval", "over", "match"} {
		for _, tc := range []struct{ from, to, block int }{{2, 3, 1}, {3, 2, 2}} {
			t.Run(fmt.Sprintf("%s/%d-%d-%d", kind, tc.from, tc.to, tc.from), func(t *testing.T) {
				w, got, want, _, _, all := cutWith(t, kind, tc.from, tc.block, parts)
				p1, p2 := parts(all)
				res := newFloorRunSenders(t, kind, tc.to, -1, 2)
				if err := StateOf(res.x.State()).RestoreState(entriesReader(w.es)); err != nil {
					t.Fatal(err)
				}
				res.run()
				p1(t, res)
				// an aligned checkpoint behind p1's rows, the floors on
				if err := res.x.StartBarrier(2, false, false); err != nil {
					t.Fatal(err)
				}
				if err := res.x.QueueBarrier(); err != nil {
					t.Fatal(err)
				}
				if err := res.x.WaitBarrier(context.Background()); err != nil {
					t.Fatal(err)
				}
				held := slices.ContainsFunc(res.x.subs, func(s *xSub) bool { return s.floors != nil })
				var w2 entryWriter
				if err := StateOf(res.x.State()).SnapshotState(&w2); err != nil {
					t.Fatal(err)
				}
				got = append(got, res.rows()...)
				res.x.ReleaseBarrier()
				res.cancel()
				<-res.done
				if !held {
					t.Fatal("no floors at the checkpoint")
				}
				again := newFloorRunSenders(t, kind, tc.from, -1, 2)
				if err := StateOf(again.x.State()).RestoreState(entriesReader(w2.es)); err != nil {
					t.Fatal(err)
				}
				again.run()
				p2(t, again)
				again.finish(t)
				got = append(got, again.rows()...)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("restored at %d, then at %d:\n got %v\nwant %v", tc.to, tc.from, got, want)
				}
			})
		}
	}
}
