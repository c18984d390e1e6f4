package exec

import (
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// intervalRef is a nested-loop interval join over lists of rows, written from the semantics (prune, in
// join_scan.go; late rows as Flink's TimeIntervalJoin, join_late.go): a row joins the other side's kept rows
// with an equal non-NULL key and times within the bounds and not expired at the combined watermark w; it is
// kept when its own expiry (l.t - Lower, r.t + Upper) is above w, else, on an outer side and unmatched, it is
// emitted NULL-padded at once; when w rises, left rows with l.t - Lower < w and right rows with r.t + Upper
// < w go (NULL-padded if on an outer side and never matched); at the end the outer sides' unmatched rows
// are padded.
type intervalRef struct {
	jt           JoinType
	lower, upper int64
	rows         [2][]refRow
	wm           [2]int64
	last         int64
	out          [][]types.Value
}

type refRow struct {
	vals    []types.Value
	matched bool
}

func (r *intervalRef) outer(s int) bool {
	return r.jt == FullJoin || (s == 0 && r.jt == LeftJoin) || (s == 1 && r.jt == RightJoin)
}

func (r *intervalRef) pad(s int, vals []types.Value) {
	null := []types.Value{types.NullValue, types.NullValue, types.NullValue}
	if s == 0 {
		r.out = append(r.out, append(append([]types.Value(nil), vals...), null...))
	} else {
		r.out = append(r.out, append(append([]types.Value(nil), null...), vals...))
	}
}

func (r *intervalRef) push(s int, vals []types.Value) {
	row := refRow{vals: vals}
	for i := range r.rows[1-s] {
		o := &r.rows[1-s][i]
		l, rt := vals, o.vals
		if s == 1 {
			l, rt = o.vals, vals
		}
		if l[0].IsNull() || rt[0].IsNull() || l[0].I != rt[0].I || l[1].IsNull() || rt[1].IsNull() {
			continue
		}
		if d := l[1].I - rt[1].I; d < r.lower || d > r.upper {
			continue
		}
		if w := r.last; w != minWatermark && (s == 1 && l[1].I-r.lower < w || s == 0 && rt[1].I+r.upper < w) {
			continue // the stored row expired (it goes at the next prune)
		}
		r.out = append(r.out, append(append([]types.Value(nil), l...), rt...))
		o.matched, row.matched = true, true
	}
	if t := vals[1]; r.last != minWatermark && !t.IsNull() && (s == 0 && t.I-r.lower <= r.last || s == 1 && t.I+r.upper <= r.last) {
		if r.outer(s) && !row.matched {
			r.pad(s, vals) // behind the watermark: never stored
		}
		return
	}
	r.rows[s] = append(r.rows[s], row)
}

func (r *intervalRef) watermark(s int, ts int64) {
	r.wm[s] = max(r.wm[s], ts)
	w := min(r.wm[0], r.wm[1])
	if w <= r.last {
		return
	}
	r.last = w
	for s := range 2 {
		kept := r.rows[s][:0]
		for _, row := range r.rows[s] {
			t := row.vals[1]
			done := !t.IsNull() && (s == 0 && t.I-r.lower < w || s == 1 && t.I+r.upper < w)
			if !done {
				kept = append(kept, row)
			} else if r.outer(s) && !row.matched {
				r.pad(s, row.vals)
			}
		}
		r.rows[s] = kept
	}
}

func (r *intervalRef) end() {
	for s := range 2 {
		for _, row := range r.rows[s] {
			if r.outer(s) && !row.matched {
				r.pad(s, row.vals)
			}
		}
	}
}

// TestIntervalJoinHotKeysMatchNestedLoop feeds a few hot keys (hundreds of rows each in state, so their rows
// are in bigBuckets of many chunks whose time bounds prune and probes use) with out-of-order times, late
// rows, NULL keys and times, repeated rows and random watermarks into interval joins of every type with
// random (often one-sided) bounds, checkpoints and restores the join midway, and checks its output against
// the nested-loop reference above.
func TestIntervalJoinHotKeysMatchNestedLoop(t *testing.T) {
	chunked := 0
	for _, jt := range []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin} {
		for seed := uint64(0); seed < uint64(propertyRounds(12)); seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(jt)+700))
			lower := int64(rng.IntN(4000)) - 2000
			upper := lower + int64(rng.IntN(300))
			cfg := intervalTestConfig(t, jt, lower, upper)
			rec := &recorder{}
			l, r := NewJoin(cfg, rec)
			ins := [2]changelog.Output{l, r}
			j := l.(*joinInput).j
			ref := &intervalRef{jt: jt, lower: lower, upper: upper, wm: [2]int64{minWatermark, minWatermark}, last: minWatermark}
			var past [2][][]types.Value
			clock, id := int64(0), int64(0)
			const steps = 1500
			delay := int64(50 + rng.IntN(500))
			for step := range steps {
				if step == steps/2 {
					snap := state.NewMemory()
					if err := j.SnapshotState(snap); err != nil {
						t.Fatal(err)
					}
					l, r = NewJoin(cfg, rec)
					ins = [2]changelog.Output{l, r}
					j = l.(*joinInput).j
					if err := j.RestoreState(snap.Reader()); err != nil {
						t.Fatal(err)
					}
				}
				if step%100 == 99 {
					for s := range 2 {
						st := &j.sides[s].st
						for i := range st.bigs {
							if st.bigs[i].timed && len(st.bigs[i].chunks) > 2 {
								chunked++
							}
						}
					}
				}
				side := rng.IntN(2)
				if rng.IntN(5) == 0 {
					wm := clock - delay - int64(rng.IntN(100))
					ref.watermark(side, wm)
					if err := ins[side].Watermark(wm); err != nil {
						t.Fatal(err)
					}
					continue
				}
				clock += int64(rng.IntN(20))
				var b changelog.Batch
				for range 1 + rng.IntN(8) {
					var row []types.Value
					if len(past[side]) > 0 && rng.IntN(12) == 0 {
						row = past[side][rng.IntN(len(past[side]))] // a repeated row
					} else {
						id++
						key := types.IntValue(int64(rng.IntN(2)))
						if rng.IntN(40) == 0 {
							key = types.NullValue
						}
						tm := types.IntValue(clock - int64(rng.IntN(int(delay))))
						if rng.IntN(30) == 0 {
							tm = types.IntValue(clock - delay - int64(rng.IntN(3000))) // late
						}
						if rng.IntN(60) == 0 {
							tm = types.NullValue
						}
						row = []types.Value{key, tm, types.IntValue(id)}
						past[side] = append(past[side], row)
					}
					b.Append(changelog.Insert, row)
					ref.push(side, row)
				}
				if err := ins[side].Push(&b); err != nil {
					t.Fatal(err)
				}
			}
			for _, in := range ins {
				if err := in.End(); err != nil {
					t.Fatal(err)
				}
			}
			ref.end()
			var got [][]types.Value
			for _, row := range rec.rows {
				if row.Kind != changelog.Insert {
					t.Fatalf("%s seed %d: the interval join emitted %s", jt, seed, formatRow(row))
				}
				got = append(got, row.Vals)
			}
			if g, w := joinRowsText(got), joinRowsText(ref.out); g != w {
				t.Fatalf("%s seed %d (bounds [%d, %d]): output differs from the nested-loop reference\ngot %d rows:\n%s\nwant %d rows:\n%s",
					jt, seed, lower, upper, len(got), g, len(ref.out), w)
			}
			if len(ref.out) == 0 {
				t.Fatalf("%s seed %d: no output: the test exercises nothing", jt, seed)
			}
		}
	}
	if chunked == 0 {
		t.Fatal("no hot key's rows spanned several chunks: the test does not exercise the time bounds")
	}
	t.Logf("%d samples of hot keys with more than two chunks", chunked)
}

