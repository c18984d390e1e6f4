package engine

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// discardOut counts the rows that reach it.
type discardOut struct{ rows int }

func (d *discardOut) Push(b *changelog.Batch) error { d.rows += len(b.Rows); return nil }
func (d *discardOut) Watermark(int64) error         { return nil }
func (d *discardOut) End() error                    { return nil }

// benchMember is a scale-out member without Kafka: its internal records are counted and recycled. The
// aggregate is GROUP BY user_id (BIGINT) with COUNT(*), SUM(amount), and with MAX(amount) when maxAgg (which
// keeps the aggregate out of the compact representation).
func benchMember(maxAgg bool) (*member, *int) {
	bigint := types.Type{Kind: types.BigInt}
	aggs := []exec.AggCall{{Func: "COUNT", Filter: -1, Type: bigint}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{bigint}, Filter: -1, Type: bigint}}
	if maxAgg {
		aggs = append(aggs, exec.AggCall{Func: "MAX", Args: []int{1}, ArgTypes: []types.Type{bigint}, Filter: -1, Type: bigint})
	}
	m := &member{
		s:          scaleOutSettings{name: "bench", maxPar: state.DefaultMaxParallelism},
		plan:       &scaleOutPlan{agg: &planner.Aggregate{Keys: []int{0}, Aggs: aggs}, fp: "0123456789abcdef"},
		job:        &Job{},
		inTypes:    []types.Type{bigint, bigint},
		keyTypes:   []types.Type{bigint},
		insertOnly: true,
		sinkOut:    &discardOut{},
		parts:      map[int32]*aggPart{},
		cl:         "bench-agg-changelog",
	}
	return m, benchCountProduced(m)
}

// benchRecords builds repartition records of the users from, from+1, ... (mod users).
func benchRecords(m *member, from, n, users int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	row := make([]types.Value, 2)
	for i := range recs {
		row[0], row[1] = types.IntValue(int64((from+i)%users)), types.IntValue(int64(i%7))
		key := types.AppendRowKey(nil, row, m.inTypes, m.plan.agg.Keys)
		val := types.AppendRowBinary([]byte{byte(changelog.Insert)}, row, m.inTypes)
		recs[i] = &kgo.Record{Topic: "bench-agg-repartition", Key: key, Value: val, Headers: m.hdr}
	}
	return recs
}

// BenchmarkScaleOutCommit measures what a member does per transaction in one repartition partition that
// holds `groups` groups when `changed` of them get a row: aggregate the rows and write the changelog records
// of the transaction (Kafka I/O excluded: the records are counted and recycled).
func BenchmarkScaleOutCommit(b *testing.B) {
	const changed = 100
	for _, agg := range []string{"count-sum", "count-sum-max"} {
		for _, groups := range []int{10_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/groups=%d/changed=%d", agg, groups, changed), func(b *testing.B) {
				m, produced := benchMember(agg == "count-sum-max")
				ap, err := m.newAggPart(0)
				if err != nil {
					b.Fatal(err)
				}
				m.parts[0] = ap
				touched := map[int32]*aggPart{0: ap}
				for from := 0; from < groups; from += 8192 {
					if err := m.aggregate(ap, benchRecords(m, from, min(8192, groups-from), groups)); err != nil {
						b.Fatal(err)
					}
				}
				if err := m.writeChangelog(touched); err != nil {
					b.Fatal(err)
				}
				const rounds = 64
				batches := make([][]*kgo.Record, rounds)
				for i := range batches {
					batches[i] = benchRecords(m, i*7919, changed, groups)
				}
				*produced = 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := m.aggregate(ap, batches[i%rounds]); err != nil {
						b.Fatal(err)
					}
					if err := m.writeChangelog(touched); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(*produced)/float64(b.N), "records/op")
			})
		}
	}
}

// BenchmarkScaleOutJoinState measures a scale-out join partition's stage 2 without Kafka: one row per
// record into the left side of an inner join (BIGINT key over 10K keys, BIGINT value), output discarded, with
// the planner's insert-only flags given to the join (append-only stores, as newJoinPart does now) and
// without them (counted stores with a per-row index, as before).
func BenchmarkScaleOutJoinState(b *testing.B) {
	bigint := types.Type{Kind: types.BigInt}
	for _, insertOnly := range []bool{false, true} {
		b.Run(fmt.Sprintf("insertOnly=%v", insertOnly), func(b *testing.B) {
			m := &member{
				plan: &scaleOutPlan{join: &planner.Join{Type: exec.InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0},
					LeftInsertOnly: insertOnly, RightInsertOnly: insertOnly}},
				sideTypes: [2][]types.Type{{bigint, bigint}, {bigint, bigint}},
			}
			jp := m.newJoinPart()
			row := make([]types.Value, 2)
			var batch changelog.Batch
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				row[0], row[1] = types.IntValue(int64(i%10000)), types.IntValue(int64(i))
				batch.Reset()
				batch.Append(changelog.Insert, row)
				if err := jp.in[0].Push(&batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchCountProduced gives bench member m the plan header and a produce that counts the records and
// delivers them at once (Kafka I/O excluded); it returns the count.
func benchCountProduced(m *member) *int {
	m.hdr = []kgo.RecordHeader{{Key: planHeader, Value: []byte(m.plan.fp)}}
	n := new(int)
	m.produce = func(r *kgo.Record) {
		*n++
		m.delivered(r, nil)
	}
	return n
}
