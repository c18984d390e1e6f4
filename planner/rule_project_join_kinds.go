package planner

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// The join kinds ProjectJoinTransposeRule prunes besides regular and interval joins (pruneJoin): window
// joins, event-time temporal joins and lookup joins. Each keeps what the join itself reads — its keys, its
// residual condition, a window join's window_start and window_end, a temporal join's two time columns (the
// versioned side's keys are its primary key, which the binder requires in the condition) — and what its
// reader reads. A lookup join's dimension columns are the lookup source's rows, which it returns whole
// (connectors.LookupSource has no projection): only its probe side is pruned.

// pruneAnyJoin returns the join n over inputs that keep only the columns marked in used (indexes of n's
// output, which it may mark further) and the ones n reads itself, and the renumbering of n's output columns;
// false when n is not a join, when nothing is dropped or when n's condition cannot be renumbered.
func pruneAnyJoin(n Node, used []bool) (Node, func(int) (int, bool), bool) {
	switch j := n.(type) {
	case *Join:
		if nj, to, ok := pruneJoin(j, used); ok {
			return nj, to, true
		}
	case *WindowJoin:
		return pruneWindowJoin(j, used)
	case *TemporalJoin:
		return pruneTemporalJoin(j, used)
	case *LookupJoin:
		return pruneLookupJoin(j, used)
	}
	return nil, nil, false
}

// keepSides splits used (the columns of both sides, nl of them on the left) into the columns each side
// keeps and the renumbering of both sides' columns after the pruning (pos: -1 when dropped); false when
// nothing is dropped. A side none of whose columns is read keeps its first one: rows are never empty.
func keepSides(used []bool, nl int) (lkeep, rkeep, pos []int, ok bool) {
	for i, u := range used {
		switch {
		case !u:
		case i < nl:
			lkeep = append(lkeep, i)
		default:
			rkeep = append(rkeep, i-nl)
		}
	}
	if len(lkeep) == nl && len(rkeep) == len(used)-nl {
		return nil, nil, nil, false
	}
	if len(lkeep) == 0 && nl > 0 {
		lkeep, used[0] = []int{0}, true
	}
	if len(rkeep) == 0 && len(used) > nl {
		rkeep, used[nl] = []int{0}, true
	}
	pos = make([]int, len(used))
	next := 0
	for i, u := range used {
		pos[i] = -1
		if u {
			pos[i] = next
			next++
		}
	}
	return lkeep, rkeep, pos, true
}

// posMap is the renumbering function of pos (from keepSides).
func posMap(pos []int) func(int) (int, bool) {
	return func(c int) (int, bool) {
		if c < 0 || c >= len(pos) || pos[c] < 0 {
			return 0, false
		}
		return pos[c], true
	}
}

// keptFields returns the fields of out whose pos is not -1.
func keptFields(out []Field, pos []int) []Field {
	var fs []Field
	for i, f := range out {
		if pos[i] >= 0 {
			fs = append(fs, f)
		}
	}
	return fs
}

// pruneWindowJoin prunes a window join's inputs. A semi or anti window join outputs its left columns only:
// its right side (the subquery's correlation columns) is kept whole.
func pruneWindowJoin(j *WindowJoin, readerUsed []bool) (Node, func(int) (int, bool), bool) {
	nl, nr := len(j.Left.Fields()), len(j.Right.Fields())
	used := make([]bool, nl+nr)
	copy(used, readerUsed)
	if j.Type == exec.SemiJoin || j.Type == exec.AntiJoin {
		for i := nl; i < nl+nr; i++ {
			used[i] = true
		}
	}
	for _, k := range j.LeftKeys {
		used[k] = true
	}
	for _, k := range j.RightKeys {
		used[nl+k] = true
	}
	used[j.LeftStart], used[j.LeftEnd], used[nl+j.RightStart], used[nl+j.RightEnd] = true, true, true, true
	if j.Residual != nil && !markColumns(j.Residual, used) {
		return nil, nil, false
	}
	lkeep, rkeep, pos, ok := keepSides(used, nl)
	if !ok {
		return nil, nil, false
	}
	to := posMap(pos)
	nlNew := len(lkeep)
	nj := *j
	nj.Left, nj.Right = pruneInput(j.Left, lkeep), pruneInput(j.Right, rkeep)
	nj.LeftKeys, nj.RightKeys = mapSide(j.LeftKeys, pos, 0, 0), mapSide(j.RightKeys, pos, nl, nlNew)
	nj.LeftStart, nj.LeftEnd = pos[j.LeftStart], pos[j.LeftEnd]
	nj.RightStart, nj.RightEnd = pos[nl+j.RightStart]-nlNew, pos[nl+j.RightEnd]-nlNew
	if j.Residual != nil {
		if nj.Residual, ok = expr.MapColumns(j.Residual, to); !ok {
			return nil, nil, false
		}
	}
	nj.Out = keptFields(j.Out, pos)
	return &nj, to, true
}

// pruneTemporalJoin prunes an event-time temporal join's inputs: the probe side to its keys, its time
// column and what is read; the versioned side to its primary key (the right keys), its version time and what
// is read.
func pruneTemporalJoin(j *TemporalJoin, readerUsed []bool) (Node, func(int) (int, bool), bool) {
	nl := len(j.Left.Fields())
	used := append([]bool(nil), readerUsed...)
	for _, k := range j.LeftKeys {
		used[k] = true
	}
	for _, k := range j.RightKeys {
		used[nl+k] = true
	}
	used[j.LeftTime], used[nl+j.RightTime] = true, true
	lkeep, rkeep, pos, ok := keepSides(used, nl)
	if !ok {
		return nil, nil, false
	}
	nlNew := len(lkeep)
	nj := *j
	nj.Left, nj.Right = pruneInput(j.Left, lkeep), pruneInput(j.Right, rkeep)
	nj.LeftKeys, nj.RightKeys = mapSide(j.LeftKeys, pos, 0, 0), mapSide(j.RightKeys, pos, nl, nlNew)
	nj.LeftTime, nj.RightTime = pos[j.LeftTime], pos[nl+j.RightTime]-nlNew
	nj.Out = keptFields(j.Out, pos)
	return &nj, posMap(pos), true
}

// pruneLookupJoin prunes a lookup join's probe side to its keys and what is read; the dimension columns
// stay (the lookup returns whole rows).
func pruneLookupJoin(j *LookupJoin, readerUsed []bool) (Node, func(int) (int, bool), bool) {
	nin := len(j.Input.Fields())
	used := append([]bool(nil), readerUsed...)
	for i := nin; i < len(used); i++ {
		used[i] = true
	}
	for _, k := range j.LeftKeys {
		used[k] = true
	}
	keep, _, pos, ok := keepSides(used, nin)
	if !ok {
		return nil, nil, false
	}
	nj := *j
	nj.Input = pruneInput(j.Input, keep)
	nj.LeftKeys = mapSide(j.LeftKeys, pos, 0, 0)
	nj.Out = keptFields(j.Out, pos)
	return &nj, posMap(pos), true
}

// mapSide renumbers the columns cols of one side (off: the side's first column among both sides' columns;
// newOff: the same after the pruning) through pos.
func mapSide(cols []int, pos []int, off, newOff int) []int {
	out := make([]int, len(cols))
	for i, c := range cols {
		out[i] = pos[off+c] - newOff
	}
	return out
}