// TestIntervalJoinPruneHotKeyReadsExpiringChunks: 100K rows under two keys, in about time order (each batch
// shuffled), then 1000 watermarks that each expire ~100 of them: prune reads the expiring rows and about a
// chunk more per key and watermark, not the key's every row on each watermark (~50M reads).
func TestIntervalJoinPruneHotKeyReadsExpiringChunks(t *testing.T) {
	for _, jt := range []JoinType{InnerJoin, LeftJoin} {
		left, right := NewJoin(intervalTestConfig(t, jt, 0, 0), NewCollect(func(changelog.Row) error { return nil }))
		j := left.(*joinInput).j
		const rows = 100_000
		rng := rand.New(rand.NewPCG(3, 4))
		var b changelog.Batch
		vals := make([]types.Value, 3*rows)
		for i := range rows {
			row := vals[3*i : 3*i+3]
			row[0], row[1], row[2] = types.IntValue(int64(i%2)), types.IntValue(int64(i)), types.IntValue(7)
			b.Append(changelog.Insert, row)
			if len(b.Rows) == 256 || i == rows-1 {
				rng.Shuffle(len(b.Rows), func(x, y int) { b.Rows[x], b.Rows[y] = b.Rows[y], b.Rows[x] })
				if err := left.Push(&b); err != nil {
					t.Fatal(err)
				}
				b.Reset()
			}
		}
		if l, _ := j.StateRows(); l != rows {
			t.Fatalf("%s: %d rows in state, want %d", jt, l, rows)
		}
		j.pruneVisits = 0
		for k := 1; k <= 1000; k++ {
			for _, in := range []changelog.Output{left, right} {
				if err := in.Watermark(int64(k) * 100); err != nil {
					t.Fatal(err)
				}
			}
			if l, _ := j.StateRows(); l != rows-k*100 {
				t.Fatalf("%s: %d rows in state after watermark %d, want %d", jt, l, k*100, rows-k*100)
			}
		}
		t.Logf("%s: prune read %d rows to expire %d", jt, j.pruneVisits, rows)
		if j.pruneVisits > 3*rows {
			t.Fatalf("%s: prune read %d rows to expire %d: it reads more than the expiring chunks", jt, j.pruneVisits, rows)
		}
	}
}
