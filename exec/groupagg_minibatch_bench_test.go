package exec

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

const skewRows = 1 << 18

// skewedInput: batches of 1024 rows (k BIGINT, v BIGINT): 90 % of the rows on 10 hot keys, the rest spread
// over 100,000 keys.
func skewedInput() []*changelog.Batch {
	rng := rand.New(rand.NewPCG(3, 4))
	var out []*changelog.Batch
	b := &changelog.Batch{}
	for range skewRows {
		k := rng.Int64N(10)
		if rng.IntN(10) == 0 {
			k = 10 + rng.Int64N(100_000)
		}
		b.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(rng.Int64N(1000))})
		if b.Len() == 1024 {
			out = append(out, b)
			b = &changelog.Batch{}
		}
	}
	return out
}

// cpuTime is the process's user+system CPU time (rows/cpu-s counts the garbage collector's work too and
// is steadier than wall time on a shared machine).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSkewedGroupAgg: SELECT k, COUNT(*), SUM(v) ... GROUP BY k over skewed insert-only input, row by
// row, mini-batched (one phase: combining partials, and buffering rows as it does over updating input) and
// two-phase (local/global), with batches of 5000 rows. rows/s is per core
// (one goroutine), rows/cpu-s per CPU second of the process; out/row is the changelog rows emitted per input row.
func BenchmarkSkewedGroupAgg(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	aggs := aggCalls(b, in, "COUNT(*)", "SUM($1)")
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, EmitUpdateBefore: true, InsertOnly: true}
	mb := MiniBatchConfig{Size: 5000, Latency: time.Hour}
	input := skewedInput()
	for _, v := range []struct {
		name string
		mk   func(out changelog.Output) (changelog.Output, error)
	}{
		{"per-row", func(o changelog.Output) (changelog.Output, error) { return NewGroupAgg(cfg, o) }},
		{"mini-batch", func(o changelog.Output) (changelog.Output, error) { return NewMiniBatchGroupAgg(cfg, mb, o) }},
		{"mini-batch-rows", func(o changelog.Output) (changelog.Output, error) {
			rows := mb
			rows.buffer = true // buffer rows instead of combining them (as over updating input)
			return NewMiniBatchGroupAgg(cfg, rows, o)
		}},
		{"two-phase", func(o changelog.Output) (changelog.Output, error) {
			g, err := NewGlobalGroupAgg(cfg, o)
			if err != nil {
				return nil, err
			}
			return NewLocalGroupAgg(cfg, mb, g)
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			out := &discard{}
			cpu0 := cpuTime()
			for b.Loop() {
				op, err := v.mk(out)
				if err != nil {
					b.Fatal(err)
				}
				for _, batch := range input {
					if err := op.Push(batch); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.End(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(skewRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(skewRows)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
			}
			b.ReportMetric(float64(out.rows)/float64(skewRows*b.N), "out/row")
		})
	}
}
