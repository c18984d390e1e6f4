package planner

import "github.com/sluicesql/sluice/exec"

// windowJoinRule makes a join of two windowed inputs whose condition equates both sides' window_start and
// window_end a WindowJoin (Flink's StreamPhysicalWindowJoinRule): each window's rows are joined once when
// the window closes, outer joins pad then, and the output is insert-only. Both sides must use the same
// window.
type windowJoinRule struct{}

func (windowJoinRule) Name() string { return "WindowJoinRule" }

func (windowJoinRule) Rewrite(n Node) (Node, bool) {
	j, ok := n.(*Join)
	if !ok {
		return n, false
	}
	ls, le, rs, re := -1, -1, -1, -1
	var specs []exec.WindowSpec
	for i := range j.LeftKeys {
		lk, lsp := windowColumn(j.Left, j.LeftKeys[i])
		rk, rsp := windowColumn(j.Right, j.RightKeys[i])
		if lk != rk || lk != windowStartCol && lk != windowEndCol {
			continue
		}
		specs = append(specs, lsp, rsp)
		if lk == windowStartCol {
			ls, rs = j.LeftKeys[i], j.RightKeys[i]
		} else {
			le, re = j.LeftKeys[i], j.RightKeys[i]
		}
	}
	if ls < 0 || le < 0 {
		return n, false
	}
	for _, s := range specs[1:] {
		if s != specs[0] {
			return n, false
		}
	}
	return &WindowJoin{Left: j.Left, Right: j.Right, Type: j.Type, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Residual: j.Residual,
		LeftStart: ls, LeftEnd: le, RightStart: rs, RightEnd: re, Spec: specs[0], Out: j.Out}, true
}
