// Package planner plans statements in phases (docs/ARCHITECTURE.md, "The planner"): the binder turns the
// AST into a logical plan of plain-data nodes; named phases of rewrite rules (rules.go, rule_*.go) rewrite
// it; the physical pass (physical.go) chooses the operators of the runtime mode, infers the changelog mode
// of every node and checks that sinks can consume what the query produces. EXPLAIN prints each step. It
// does no I/O: sources and sinks are created (not started) so that their changelog modes and boundedness
// are known.
package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Field is one output column of a node.
type Field struct {
	Name string
	Type types.Type
}

// Node is a plan node: plain data. The nodes of a physical plan are executed by the engine; logical-only
// nodes (logical.go) never reach it.
type Node interface {
	Fields() []Field
	Inputs() []Node
	// Mode is the changelog mode of the node's output.
	Mode() changelog.Mode
	// Describe prints the node for EXPLAIN: Name(attr=[...], ...).
	Describe() string
}

// Scan reads a table through a connector source. Its rows are the table's physical columns followed by its
// metadata columns, in declaration order.
type Scan struct {
	Table  *catalog.Table
	Source connectors.Source // physical: created by the physical pass for the runtime mode
	Out    []Field
	Pos    sql.Pos // the table reference, for errors
	// Pushed (physical) is the projection handed to Source by projection pushdown (projection.go), nil when
	// none was; ReusedBy (physical) is the shared scan that reads the table in this scan's place
	// (ReuseSources). EXPLAIN prints what was pushed (projection_explain.go).
	Pushed   *formats.Projection
	ReusedBy *Scan
}

// Values emits constant rows (VALUES ...), insert-only and bounded.
type Values struct {
	Rows [][]types.Value
	Out  []Field
}

// Calc projects and filters.
type Calc struct {
	Input    Node
	Projects []expr.Expr
	Filter   expr.Expr
	Out      []Field
}

// WatermarkAssigner generates watermarks from a rowtime expression (streaming).
type WatermarkAssigner struct {
	Input   Node
	Rowtime string
	Expr    expr.Expr
}

// Aggregate is a group aggregation (keys first, then aggregates). In batch mode its input is sorted by key
// first (InputSort) and it emits final rows only.
type Aggregate struct {
	Input Node
	Keys  []int
	Aggs  []exec.AggCall
	// Distinct: the aggregate of SELECT DISTINCT, UNION or IN (subquery), not of GROUP BY (logical; it never
	// becomes a window aggregate).
	Distinct bool
	Batch    bool // physical: sort-based batch aggregate
	// InputSort (physical, batch with keys): the order the input is sorted in first, so that the aggregate
	// holds one key's state at a time.
	InputSort []exec.SortKey
	Out       []Field
	// MiniBatch (physical, streaming): the input is buffered and applied once per key per mini-batch
	// (planner/minibatch.go); nil: row by row.
	MiniBatch *MiniBatch
	// PartialFinal (physical, streaming): "PARTIAL" or "FINAL" for the two levels of a split distinct
	// aggregate (rule_split_distinct.go).
	PartialFinal string
}

// Sort sorts its input (batch), with optional limit/offset.
type Sort struct {
	Input  Node
	Keys   []exec.SortKey
	Limit  int64
	Offset int64
}

// TopN keeps the first rows by an order (streaming ORDER BY ... LIMIT).
type TopN struct {
	Input  Node
	Keys   []exec.SortKey
	Limit  int64
	Offset int64
}

// Limit passes the first rows of an insert-only stream (streaming LIMIT without ORDER BY).
type Limit struct {
	Input  Node
	Limit  int64
	Offset int64
	Pos    sql.Pos // the query, for the physical pass's errors
}

// Union concatenates its inputs (UNION ALL).
type Union struct {
	Ins []Node
}

