package planner

import "github.com/sluicesql/sluice/exec"

// inSubqueryToSemiJoin plans `x IN (SELECT y ...)` as an inner join of the input with the distinct values of
// the subquery, keeping the input's columns: a semi-join (Flink's SubQueryRemoveRule and
// FlinkSemiAntiJoinProjectTransposeRule). The distinct aggregate retracts, so updating subqueries stay
// correct.
type inSubqueryToSemiJoin struct{}

func (inSubqueryToSemiJoin) Name() string { return "InSubqueryToSemiJoinRule" }

func (inSubqueryToSemiJoin) Rewrite(n Node) (Node, bool) {
	s, ok := n.(*InSubquery)
	if !ok {
		return n, false
	}
	fields := s.Input.Fields()
	sf := s.Sub.Fields()
	out := append(append([]Field{}, fields...), Field{Name: "$in", Type: sf[0].Type})
	j := &Join{Left: s.Input, Right: distinctOf(s.Sub), Type: exec.InnerJoin, LeftKeys: []int{s.Col}, RightKeys: []int{0}, Out: out}
	return &Calc{Input: j, Projects: identity(fields), Out: fields}, true
}

// distinctOf groups n by every column.
func distinctOf(n Node) Node {
	fs := n.Fields()
	keys := make([]int, len(fs))
	for i := range keys {
		keys[i] = i
	}
	return &Aggregate{Input: n, Keys: keys, Out: append([]Field(nil), fs...)}
}
