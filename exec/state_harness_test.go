package exec

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// This file holds the checkpoint/restore property harness: a run of an operator (or a small chain) over a
// list of steps, uninterrupted, must give exactly the changelog (rows, watermarks, End) of a run cut at a
// step: the first operator runs the prefix, its state goes through state.Memory into a freshly built
// operator of the same configuration, which runs the suffix.

// step is one call on an input of the operator under test.
type step struct {
	in   int
	rows []changelog.Row // a push (when wm and end are unset)
	wm   int64
	isWM bool
	end  bool
}

func (s step) String() string {
	switch {
	case s.end:
		return fmt.Sprintf("in%d END", s.in)
	case s.isWM:
		return fmt.Sprintf("in%d WM %d", s.in, s.wm)
	}
	var parts []string
	for _, r := range s.rows {
		parts = append(parts, formatRow(r))
	}
	return fmt.Sprintf("in%d %s", s.in, strings.Join(parts, " "))
}

// builder builds the operator under test writing to out: its inputs and the Snapshotters of its stateful
// parts (in a fixed order).
type builder func(t testing.TB, out changelog.Output) (ins []changelog.Output, snaps []state.Snapshotter)

func runSteps(t testing.TB, ins []changelog.Output, steps []step) {
	t.Helper()
	for _, s := range steps {
		var err error
		switch {
		case s.end:
			err = ins[s.in].End()
		case s.isWM:
			err = ins[s.in].Watermark(s.wm)
		default:
			err = ins[s.in].Push(&changelog.Batch{Rows: s.rows})
		}
		if err != nil {
			t.Fatalf("step %s: %v", s, err)
		}
	}
}

// checkRestore runs steps uninterrupted and cut at cut, and fails unless both changelogs are equal. With
// split, the restore reads the snapshot as two key-group ranges, as two parallel instances would, and
// concatenates them.
// It returns the number of rows emitted before the cut and in all.
func checkRestore(t testing.TB, name string, build builder, steps []step, cut int, split int) (before, all int) {
	t.Helper()
	whole := &recorder{}
	ins, _ := build(t, whole)
	runSteps(t, ins, steps)

	cutRec := &recorder{}
	ins, snaps := build(t, cutRec)
	runSteps(t, ins, steps[:cut])
	before = len(cutRec.rows)
	mems := make([]*state.Memory, len(snaps))
	for i, s := range snaps {
		if s == nil {
			t.Fatalf("%s: operator %d is not stateful", name, i)
		}
		mems[i] = state.NewMemory()
		if err := s.SnapshotState(mems[i]); err != nil {
			t.Fatalf("%s: snapshot: %v", name, err)
		}
	}
	ins, snaps = build(t, cutRec)
	for i, s := range snaps {
		var r state.Reader = mems[i].Reader()
		if split > 0 {
			r = &concatReader{rs: []state.Reader{mems[i].ReaderForKeyGroups(split, state.DefaultMaxParallelism-1), mems[i].ReaderForKeyGroups(0, split-1)}}
		}
		if err := s.RestoreState(r); err != nil {
			t.Fatalf("%s: restore: %v", name, err)
		}
	}
	runSteps(t, ins, steps[cut:])

	if whole.b.String() != cutRec.b.String() || !sameRows(whole.rows, cutRec.rows) {
		var trace []string
		for i, s := range steps {
			mark := "  "
			if i == cut {
				mark = "✂ "
			}
			trace = append(trace, mark+s.String())
		}
		t.Fatalf("%s: cut at step %d of %d: restored run differs\nuninterrupted:\n%s\ncut and restored:\n%s\nsteps:\n%s",
			name, cut, len(steps), whole.b.String(), cutRec.b.String(), strings.Join(trace, "\n"))
	}
	return before, len(whole.rows)
}

// sameRows compares two changelogs value by value (every field of every Value).
func sameRows(a, b []changelog.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || !reflect.DeepEqual(a[i].Vals, b[i].Vals) {
			return false
		}
	}
	return true
}

