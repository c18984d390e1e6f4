package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestProctimeWindowColumns: a processing-time TUMBLE aggregate on columns (the stamp or the clock in front
// of the slice assigner and the slice-shared aggregate, fed columnar batches) emits exactly what the
// per-window path emits over the same rows (the stamp or clock, the window assigner, the per-window
// aggregate): the same rows, watermarks and late rows, under an injected clock that moves forward, stands
// still and goes back, with NULL keys and times, selection vectors, input watermarks and ticks (FlushDue).
func TestProctimeWindowColumns(t *testing.T) {
	// k BIGINT, pt TIMESTAMP_LTZ, v BIGINT; the assigner appends window_start (3), window_end (4), window_time (5)
	in := []types.Type{types.BigIntType(), types.TimestampLTZType(3), types.BigIntType()}
	full := append(append([]types.Type(nil), in...), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3))
	loc := time.FixedZone("UTC+1", 3600)
	before := WindowColumnBatches()
	for seed := range 60 {
		rng := rand.New(rand.NewPCG(uint64(seed), 12))
		stamp := seed%2 == 0
		spec := WindowSpec{Kind: Tumble, Size: int64(5 + rng.IntN(20))}
		cfg := GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: full, Aggs: aggCalls(t, full, "COUNT(*)", "SUM($2)", "MAX($2)")}
		for _, k := range cfg.Keys {
			cfg.KeyTypes = append(cfg.KeyTypes, full[k])
		}
		now := time.UnixMilli(int64(rng.IntN(1000)))
		clock := func() time.Time { return now }
		front := func(out changelog.Output) changelog.Output {
			if stamp {
				return NewProctimeStamp(clock, loc, 1, out)
			}
			return NewProctimeClock(clock, loc, out)
		}
		rowRec, colRec := &recorder{}, &recorder{}
		rowAgg, err := NewRoutedWindowAgg(cfg, 2, []int{0}, rowRec)
		if err != nil {
			t.Fatal(err)
		}
		rowIn := front(NewWindowAssigner(spec, 1, true, loc, rowAgg))
		colAgg, err := NewSliceWindowAgg(cfg, spec, 1, 2, colRec)
		if err != nil {
			t.Fatal(err)
		}
		colIn := front(NewSliceAssigner(spec, 1, true, loc, colAgg))
		cols, ok := colIn.(vec.Output)
		if !ok || !cols.AcceptsColumns() {
			t.Fatalf("seed %d: the processing-time front does not take columns", seed)
		}
		name := fmt.Sprintf("seed %d (stamp %v, %v)", seed, stamp, spec)
		for range 60 {
			switch r := rng.IntN(10); {
			case r < 5:
				now = now.Add(time.Duration(rng.IntN(8)) * time.Millisecond)
			case r == 5:
				now = now.Add(-time.Duration(rng.IntN(8)) * time.Millisecond) // the clock goes back
			}
			var err error
			switch r := rng.IntN(8); {
			case r == 0:
				wm := int64(rng.IntN(1 << 20))
				if err = rowIn.Watermark(wm); err == nil {
					err = colIn.Watermark(wm)
				}
			case r == 1:
				if err = rowIn.(interface{ FlushDue() error }).FlushDue(); err == nil {
					err = colIn.(interface{ FlushDue() error }).FlushDue()
				}
			default:
				var rows []changelog.Row
				for range 1 + rng.IntN(8) {
					pt := types.TimestampValue(now.UnixMilli()-int64(rng.IntN(30)), 0) // read before it arrives
					if rng.IntN(10) == 0 {
						pt = types.NullValue
					}
					k := types.IntValue(int64(rng.IntN(4)))
					if rng.IntN(12) == 0 {
						k = types.NullValue
					}
					rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{k, pt, types.IntValue(int64(rng.IntN(100)))}})
				}
				var vb vec.Batch
				if !vec.FromRows(&vb, rows, in, nil) {
					t.Fatal("rows without a columnar form")
				}
				var b changelog.Batch
				if rng.IntN(3) == 0 {
					vb.Sel = []int32{}
					for i, r := range rows {
						if rng.IntN(3) != 0 {
							vb.Sel = append(vb.Sel, int32(i))
							b.Append(r.Kind, r.Vals)
						}
					}
				} else {
					b.Rows = rows
				}
				if err = rowIn.Push(&b); err == nil {
					err = cols.PushColumns(&vb)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if err := rowIn.End(); err != nil {
			t.Fatal(err)
		}
		if err := colIn.End(); err != nil {
			t.Fatal(err)
		}
		if len(rowRec.rows) == 0 {
			t.Fatalf("%s: no output", name)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave\n%s\nrows gave\n%s", name, got, want)
		}
		if rl, cl := rowAgg.(*windowAgg).Late, colAgg.(*sliceWindowAgg).Late; rl != cl {
			t.Fatalf("%s: %d late rows on columns, %d on rows", name, cl, rl)
		}
	}
	if WindowColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// TestProctimeStampColumnsNoAlloc: once its scratch and the slices exist, a columnar batch through the stamp,
// the slice assigner and compact slices allocates nothing.
func TestProctimeStampColumnsNoAlloc(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.TimestampLTZType(3), types.BigIntType()}
	full := append(append([]types.Type(nil), in...), types.TimestampType(3), types.TimestampType(3), types.TimestampType(3))
	spec := WindowSpec{Kind: Tumble, Size: 10_000}
	cfg := GroupAggConfig{Keys: []int{0, 3, 4}, InTypes: full, Aggs: aggCalls(t, full, "COUNT(*)")}
	agg, err := NewSliceWindowAgg(cfg, spec, 1, 2, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_000)
	op := NewProctimeStamp(func() time.Time { return now }, time.UTC, 1, NewSliceAssigner(spec, 1, true, time.UTC, agg)).(vec.Output)
	var rows []changelog.Row
	for i := range 256 {
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(int64(i % 13)),
			types.TimestampValue(0, 0), types.IntValue(int64(i))}})
	}
	var vb vec.Batch
	if !vec.FromRows(&vb, rows, in, nil) {
		t.Fatal("rows without a columnar form")
	}
	before := WindowColumnBatches()
	allocs := testing.AllocsPerRun(20, func() {
		if err := op.PushColumns(&vb); err != nil {
			t.Fatal(err)
		}
	})
	if WindowColumnBatches()-before < 20 {
		t.Fatal("the batches did not take the columnar path")
	}
	if allocs != 0 && !raceEnabled {
		t.Fatalf("%.1f allocations per batch", allocs)
	}
}
