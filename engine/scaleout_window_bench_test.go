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

// benchHopWindows is the number of windows a row of benchWindowMember's HOP belongs to (1 h every minute).
const benchHopWindows = 60

// benchWindowMember is a scale-out member of a HOP window aggregate (1 h windows every minute, GROUP BY
// window_start, window_end, user_id, COUNT(*) and SUM(amount)) without Kafka: its internal records are
// counted and recycled. The aggregate's input rows are (user_id, amount, window_start, window_end), as
// stage 1 writes them (one per window of the click).
func benchWindowMember() (*member, *int) {
	bigint, ts := types.Type{Kind: types.BigInt}, types.Type{Kind: types.Timestamp, Precision: 3}
	aggs := []exec.AggCall{{Func: "COUNT", Filter: -1, Type: bigint}, {Func: "SUM", Args: []int{1}, ArgTypes: []types.Type{bigint}, Filter: -1, Type: bigint}}
	wa := &planner.WindowAggregate{Keys: []int{2, 3, 0}, WindowEndKey: 1, Aggs: aggs,
		Spec: exec.WindowSpec{Kind: exec.Hop, Size: 3_600_000, Slide: 60_000}}
	m := &member{
		s:       scaleOutSettings{name: "bench", maxPar: state.DefaultMaxParallelism},
		plan:    &scaleOutPlan{win: &scaleOutWindow{agg: wa, keys: []int{2, 3, 0}}, fp: "0123456789abcdef"},
		job:     &Job{},
		inTypes: []types.Type{bigint, bigint, ts, ts},
		sinkOut: &discardOut{},
		cl:      "bench-agg-changelog",
		win:     &winStage{nsrc: 1, parts: map[int32]*winPart{}, touched: map[int32]*winPart{}},
	}
	return m, benchCountProduced(m)
}

// benchWindowRecords builds n repartition records, the i-th of user (from+i) % users in the window of start
// (from+i) / users % benchHopWindows minutes.
func benchWindowRecords(m *member, from, n, users int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	row := make([]types.Value, 4)
	for i := range recs {
		j := from + i
		start := int64(j/users%benchHopWindows) * 60_000
		row[0], row[1] = types.IntValue(int64(j%users)), types.IntValue(int64(i%7))
		row[2], row[3] = types.TimestampValue(start, 0), types.TimestampValue(start+3_600_000, 0)
		key := types.AppendRowKey(nil, row, m.inTypes, m.plan.win.keys)
		val := types.AppendRowBinary([]byte{byte(changelog.Insert)}, row, m.inTypes)
		recs[i] = &kgo.Record{Topic: "bench-agg-repartition", Key: key, Value: val, Headers: m.hdr}
	}
	return recs
}

// fillWindowPart aggregates one row of every user in each of the benchHopWindows windows into a new
// partition 0 and writes its changelog: users*benchHopWindows open groups.
func fillWindowPart(tb testing.TB, m *member, users int) *winPart {
	wp, err := m.newWinPart()
	if err != nil {
		tb.Fatal(err)
	}
	m.win.parts[0] = wp
	open := users * benchHopWindows
	for from := 0; from < open; from += 8192 {
		if err := m.windowAggregate(0, wp, benchWindowRecords(m, from, min(8192, open-from), users)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := m.writeWindowChangelog(); err != nil {
		tb.Fatal(err)
	}
	return wp
}

// BenchmarkScaleOutWindowCommit measures what a member does per transaction in one repartition partition
// of a HOP window aggregate that holds `open` open groups (users x 60 windows) when `changed` records (of
// as many groups) come: aggregate them and write the changelog records of the transaction (Kafka I/O
// excluded: the records are counted and recycled). No watermark comes, so no window fires.
func BenchmarkScaleOutWindowCommit(b *testing.B) {
	const changed = 100
	for _, users := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("open=%d/changed=%d", users*benchHopWindows, changed), func(b *testing.B) {
			m, produced := benchWindowMember()
			wp := fillWindowPart(b, m, users)
			const rounds = 64
			batches := make([][]*kgo.Record, rounds)
			for i := range batches {
				batches[i] = benchWindowRecords(m, i*7919, changed, users)
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
			b.ReportMetric(float64(changed*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
