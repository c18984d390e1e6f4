package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// TemporalSort is Flink's streaming ORDER BY whose first key is a time attribute, ascending (without
// LIMIT): rows are released in order as the watermark passes their rowtime, ties sorted by the further keys;
// insert-only (exec.NewTemporalSort). Over a processing-time attribute (Proctime), the processing-time clock
// drives it (exec.NewProctimeClock): rows are released once the clock has passed their PROCTIME(), rows of
// the same millisecond sorted by the further keys. Chosen by the physical pass for a SortLimit without limit.
type TemporalSort struct {
	Input    Node
	Keys     []exec.SortKey
	Proctime bool
}

func (n *TemporalSort) Fields() []Field      { return n.Input.Fields() }
func (n *TemporalSort) Inputs() []Node       { return []Node{n.Input} }
func (n *TemporalSort) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *TemporalSort) Describe() string {
	return fmt.Sprintf("TemporalSort(orderBy=[%s])", sortText(n.Keys, n.Input.Fields()))
}

// temporalSort returns the streaming plan of ORDER BY without LIMIT: a TemporalSort when the first key is
// a rowtime attribute in ascending order over insert-only input; Flink's error otherwise.
func temporalSort(x *SortLimit) (Node, error) {
	k := x.Keys[0]
	proctime := isProctimeCol(x.Input, k.Col)
	if x.Offset > 0 || k.Desc || !proctime && !isRowtimeCol(x.Input, k.Col) {
		return nil, sql.Errorf(x.OrderPos, ErrUnsupported, "Sort on a non-time-attribute field is not supported in streaming mode: ORDER BY needs a time attribute (a column with a WATERMARK) ascending as its first key, a LIMIT (Top-N), or batch mode (SET 'execution.runtime-mode' = 'batch')")
	}
	if !insertOnly(x.Input) {
		return nil, sql.Errorf(x.OrderPos, ErrUnsupported, "ORDER BY a time attribute over an updating query is not supported; its input must be insert-only")
	}
	return &TemporalSort{Input: x.Input, Keys: x.Keys, Proctime: proctime}, nil
}

// isRowtimeCol reports whether column col of n is a rowtime attribute: the rowtime column of a watermark
// assigner, passed up unchanged through projections and filters, and the time attributes that window
// operators keep (time_attr.go).
func isRowtimeCol(n Node, col int) bool {
	for {
		var projects []expr.Expr
		switch x := n.(type) {
		case *WatermarkAssigner:
			fs := x.Input.Fields()
			return col < len(fs) && fs[col].Name == x.Rowtime
		case *Filter, *ChangelogNormalize: // a normalize passes its input's columns on
			n = x.Inputs()[0]
			continue
		case *WindowTVF, *WindowAggregate, *WindowJoin, *WindowRank, *TemporalSort, *MatchRecognize:
			var ok bool
			if n, col, ok = windowTimeInput(n, col); !ok {
				return false
			}
			continue
		case *Calc:
			projects, n = x.Projects, x.Input
		case *Project:
			projects, n = x.Projects, x.Input
		default:
			return false
		}
		if col >= len(projects) {
			return false
		}
		c, ok := expr.ColumnIndex(projects[col])
		if !ok {
			return false
		}
		col = c
	}
}
