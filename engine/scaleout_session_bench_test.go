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

// benchSessionMember is a scale-out member of a SESSION window aggregate (gap 10 s, PARTITION BY user_id,
// COUNT(*) and SUM(amount)) without Kafka: its internal records are counted and recycled. The aggregate's
// input rows are (user_id, amount, window_start, window_end), as stage 1 writes them.
func benchSessionMember() (*member, *int) {
	bigint, ts := types.Type{Kind: types.BigInt}, types.Type{Kind: types.Timestamp, Precision: 3}
	aggs := []exec.AggCall{{Func: "COUNT", Filter: -1, Type: bigint}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{bigint}, Filter: -1, Type: bigint}}
	wa := &planner.WindowAggregate{Keys: []int{2, 3, 0}, WindowEndKey: 1, Aggs: aggs,
		Spec: exec.WindowSpec{Kind: exec.Session, Size: 10_000}}
	m := &member{
		s:       scaleOutSettings{name: "bench", maxPar: state.DefaultMaxParallelism},
		plan:    &scaleOutPlan{win: &scaleOutWindow{agg: wa, session: true, startKey: 0, keys: []int{0}}, fp: "0123456789abcdef"},
		job:     &Job{},
		inTypes: []types.Type{bigint, bigint, ts, ts},
		sinkOut: &discardOut{},
		cl:      "bench-agg-changelog",
		win:     &winStage{nsrc: 1, parts: map[int32]*winPart{}, touched: map[int32]*winPart{}},
	}
	return m, benchCountProduced(m)
}

// benchSessionRecords builds repartition records of the users from, from+1, ... (mod users), each a click
// at time at (ms).
func benchSessionRecords(m *member, from, n, users int, at int64) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	row := make([]types.Value, 4)
	for i := range recs {
		row[0], row[1] = types.IntValue(int64((from+i)%users)), types.IntValue(int64(i%7))
		row[2], row[3] = types.TimestampValue(at, 0), types.TimestampValue(at+10_000, 0)
		key := types.AppendRowKey(nil, row, m.inTypes, m.plan.win.keys)
		val := types.AppendRowBinary([]byte{byte(changelog.Insert)}, row, m.inTypes)
		recs[i] = &kgo.Record{Topic: "bench-agg-repartition", Key: key, Value: val, Headers: m.hdr}
	}
	return recs
}

// BenchmarkScaleOutSessionCommit measures what a member does per transaction in one repartition partition
// of a session window aggregate that holds `open` users' open sessions when `changed` of them get a click
// (extending their session): aggregate the rows and write the changelog records of the transaction (Kafka
// I/O excluded: the records are counted and recycled). No watermark comes, so no session fires.
func BenchmarkScaleOutSessionCommit(b *testing.B) {
	const changed = 100
	for _, open := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("open=%d/changed=%d", open, changed), func(b *testing.B) {
			m, produced := benchSessionMember()
			wp, err := m.newWinPart()
			if err != nil {
				b.Fatal(err)
			}
			m.win.parts[0] = wp
			for from := 0; from < open; from += 8192 {
				if err := m.windowAggregate(0, wp, benchSessionRecords(m, from, min(8192, open-from), open, 0)); err != nil {
					b.Fatal(err)
				}
			}
			if err := m.writeWindowChangelog(); err != nil {
				b.Fatal(err)
			}
			const rounds = 64
			batches := make([][]*kgo.Record, rounds)
			for i := range batches {
				batches[i] = benchSessionRecords(m, i*7919, changed, open, int64(i+1)*100)
			}
			*produced = 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.windowAggregate(0, wp, batches[i%rounds]); err != nil {
					b.Fatal(err)
				}
				if err := m.writeWindowChangelog(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(*produced)/float64(b.N), "records/op")
		})
	}
}
