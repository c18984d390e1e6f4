package sql

import "github.com/sluicesql/sluice/types"

// Pos is a position in the user's original text: byte offset, 1-based line and 1-based column (in runes).
type Pos struct {
	Offset int
	Line   int
	Col    int
}

// Node is any AST node.
type Node interface{ Position() Pos }

// Statement is one SQL statement. Text is the statement's original source text (without the trailing ';').
type Statement interface {
	Node
	stmt()
}

// StmtBase is embedded in every statement.
type StmtBase struct {
	P    Pos
	Text string
}

func (s *StmtBase) Position() Pos { return s.P }
func (*StmtBase) stmt()           {}

// ObjectName is a possibly qualified name: [catalog.][db.]name. Parts are unquoted identifiers.
type ObjectName struct {
	P     Pos
	Parts []string
}

// Name returns the last part.
func (o ObjectName) Name() string {
	if len(o.Parts) == 0 {
		return ""
	}
	return o.Parts[len(o.Parts)-1]
}

// String joins the parts with dots (quoting parts that need backticks).
func (o ObjectName) String() string { return JoinIdents(o.Parts) }

// Ident is an identifier with its position.
type Ident struct {
	P    Pos
	Name string
}

// Option is one 'key' = 'value' pair of a WITH clause.
type Option struct {
	P, ValuePos Pos
	Key, Value  string
}

// ColumnKind says which kind a column definition is.
type ColumnKind uint8

const (
	PhysicalColumn ColumnKind = iota
	MetadataColumn
	ComputedColumn
)

// ColumnDef is one column of CREATE TABLE.
type ColumnDef struct {
	P       Pos
	Name    string
	Kind    ColumnKind
	Type    types.Type // physical and metadata columns; NOT NULL sets Type.NotNull
	TypePos Pos
	// MetadataKey is the key of METADATA FROM 'key'; empty when the key is the column name.
	MetadataKey string
	Virtual     bool
	Expr        Expr // computed column: name AS expr
	Comment     string
}

// WatermarkDef is WATERMARK FOR col AS expr.
type WatermarkDef struct {
	P      Pos
	Column Ident
	Expr   Expr
}

// PrimaryKeyDef is PRIMARY KEY (cols) NOT ENFORCED (also as a column constraint).
type PrimaryKeyDef struct {
	P           Pos
	Columns     []Ident
	NotEnforced bool
}

// LikeClause is LIKE t [(INCLUDING|EXCLUDING|OVERWRITING ALL|OPTIONS|...)].
type LikeClause struct {
	P       Pos
	Source  ObjectName
	Options []string // e.g. "EXCLUDING OPTIONS", upper-cased and single-spaced
}

// CreateTable is CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (...) [COMMENT] [PARTITIONED BY] WITH (...) [LIKE].
type CreateTable struct {
	StmtBase
	Name        ObjectName
	Temporary   bool
	IfNotExists bool
	Columns     []*ColumnDef
	Watermark   *WatermarkDef
	PrimaryKey  *PrimaryKeyDef
	Comment     string
	PartitionBy []Ident
	Options     []Option
	Like        *LikeClause
	// AsQuery is the query of CREATE TABLE ... WITH (...) AS query (CTAS); the table's columns are the
	// query's, and the statement also inserts the query's rows.
	AsQuery     *Query
	AsQueryText string
}

// CreateView is CREATE [TEMPORARY] VIEW [IF NOT EXISTS] name [(cols)] AS query.
type CreateView struct {
	StmtBase
	Name        ObjectName
	Temporary   bool
	IfNotExists bool
	Columns     []Ident
	Query       *Query
	QueryText   string
}

// Drop is DROP [TEMPORARY] TABLE|VIEW [IF EXISTS] name.
type Drop struct {
	StmtBase
	View      bool
	Temporary bool
	IfExists  bool
	Name      ObjectName
}

// AlterTable is ALTER TABLE [IF EXISTS] name RENAME TO new | SET ('k' = 'v', ...) | RESET ('k', ...).
type AlterTable struct {
	StmtBase
	Name     ObjectName
	IfExists bool
	RenameTo *ObjectName
	Set      []Option
	Reset    []Option // Key holds each key; Value is empty
}

