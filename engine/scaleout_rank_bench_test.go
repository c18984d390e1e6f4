package engine

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// benchRankRecords builds repartition records of (user_id, amount) for users from, from+1, ... (mod users),
// each with amount.
func benchRankRecords(m *member, from, n, users int, amount int64) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	row := make([]types.Value, 2)
	for i := range recs {
		row[0], row[1] = types.IntValue(int64((from+i)%users)), types.IntValue(amount)
		key := types.AppendRowKey(nil, row, m.inTypes, m.repKeys)
		val := types.AppendRowBinary([]byte{byte(changelog.Insert)}, row, m.inTypes)
		recs[i] = &kgo.Record{Topic: "bench-rank-repartition", Key: key, Value: val, Headers: m.hdr}
	}
	return recs
}

// BenchmarkScaleOutRankCommit measures what a member does per transaction in one repartition partition of a
// Top-3 per user (ORDER BY amount DESC) that holds `keys` users when 100 of them get a row that goes to the
// top (each moves the user's three row numbers: three changelog records): rank the rows and write the
// changelog records of the transaction (Kafka I/O excluded: the records are counted and recycled). The cost
// follows the changed row numbers, not the partition's keys.
func BenchmarkScaleOutRankCommit(b *testing.B) {
	const changed = 100
	bigint := types.Type{Kind: types.BigInt}
	for _, keys := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d/changed=%d", keys, changed), func(b *testing.B) {
			m := &member{
				s: scaleOutSettings{name: "bench"},
				plan: &scaleOutPlan{rank: &planner.Rank{Func: "ROW_NUMBER", Partition: []int{0},
					Order: []exec.SortKey{{Col: 1, Desc: true}}, Limit: 3}, fp: "0123456789abcdef"},
				job:     &Job{},
				inTypes: []types.Type{bigint, bigint},
				repKeys: []int{0},
				sinkOut: &discardOut{},
				rparts:  map[int32]*rankPart{},
				cl:      "bench-rank-changelog",
			}
			produced := benchCountProduced(m)
			rp := m.newRankPart()
			rp.track.live = true
			m.rparts[0] = rp
			for from := 0; from < keys; from += 8192 {
				if err := m.rank(rp, benchRankRecords(m, from, min(8192, keys-from), keys, 0)); err != nil {
					b.Fatal(err)
				}
			}
			m.writeRankChangelog()
			const rounds = 64
			batches := make([][]*kgo.Record, rounds)
			for i := range batches {
				batches[i] = benchRankRecords(m, i*7919, changed, keys, int64(i+1))
			}
			*produced = 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Amounts grow with each round of batches: every row goes to its user's top.
				recs := batches[i%rounds]
				if i >= rounds && i%rounds == 0 {
					b.StopTimer()
					for j := range batches {
						batches[j] = benchRankRecords(m, j*7919, changed, keys, int64(i+j+1))
					}
					recs = batches[0]
					b.StartTimer()
				}
				if err := m.rank(rp, recs); err != nil {
					b.Fatal(err)
				}
				m.writeRankChangelog()
			}
			b.StopTimer()
			b.ReportMetric(float64(*produced)/float64(b.N), "records/op")
		})
	}
}
