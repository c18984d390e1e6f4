package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
)

// WindowRank is a Top-N per window (Flink's WindowRank): ROW_NUMBER() OVER (PARTITION BY window_start,
// window_end, ... ORDER BY ...) with a limit, over a window TVF or a window aggregate. It keeps the top rows
// of each partition of an open window and emits them, numbered, as +I when the watermark passes the window's
// end (batch: at the end of input): insert-only. Dedup marks window deduplication (rn = 1 ordered by the
// time attribute: Flink's WindowDeduplicate), which keeps the first row (ASC) or the last row (DESC).
type WindowRank struct {
	Input     Node
	Partition []int // all partition columns, window_start and window_end among them
	Order     []exec.SortKey
	Limit     int64
	StartCol  int // window_start and window_end in the input
	EndCol    int
	Spec      exec.WindowSpec
	Dedup     bool
	Func      string // ROW_NUMBER, RANK or DENSE_RANK
	Out       []Field
}

func (n *WindowRank) Fields() []Field      { return n.Out }
func (n *WindowRank) Inputs() []Node       { return []Node{n.Input} }
func (n *WindowRank) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *WindowRank) Describe() string {
	in := n.Input.Fields()
	var parts []string
	for _, c := range n.Partition {
		if c != n.StartCol && c != n.EndCol {
			parts = append(parts, in[c].Name)
		}
	}
	win := windowBoundsText(n.Spec, in[n.StartCol].Name, in[n.EndCol].Name)
	if n.Dedup {
		keep := "FirstRow"
		if n.Order[0].Desc {
			keep = "LastRow"
		}
		return fmt.Sprintf("WindowDeduplicate(window=[%s], keep=[%s], partitionKeys=[%s], orderKey=[%s], order=[ROWTIME])",
			win, keep, strings.Join(parts, ", "), in[n.Order[0].Col].Name)
	}
	fn := n.Func
	if fn == "" {
		fn = "ROW_NUMBER"
	}
	return fmt.Sprintf("WindowRank(window=[%s], rankType=[%s], rankRange=[rankStart=1, rankEnd=%d], partitionBy=[%s], orderBy=[%s], select=[%s])",
		win, fn, n.Limit, strings.Join(parts, ", "), sortText(n.Order, in), names(n.Out))
}

// windowBoundsText prints a window whose bounds are columns, as Flink's window operators over windowed
// input do: TUMBLE(win_start=[window_start], win_end=[window_end], size=[10 min]).
func windowBoundsText(s exec.WindowSpec, start, end string) string {
	b := fmt.Sprintf("win_start=[%s], win_end=[%s]", start, end)
	switch s.Kind {
	case exec.Session:
		return fmt.Sprintf("SESSION(%s, gap=[%s])", b, durText(s.Size))
	case exec.Hop:
		return fmt.Sprintf("HOP(%s, size=[%s], slide=[%s])", b, durText(s.Size), durText(s.Slide))
	case exec.Cumulate:
		return fmt.Sprintf("CUMULATE(%s, max_size=[%s], step=[%s])", b, durText(s.Size), durText(s.Slide))
	}
	return fmt.Sprintf("TUMBLE(%s, size=[%s])", b, durText(s.Size))
}

// windowColKind is what a column of a plan is with respect to windows.
type windowColKind uint8

const (
	notWindowCol windowColKind = iota
	windowStartCol
	windowEndCol
	windowTimeCol // the window TVF's time attribute or window_time
)

// windowColumn traces column col of n down through projections, filters and window operators to the window
// TVF it comes from, and reports whether it is that TVF's window_start, window_end or time attribute, with
// the TVF's window.
func windowColumn(n Node, col int) (windowColKind, exec.WindowSpec) {
	return windowColumnOf(n, col, false)
}

