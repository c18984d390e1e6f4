package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Input of the session tests: k BIGINT (NULL sometimes), k2 STRING, ts TIMESTAMP(3), v BIGINT (NULL
// sometimes), b BOOLEAN; the window TVF appends window_start (5), window_end (6), window_time (7).
var sessInTypes = []types.Type{types.BigIntType(), types.StringType(), types.TimestampType(3), types.BigIntType(), types.BooleanType(),
	types.TimestampType(3), types.TimestampType(3), types.TimestampType(3)}

// sessCase is one random session aggregate: its partition columns, the order of its group keys, the gap,
// and the steps fed to the window TVF.
type sessCase struct {
	gap              int64
	part             []int
	keys             []int // the aggregate's group keys (partition columns and 5, 6)
	startKey, endKey int
	aggs             []AggCall
	ltz              bool
	steps            []step
	late             bool // watermarks may make rows late
}

func (c *sessCase) cfg() GroupAggConfig {
	cfg := GroupAggConfig{Keys: c.keys, InTypes: sessInTypes, Aggs: c.aggs}
	for _, k := range c.keys {
		cfg.KeyTypes = append(cfg.KeyTypes, sessInTypes[k])
	}
	return cfg
}

func (c *sessCase) partTypes() []types.Type {
	var ts []types.Type
	for _, p := range c.part {
		ts = append(ts, sessInTypes[p])
	}
	return ts
}

var sessZone = time.FixedZone("UTC+1", 3600)

// rowPath builds the row-holding plan: NewSessionAssigner, then NewWindowAgg.
func (c *sessCase) rowPath(t testing.TB, out changelog.Output) (changelog.Output, *sessionAssigner) {
	agg, err := NewWindowAgg(c.cfg(), c.endKey, out)
	if err != nil {
		t.Fatal(err)
	}
	a := NewSessionAssigner(c.gap, 2, c.part, c.partTypes(), c.ltz, sessZone, agg)
	return a, a.(*sessionAssigner)
}

// accPath builds the accumulating plan, the aggregate as n subtasks when n > 1: NewSliceAssigner, then
// NewSessionWindowAgg.
func (c *sessCase) accPath(t testing.TB, n int, out changelog.Output) (changelog.Output, changelog.Output) {
	spec := WindowSpec{Kind: Session, Size: c.gap}
	mk := func(o changelog.Output) (changelog.Output, error) {
		return NewSessionWindowAgg(c.cfg(), spec, c.startKey, c.endKey, o)
	}
	var agg changelog.Output
	var err error
	if n > 1 {
		agg, err = NewParallel(c.part, c.partTypes(), state.DefaultMaxParallelism, n, mk, out)
	} else {
		agg, err = mk(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := agg.(*Parallel); ok {
		t.Cleanup(p.Close)
	}
	return NewSliceAssigner(spec, 2, c.ltz, sessZone, agg), agg
}

// genSessCase generates a case: rows mostly in time order with jitter, in batches, watermarks between
// batches. With late, a watermark follows the largest time seen minus a random delay (rows behind it are
// late); without, every watermark is more than a gap below every row still to come.
func genSessCase(t testing.TB, rng *rand.Rand, late bool) *sessCase {
	c := &sessCase{gap: 1 + int64(rng.IntN(25)), late: late, ltz: rng.IntN(4) == 0}
	switch rng.IntN(4) {
	case 0:
	case 1:
		c.part = []int{1}
	case 2:
		c.part = []int{0}
	default:
		c.part = []int{1, 0}
	}
	c.keys = slices.Clone(c.part)
	c.startKey, c.endKey = len(c.keys), len(c.keys)+1
	c.keys = append(c.keys, 5, 6)
	if rng.IntN(2) == 0 { // window columns first
		c.keys = append([]int{5, 6}, c.part...)
		c.startKey, c.endKey = 0, 1
	}
	c.aggs = aggCalls(t, sessInTypes, "COUNT(*)", "COUNT($3)", "SUM($3)", "MIN($3)", "MAX($1)", "AVG($3)", "BOOL_OR($4)", "VAR_SAMP($3)", "SUM0($3)")
	n := 1 + rng.IntN(200)
	type in struct {
		ts  int64
		row []types.Value
	}
	rows := make([]in, n)
	stride := 1 + rng.IntN(8)
	for i := range rows {
		ts := int64(i*stride + rng.IntN(40) - 20)
		k := types.IntValue(int64(rng.IntN(3)))
		if rng.IntN(20) == 0 {
			k = types.NullValue
		}
		v := types.IntValue(int64(rng.IntN(100) - 30))
		if rng.IntN(10) == 0 {
			v = types.NullValue
		}
		row := []types.Value{k, types.StringValue([]string{"a", "b"}[rng.IntN(2)]), types.TimestampValue(ts, 0), v, types.BoolValue(rng.IntN(3) == 0)}
		if rng.IntN(40) == 0 {
			row[2] = types.NullValue // dropped by the window TVF
		}
		rows[i] = in{ts, row}
	}
	maxSeen, wm := int64(minWatermark), int64(minWatermark)
	for i := 0; i < len(rows); {
		m := min(len(rows)-i, 1+rng.IntN(10))
		var b []changelog.Row
		for _, r := range rows[i : i+m] {
			b = append(b, changelog.Row{Kind: changelog.Insert, Vals: r.row})
			maxSeen = max(maxSeen, r.ts)
		}
		c.steps = append(c.steps, step{rows: b})
		i += m
		if i == len(rows) || rng.IntN(2) == 0 {
			continue
		}
		next := maxSeen - int64(rng.IntN(30))
		if !late {
			for _, r := range rows[i:] {
				next = min(next, r.ts-c.gap-1)
			}
			if c.ltz {
				next -= 3600_000 // wall-clock times are an hour ahead of the watermark's instants
			}
		}
		if next > wm {
			wm = next
			c.steps = append(c.steps, step{wm: wm, isWM: true})
		}
	}
	c.steps = append(c.steps, step{end: true})
	return c
}

// segments sorts the rows between watermarks (subtasks of a parallel operator emit in their own order).
func segments(s string) string {
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "+") {
			j++
		}
		sort.Strings(lines[i:j])
		i = j + 1
	}
	return strings.Join(lines, "\n")
}

// TestSessionWindowAggMatchesRowPath: for random keys, times, gaps, out-of-order rows, late rows and
// merging (touching) sessions, the accumulating session aggregate emits exactly what the row-holding
// path (session assigner + per-window aggregate) emits, rows and watermarks in the same order, and counts
// the same late rows; as 3 subtasks, the same rows between the same watermarks.
func TestSessionWindowAggMatchesRowPath(t *testing.T) {
	lateRows, merges := int64(0), 0
	for seed := uint64(0); seed < 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0x5e55))
		c := genSessCase(t, rng, seed%3 != 0)
		want := &recorder{}
		rp, sa := c.rowPath(t, want)
		runSteps(t, []changelog.Output{rp}, c.steps)
		for _, par := range []int{1, 3} {
			got := &recorder{}
			ap, agg := c.accPath(t, par, got)
			runSteps(t, []changelog.Output{ap}, c.steps)
			g, w := got.b.String(), want.b.String()
			if par > 1 {
				g, w = segments(g), segments(w)
			}
			if g != w {
				t.Fatalf("seed %d (parallelism %d, gap %d, partition %v, keys %v): accumulating session aggregate differs from the row path\ngot:\n%s\nwant:\n%s",
					seed, par, c.gap, c.part, c.keys, g, w)
			}
			if par == 1 {
				if l := agg.(*sessionWindowAgg).Late; l != sa.Late {
					t.Fatalf("seed %d: %d late rows, the row path counts %d", seed, l, sa.Late)
				}
			}
		}
		lateRows += sa.Late
		merges += countMerges(c)
	}
	if lateRows == 0 || merges == 0 {
		t.Fatalf("weak input: %d late rows, %d merges of sessions", lateRows, merges)
	}
}

