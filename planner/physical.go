package planner

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// physical turns a rewritten plan into the physical plan for the runtime mode, in two passes:
//
//  1. operator choice (choosePhysical): batch or streaming operators (sort-based aggregation, hash joins,
//     interval joins, Sort / TopN / Limit for ORDER BY and LIMIT), ChangelogNormalize after upsert sources;
//  2. changelog-mode inference and the checks that depend on modes (inferModes), ending with the sink
//     check: one pass over the physical plan, as Flink's FlinkChangelogModeInferenceProgram.
//
// The engine wires what the physical plan says.
func (p *Planner) physical(root Node) (Node, error) {
	n, err := p.choosePhysical(root)
	if err != nil {
		return nil, err
	}
	if err := inferModes(n); err != nil {
		return nil, err
	}
	if err := p.checkProctimeWindows(n); err != nil {
		return nil, err
	}
	return n, nil
}

// choosePhysical rebuilds the plan bottom-up with the operators of the runtime mode. Every node is copied:
// the logical plan stays as it was (EXPLAIN prints it).
func (p *Planner) choosePhysical(n Node) (Node, error) {
	ins := n.Inputs()
	if len(ins) > 0 {
		newIns := make([]Node, len(ins))
		for i, in := range ins {
			out, err := p.choosePhysical(in)
			if err != nil {
				return nil, err
			}
			newIns[i] = out
		}
		n = withInputs(n, newIns)
	}
	switch x := n.(type) {
	case *Scan:
		return p.physicalScan(x)
	case *LookupJoin:
		return p.physicalLookupJoin(x)
	case *Sink:
		if x.Overwrite && !p.Batch {
			return nil, sql.Errorf(x.Pos, ErrUnsupported, "INSERT OVERWRITE is only supported in batch mode (and no sink supports it yet)")
		}
		if x.Overwrite {
			return nil, sql.Errorf(x.Pos, ErrUnsupported, "INSERT OVERWRITE is not supported by connector '%s'", x.Table.Options["connector"])
		}
		s, err := p.createSink(x.Table, x.TablePos)
		if err != nil {
			return nil, err
		}
		x.Sink = s
	case *WindowTVF:
		if x.Proctime || isRowtimeCol(x.Input, x.TimeCol) {
			break // proctime: checked by checkProctimeWindows
		}
		if err := p.checkTimeAttribute(x.Input, x.TimeAttr); err != nil {
			return nil, err
		}
	case *OverAggregate:
		fn := x.offsetFunc()
		x.StreamLag = fn == "LAG" && !p.Batch
		if fn == "LEAD" && !p.Batch {
			return nil, sql.Errorf(x.Pos, ErrUnsupported, "LEAD Function is not supported in stream mode: a streaming OVER emits a row before the rows after it arrive (batch mode runs LEAD; LAG runs in both)")
		}
		if x.Frame.Ahead && !p.Batch && fn != "LAG" {
			unit := "RANGE"
			if x.Frame.Rows {
				unit = "ROWS"
			}
			if x.Frame.EndPreceding {
				return nil, sql.Errorf(x.Pos, ErrUnsupported, "OVER %s windows ending in n PRECEDING are not supported in stream mode: a streaming OVER frame ends at CURRENT ROW (batch mode runs frames ending in PRECEDING)", unit)
			}
			return nil, sql.Errorf(x.Pos, ErrUnsupported, "OVER %s FOLLOWING windows are not supported in stream mode: a streaming OVER frame ends at CURRENT ROW (batch mode runs frames ending in FOLLOWING)", unit)
		}
		if x.Order != nil { // ordered by other than one ascending time column (over.go): batch mode only
			if !p.Batch {
				return nil, x.OrderAttr.err
			}
			break
		}
		if isRowtimeCol(x.Input, x.OrderCol) {
			break
		}
		if err := p.checkTimeAttribute(x.Input, x.OrderAttr); err != nil {
			return nil, err
		}
	case *MatchRecognize:
		if isRowtimeCol(x.Input, x.TimeCol) {
			break
		}
		x.ProcTime = !p.Batch && !hasRowtime(x.Input, x.OrderAttr.name) && hasProctime(x.Input, x.OrderAttr.name)
		if err := p.checkTimeAttribute(x.Input, x.OrderAttr); err != nil && !x.ProcTime {
			return nil, err
		}
	case *TemporalJoin:
		if p.Batch {
			return nil, sql.Errorf(x.Pos, ErrUnsupported, "temporal joins (FOR SYSTEM_TIME AS OF) are not supported in batch mode yet")
		}
		if !isRowtimeCol(x.Left, x.LeftTime) {
			if err := p.checkTimeAttribute(x.Left, x.LeftTimeAttr); err != nil {
				return nil, err
			}
		}
	case *Aggregate:
		x.Batch, x.InputSort = p.Batch, nil
		if p.Batch {
			for _, k := range x.Keys {
				x.InputSort = append(x.InputSort, exec.SortKey{Col: k, NullsFirst: true})
			}
		}
	case *Rank:
		x.Batch = p.Batch
	case *ChangelogNormalize:
		x.Batch = p.Batch
	case *WatermarkAssigner:
		return watermarkBelowNormalize(x), nil // watermark_normalize.go
	case *Join:
		x.Batch = p.Batch
		// An interval join (the condition bounds the two sides' rowtimes against each other) keeps only the
		// rows that can still match as watermarks advance; its inputs must be append-only.
		x.Interval = nil
		if !p.Batch && x.Bounds != nil && x.Left.Mode().IsInsertOnly() && x.Right.Mode().IsInsertOnly() && intervalTimes(x) {
			x.Interval = x.Bounds
		}
	case *SortLimit:
		switch {
		case p.Batch:
			return &Sort{Input: x.Input, Keys: x.Keys, Limit: x.Limit, Offset: x.Offset}, nil
		case len(x.Keys) > 0:
			if x.Limit < 0 {
				return temporalSort(x)
			}
			return &TopN{Input: x.Input, Keys: x.Keys, Limit: x.Limit, Offset: x.Offset}, nil
		}
		return &Limit{Input: x.Input, Limit: x.Limit, Offset: x.Offset, Pos: x.Pos}, nil
	}
	if isLogical(n) {
		return nil, fmt.Errorf("%w: the logical node %s was left by the rewrite phases; please report this with the statement", ErrInternal, n.Describe())
	}
	return n, nil
}