// Sink writes to a table through a connector sink.
type Sink struct {
	Input Node
	Table *catalog.Table
	Sink  connectors.Sink // physical: created by the physical pass for the runtime mode
	Pos   sql.Pos         // the INSERT statement, for errors of the sink check
	// TablePos is the table name in the INSERT statement, for errors of the connector.
	TablePos sql.Pos
	// Overwrite: INSERT OVERWRITE (refused by the physical pass: batch mode only, and no sink supports it).
	Overwrite bool
	// UpsertMaterialize (physical): Input is a SinkMaterializer that materializes (sink_materialize.go).
	UpsertMaterialize bool
}

func (n *Scan) Fields() []Field              { return n.Out }
func (n *Values) Fields() []Field            { return n.Out }
func (n *Calc) Fields() []Field              { return n.Out }
func (n *WatermarkAssigner) Fields() []Field { return n.Input.Fields() }
func (n *Aggregate) Fields() []Field         { return n.Out }
func (n *Sort) Fields() []Field              { return n.Input.Fields() }
func (n *TopN) Fields() []Field              { return n.Input.Fields() }
func (n *Limit) Fields() []Field             { return n.Input.Fields() }
func (n *Union) Fields() []Field             { return n.Ins[0].Fields() }
func (n *Sink) Fields() []Field              { return n.Input.Fields() }

func (n *Scan) Inputs() []Node              { return nil }
func (n *Values) Inputs() []Node            { return nil }
func (n *Calc) Inputs() []Node              { return []Node{n.Input} }
func (n *WatermarkAssigner) Inputs() []Node { return []Node{n.Input} }
func (n *Aggregate) Inputs() []Node         { return []Node{n.Input} }
func (n *Sort) Inputs() []Node              { return []Node{n.Input} }
func (n *TopN) Inputs() []Node              { return []Node{n.Input} }
func (n *Limit) Inputs() []Node             { return []Node{n.Input} }
func (n *Union) Inputs() []Node             { return n.Ins }
func (n *Sink) Inputs() []Node              { return []Node{n.Input} }

func (n *Scan) Mode() changelog.Mode              { return n.Source.ChangelogMode() }
func (n *Values) Mode() changelog.Mode            { return changelog.InsertOnly }
func (n *Calc) Mode() changelog.Mode              { return n.Input.Mode() }
func (n *WatermarkAssigner) Mode() changelog.Mode { return n.Input.Mode() }
func (n *Aggregate) Mode() changelog.Mode {
	if n.Batch {
		return changelog.InsertOnly
	}
	if n.Input.Mode().IsInsertOnly() {
		// Over insert-only input a group never loses its last row: the aggregate updates, never deletes
		// (Flink's plans show [I,UB,UA]).
		return changelog.Mode{Kinds: changelog.KindsOf(changelog.Insert, changelog.UpdateBefore, changelog.UpdateAfter)}
	}
	return changelog.Retract
}
func (n *Sort) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *TopN) Mode() changelog.Mode {
	return changelog.Mode{Kinds: changelog.KindsOf(changelog.Insert, changelog.Delete)}
}
func (n *Limit) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *Union) Mode() changelog.Mode {
	var k changelog.KindSet
	for _, in := range n.Ins {
		k = k.Union(in.Mode().Kinds)
	}
	return changelog.Mode{Kinds: k}
}
func (n *Sink) Mode() changelog.Mode { return n.Input.Mode() }

func names(fs []Field) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Name)
	}
	return strings.Join(s, ", ")
}

func (n *Scan) Describe() string {
	return fmt.Sprintf("TableSourceScan(table=[[default_catalog, default_database, %s]], fields=[%s])", n.Table.Name, names(n.Out))
}

func (n *Values) Describe() string {
	return fmt.Sprintf("Values(tuples=[%d rows], fields=[%s])", len(n.Rows), names(n.Out))
}

func (n *Calc) Describe() string {
	d := "Calc(select=[" + selectText(n.Projects, n.Out) + "]"
	if n.Filter != nil {
		d += ", where=[" + n.Filter.String() + "]"
	}
	return d + ")"
}

func (n *WatermarkAssigner) Describe() string {
	return fmt.Sprintf("WatermarkAssigner(rowtime=[%s], watermark=[%s])", n.Rowtime, n.Expr.String())
}