// Set is SET 'key' = 'value', or SET; (list) when Key is empty.
type Set struct {
	StmtBase
	Key, Value string
}

// Reset is RESET 'key', or RESET; (all) when Key is empty.
type Reset struct {
	StmtBase
	Key string
}

// Show is SHOW TABLES | VIEWS | FUNCTIONS | CATALOGS | DATABASES | CURRENT CATALOG | CURRENT DATABASE | JOBS.
type Show struct {
	StmtBase
	What string     // upper-cased, single-spaced: "TABLES", "VIEWS", ..., "CREATE TABLE", "CREATE VIEW"
	Name ObjectName // SHOW CREATE TABLE|VIEW name
}

// StopJob is STOP JOB '<id>' [WITH SAVEPOINT] [WITH DRAIN] (Flink 1.17).
type StopJob struct {
	StmtBase
	ID        string
	Savepoint bool
	Drain     bool
}

// DescribeJob is DESCRIBE JOB '<id>' (Flink 2.0): the job's plan, counters and failure cause.
type DescribeJob struct {
	StmtBase
	ID string
}

// Describe is DESCRIBE name / DESC name.
type Describe struct {
	StmtBase
	Name ObjectName
}

// Explain is EXPLAIN [PLAN FOR] [CHANGELOG_MODE | ESTIMATED_COST | ...] stmt, where stmt is a query, INSERT or
// statement set.
type Explain struct {
	StmtBase
	Details []string // upper-cased detail keywords, e.g. "CHANGELOG_MODE"
	Stmt    Statement
}

// Insert is INSERT INTO|OVERWRITE table [PARTITION (...)] [(cols)] query.
type Insert struct {
	StmtBase
	Table     ObjectName
	Overwrite bool
	Partition []Option // static partition spec: col = 'v' (Key = column)
	Hints     []Option // dynamic table options: INSERT INTO t /*+ OPTIONS('k'='v') */
	Columns   []Ident
	Query     *Query
}

// StatementSet is EXECUTE STATEMENT SET BEGIN insert; ... END (1.12: BEGIN STATEMENT SET; ... END;).
type StatementSet struct {
	StmtBase
	Inserts []*Insert
}

// QueryStmt is a query run for its result (SELECT, VALUES, WITH ...).
type QueryStmt struct {
	StmtBase
	Query *Query
}

// Use is USE [CATALOG] name.
type Use struct {
	StmtBase
	Catalog bool
	Name    ObjectName
}

// ---- Queries ----

// Query is a query expression with optional WITH, ORDER BY, LIMIT/OFFSET/FETCH.
type Query struct {
	P       Pos
	With    []*CTE
	Body    QueryBody
	OrderBy []*OrderItem
	Limit   Expr // LIMIT n or FETCH FIRST n ROWS ONLY; nil if absent
	Offset  Expr
}

func (q *Query) Position() Pos { return q.P }

// CTE is name [(cols)] AS (query) of a WITH clause.
type CTE struct {
	P       Pos
	Name    string
	Columns []Ident
	Query   *Query
}

// QueryBody is *Select, *SetOp, *ValuesBody or *Query (parenthesized).
type QueryBody interface {
	Node
	queryBody()
}

// Select is one SELECT block.
type Select struct {
	P        Pos
	Distinct bool
	Items    []*SelectItem
	From     TableExpr // nil when absent (SELECT 1)
	Where    Expr
	GroupBy  []Expr // may contain *GroupingSets
	Having   Expr
	Windows  []*NamedWindow // WINDOW w AS (...)
}

// SelectItem is expr [AS alias], * or t.*.
type SelectItem struct {
	P         Pos
	Expr      Expr // nil for * and t.*
	Alias     string
	Star      bool
	Qualifier []string // for t.*
}

// SetOp is left UNION|INTERSECT|EXCEPT [ALL|DISTINCT] right.
type SetOp struct {
	P           Pos
	Op          string // "UNION", "INTERSECT", "EXCEPT"
	All         bool
	Left, Right QueryBody
}

