package exec

import (
	"cmp"
	"fmt"
	"slices"
)

// MatchElem is one pattern variable of a MATCH_RECOGNIZE pattern with its quantifier: Min..Max rows (Max -1:
// unbounded). Greedy is Flink's GREEDY property, which the SQL planner sets on greedy quantifiers other than
// `?` and {n}: while a row can still be taken by the variable, the pattern does not proceed past it on that
// row (Flink's NFACompiler.updateWithGreedyCondition). Without it (reluctant, `?`, {n}) both ways are tried.
type MatchElem struct {
	Min, Max int
	Greedy   bool
}

// MatchSkip is the AFTER MATCH SKIP strategy.
type MatchSkip uint8

const (
	SkipPastLastRow MatchSkip = iota // the default
	SkipToNextRow
	SkipToFirst // SkipVar's first row
	SkipToLast  // SkipVar's last row
)

// The NFA of a pattern follows Flink's CEP library as the SQL planner configures it (strict contiguity,
// one computation per start row, matches emitted by start row):
//
//   - every row starts a new run; a run holds its rows (consecutive input rows from its start) and the
//     pattern variable each was mapped to; for each new row a run branches into every way the row can
//     continue it (take the row into the current variable while under Max and its DEFINE holds; proceed to
//     the next variable once at Min, unless Greedy and the row can be taken), and dies when there is none;
//   - a run that takes a row after which the rest of the pattern may be empty completes a match (it also
//     lives on when it can take more rows);
//   - a completed match waits while a run that started earlier is alive (Flink's
//     processMatchesAccordingToSkipStrategy); matches are emitted by start row, then end row, then the
//     mapping (smaller variable indexes first); each emitted match prunes the runs and waiting matches that
//     the skip strategy excludes: PAST LAST ROW those starting at or before its last row, TO NEXT ROW those
//     starting at or before its first row, TO FIRST/LAST v those starting before v's first/last row;
//   - WITHIN d: a run started at time t is dropped when a row or the watermark reaches t + d (Flink's
//     timestamp - start >= window), so every row of a match is less than d after its first;
//   - at the end of input, runs that did not complete are dropped and the waiting matches are emitted.

// nfaRun is a partial match: the rows from start, the variable (pattern element) of each, and the element
// and count it is at.
type nfaRun struct {
	start   int64 // sequence number of its first row
	startTs int64
	elem    int
	count   int
	classes []uint8 // element index per row from start
}

// nfaMatch is a completed match waiting to be emitted.
type nfaMatch struct {
	start, startTs int64
	classes        []uint8
}

func (m *nfaMatch) end() int64 { return m.start + int64(len(m.classes)) - 1 }

func compareMatches(a, b *nfaMatch) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.classes), len(b.classes)); c != 0 {
		return c
	}
	return slices.Compare(a.classes, b.classes)
}

// maxRuns bounds the partial matches of one partition (a pattern such as A B*? C*? over rows that satisfy
// everything branches into very many).
const maxRuns = 100_000

// nfa is the per-partition matcher state.
type nfa struct {
	runs    []*nfaRun
	waiting []*nfaMatch
	spare   []*nfaRun // the previous step's run slice, reused
	fresh   nfaRun    // the run starting at the current row (never kept: take copies)
	free    []*nfaRun // runs of earlier steps, for take to reuse
}

// nfaCond reports whether the row seq, mapped to element elem, satisfies elem's DEFINE given the run's rows.
type nfaCond func(r *nfaRun, elem int, seq int64) (bool, error)

// step feeds row seq (time ts) to every run and a new run starting at it; completed matches join waiting.
func (n *nfa) step(elems []MatchElem, seq, ts int64, within int64, cond nfaCond) error {
	if within > 0 {
		n.timeout(ts, within)
	}
	old := append(n.runs, &n.fresh)
	n.fresh = nfaRun{start: seq, startTs: ts}
	n.runs = n.spare[:0]
	for _, r := range old {
		if err := n.branch(elems, r, r.elem, r.count, seq, cond); err != nil {
			return err
		}
	}
	for _, r := range old[:len(old)-1] {
		r.classes = nil
		n.free = append(n.free, r)
	}
	clear(old)
	n.spare = old
	if len(n.runs) > maxRuns {
		return fmt.Errorf("MATCH_RECOGNIZE: more than %d partial matches in one partition; bound the pattern with WITHIN or make the DEFINE conditions exclusive", maxRuns)
	}
	slices.SortStableFunc(n.waiting, compareMatches)
	return nil
}