func aggText(a exec.AggCall, in []Field) string {
	var args []string
	for _, i := range a.Args {
		args = append(args, in[i].Name)
	}
	s := a.Func + "("
	if a.Distinct {
		s += "DISTINCT "
	}
	if len(args) == 0 && a.Func == "COUNT" {
		s += "*"
	}
	s += strings.Join(args, ", ") + ")"
	if a.Filter >= 0 {
		s += " FILTER " + in[a.Filter].Name
	}
	return s
}

func (n *Aggregate) Describe() string {
	in := n.Input.Fields()
	var keys, sel []string
	for i, k := range n.Keys {
		keys = append(keys, in[k].Name)
		sel = append(sel, n.Out[i].Name)
	}
	for i, a := range n.Aggs {
		sel = append(sel, aggText(a, in)+" AS "+n.Out[len(n.Keys)+i].Name)
	}
	name := "GroupAggregate"
	if n.Batch {
		name = "SortAggregate"
	}
	pf := ""
	if n.PartialFinal != "" {
		pf = "partialFinalType=[" + n.PartialFinal + "], "
	}
	if len(n.Keys) == 0 {
		return fmt.Sprintf("%s(%sselect=[%s])", name, pf, strings.Join(sel, ", "))
	}
	return fmt.Sprintf("%s(groupBy=[%s], %sselect=[%s])", name, strings.Join(keys, ", "), pf, strings.Join(sel, ", "))
}

func sortText(keys []exec.SortKey, in []Field) string {
	var s []string
	for _, k := range keys {
		d := "ASC"
		if k.Desc {
			d = "DESC"
		}
		s = append(s, in[k.Col].Name+" "+d)
	}
	return strings.Join(s, ", ")
}

func limitText(limit, offset int64) string {
	s := ""
	if offset > 0 {
		s += fmt.Sprintf(", offset=[%d]", offset)
	}
	if limit >= 0 {
		s += fmt.Sprintf(", fetch=[%d]", limit)
	}
	return s
}

func (n *Sort) Describe() string {
	name := "Sort"
	if n.Limit >= 0 {
		name = "SortLimit"
	}
	return fmt.Sprintf("%s(orderBy=[%s]%s)", name, sortText(n.Keys, n.Input.Fields()), limitText(n.Limit, n.Offset))
}

func (n *TopN) Describe() string {
	return fmt.Sprintf("SortLimit(orderBy=[%s]%s)", sortText(n.Keys, n.Input.Fields()), limitText(n.Limit, n.Offset))
}

func (n *Limit) Describe() string {
	return fmt.Sprintf("Limit(%s)", strings.TrimPrefix(limitText(n.Limit, n.Offset), ", "))
}

func (n *Union) Describe() string {
	return fmt.Sprintf("Union(all=[true], union=[%s])", names(n.Fields()))
}

func (n *Sink) Describe() string {
	if n.UpsertMaterialize {
		return fmt.Sprintf("Sink(table=[default_catalog.default_database.%s], fields=[%s], upsertMaterialize=[true])", n.Table.Name, names(n.Input.Fields()))
	}
	return fmt.Sprintf("Sink(table=[default_catalog.default_database.%s], fields=[%s])", n.Table.Name, names(n.Input.Fields()))
}

// ChangelogNormalize follows an upsert source: it keeps the last row per key and emits a complete
// changelog (-U with the old row, -D with the full row), dropping upserts that change nothing. In batch mode
// it emits the final rows as +I at the end of input.
type ChangelogNormalize struct {
	Input Node
	Keys  []int
	Batch bool // physical
	// MetaCols are the metadata columns: -D rows carry the delete message's values for them.
	MetaCols []int
}