// countMerges counts rows that bridge two sessions of the same key seen so far (without lateness).
func countMerges(c *sessCase) int {
	n := 0
	seen := map[string][]int64{}
	for _, s := range c.steps {
		for _, r := range s.rows {
			if r.Vals[2].IsNull() {
				continue
			}
			k := keyOf(r.Vals, c.part)
			t := r.Vals[2].I
			lo, hi := false, false
			for _, o := range seen[k] {
				lo = lo || (o < t && o+c.gap >= t)
				hi = hi || (o > t && t+c.gap >= o)
			}
			if lo && hi {
				n++
			}
			seen[k] = append(seen[k], t)
		}
	}
	return n
}

func keyOf(row []types.Value, cols []int) string {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(formatValue(row[c]))
		b.WriteByte('|')
	}
	return b.String()
}

// TestSessionAccMatchesRecomputation checks the accumulating session aggregate against a brute-force
// recomputation (no row late): per key, sort the times; a row whose window [t, t+gap) touches the session
// so far (t <= end) joins it; COUNT(*), SUM(v), MIN(v) of each session.
func TestSessionAccMatchesRecomputation(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0xacc))
		c := genSessCase(t, rng, false)
		c.ltz = false
		c.part, c.keys, c.startKey, c.endKey = []int{0}, []int{0, 5, 6}, 1, 2
		c.aggs = aggCalls(t, sessInTypes, "COUNT(*)", "SUM($3)", "MIN($3)")
		var got []string
		sink := NewCollect(func(r changelog.Row) error {
			got = append(got, fmt.Sprintf("k=%s [%d,%d) n=%d sum=%s min=%s", formatValue(r.Vals[0]), r.Vals[1].I, r.Vals[2].I,
				r.Vals[3].I, formatValue(r.Vals[4]), formatValue(r.Vals[5])))
			return nil
		})
		ap, _ := c.accPath(t, 1, sink)
		runSteps(t, []changelog.Output{ap}, c.steps)

		byKey := map[string][][]types.Value{}
		for _, s := range c.steps {
			for _, r := range s.rows {
				if !r.Vals[2].IsNull() {
					byKey[formatValue(r.Vals[0])] = append(byKey[formatValue(r.Vals[0])], r.Vals)
				}
			}
		}
		var want []string
		for k, rs := range byKey {
			slices.SortStableFunc(rs, func(a, b []types.Value) int { return int(a[2].I - b[2].I) })
			for i := 0; i < len(rs); {
				start, end, j := rs[i][2].I, rs[i][2].I+c.gap, i
				sum, mn, has := int64(0), int64(0), false
				for ; j < len(rs) && rs[j][2].I <= end; j++ {
					end = max(end, rs[j][2].I+c.gap)
					if v := rs[j][3]; !v.IsNull() {
						if !has || v.I < mn {
							mn = v.I
						}
						sum += v.I
						has = true
					}
				}
				s, m := "NULL", "NULL"
				if has {
					s, m = fmt.Sprint(sum), fmt.Sprint(mn)
				}
				want = append(want, fmt.Sprintf("k=%s [%d,%d) n=%d sum=%s min=%s", k, start, end, j-i, s, m))
				i = j
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("seed %d (gap %d): sessions differ from the recomputation\ngot:\n%s\nwant:\n%s", seed, c.gap, g, w)
		}
	}
}