// branch explores the ways row seq continues run r from element i having taken c rows of it.
func (n *nfa) branch(elems []MatchElem, r *nfaRun, i, c int, seq int64, cond nfaCond) error {
	if i == len(elems) {
		return nil
	}
	e := elems[i]
	canTake := false
	if e.Max < 0 || c < e.Max {
		ok, err := cond(r, i, seq)
		if err != nil {
			return err
		}
		canTake = ok
	}
	canProceed := c >= e.Min && !(e.Greedy && canTake)
	if canProceed && !e.Greedy {
		// Reluctant: proceeding first only orders the runs; both are kept.
		if err := n.branch(elems, r, i+1, 0, seq, cond); err != nil {
			return err
		}
	}
	if canTake {
		n.take(elems, r, i, c+1)
	}
	if canProceed && e.Greedy {
		return n.branch(elems, r, i+1, 0, seq, cond)
	}
	return nil
}

// take records that r took the row into element i, now at count c.
func (n *nfa) take(elems []MatchElem, r *nfaRun, i, c int) {
	classes := make([]uint8, len(r.classes)+1)
	copy(classes, r.classes)
	classes[len(r.classes)] = uint8(i)
	final := c >= elems[i].Min
	for j := i + 1; j < len(elems) && final; j++ {
		final = elems[j].Min == 0
	}
	if final {
		n.waiting = append(n.waiting, &nfaMatch{start: r.start, startTs: r.startTs, classes: classes})
	}
	if elems[i].Max < 0 || c < elems[i].Max || i+1 < len(elems) {
		var nr *nfaRun
		if k := len(n.free); k > 0 {
			nr, n.free = n.free[k-1], n.free[:k-1]
		} else {
			nr = new(nfaRun)
		}
		*nr = nfaRun{start: r.start, startTs: r.startTs, elem: i, count: c, classes: classes}
		n.runs = append(n.runs, nr)
	}
}

// timeout drops the runs that WITHIN excludes at time ts.
func (n *nfa) timeout(ts, within int64) {
	n.runs = slices.DeleteFunc(n.runs, func(r *nfaRun) bool { return ts-r.startTs >= within })
}

// ready returns the next match that may be emitted (no run that started earlier is alive), or nil.
func (n *nfa) ready() *nfaMatch {
	if len(n.waiting) == 0 {
		return nil
	}
	m := n.waiting[0]
	for _, r := range n.runs {
		if r.start < m.start {
			return nil
		}
	}
	return m
}

// emitted removes m (the first waiting match) and prunes by the skip strategy; skipVar is the element of
// SKIP TO FIRST/LAST. It fails as Flink does when the variable has no row in the match or the match would
// resume at its own first row.
func (n *nfa) emitted(m *nfaMatch, skip MatchSkip, skipVar int, skipName string) error {
	n.waiting = n.waiting[1:]
	var cut int64
	inclusive := true
	switch skip {
	case SkipPastLastRow:
		cut = m.end()
	case SkipToNextRow:
		cut = m.start
	case SkipToFirst, SkipToLast:
		at := -1
		for k, c := range m.classes {
			if int(c) == skipVar {
				if skip == SkipToFirst && at >= 0 {
					continue
				}
				at = k
			}
		}
		if at < 0 {
			return fmt.Errorf("MATCH_RECOGNIZE: could not skip to %s: no row of the found match is mapped to %s (AFTER MATCH SKIP TO needs a variable that every match contains)", skipName, skipName)
		}
		if at == 0 {
			where := "FIRST"
			if skip == SkipToLast {
				where = "LAST"
			}
			return fmt.Errorf("MATCH_RECOGNIZE: could not skip to first element of a match: AFTER MATCH SKIP TO %s %s resumes at the row the match started with, which would find the same match again", where, skipName)
		}
		cut, inclusive = m.start+int64(at), false
	}
	pruned := func(start int64) bool { return start < cut || inclusive && start == cut }
	n.runs = slices.DeleteFunc(n.runs, func(r *nfaRun) bool { return pruned(r.start) })
	n.waiting = slices.DeleteFunc(n.waiting, func(w *nfaMatch) bool { return pruned(w.start) })
	return nil
}

// minSeq is the first row any run or waiting match still refers to (limit when there is none).
func (n *nfa) minSeq(limit int64) int64 {
	lo := limit
	for _, r := range n.runs {
		lo = min(lo, r.start)
	}
	for _, m := range n.waiting {
		lo = min(lo, m.start)
	}
	return lo
}