func (n *ChangelogNormalize) Fields() []Field { return n.Input.Fields() }
func (n *ChangelogNormalize) Inputs() []Node  { return []Node{n.Input} }
func (n *ChangelogNormalize) Mode() changelog.Mode {
	if n.Batch {
		return changelog.InsertOnly
	}
	return changelog.Retract
}
func (n *ChangelogNormalize) Describe() string {
	in := n.Input.Fields()
	var ks []string
	for _, k := range n.Keys {
		ks = append(ks, in[k].Name)
	}
	return fmt.Sprintf("ChangelogNormalize(key=[%s])", strings.Join(ks, ", "))
}

// Join is a regular equi-join (keys, plus a residual condition over left ++ right columns).
type Join struct {
	Left, Right         Node
	Type                exec.JoinType
	LeftKeys, RightKeys []int
	Residual            expr.Expr
	// Bounds are the time bounds between the two sides' rowtimes found in the condition (logical, set by the
	// binder); the physical pass makes the join an interval join (Interval = Bounds) in streaming mode when
	// both inputs are insert-only.
	Bounds   *exec.IntervalBounds
	Interval *exec.IntervalBounds // physical: interval join, state is bounded by the time condition
	Batch    bool                 // physical: batch (hash) join
	// LeftInsertOnly, RightInsertOnly (physical, streaming): the input's changelog mode is insert-only, so the
	// join keeps that side's rows without a per-row index for retractions (exec.JoinConfig).
	LeftInsertOnly, RightInsertOnly bool
	Out                             []Field
}

func (n *Join) Fields() []Field { return n.Out }
func (n *Join) Inputs() []Node  { return []Node{n.Left, n.Right} }

// Mode: an inner join of insert-only inputs is insert-only; otherwise the join retracts with -D (it never
// emits -U/+U). In batch mode it emits final rows.
func (n *Join) Mode() changelog.Mode {
	// An interval join (insert-only inputs) emits an outer side's NULL-padded row only when the row's interval
	// has closed without a match, as Flink's: insert-only for every join type.
	if n.Batch || n.Interval != nil || n.Type == exec.InnerJoin && n.Left.Mode().IsInsertOnly() && n.Right.Mode().IsInsertOnly() {
		return changelog.InsertOnly
	}
	return changelog.Mode{Kinds: changelog.KindsOf(changelog.Insert, changelog.Delete)}
}

func (n *Join) Describe() string {
	var conds []string
	for i := range n.LeftKeys {
		conds = append(conds, fmt.Sprintf("=(%s, %s)", n.Out[n.LeftKeys[i]].Name, n.Out[len(n.Left.Fields())+n.RightKeys[i]].Name))
	}
	if n.Residual != nil {
		conds = append(conds, n.Residual.String())
	}
	where := conds[0]
	if len(conds) > 1 {
		where = "AND(" + strings.Join(conds, ", ") + ")"
	}
	kind := "Join"
	if n.Batch {
		kind = "HashJoin"
	} else if n.Interval != nil {
		kind = "IntervalJoin"
	}
	return fmt.Sprintf("%s(joinType=[%s], where=[%s], select=[%s])", kind, n.Type, where, names(n.Out))
}

// WindowTVF is a windowing table function (TUMBLE, HOP, CUMULATE): its input's columns followed by
// window_start, window_end and window_time.
type WindowTVF struct {
	Input Node
	Spec  exec.WindowSpec
	// Partition: the key columns of session windows (sessions are per key).
	Partition []int
	TimeCol   int
	LTZ       bool
	Out       []Field
	Pos       sql.Pos // the window call, for errors of the physical pass
	// TimeAttr is the time column as bound: streaming mode needs it to be a time attribute.
	TimeAttr timeAttribute
	// Proctime: the time column is a processing-time attribute (PROCTIME()); see window_proctime.go.
	Proctime bool
}

func (n *WindowTVF) Fields() []Field      { return n.Out }
func (n *WindowTVF) Inputs() []Node       { return []Node{n.Input} }
func (n *WindowTVF) Mode() changelog.Mode { return n.Input.Mode() }
func (n *WindowTVF) Describe() string {
	return fmt.Sprintf("WindowTableFunction(window=[%s])", windowText(n.Spec, n.Input.Fields()[n.TimeCol].Name))
}