// timeAttribute is a column the binder found where streaming mode needs a time attribute (a column with a
// watermark): the window TVF's time column, the OVER window's order. err is the error to report when it is
// not one.
type timeAttribute struct {
	name string // the column's name as the watermark assigner knows it
	err  error
}

// checkTimeAttribute checks, in streaming mode, that the plan in assigns watermarks on the column of a.
func (p *Planner) checkTimeAttribute(in Node, a timeAttribute) error {
	if p.Batch || a.err == nil || hasRowtime(in, a.name) {
		return nil
	}
	return a.err
}

// physicalScan creates the source of a scan for the runtime mode, checks that batch mode can read it, and
// puts a ChangelogNormalize after an upsert source.
func (p *Planner) physicalScan(x *Scan) (Node, error) {
	tbl := x.Table
	f, err := p.Connectors.SourceFactory(tbl.Options["connector"])
	if err != nil {
		return nil, tableErr(tbl, x.Pos, err)
	}
	src, err := f.CreateSource(p.connectorContext(tbl))
	if err != nil {
		return nil, tableErr(tbl, x.Pos, err)
	}
	if p.Batch && !src.Bounded() {
		return nil, sql.Errorf(x.Pos, ErrValidation, "Querying an unbounded table '%s' in batch mode is not allowed. The table source is unbounded. Make the source bounded (e.g. 'number-of-rows' for datagen, 'scan.bounded.mode' for kafka) or use SET 'execution.runtime-mode' = 'streaming'", qualified(tbl.Name))
	}
	m := src.ChangelogMode()
	if p.Batch && !m.IsInsertOnly() && len(m.UpsertKey) == 0 {
		return nil, sql.Errorf(x.Pos, ErrUnsupported, "Table '%s' is a changelog source (its rows carry %s), which batch mode cannot read yet. Use SET 'execution.runtime-mode' = 'streaming'.", tbl.Name, m.Kinds)
	}
	c := *x
	c.Source = src
	if len(m.UpsertKey) > 0 {
		// An upsert source (upsert-kafka): normalize it into a complete changelog, as Flink does.
		return &ChangelogNormalize{Input: &c, Keys: m.UpsertKey, Batch: p.Batch, MetaCols: metaCols(tbl)}, nil
	}
	return &c, nil
}

// inferModes walks the physical plan bottom-up, infers each node's changelog mode, and refuses what the
// modes make impossible: operators that need append-only input over an updating one, and sinks that cannot
// consume the changes the query produces. It also records on a streaming join which inputs are insert-only
// (the join then keeps those sides append-only); it runs again after the physical rewrites, so the flags
// follow the final inputs.
func inferModes(n Node) error {
	for _, in := range n.Inputs() {
		if err := inferModes(in); err != nil {
			return err
		}
	}
	switch x := n.(type) {
	case *WindowTVF:
		if !insertOnly(x.Input) {
			return sql.Errorf(x.Pos, ErrUnsupported, "window functions over updating input are not supported yet")
		}
	case *OverAggregate:
		if !insertOnly(x.Input) {
			return sql.Errorf(x.Pos, ErrUnsupported, "OVER aggregates over updating input are not supported yet")
		}
	case *MatchRecognize:
		if !insertOnly(x.Input) {
			return sql.Errorf(x.Pos, ErrUnsupported, "Match Recognize doesn't support consuming update changes which is produced by node %s", updateProducer(x.Input).Describe())
		}
	case *Join:
		x.LeftInsertOnly = !x.Batch && insertOnly(x.Left)
		x.RightInsertOnly = !x.Batch && insertOnly(x.Right)
	case *Limit:
		if !insertOnly(x.Input) {
			return sql.Errorf(x.Pos, ErrUnsupported, "LIMIT without ORDER BY on an updating query is not supported in streaming mode")
		}
	case *Sink:
		if err := checkSink(x); err != nil {
			return sql.Errorf(x.Pos, ErrValidation, "%s", err.Error())
		}
	}
	return nil
}

func insertOnly(n Node) bool { return n.Mode().IsInsertOnly() }
