package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A random pattern as Flink's planner accepts it: no empty matches, no greedy loop last, no reluctant `??`.
func randomPattern(rng *rand.Rand) []MatchElem {
	for {
		n := 1 + rng.IntN(4)
		elems := make([]MatchElem, n)
		for i := range elems {
			var e MatchElem
			switch rng.IntN(8) {
			case 0, 1, 2:
				e = MatchElem{Min: 1, Max: 1}
			case 3:
				e = MatchElem{Min: 0, Max: -1} // *
			case 4:
				e = MatchElem{Min: 1, Max: -1} // +
			case 5:
				e = MatchElem{Min: 0, Max: 1} // ?
			case 6:
				lo := rng.IntN(3)
				e = MatchElem{Min: lo, Max: lo + 1 + rng.IntN(2)} // {n,m}
			default:
				lo := 1 + rng.IntN(2)
				e = MatchElem{Min: lo, Max: lo} // {n}
			}
			optional := e.Min == 0 && e.Max == 1
			fixed := e.Min == e.Max
			if !optional && !fixed {
				e.Greedy = rng.IntN(2) == 0
			}
			elems[i] = e
		}
		last := elems[n-1]
		if last.Greedy {
			continue
		}
		empty := true
		for _, e := range elems {
			empty = empty && e.Min == 0
		}
		if empty {
			continue
		}
		return elems
	}
}

func patternString(elems []MatchElem) string {
	var parts []string
	for i, e := range elems {
		q := fmt.Sprintf("{%d,%d}", e.Min, e.Max)
		if !e.Greedy && !(e.Min == e.Max) && !(e.Min == 0 && e.Max == 1) {
			q += "?"
		}
		parts = append(parts, fmt.Sprintf("%c%s", 'A'+i, q))
	}
	return strings.Join(parts, " ")
}

// testCond is a DEFINE that may look at the rows already mapped: kind 0 true, 1 value == k, 2 value < k,
// 3 value > the last row of the same variable (or true), 4 the sum of the variable's values stays < k.
type testCond struct{ kind, k int }

func evalTestCond(c testCond, vals []int, start int64, classes []uint8, elem int, at int64) bool {
	v := vals[at]
	switch c.kind {
	case 1:
		return v == c.k
	case 2:
		return v < c.k
	case 3:
		for i := len(classes) - 1; i >= 0; i-- {
			if int(classes[i]) == elem {
				return v > vals[start+int64(i)]
			}
		}
		return true
	case 4:
		sum := v
		for i, cl := range classes {
			if int(cl) == elem {
				sum += vals[start+int64(i)]
			}
		}
		return sum < c.k
	}
	return true
}

// refMatches enumerates by backtracking every match starting at row s.
func refMatches(elems []MatchElem, conds []testCond, vals []int, ts []int64, within int64, s int) [][]uint8 {
	var out [][]uint8
	var walk func(i, c int, classes []uint8)
	walk = func(i, c int, classes []uint8) {
		k := s + len(classes)
		if i == len(elems) || k == len(vals) || within > 0 && ts[k]-ts[s] >= within {
			return
		}
		e := elems[i]
		canTake := (e.Max < 0 || c < e.Max) && evalTestCond(conds[i], vals, int64(s), classes, i, int64(k))
		canProceed := c >= e.Min && !(e.Greedy && canTake)
		if canTake {
			nc := append(slices.Clone(classes), uint8(i))
			final := c+1 >= e.Min
			for j := i + 1; j < len(elems); j++ {
				final = final && elems[j].Min == 0
			}
			if final {
				out = append(out, nc)
			}
			walk(i, c+1, nc)
		}
		if canProceed {
			walk(i+1, 0, classes)
		}
	}
	walk(0, 0, nil)
	return out
}