// ValuesBody is VALUES (row), (row), ...
type ValuesBody struct {
	P    Pos
	Rows [][]Expr
}

func (s *Select) Position() Pos     { return s.P }
func (s *SetOp) Position() Pos      { return s.P }
func (v *ValuesBody) Position() Pos { return v.P }
func (*Select) queryBody()          {}
func (*SetOp) queryBody()           {}
func (*ValuesBody) queryBody()      {}
func (*Query) queryBody()           {}

// OrderItem is expr [ASC|DESC] [NULLS FIRST|LAST].
type OrderItem struct {
	P          Pos
	Expr       Expr
	Desc       bool
	NullsFirst *bool // nil when not given
}

// NamedWindow is WINDOW name AS (spec).
type NamedWindow struct {
	P    Pos
	Name string
	Spec *WindowSpec
}

// ---- FROM ----

// TableExpr is *TableRef, *Subquery, *Join, *TableFunc.
type TableExpr interface {
	Node
	tableExpr()
}

// TableRef is a table or view name with optional alias, FOR SYSTEM_TIME AS OF and dynamic options
// (/*+ OPTIONS('k'='v') */).
type TableRef struct {
	P            Pos
	Name         ObjectName
	Alias        string
	ColAliases   []Ident
	SystemTimeAt Expr // FOR SYSTEM_TIME AS OF expr
	Hints        []Option
}

// Subquery is [LATERAL] (query) [AS] alias [(cols)]; also (VALUES ...) AS t(a, b).
type Subquery struct {
	P          Pos
	Lateral    bool
	Query      *Query
	Alias      string
	ColAliases []Ident
}

// Join is left [INNER|LEFT|RIGHT|FULL [OUTER]|CROSS] JOIN right [ON cond | USING (cols)]; a comma join is
// Kind "CROSS".
type Join struct {
	P           Pos
	Kind        string // "INNER", "LEFT", "RIGHT", "FULL", "CROSS"
	Left, Right TableExpr
	On          Expr
	Using       []Ident
}

// TableFunc is TABLE(f(args)) or LATERAL TABLE(f(args)), including window TVFs
// TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' MINUTES)); UNNEST(expr) is a TableFunc named UNNEST.
type TableFunc struct {
	P          Pos
	Lateral    bool
	Call       *FuncCall
	Alias      string
	ColAliases []Ident
}

func (t *TableRef) Position() Pos  { return t.P }
func (t *Subquery) Position() Pos  { return t.P }
func (t *Join) Position() Pos      { return t.P }
func (t *TableFunc) Position() Pos { return t.P }
func (*TableRef) tableExpr()       {}
func (*Subquery) tableExpr()       {}
func (*Join) tableExpr()           {}
func (*TableFunc) tableExpr()      {}

// ---- Expressions ----

// Expr is a scalar expression.
type Expr interface {
	Node
	expr()
}

// LitKind is the kind of a literal.
type LitKind uint8

const (
	LitNull LitKind = iota
	LitBool
	LitInteger // digits only; Text holds them (may exceed int64: the binder decides the type)
	LitDecimal // digits with a point: 1.5, .5
	LitFloat   // with exponent: 1e3, 1.5E-2
	LitString  // Text is the unescaped value
	LitBinary  // X'0AFF': Text is the decoded bytes
	LitDate    // DATE '2020-01-01': Text is the quoted part
	LitTime    // TIME '12:00:00'
	LitTimestamp
	LitTimestampLTZ // TIMESTAMP_LTZ '...' or TIMESTAMP WITH LOCAL TIME ZONE '...'
)

// Literal is a constant.
type Literal struct {
	P    Pos
	Kind LitKind
	Text string
	Bool bool
}

// IntervalLit is INTERVAL [-]'value' unit [TO unit], e.g. INTERVAL '5' SECOND, INTERVAL '1 10' DAY TO HOUR.
// Units are upper-cased singular: YEAR, MONTH, DAY, HOUR, MINUTE, SECOND (MINUTES etc. are normalized).
type IntervalLit struct {
	P        Pos
	Negative bool
	Value    string
	Unit     string
	ToUnit   string // empty when absent
	Prec     int    // leading precision if given, else 0
}