// windowColumnOf is windowColumn; loose also traces a group key of a plain Aggregate (before the
// window_rewrite phase has made it a window aggregate).
func windowColumnOf(n Node, col int, loose bool) (windowColKind, exec.WindowSpec) {
	for {
		switch x := n.(type) {
		case *WindowTVF:
			nin := len(x.Out)
			switch col {
			case nin - 3:
				return windowStartCol, x.Spec
			case nin - 2:
				return windowEndCol, x.Spec
			case nin - 1, x.TimeCol:
				return windowTimeCol, x.Spec
			}
			return notWindowCol, exec.WindowSpec{}
		case *Calc:
			c, ok := expr.ColumnIndex(x.Projects[col])
			if !ok {
				return notWindowCol, exec.WindowSpec{}
			}
			n, col = x.Input, c
		case *Project:
			c, ok := expr.ColumnIndex(x.Projects[col])
			if !ok {
				return notWindowCol, exec.WindowSpec{}
			}
			n, col = x.Input, c
		case *Filter:
			n = x.Input
		case *WatermarkAssigner:
			n = x.Input
		case *WindowAggregate:
			if col >= len(x.Keys) {
				return notWindowCol, exec.WindowSpec{}
			}
			n, col = x.Input, x.Keys[col]
		case *Aggregate:
			if !loose || col >= len(x.Keys) {
				return notWindowCol, exec.WindowSpec{}
			}
			n, col = x.Input, x.Keys[col]
		case *Expand: // grouping sets: a column kept in every set (grouping_sets.go)
			if col >= len(x.Input.Fields()) || expandNulls(x, col) {
				return notWindowCol, exec.WindowSpec{}
			}
			n = x.Input
		case *WindowRank:
			if col >= len(x.Input.Fields()) {
				return notWindowCol, exec.WindowSpec{}
			}
			n = x.Input
		case *WindowJoin:
			if nl := len(x.Left.Fields()); col >= nl {
				n, col = x.Right, col-nl
			} else {
				n = x.Left
			}
		default:
			return notWindowCol, exec.WindowSpec{}
		}
	}
}

// WindowJoin joins two windowed inputs on window_start and window_end (and more keys): Flink's WindowJoin.
// A window's rows are joined once, when the watermark passes its end (batch: at the end of input), and
// emitted as +I, unmatched rows of outer joins padded with NULLs: insert-only.
type WindowJoin struct {
	Left, Right         Node
	Type                exec.JoinType
	LeftKeys, RightKeys []int // all equi-keys, the window bounds included
	Residual            expr.Expr
	LeftStart, LeftEnd  int
	RightStart          int
	RightEnd            int
	Spec                exec.WindowSpec
	// NullAware (AntiJoin of NOT IN): the last key pair compares as NOT IN does (exec.WindowJoinConfig).
	NullAware bool
	Out       []Field // SemiJoin, AntiJoin: the left columns
}

func (n *WindowJoin) Fields() []Field      { return n.Out }
func (n *WindowJoin) Inputs() []Node       { return []Node{n.Left, n.Right} }
func (n *WindowJoin) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *WindowJoin) Describe() string {
	nl := len(n.Left.Fields())
	both := n.Out
	rf := n.Right.Fields()
	if n.Type == exec.SemiJoin || n.Type == exec.AntiJoin {
		// The subquery's correlation columns ($corr0, ...) by the names they have below, as Flink prints them.
		rf = append([]Field(nil), rf...)
		for i := range rf {
			rf[i].Name = underlyingName(n.Right, i)
		}
		both = joinFields(n.Left, &Values{Out: rf}, false)
	}
	var conds []string
	for i := range n.LeftKeys {
		if n.LeftKeys[i] == n.LeftStart || n.LeftKeys[i] == n.LeftEnd {
			continue
		}
		eq := fmt.Sprintf("=(%s, %s)", both[n.LeftKeys[i]].Name, both[nl+n.RightKeys[i]].Name)
		if n.NullAware && i == len(n.LeftKeys)-1 {
			eq = fmt.Sprintf("OR(%s, IS NULL(%s))", eq, eq)
		}
		conds = append(conds, eq)
	}
	if n.Residual != nil {
		conds = append(conds, n.Residual.String())
	}
	where := "true"
	switch len(conds) {
	case 0:
	case 1:
		where = conds[0]
	default:
		where = "AND(" + strings.Join(conds, ", ") + ")"
	}
	lf := n.Left.Fields()
	return fmt.Sprintf("WindowJoin(leftWindow=[%s], rightWindow=[%s], joinType=[%s], where=[%s], select=[%s])",
		windowBoundsText(n.Spec, lf[n.LeftStart].Name, lf[n.LeftEnd].Name), windowBoundsText(n.Spec, rf[n.RightStart].Name, rf[n.RightEnd].Name),
		n.Type, where, names(n.Out))
}

// underlyingName is the name of column col of n, or for a generated name ($corr0) the name of the column it
// projects unchanged.
func underlyingName(n Node, col int) string {
	for {
		name := n.Fields()[col].Name
		var projects []expr.Expr
		switch x := n.(type) {
		case *exchange: // EXPLAIN's view only (explain_exchange.go): the same fields
			n = x.Input
			continue
		case *Calc:
			projects, n = x.Projects, x.Input
		case *Project:
			projects, n = x.Projects, x.Input
		default:
			return name
		}
		c, ok := expr.ColumnIndex(projects[col])
		if !strings.HasPrefix(name, "$") || !ok {
			return name
		}
		col = c
	}
}