// TestSessionWindowAggRestore: a run cut at a random step, its state restored into a new operator (at
// parallelism 1, or 3 subtasks restoring a snapshot of 1, read as two key-group ranges), emits exactly what
// the uninterrupted run emits.
func TestSessionWindowAggRestore(t *testing.T) {
	for _, par := range []int{1, 3} {
		forEachCut(t, fmt.Sprintf("session window aggregate (parallelism %d)", par), 150, func(rng *rand.Rand) (builder, []step) {
			c := genSessCase(t, rng, rng.IntN(2) == 0)
			return func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
				ap, agg := c.accPath(t, par, out)
				return []changelog.Output{ap}, []state.Snapshotter{StateOf(agg)}
			}, c.steps
		})
	}
}

// TestSessionWindowAggOldState: the row path's state (the per-window aggregate's) does not restore into the
// accumulating operator: the restore fails naming both signatures, as a savepoint of another plan does.
func TestSessionWindowAggOldState(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := genSessCase(t, rng, false)
	rp, _ := c.rowPath(t, &recorder{})
	if err := rp.Push(&changelog.Batch{Rows: c.steps[0].rows}); err != nil {
		t.Fatal(err)
	}
	if err := rp.(*sessionAssigner).fire(changelog.MaxWatermark - 1); err != nil { // the sessions reach the aggregate
		t.Fatal(err)
	}
	mem := state.NewMemory()
	if err := StateOf(rp.(*sessionAssigner).out).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	_, agg := c.accPath(t, 1, &recorder{})
	err := StateOf(agg).RestoreState(mem.Reader())
	if err == nil || !strings.Contains(err.Error(), "SessionWindowAggregate(gap=") || !strings.Contains(err.Error(), "WindowAggregate(keys=") {
		t.Fatalf("restoring the row path's state: got %v, want a signature mismatch naming both operators", err)
	}
}
