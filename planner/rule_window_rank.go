package planner

import "github.com/sluicesql/sluice/exec"

// windowRankRule makes a ROW_NUMBER, RANK or DENSE_RANK Top-N partitioned by window_start and window_end of windowed input (a
// window TVF or a window aggregate) a WindowRank (Flink's StreamPhysicalWindowRankRule and, for rn = 1
// ordered by the time attribute, StreamPhysicalWindowDeduplicateRule): one final result per window,
// insert-only. It runs after RankLimitPushdownRule, as it needs the limit.
type windowRankRule struct{}

func (windowRankRule) Name() string { return "WindowRankRule" }

func (windowRankRule) Rewrite(n Node) (Node, bool) {
	r, ok := n.(*Rank)
	if !ok || r.Limit < 1 || r.Func != "ROW_NUMBER" && r.Func != "RANK" && r.Func != "DENSE_RANK" {
		return n, false
	}
	start, end := -1, -1
	var ss, es exec.WindowSpec
	for _, c := range r.Partition {
		switch kind, s := windowColumn(r.Input, c); kind {
		case windowStartCol:
			start, ss = c, s
		case windowEndCol:
			end, es = c, s
		}
	}
	if start < 0 || end < 0 || ss != es {
		return n, false
	}
	dedup := false
	if r.Func == "ROW_NUMBER" && r.Limit == 1 && len(r.Order) == 1 {
		kind, _ := windowColumn(r.Input, r.Order[0].Col)
		dedup = kind == windowTimeCol
	}
	return &WindowRank{Input: r.Input, Partition: r.Partition, Order: r.Order, Limit: r.Limit, StartCol: start, EndCol: end,
		Spec: ss, Dedup: dedup, Func: r.Func, Out: r.Out}, true
}