// ColumnRef is a possibly qualified column reference: a, t.a, `t`.`a`. Parts are unquoted.
type ColumnRef struct {
	P     Pos
	Parts []string
}

// Param is a positional parameter: ? (Index assigned left to right from 1) or $n.
type Param struct {
	P      Pos
	Index  int
	Dollar bool // written as $n (printed back that way)
}

// Unary is NOT x, -x, +x.
type Unary struct {
	P  Pos
	Op string // "NOT", "-", "+"
	X  Expr
}

// Binary is a binary operator: arithmetic + - * / %, comparison = <> < <= > >= (!= is normalized to <>),
// AND, OR, string concatenation ||, IS DISTINCT FROM / IS NOT DISTINCT FROM.
type Binary struct {
	P    Pos
	Op   string // upper-case for words: "AND", "OR", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"
	L, R Expr
}

// FuncCall is name([DISTINCT] args) [FILTER (WHERE cond)] [OVER window]; COUNT(*) has Star. Special syntax
// forms are normalized into calls:
//   - TRIM([BOTH|LEADING|TRAILING] [chars] FROM s) → TRIM(Literal 'BOTH'|'LEADING'|'TRAILING', chars|NULL, s)
//   - SUBSTRING(s FROM a [FOR b]) → SUBSTRING(s, a[, b]);  POSITION(a IN b) → POSITION(a, b)
//   - EXTRACT(unit FROM x) → EXTRACT(Literal unit string, x)
//   - OVERLAY(s PLACING r FROM a [FOR b]) → OVERLAY(s, r, a[, b])
//   - CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, LOCALTIMESTAMP, LOCALTIME, CURRENT_ROW_TIMESTAMP()
//     without parentheses → calls with no args
//   - TIMESTAMPADD(unit, n, t) / TIMESTAMPDIFF(unit, a, b) → unit as Literal string first arg
//   - DESCRIPTOR(a, b) → call DESCRIPTOR with ColumnRef args; TABLE t inside a call → *TableArg
//   - CEIL|FLOOR(x TO unit) → CEIL|FLOOR(x, Literal unit string); CEILING → CEIL
//   - TRIM(s) → TRIM('BOTH', NULL, s)
//
// Name is upper-cased; Parts keep a qualified user function name.
type FuncCall struct {
	P        Pos
	Name     string
	Parts    []string // the name as written when qualified (cat.db.f); nil for an unqualified name
	Distinct bool
	Star     bool
	Args     []Expr
	Filter   Expr
	Over     *WindowSpec
}

// WindowSpec is OVER (PARTITION BY ... ORDER BY ... [ROWS|RANGE BETWEEN ...]) or OVER name.
type WindowSpec struct {
	P           Pos
	Ref         string // OVER w
	PartitionBy []Expr
	OrderBy     []*OrderItem
	Frame       string // frame clause text upper-cased and single-spaced, e.g. "RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW"; empty when absent
	FrameStart  Expr   // the start's n PRECEDING / n FOLLOWING bound expression, nil for UNBOUNDED/CURRENT ROW
	FrameEnd    Expr   // the end's (BETWEEN ... AND n PRECEDING / n FOLLOWING) bound expression, nil otherwise
}

// Case is CASE [operand] WHEN .. THEN .. [ELSE ..] END.
type Case struct {
	P       Pos
	Operand Expr
	Whens   []*When
	Else    Expr
}

// When is one WHEN cond THEN result.
type When struct {
	Cond, Result Expr
}

// Cast is CAST(x AS type) or TRY_CAST(x AS type).
type Cast struct {
	P       Pos
	X       Expr
	Type    types.Type
	TypePos Pos
	Try     bool
}

// Between is x [NOT] BETWEEN [SYMMETRIC] lo AND hi.
type Between struct {
	P         Pos
	X, Lo, Hi Expr
	Not       bool
	Symmetric bool
}

// In is x [NOT] IN (list) or x [NOT] IN (subquery).
type In struct {
	P     Pos
	X     Expr
	List  []Expr
	Query *Query
	Not   bool
}