// refEmit picks the emitted matches from all matches: repeatedly the first by (start, length, mapping) among
// starts the skip strategy has not excluded.
func refEmit(elems []MatchElem, conds []testCond, vals []int, ts []int64, within int64, skip MatchSkip, skipVar int) (string, error) {
	var all []*nfaMatch
	for s := range vals {
		for _, cl := range refMatches(elems, conds, vals, ts, within, s) {
			all = append(all, &nfaMatch{start: int64(s), startTs: ts[s], classes: cl})
		}
	}
	slices.SortStableFunc(all, compareMatches)
	var b strings.Builder
	lb := int64(0)
	for _, m := range all {
		if m.start < lb {
			continue
		}
		fmt.Fprintf(&b, "%d:%v ", m.start, m.classes)
		switch skip {
		case SkipPastLastRow:
			lb = m.end() + 1
		case SkipToNextRow:
			lb = m.start + 1
		default:
			at := -1
			for k, c := range m.classes {
				if int(c) == skipVar && (skip == SkipToLast || at < 0) {
					at = k
				}
			}
			if at <= 0 {
				return b.String(), fmt.Errorf("skip error")
			}
			lb = m.start + int64(at)
		}
	}
	return b.String(), nil
}

// runNFA feeds the rows one by one, with watermarks after random rows, and collects the emitted matches.
func runNFA(rng *rand.Rand, elems []MatchElem, conds []testCond, vals []int, ts []int64, within int64, skip MatchSkip, skipVar int) (string, error) {
	var n nfa
	var b strings.Builder
	drain := func() error {
		for m := n.ready(); m != nil; m = n.ready() {
			fmt.Fprintf(&b, "%d:%v ", m.start, m.classes)
			if err := n.emitted(m, skip, skipVar, "V"); err != nil {
				return err
			}
		}
		return nil
	}
	cond := func(r *nfaRun, elem int, at int64) (bool, error) {
		return evalTestCond(conds[elem], vals, r.start, r.classes, elem, at), nil
	}
	for i := range vals {
		if err := n.step(elems, int64(i), ts[i], within, cond); err != nil {
			return b.String(), err
		}
		if err := drain(); err != nil {
			return b.String(), fmt.Errorf("skip error")
		}
		if within > 0 && rng.IntN(3) == 0 {
			n.timeout(ts[i], within) // a watermark at the last row's time
			if err := drain(); err != nil {
				return b.String(), fmt.Errorf("skip error")
			}
		}
	}
	n.runs = nil
	if err := drain(); err != nil {
		return b.String(), fmt.Errorf("skip error")
	}
	return b.String(), nil
}

func TestMatchNFAProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 12))
	nonEmpty := 0
	for iter := range 3000 {
		elems := randomPattern(rng)
		conds := make([]testCond, len(elems))
		for i := range conds {
			conds[i] = testCond{kind: rng.IntN(5), k: rng.IntN(4)}
			if conds[i].kind == 4 {
				conds[i].k = 2 + rng.IntN(8)
			}
		}
		n := rng.IntN(14)
		vals := make([]int, n)
		ts := make([]int64, n)
		t0 := int64(0)
		for i := range vals {
			vals[i] = rng.IntN(4)
			t0 += int64(rng.IntN(3))
			ts[i] = t0
		}
		var within int64
		if rng.IntN(3) == 0 {
			within = 1 + int64(rng.IntN(6))
		}
		skip := MatchSkip(rng.IntN(4))
		skipVar := rng.IntN(len(elems))
		want, wantErr := refEmit(elems, conds, vals, ts, within, skip, skipVar)
		got, gotErr := runNFA(rng, elems, conds, vals, ts, within, skip, skipVar)
		if got != want || (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("iteration %d: pattern %s conds %v skip %d/%d within %d\nvals %v ts %v\nNFA:       %s (%v)\nreference: %s (%v)",
				iter, patternString(elems), conds, skip, skipVar, within, vals, ts, got, gotErr, want, wantErr)
		}
		if want != "" {
			nonEmpty++
		}
	}
	if nonEmpty < 1000 {
		t.Fatalf("only %d of 3000 random cases produced a match; the generator is too weak", nonEmpty)
	}
}