func windowText(s exec.WindowSpec, col string) string {
	switch s.Kind {
	case exec.Session:
		return fmt.Sprintf("SESSION(time_col=[%s], gap=[%s])", col, durText(s.Size))
	case exec.Hop:
		return fmt.Sprintf("HOP(time_col=[%s], size=[%s], slide=[%s])", col, durText(s.Size), durText(s.Slide))
	case exec.Cumulate:
		return fmt.Sprintf("CUMULATE(time_col=[%s], max_size=[%s], step=[%s])", col, durText(s.Size), durText(s.Slide))
	}
	return fmt.Sprintf("TUMBLE(time_col=[%s], size=[%s])", col, durText(s.Size))
}

func durText(ms int64) string {
	switch {
	case ms%86400000 == 0:
		return fmt.Sprintf("%d d", ms/86400000)
	case ms%3600000 == 0:
		return fmt.Sprintf("%d h", ms/3600000)
	case ms%60000 == 0:
		return fmt.Sprintf("%d min", ms/60000)
	case ms%1000 == 0:
		return fmt.Sprintf("%d s", ms/1000)
	}
	return fmt.Sprintf("%d ms", ms)
}

// WindowAggregate aggregates per window (window_end among the keys) and emits each window's final rows when
// the watermark passes its end (in batch mode: at the end of input).
type WindowAggregate struct {
	Input        Node
	Keys         []int
	Aggs         []exec.AggCall
	WindowEndKey int
	Spec         exec.WindowSpec
	Out          []Field
}

func (n *WindowAggregate) Fields() []Field      { return n.Out }
func (n *WindowAggregate) Inputs() []Node       { return []Node{n.Input} }
func (n *WindowAggregate) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *WindowAggregate) Describe() string {
	in := n.Input.Fields()
	var gb []string
	for _, k := range n.Keys {
		gb = append(gb, in[k].Name)
	}
	var sel []string
	for _, k := range n.Keys {
		sel = append(sel, in[k].Name)
	}
	for i, a := range n.Aggs {
		sel = append(sel, aggText(a, in)+" AS "+n.Out[len(n.Keys)+i].Name)
	}
	return fmt.Sprintf("WindowAggregate(groupBy=[%s], select=[%s])", strings.Join(gb, ", "), strings.Join(sel, ", "))
}

// Rank numbers rows per partition (ROW_NUMBER() OVER (PARTITION BY ... ORDER BY ...)) and keeps the first
// Limit of each (all when Limit < 0): Flink's Top-N / deduplication. Its output is the input's columns and
// the row number.
type Rank struct {
	Func      string // ROW_NUMBER, RANK or DENSE_RANK
	Input     Node
	Partition []int
	Order     []exec.SortKey
	Limit     int64
	Batch     bool // physical
	Out       []Field
}

func (n *Rank) Fields() []Field { return n.Out }
func (n *Rank) Inputs() []Node  { return []Node{n.Input} }
func (n *Rank) Mode() changelog.Mode {
	if n.Batch || n.ProctimeFirst() {
		return changelog.InsertOnly
	}
	return changelog.Mode{Kinds: changelog.KindsOf(changelog.Insert, changelog.Delete)}
}

// ProctimeFirst reports whether n is a streaming deduplication keeping each key's first row on processing
// time (ROW_NUMBER() ordered by a PROCTIME() attribute ascending, rn = 1) over an insert-only input. As in
// Flink (ProcTimeDeduplicateKeepFirstRow) its output is insert-only: the first row of a key to arrive
// stays. The engine runs it with exec.RankConfig.KeepFirst, which compares no times, so that rows of
// several channels, whose processing times were taken before they met, cannot replace a key's first row.
func (n *Rank) ProctimeFirst() bool {
	return !n.Batch && n.Limit == 1 && (n.Func == "" || n.Func == "ROW_NUMBER") && len(n.Order) == 1 && !n.Order[0].Desc &&
		isProctimeCol(n.Input, n.Order[0].Col) && n.Input.Mode().IsInsertOnly()
}
func (n *Rank) Describe() string {
	in := n.Input.Fields()
	var parts []string
	for _, c := range n.Partition {
		parts = append(parts, in[c].Name)
	}
	end := "unbounded"
	if n.Limit >= 0 {
		end = fmt.Sprint(n.Limit)
	}
	return fmt.Sprintf("Rank(rankType=[%s], rankRange=[rankStart=1, rankEnd=%s], partitionBy=[%s], orderBy=[%s], select=[%s])",
		n.Func, end, strings.Join(parts, ", "), sortText(n.Order, in), names(n.Out))
}

