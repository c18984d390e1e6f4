package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// setOpRewrite plans INTERSECT and EXCEPT [ALL] as Flink's RewriteIntersectAllRule and RewriteMinusAllRule
// do: each side gets two marker columns (1, 0 on the left; 0, 1 on the right), the union of both is grouped
// by every column with the markers summed (how often the row occurs on each side), and a Calc keeps the
// groups the operation keeps:
//
//	INTERSECT      $l > 0 AND $r > 0
//	EXCEPT         $l > 0 AND $r = 0
//	INTERSECT ALL  the row min($l, $r) times
//	EXCEPT ALL     the row $l - $r times (when positive)
//
// The ALL forms repeat each row with a Replicate node (Flink's REPLICATE_ROWS table function). The group
// aggregate retracts, so updating inputs give a correct changelog; GROUP BY compares NULLs as equal, as
// set operations do.
type setOpRewrite struct{}

func (setOpRewrite) Name() string { return "SetOpRewriteRule" }

func (setOpRewrite) Rewrite(n Node) (Node, bool) {
	s, ok := n.(*SetOp)
	if !ok {
		return n, false
	}
	fields := s.Left.Fields()
	k := len(fields)
	count := types.BigIntType().WithNullable(false)
	marked := func(in Node, l, r int64) Node {
		out := append(append([]Field{}, fields...), Field{Name: "$l", Type: count}, Field{Name: "$r", Type: count})
		projects := append(identity(in.Fields()), expr.Literal(types.IntValue(l), count), expr.Literal(types.IntValue(r), count))
		return &Calc{Input: in, Projects: projects, Out: out}
	}
	u := &Union{Ins: []Node{marked(s.Left, 1, 0), marked(s.Right, 0, 1)}}
	keys := make([]int, k)
	for i := range keys {
		keys[i] = i
	}
	sum := func(col int) exec.AggCall {
		return exec.AggCall{Func: "SUM0", Args: []int{col}, ArgTypes: []types.Type{count}, Type: count, Filter: -1}
	}
	aggOut := append(append([]Field{}, fields...), Field{Name: "$cl", Type: count}, Field{Name: "$cr", Type: count})
	agg := &Aggregate{Input: u, Keys: keys, Aggs: []exec.AggCall{sum(k), sum(k + 1)}, Out: aggOut}
	cl, cr := expr.Column(k, "$cl", count), expr.Column(k+1, "$cr", count)
	zero := expr.Literal(types.IntValue(0), count)
	if !s.All {
		var right expr.Expr
		if s.Op == "INTERSECT" {
			right = call(">", cr, zero)
		} else {
			right = call("=", cr, zero)
		}
		return &Calc{Input: agg, Projects: identity(fields), Filter: call("AND", call(">", cl, zero), right), Out: fields}, true
	}
	var times expr.Expr
	if s.Op == "INTERSECT" {
		x, err := expr.CaseWhen([]expr.Expr{call("<", cl, cr)}, []expr.Expr{cl}, cr)
		if err != nil {
			panic(fmt.Sprintf("planner: SetOpRewriteRule: %v", err))
		}
		times = x
	} else {
		times = call("-", cl, cr)
	}
	withTimes := append(append([]Field{}, fields...), Field{Name: "$times", Type: count})
	c := &Calc{Input: agg, Projects: append(identity(fields), times), Filter: call(">", times, zero), Out: withTimes}
	return &Replicate{Input: c, Out: fields}, true
}

// call binds a built-in operator over arguments whose types the rule knows fit (BIGINT NOT NULL
// comparisons, arithmetic, AND): an error is a planner bug.
func call(name string, args ...expr.Expr) expr.Expr {
	x, err := expr.Call(nil, name, args...)
	if err != nil {
		panic(fmt.Sprintf("planner: %s: %v", name, err))
	}
	return x
}
