package planner

// groupWindowToTVF rewrites a group window of Flink 1.12's syntax (GROUP BY TUMBLE(ts, ...), HOP, SESSION)
// onto the window table function of the same window, so that both syntaxes share one plan (the aggregate
// above becomes a window aggregate by windowAggregateRule).
type groupWindowToTVF struct{}

func (groupWindowToTVF) Name() string { return "GroupWindowToWindowTVFRule" }

func (groupWindowToTVF) Rewrite(n Node) (Node, bool) {
	g, ok := n.(*GroupWindow)
	if !ok {
		return n, false
	}
	w := g.Window
	return &w, true
}
