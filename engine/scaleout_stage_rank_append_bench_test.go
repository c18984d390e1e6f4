package engine

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// discardOutput drops what it gets.
type discardOutput struct{}

func (discardOutput) Push(*changelog.Batch) error { return nil }
func (discardOutput) Watermark(int64) error       { return nil }
func (discardOutput) End() error                  { return nil }

// BenchmarkScaleOutStageRankState measures the state of one partition of a later stage's Top-3 per auction
// (ORDER BY price DESC; a q-like join output of (auction, bidder, price, channel)) after `rows` insert-only
// rows over `keys` auctions: the heap it holds (after GC) and its live changelog entries. "mirror" is the
// updating input's state (scaleout_stage_rank.go: every row, in the Rank and in the mirror), "top" the
// insert-only one (scaleout_stage_rank_append.go: the top three rows per key). Each iteration builds the
// state anew.
func BenchmarkScaleOutStageRankState(b *testing.B) {
	bigint, str := types.Type{Kind: types.BigInt}, types.Type{Kind: types.VarChar}
	ts := []types.Type{bigint, bigint, bigint, str}
	const rows, keys = 200_000, 10_000
	for _, kind := range []string{"mirror", "top"} {
		b.Run(fmt.Sprintf("%s/rows=%d/keys=%d", kind, rows, keys), func(b *testing.B) {
			r := &planner.Rank{Partition: []int{0}, Order: []exec.SortKey{{Col: 2, Desc: true}}, Limit: 3}
			s := &keyedStage{rank: r, inTypes: ts}
			var heap, entries float64
			for range b.N {
				var p *stageRankPart
				if kind == "top" {
					p = s.newTopRankPart(discardOutput{})
					p.track.live = true
				} else {
					cfg := exec.RankConfig{Partition: r.Partition, Order: r.Order, Limit: r.Limit, RowNumber: true, Types: ts}
					p = &stageRankPart{op: exec.NewRank(cfg, discardOutput{}), rows: map[string]*stageRankRows{}}
				}
				written := map[string]bool{} // the top's changelog: live keys
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var bt changelog.Batch
				var enc []byte
				for i := range rows {
					row := []types.Value{types.IntValue(int64(i % keys)), types.IntValue(int64(i)),
						types.IntValue(int64((uint32(i) * 2654435761) % 100_000)), types.StringValue(fmt.Sprintf("channel-%d", i%7))}
					if kind == "mirror" {
						enc = types.AppendRowBinary(enc[:0], row, ts)
						s.note(p, true, row, enc)
					}
					bt.Reset()
					bt.Append(changelog.Insert, row)
					if err := p.op.Push(&bt); err != nil {
						b.Fatal(err)
					}
					if kind == "top" {
						t := p.track
						for _, c := range t.ents {
							written[string(t.buf[c.k:c.v])] = !c.tomb
						}
						t.ents, t.buf = t.ents[:0], t.buf[:0]
					}
				}
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				if kind == "mirror" {
					entries = float64(len(p.rows))
					clear(written)
				} else {
					n := 0
					for _, live := range written {
						if live {
							n++
						}
					}
					entries = float64(n)
				}
				runtime.KeepAlive(p)
			}
			b.ReportMetric(heap/(1<<20), "heap-MB")
			b.ReportMetric(entries, "changelog-entries")
		})
	}
}
