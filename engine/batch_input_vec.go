package engine

import (
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/vec"
)

// A batch stage whose bottom is a keyless batch GROUP BY (under Calcs only) reads its input files as columns,
// so the aggregate runs on them (exec groupagg_batch.go): stageInput passes the columnar batches through,
// counting their rows as Push does. Every other stage reads rows as before (columns reaching its stageInput
// are converted): a keyed GROUP BY reads its input through a sort, which takes rows and emits columns to the
// aggregate (exec sort_vec.go), so the keyed aggregate runs on columns too.

// batchSortRows makes the sort of a keyed batch GROUP BY emit rows (tests compare the two paths).
var batchSortRows bool

// AcceptsColumns: the stage reads columns and the chain below takes them.
func (s *stageInput) AcceptsColumns() bool { return s.cols && vec.Accepts(s.out) }

// PushColumns is Push for a columnar batch.
func (s *stageInput) PushColumns(b *vec.Batch) error {
	if !s.cols {
		return s.Push(s.conv.Rows(b))
	}
	n := s.run.rows.Add(int64(b.Len()))
	if err := vec.Push(s.out, b, &s.conv); err != nil {
		return s.branchErr(err)
	}
	if stageFault != nil {
		return s.branchErr(stageFault(s.tk.st, s.tk.index, s.attempt, n, false))
	}
	return nil
}

var _ vec.Output = (*stageInput)(nil)

// keylessAggColumns reports whether the stage of root (its inputs are the cut nodes) holds a batch GROUP BY
// without keys whose input is a cut node under Calcs only.
func keylessAggColumns(root planner.Node, cut map[planner.Node]bool) bool {
	var walk func(n planner.Node, top bool) bool
	walk = func(n planner.Node, top bool) bool {
		if !top && cut[n] {
			return false
		}
		if a, ok := n.(*planner.Aggregate); ok && a.Batch && len(a.Keys) == 0 && len(a.InputSort) == 0 {
			in := a.Input
			for !cut[in] {
				c, ok := in.(*planner.Calc)
				if !ok {
					return false
				}
				in = c.Input
			}
			return true
		}
		for _, c := range n.Inputs() {
			if walk(c, false) {
				return true
			}
		}
		return false
	}
	return walk(root, true)
}