// OverAggregate computes aggregates over an OVER window (partition, time order, frame) for every row and
// emits the row with them when the watermark passes its time.
type OverAggregate struct {
	Input     Node
	Partition []int
	OrderCol  int
	// Order, in batch mode only, is an ORDER BY other than one ascending time column: the rows of a
	// partition are sorted by it (OrderCol is its first column).
	Order []exec.SortKey
	Frame exec.OverFrame
	Aggs  []exec.AggCall
	Out   []Field
	Pos   sql.Pos // the OVER clause, for errors of the physical pass
	// OrderAttr is the ORDER BY column as bound: streaming mode needs it to be a time attribute.
	OrderAttr timeAttribute
	// StreamLag is set by the physical pass for LAG in streaming mode: exec runs it over the window's
	// default frame (RANGE UNBOUNDED PRECEDING, as Flink), not Frame (the batch one-row frame), and
	// Describe says so.
	StreamLag bool
}

func (n *OverAggregate) Fields() []Field      { return n.Out }
func (n *OverAggregate) Inputs() []Node       { return []Node{n.Input} }
func (n *OverAggregate) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *OverAggregate) Describe() string {
	in := n.Input.Fields()
	var parts []string
	for _, c := range n.Partition {
		parts = append(parts, in[c].Name)
	}
	frame := overFrameText(n, in)
	order := in[n.OrderCol].Name + " ASC"
	if n.Order != nil {
		order = sortText(n.Order, in)
	}
	var sel []string
	for i, a := range n.Aggs {
		sel = append(sel, aggText(a, in)+" AS w0$o"+fmt.Sprint(i))
	}
	return fmt.Sprintf("OverAggregate(partitionBy=[%s], orderBy=[%s], window=[%s], select=[%s])",
		strings.Join(parts, ", "), order, frame, strings.Join(sel, ", "))
}

// TemporalJoin is an event-time temporal join of an append-only left side with a versioned right table.
type TemporalJoin struct {
	Left, Right         Node
	LeftKeys, RightKeys []int
	LeftTime, RightTime int
	Outer               bool
	Out                 []Field
	Pos                 sql.Pos // the versioned table reference, for errors
	// LeftTimeAttr is the left time column as bound: it must be a rowtime attribute (checked by the physical
	// pass, which also accepts one kept through window operators, such as window_time).
	LeftTimeAttr timeAttribute
}

func (n *TemporalJoin) Fields() []Field      { return n.Out }
func (n *TemporalJoin) Inputs() []Node       { return []Node{n.Left, n.Right} }
func (n *TemporalJoin) Mode() changelog.Mode { return changelog.InsertOnly }
func (n *TemporalJoin) Describe() string {
	nl := len(n.Left.Fields())
	var conds []string
	for i := range n.LeftKeys {
		conds = append(conds, fmt.Sprintf("=(%s, %s)", n.Out[n.LeftKeys[i]].Name, n.Out[nl+n.RightKeys[i]].Name))
	}
	conds = append(conds, fmt.Sprintf("__TEMPORAL_JOIN_CONDITION(%s, %s)", n.Out[n.LeftTime].Name, n.Out[nl+n.RightTime].Name))
	kind := "InnerJoin"
	if n.Outer {
		kind = "LeftOuterJoin"
	}
	return fmt.Sprintf("TemporalJoin(joinType=[%s], where=[AND(%s)], select=[%s])", kind, strings.Join(conds, ", "), names(n.Out))
}
