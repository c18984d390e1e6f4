package planner

import (
	"github.com/sluicesql/sluice/exec"
)

// windowSemiJoinRule makes a correlated subquery filter over two windowed inputs whose correlation equates
// both sides' window_start and window_end a WindowJoin of type SemiJoin (EXISTS, IN) or AntiJoin (NOT
// EXISTS, NOT IN), as Flink plans them (its window join with joinType=[SemiJoin]/[AntiJoin]): a window's
// left rows are emitted once, when the window closes, and the output is insert-only. NOT IN keeps its NULL
// semantics with a null-aware last key (exec.WindowJoinConfig.NullAware). Both sides must use the same
// window; the subquery_rewrite phase leaves such filters to this rule (subqueryToJoin.deferWindowed) and
// plans the ones this rule does not take as regular joins after it.
type windowSemiJoinRule struct{}

func (windowSemiJoinRule) Name() string { return "WindowSemiJoinRule" }

func (windowSemiJoinRule) Rewrite(n Node) (Node, bool) {
	s, ok := n.(*SubqueryJoin)
	if !ok {
		return n, false
	}
	lkeys, rkeys := s.Keys, seq(len(s.Keys))
	if s.Kind == SubqueryNotIn {
		// The NOT IN pair (x, y) last: the others are the correlation, which groups the subquery's rows.
		lkeys = append(append([]int{}, s.Keys[1:]...), s.Keys[0])
		rkeys = append(seq(len(s.Keys))[1:], 0)
	}
	ls, le, rs, re, spec, ok := windowKeyPairs(s.Input, s.Sub, lkeys, rkeys, false)
	if !ok || s.Kind == SubqueryNotIn && (lkeys[len(lkeys)-1] == ls || lkeys[len(lkeys)-1] == le) {
		return n, false
	}
	typ := exec.SemiJoin
	if s.Kind != SubqueryExists {
		typ = exec.AntiJoin
	}
	return &WindowJoin{Left: s.Input, Right: s.Sub, Type: typ, LeftKeys: lkeys, RightKeys: rkeys, NullAware: s.Kind == SubqueryNotIn,
		LeftStart: ls, LeftEnd: le, RightStart: rs, RightEnd: re, Spec: spec, Out: s.Input.Fields()}, true
}

// windowKeyPairs finds among the key pairs of l and r the ones that equate window_start and window_end of
// both sides (traced by windowColumn; loose also sees through a plain Aggregate grouped by them, which the
// window_rewrite phase makes a window aggregate) and checks that all of them come from the same window.
func windowKeyPairs(l, r Node, lkeys, rkeys []int, loose bool) (ls, le, rs, re int, spec exec.WindowSpec, ok bool) {
	ls, le, rs, re = -1, -1, -1, -1
	var specs []exec.WindowSpec
	for i := range lkeys {
		lk, lsp := windowColumnOf(l, lkeys[i], loose)
		rk, rsp := windowColumnOf(r, rkeys[i], loose)
		if lk != rk || lk != windowStartCol && lk != windowEndCol {
			continue
		}
		specs = append(specs, lsp, rsp)
		if lk == windowStartCol {
			ls, rs = lkeys[i], rkeys[i]
		} else {
			le, re = lkeys[i], rkeys[i]
		}
	}
	if ls < 0 || le < 0 {
		return 0, 0, 0, 0, spec, false
	}
	for _, s := range specs[1:] {
		if s != specs[0] {
			return 0, 0, 0, 0, spec, false
		}
	}
	return ls, le, rs, re, specs[0], true
}

// windowedSubquery reports whether the window_operators phase may make s a window join (see
// windowSemiJoinRule): its correlation equates window_start and window_end of both sides.
func windowedSubquery(s *SubqueryJoin) bool {
	if len(s.Keys) < 2 {
		return false
	}
	_, _, _, _, _, ok := windowKeyPairs(s.Input, s.Sub, s.Keys, seq(len(s.Keys)), true)
	return ok
}