// Like is x [NOT] LIKE|SIMILAR TO pattern [ESCAPE e].
type Like struct {
	P       Pos
	X       Expr
	Pattern Expr
	Escape  Expr
	Not     bool
	Similar bool
}

// IsTest is x IS [NOT] NULL | TRUE | FALSE | UNKNOWN.
type IsTest struct {
	P    Pos
	X    Expr
	Not  bool
	What string // "NULL", "TRUE", "FALSE", "UNKNOWN"
}

// Exists is EXISTS (query).
type Exists struct {
	P     Pos
	Query *Query
}

// SubqueryExpr is a scalar subquery (query).
type SubqueryExpr struct {
	P     Pos
	Query *Query
}

// Constructor is ARRAY[...], MAP[k, v, ...], ROW(...) or a bare (a, b) row.
type Constructor struct {
	P     Pos
	Kind  string // "ARRAY", "MAP", "ROW"
	Elems []Expr
}

// Index is x[i] (array element, 1-based; map value by key).
type Index struct {
	P        Pos
	X, Index Expr
}

// FieldAccess is x.field on a ROW-typed expression that is not a plain column path (e.g. f(x).a, (r).a).
type FieldAccess struct {
	P     Pos
	X     Expr
	Field string
}

// TableArg is TABLE name used as an argument of a table-valued function.
type TableArg struct {
	P           Pos
	Name        ObjectName
	PartitionBy []Expr // TABLE t PARTITION BY k (the SESSION window TVF)
}

// GroupingSets is GROUPING SETS ((a, b), (a), ()), ROLLUP(a, b) or CUBE(a, b) in GROUP BY (also GROUP BY (),
// as GROUPING SETS with one empty set). Each element of Sets is one grouping set (ROLLUP/CUBE: one element).
type GroupingSets struct {
	P    Pos
	Kind string // "GROUPING SETS", "ROLLUP", "CUBE"
	Sets [][]Expr
}

// Paren marks an expression written in parentheses (kept so that printing round-trips).
type Paren struct {
	P Pos
	X Expr
}

func (e *Literal) Position() Pos      { return e.P }
func (e *IntervalLit) Position() Pos  { return e.P }
func (e *ColumnRef) Position() Pos    { return e.P }
func (e *Param) Position() Pos        { return e.P }
func (e *Unary) Position() Pos        { return e.P }
func (e *Binary) Position() Pos       { return e.P }
func (e *FuncCall) Position() Pos     { return e.P }
func (e *Case) Position() Pos         { return e.P }
func (e *Cast) Position() Pos         { return e.P }
func (e *Between) Position() Pos      { return e.P }
func (e *In) Position() Pos           { return e.P }
func (e *Like) Position() Pos         { return e.P }
func (e *IsTest) Position() Pos       { return e.P }
func (e *Exists) Position() Pos       { return e.P }
func (e *SubqueryExpr) Position() Pos { return e.P }
func (e *Constructor) Position() Pos  { return e.P }
func (e *Index) Position() Pos        { return e.P }
func (e *FieldAccess) Position() Pos  { return e.P }
func (e *TableArg) Position() Pos     { return e.P }
func (e *Paren) Position() Pos        { return e.P }
func (e *GroupingSets) Position() Pos { return e.P }
func (*Literal) expr()                {}
func (*IntervalLit) expr()            {}
func (*ColumnRef) expr()              {}
func (*Param) expr()                  {}
func (*Unary) expr()                  {}
func (*Binary) expr()                 {}
func (*FuncCall) expr()               {}
func (*Case) expr()                   {}
func (*Cast) expr()                   {}
func (*Between) expr()                {}
func (*In) expr()                     {}
func (*Like) expr()                   {}
func (*IsTest) expr()                 {}
func (*Exists) expr()                 {}
func (*SubqueryExpr) expr()           {}
func (*Constructor) expr()            {}
func (*Index) expr()                  {}
func (*FieldAccess) expr()            {}
func (*TableArg) expr()               {}
func (*Paren) expr()                  {}
func (*GroupingSets) expr()           {}