// concatReader reads several Readers one after the other.
type concatReader struct{ rs []state.Reader }

func (c *concatReader) Next() (uint8, []byte, []byte, bool, error) {
	for len(c.rs) > 0 {
		ns, k, v, ok, err := c.rs[0].Next()
		if err != nil || ok {
			return ns, k, v, ok, err
		}
		c.rs = c.rs[1:]
	}
	return 0, nil, nil, false, nil
}

// forEachCut runs checkRestore for seeds seeds, each with a random cut (and a random key-group split for
// every other seed). It fails when fewer than a quarter of the seeds emit rows both before and after their
// cut (the input would be too weak to test anything).
func forEachCut(t *testing.T, name string, seeds int, gen func(rng *rand.Rand) (builder, []step)) {
	strong := 0
	defer func() {
		if !t.Failed() && strong < seeds/4 {
			t.Fatalf("%s: only %d of %d seeds emit rows on both sides of the cut", name, strong, seeds)
		}
	}()
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		build, steps := gen(rng)
		cut := rng.IntN(len(steps)) // End is the last step and stays in the suffix
		split := 0
		if seed%2 == 1 {
			split = 1 + rng.IntN(state.DefaultMaxParallelism-1)
		}
		before, all := checkRestore(t, fmt.Sprintf("%s seed %d", name, seed), build, steps, cut, split)
		if before > 0 && all > before {
			strong++
		}
	}
}

// aggCalls parses calls like "COUNT(*)", "SUM(DISTINCT $1)", "MIN($1) FILTER $6", "LISTAGG($4, $7)".
func aggCalls(t testing.TB, in []types.Type, specs ...string) []AggCall {
	var calls []AggCall
	for _, v := range specs {
		m := aggRE.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("bad aggregate %q", v)
		}
		c := AggCall{Func: m[1], Distinct: m[2] != "", Filter: -1}
		if m[3] != "*" && m[3] != "" {
			for _, arg := range strings.Split(m[3], ",") {
				i, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(arg), "$"))
				if err != nil {
					t.Fatalf("bad aggregate argument %q", arg)
				}
				c.Args = append(c.Args, i)
				c.ArgTypes = append(c.ArgTypes, in[i])
			}
		}
		if m[4] != "" {
			c.Filter, _ = strconv.Atoi(m[4])
		}
		rt, err := AggResultType(c.Func, c.Distinct, c.ArgTypes)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		c.Type = rt
		calls = append(calls, c)
	}
	return calls
}

// changes generates random pushes of rows from mk on input in, retracting earlier rows (as -D or -U then
// +U of a new row) with probability retract, in batches of 1..3 rows.
type changes struct {
	rng     *rand.Rand
	live    [][][]types.Value // per input
	retract float64
	update  bool // retractions may be -U/+U pairs
}

func (c *changes) next(in int, mk func() []types.Value) step {
	for len(c.live) <= in {
		c.live = append(c.live, nil)
	}
	var rows []changelog.Row
	for range 1 + c.rng.IntN(3) {
		live := c.live[in]
		if len(live) > 0 && c.rng.Float64() < c.retract {
			i := c.rng.IntN(len(live))
			old := live[i]
			c.live[in] = append(live[:i], live[i+1:]...)
			if c.update && c.rng.IntN(2) == 0 {
				r := mk()
				c.live[in] = append(c.live[in], r)
				rows = append(rows, changelog.Row{Kind: changelog.UpdateBefore, Vals: old}, changelog.Row{Kind: changelog.UpdateAfter, Vals: r})
			} else {
				rows = append(rows, changelog.Row{Kind: changelog.Delete, Vals: old})
			}
			continue
		}
		r := mk()
		c.live[in] = append(c.live[in], r)
		rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: r})
	}
	return step{in: in, rows: rows}
}
