package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// benchIntervalMember is a scale-out member of an inner interval join (id BIGINT, ts) JOIN (auction BIGINT,
// ts) ON id = auction AND r.ts BETWEEN l.ts AND l.ts + 10 s, without Kafka: its internal records are counted
// and recycled.
func benchIntervalMember() (*member, *int) {
	bigint, ts := types.Type{Kind: types.BigInt}, types.Type{Kind: types.Timestamp, Precision: 3}
	j := &planner.Join{Type: exec.InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0},
		Interval: &exec.IntervalBounds{LeftTime: 1, RightTime: 1, Lower: -10_000, Upper: 0}}
	m := &member{
		s:         scaleOutSettings{name: "bench", maxPar: state.DefaultMaxParallelism},
		plan:      &scaleOutPlan{ivl: &scaleOutInterval{join: j}, fp: "0123456789abcdef"},
		job:       &Job{},
		sideTypes: [2][]types.Type{{bigint, ts}, {bigint, ts}},
		sinkOut:   &discardOut{},
		cl:        "bench-join-changelog",
		win:       &winStage{nsrc: 1, parts: map[int32]*winPart{}, touched: map[int32]*winPart{}},
		ivTouched: map[int32]*winPart{},
	}
	return m, benchCountProduced(m)
}

// benchIntervalRecords builds n repartition records alternating sides, of the keys from, from+1, ... (mod
// keys), at time at (ms).
func benchIntervalRecords(m *member, from, n, keys int, at int64) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	row := make([]types.Value, 2)
	for i := range recs {
		side := i % 2
		row[0], row[1] = types.IntValue(int64((from+i/2)%keys)), types.TimestampValue(at, 0)
		val := types.AppendRowBinary([]byte{byte(side), byte(changelog.Insert)}, row, m.sideTypes[side])
		recs[i] = &kgo.Record{Topic: "bench-join-repartition", Value: val, Headers: m.hdr}
	}
	return recs
}

// BenchmarkScaleOutIntervalCommit measures what a member does per transaction in one repartition partition
// of an interval join that holds `held` rows (both sides, one row per key and side) when 100 rows come
// (joined, no watermark): push them and write the changelog records of the transaction (Kafka I/O
// excluded). The transaction writes the entries of the keys that changed (scaleout_interval.go): its cost
// grows with the rows that came, not with the rows held.
func BenchmarkScaleOutIntervalCommit(b *testing.B) {
	const changed = 100
	for _, held := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("held=%d/changed=%d", held, changed), func(b *testing.B) {
			m, produced := benchIntervalMember()
			wp, err := m.newWinPart()
			if err != nil {
				b.Fatal(err)
			}
			m.win.parts[0] = wp
			for from := 0; from < held/2; from += 4096 {
				if err := m.intervalJoin(0, wp, benchIntervalRecords(m, from, 2*min(4096, held/2-from), held/2, 0)); err != nil {
					b.Fatal(err)
				}
			}
			if err := m.writeIntervalChangelog(); err != nil {
				b.Fatal(err)
			}
			const rounds = 64
			batches := make([][]*kgo.Record, rounds)
			for i := range batches {
				batches[i] = benchIntervalRecords(m, i*7919, changed, held/2, int64(i+1)*10)
			}
			*produced = 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.intervalJoin(0, wp, batches[i%rounds]); err != nil {
					b.Fatal(err)
				}
				if err := m.writeIntervalChangelog(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(*produced)/float64(b.N), "records/op")
		})
	}
}

// benchHotKeyRecords are n left rows of join key 0 at the times from, from+1, ... (ms), then, when wm is not
// math.MinInt64, a watermark record of source partition 0.
func benchHotKeyRecords(m *member, from int64, n int, wm int64) []*kgo.Record {
	recs := make([]*kgo.Record, 0, n+1)
	row := make([]types.Value, 2)
	for i := range n {
		row[0], row[1] = types.IntValue(0), types.TimestampValue(from+int64(i), 0)
		val := types.AppendRowBinary([]byte{0, byte(changelog.Insert)}, row, m.sideTypes[0])
		recs = append(recs, &kgo.Record{Topic: "bench-join-repartition", Value: val, Headers: m.hdr})
	}
	if wm != math.MinInt64 {
		v := binary.AppendVarint(binary.AppendUvarint([]byte{scaleOutWatermark}, 0), wm)
		recs = append(recs, &kgo.Record{Topic: "bench-join-repartition", Value: v, Headers: m.hdr})
	}
	return recs
}

// BenchmarkScaleOutIntervalCommitHotKey is BenchmarkScaleOutIntervalCommit with one hot join key holding
// `held` left rows (one per millisecond): each transaction brings 100 more rows of it and a watermark that
// expires its 100 oldest, so the key keeps `held` rows. records/op and bytes/op (of the changelog records)
// show what a transaction writes.
func BenchmarkScaleOutIntervalCommitHotKey(b *testing.B) {
	const changed = 100
	for _, held := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("held=%d/changed=%d", held, changed), func(b *testing.B) {
			m, produced := benchIntervalMember()
			var bytes int
			m.produce = func(r *kgo.Record) {
				*produced++
				bytes += len(r.Key) + len(r.Value)
				m.delivered(r, nil)
			}
			wp, err := m.newWinPart()
			if err != nil {
				b.Fatal(err)
			}
			m.win.parts[0] = wp
			for from := 0; from < held; from += 4096 {
				if err := m.intervalJoin(0, wp, benchHotKeyRecords(m, int64(from), min(4096, held-from), math.MinInt64)); err != nil {
					b.Fatal(err)
				}
			}
			if err := m.writeIntervalChangelog(); err != nil {
				b.Fatal(err)
			}
			*produced, bytes = 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				recs := benchHotKeyRecords(m, int64(held+i*changed), changed, 10_000+int64(i+1)*changed)
				b.StartTimer()
				if err := m.intervalJoin(0, wp, recs); err != nil {
					b.Fatal(err)
				}
				if err := m.writeIntervalChangelog(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(*produced)/float64(b.N), "records/op")
			b.ReportMetric(float64(bytes)/float64(b.N), "changelog-bytes/op")
		})
	}
}
