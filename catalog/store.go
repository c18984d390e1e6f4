package catalog

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Sentinel errors.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrValidation    = errors.New("validation error")
)

// Catalog holds the tables and views of a session. It is not safe for concurrent use; the session serializes.
type Catalog struct {
	tables map[string]*Table
	views  map[string]*View
}

// New returns an empty catalog.
func New() *Catalog {
	return &Catalog{tables: map[string]*Table{}, views: map[string]*View{}}
}

// key normalizes a possibly qualified name: default_catalog.default_database.t and t are the same table.
func key(name sql.ObjectName) string {
	parts := name.Parts
	if len(parts) == 3 && parts[0] == "default_catalog" {
		parts = parts[1:]
	}
	if len(parts) == 2 && parts[0] == "default_database" {
		parts = parts[1:]
	}
	return sql.JoinIdents(parts)
}

// CreateTable validates a CREATE TABLE statement and adds the table.
func (c *Catalog) CreateTable(st *sql.CreateTable) (*Table, error) {
	k := key(st.Name)
	if _, ok := c.tables[k]; ok || c.views[k] != nil {
		if st.IfNotExists {
			return c.tables[k], nil
		}
		return nil, sql.Errorf(st.Name.P, ErrAlreadyExists, "table %s already exists; use CREATE TABLE IF NOT EXISTS or DROP TABLE first", k)
	}
	t := &Table{Name: k, Comment: st.Comment, Temporary: st.Temporary, Def: st, Options: map[string]string{}}
	if st.Like != nil {
		src, ok := c.tables[key(st.Like.Source)]
		if !ok {
			return nil, sql.Errorf(st.Like.Source.P, ErrNotFound, "source table %s of LIKE not found", st.Like.Source)
		}
		excludeOpts, excludeParts := false, false
		for _, o := range st.Like.Options {
			if o == "EXCLUDING OPTIONS" || o == "EXCLUDING ALL" {
				excludeOpts = true
			}
			if o == "EXCLUDING PARTITIONS" || o == "EXCLUDING ALL" {
				excludeParts = true
			}
		}
		if !excludeParts {
			t.PartitionKeys = src.PartitionKeys
		}
		t.Columns = append(t.Columns, src.Columns...)
		t.Watermark = src.Watermark
		t.PrimaryKey = src.PrimaryKey
		if !excludeOpts {
			for _, ok := range src.OptionKeys {
				t.Options[ok] = src.Options[ok]
				t.OptionKeys = append(t.OptionKeys, ok)
			}
		}
	}
	seen := map[string]bool{}
	for _, col := range t.Columns {
		seen[col.Name] = true
	}
	for _, cd := range st.Columns {
		if seen[cd.Name] {
			return nil, sql.Errorf(cd.P, ErrValidation, "duplicate column %s in table %s", sql.QuoteIdentIfNeeded(cd.Name), k)
		}
		seen[cd.Name] = true
		col := Column{Name: cd.Name, Type: cd.Type, Kind: cd.Kind, Virtual: cd.Virtual, Comment: cd.Comment}
		switch cd.Kind {
		case sql.MetadataColumn:
			col.MetadataKey = cd.MetadataKey
			if col.MetadataKey == "" {
				col.MetadataKey = cd.Name
			}
		case sql.ComputedColumn:
			col.Expr = cd.Expr
			col.ExprText = sql.FormatExpr(cd.Expr)
		}
		t.Columns = append(t.Columns, col)
	}
	if len(t.Columns) == 0 {
		return nil, sql.Errorf(st.Name.P, ErrValidation, "table %s has no columns", k)
	}
	if st.PrimaryKey != nil {
		if !st.PrimaryKey.NotEnforced {
			return nil, sql.Errorf(st.PrimaryKey.P, ErrValidation,
				"Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode")
		}
		t.PrimaryKey = nil
		for _, id := range st.PrimaryKey.Columns {
			col, idx := t.Column(id.Name)
			if col == nil {
				return nil, sql.Errorf(id.P, ErrNotFound, "primary key column %s not found in table %s; columns are: %s", sql.QuoteIdentIfNeeded(id.Name), k, strings.Join(t.columnNames(), ", "))
			}
			if col.Kind != sql.PhysicalColumn {
				return nil, sql.Errorf(id.P, ErrValidation, "primary key column %s must be a physical column", sql.QuoteIdentIfNeeded(id.Name))
			}
			// A primary key implies NOT NULL, as in Flink.
			t.Columns[idx].Type.NotNull = true
			t.PrimaryKey = append(t.PrimaryKey, id.Name)
		}
	}
	if st.Watermark != nil {
		col, _ := t.Column(st.Watermark.Column.Name)
		if col == nil {
			return nil, sql.Errorf(st.Watermark.Column.P, ErrNotFound, "the rowtime attribute %s of the WATERMARK is not a column of table %s; columns are: %s", sql.QuoteIdentIfNeeded(st.Watermark.Column.Name), k, strings.Join(t.columnNames(), ", "))
		}
		if col.Kind != sql.ComputedColumn && !col.Type.IsTimestamp() {
			return nil, sql.Errorf(st.Watermark.Column.P, ErrValidation, "invalid data type of time field for watermark definition: the field %s is %s but must be TIMESTAMP(p) or TIMESTAMP_LTZ(p) with p <= 3", sql.QuoteIdentIfNeeded(col.Name), col.Type)
		}
		t.Watermark = &Watermark{Column: col.Name, Expr: st.Watermark.Expr, ExprText: sql.FormatExpr(st.Watermark.Expr)}
	}
	if len(st.PartitionBy) > 0 {
		t.PartitionKeys = nil
		for _, id := range st.PartitionBy {
			col, _ := t.Column(id.Name)
			if col == nil {
				return nil, sql.Errorf(id.P, ErrNotFound, "partition column %s not found in table %s; columns are: %s", sql.QuoteIdentIfNeeded(id.Name), k, strings.Join(t.columnNames(), ", "))
			}
			if col.Kind != sql.PhysicalColumn {
				return nil, sql.Errorf(id.P, ErrValidation, "partition column %s must be a physical column", sql.QuoteIdentIfNeeded(id.Name))
			}
			if containsKey(t.PartitionKeys, id.Name) {
				return nil, sql.Errorf(id.P, ErrValidation, "partition column %s is listed twice", sql.QuoteIdentIfNeeded(id.Name))
			}
			t.PartitionKeys = append(t.PartitionKeys, id.Name)
		}
	}
	given := map[string]bool{}
	for _, o := range st.Options {
		if given[o.Key] {
			return nil, sql.Errorf(o.P, ErrValidation, "option '%s' is given twice", o.Key)
		}
		given[o.Key] = true
		if _, inherited := t.Options[o.Key]; !inherited {
			t.OptionKeys = append(t.OptionKeys, o.Key)
		}
		t.Options[o.Key] = o.Value
	}
	w, err := mapLegacyOptions(t, st)
	if err != nil {
		return nil, err
	}
	if w != "" {
		t.Warnings = append(t.Warnings, w)
	}
	if _, ok := t.Options["connector"]; !ok {
		return nil, sql.Errorf(st.Name.P, ErrValidation, "table %s has no 'connector' option; add WITH ('connector' = '...', ...), e.g. 'datagen', 'print', 'kafka'", k)
	}
	c.tables[k] = t
	return t, nil
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func (t *Table) columnNames() []string {
	var out []string
	for _, c := range t.Columns {
		out = append(out, sql.QuoteIdentIfNeeded(c.Name))
	}
	return out
}

// CreateView adds a view. Columns is the view's output schema, computed by the caller (the planner).
func (c *Catalog) CreateView(st *sql.CreateView, cols []string) error {
	k := key(st.Name)
	if c.tables[k] != nil || c.views[k] != nil {
		if st.IfNotExists {
			return nil
		}
		return sql.Errorf(st.Name.P, ErrAlreadyExists, "a table or view named %s already exists", k)
	}
	c.views[k] = &View{Name: k, Columns: cols, Query: st.Query, QueryText: st.QueryText, Temporary: st.Temporary}
	return nil
}

// Drop removes a table or view.
func (c *Catalog) Drop(st *sql.Drop) error {
	k := key(st.Name)
	what := "table"
	if st.View {
		what = "view"
		if _, ok := c.views[k]; ok {
			delete(c.views, k)
			return nil
		}
	} else if _, ok := c.tables[k]; ok {
		delete(c.tables, k)
		return nil
	}
	if st.IfExists {
		return nil
	}
	return sql.Errorf(st.Name.P, ErrNotFound, "%s %s does not exist%s", what, k, c.didYouMean(k))
}

// Table returns the table named name.
func (c *Catalog) Table(name sql.ObjectName) (*Table, bool) {
	t, ok := c.tables[key(name)]
	return t, ok
}

// View returns the view named name.
func (c *Catalog) View(name sql.ObjectName) (*View, bool) {
	v, ok := c.views[key(name)]
	return v, ok
}

// NotFound builds the error for an unknown table or view, with a "did you mean".
func (c *Catalog) NotFound(name sql.ObjectName) error {
	return sql.Errorf(name.P, ErrNotFound, "Object '%s' not found%s", name, c.didYouMean(key(name)))
}

func (c *Catalog) didYouMean(k string) string {
	best, bestD := "", 3
	for _, n := range append(c.TableNames(), c.ViewNames()...) {
		if d := Levenshtein(strings.ToLower(n), strings.ToLower(k)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

// TableNames returns the table names, sorted.
func (c *Catalog) TableNames() []string {
	var out []string
	for n := range c.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ViewNames returns the view names, sorted.
func (c *Catalog) ViewNames() []string {
	var out []string
	for n := range c.views {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DescribeColumns are the columns of DESCRIBE's result, as Flink prints them.
var DescribeColumns = []string{"name", "type", "null", "key", "extras", "watermark"}

// Describe returns DESCRIBE's rows for a table: name, type, null, key, extras, watermark.
func (t *Table) Describe() [][]string {
	var rows [][]string
	pk := ""
	if len(t.PrimaryKey) > 0 {
		pk = "PRI(" + strings.Join(t.PrimaryKey, ", ") + ")"
	}
	for _, c := range t.Columns {
		typ := c.Type.String()
		if t.Watermark != nil && t.Watermark.Column == c.Name {
			typ += " *ROWTIME*"
		} else if c.Kind == sql.ComputedColumn && strings.EqualFold(strings.ReplaceAll(c.ExprText, " ", ""), "PROCTIME()") {
			typ += " *PROCTIME*"
		}
		null := "TRUE"
		if c.Type.NotNull {
			null = "FALSE"
		}
		k := ""
		if containsKey(t.PrimaryKey, c.Name) {
			k = pk
		}
		extras := ""
		switch c.Kind {
		case sql.MetadataColumn:
			extras = "METADATA"
			if c.MetadataKey != c.Name {
				extras += " FROM '" + c.MetadataKey + "'"
			}
			if c.Virtual {
				extras += " VIRTUAL"
			}
		case sql.ComputedColumn:
			extras = "AS " + c.ExprText
		}
		wm := ""
		if t.Watermark != nil && t.Watermark.Column == c.Name {
			wm = t.Watermark.ExprText
		}
		rows = append(rows, []string{c.Name, typ, null, k, extras, wm})
	}
	return rows
}

// OptionsText prints the table's options as a WITH clause in declaration order.
func (t *Table) OptionsText() string {
	var b strings.Builder
	b.WriteString("WITH (\n")
	for i, k := range t.OptionKeys {
		fmt.Fprintf(&b, "  '%s' = '%s'", strings.ReplaceAll(k, "'", "''"), strings.ReplaceAll(t.Options[k], "'", "''"))
		if i < len(t.OptionKeys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	return b.String()
}

// RowType is the ROW type of all columns (physical, metadata and computed) in order.
func (t *Table) RowType() types.Type {
	var fs []types.Field
	for _, c := range t.Columns {
		fs = append(fs, types.Field{Name: c.Name, Type: c.Type})
	}
	return types.RowType(fs...)
}

// Levenshtein is the edit distance between two strings, for "did you mean" suggestions.
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// RenameTable renames a table (ALTER TABLE ... RENAME TO).
func (c *Catalog) RenameTable(from, to sql.ObjectName) error {
	t, ok := c.tables[key(from)]
	if !ok {
		return c.NotFound(from)
	}
	if _, exists := c.tables[key(to)]; exists {
		return sql.Errorf(to.P, ErrAlreadyExists, "table %s already exists", to)
	}
	if _, exists := c.views[key(to)]; exists {
		return sql.Errorf(to.P, ErrAlreadyExists, "a view named %s already exists", to)
	}
	delete(c.tables, key(from))
	t.Name = to.Name()
	c.tables[key(to)] = t
	return nil
}

// AlterOptions returns a copy of table name with options set and reset (ALTER TABLE ... SET / RESET); the
// caller validates it and stores it with Replace.
func (c *Catalog) AlterOptions(name sql.ObjectName, set []sql.Option, reset []sql.Option) (*Table, error) {
	t, ok := c.tables[key(name)]
	if !ok {
		return nil, c.NotFound(name)
	}
	nt := *t
	nt.Options = make(map[string]string, len(t.Options))
	for k, v := range t.Options {
		nt.Options[k] = v
	}
	nt.OptionKeys = append([]string(nil), t.OptionKeys...)
	for _, o := range set {
		if _, had := nt.Options[o.Key]; !had {
			nt.OptionKeys = append(nt.OptionKeys, o.Key)
		}
		nt.Options[o.Key] = o.Value
	}
	for _, o := range reset {
		if o.Key == "connector" {
			return nil, sql.Errorf(o.P, ErrValidation, "the 'connector' option cannot be reset")
		}
		if _, had := nt.Options[o.Key]; !had {
			continue
		}
		delete(nt.Options, o.Key)
		for i, k := range nt.OptionKeys {
			if k == o.Key {
				nt.OptionKeys = append(nt.OptionKeys[:i], nt.OptionKeys[i+1:]...)
				break
			}
		}
	}
	return &nt, nil
}

// Replace stores t under name (after AlterOptions and validation).
func (c *Catalog) Replace(name sql.ObjectName, t *Table) { c.tables[key(name)] = t }

// CreateStatement renders the table as Flink's SHOW CREATE TABLE does, from its current definition (ALTER
// TABLE changes included).
func (t *Table) CreateStatement() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE %sTABLE %s (\n", map[bool]string{true: "TEMPORARY ", false: ""}[t.Temporary], sql.QuoteIdentIfNeeded(t.Name))
	var lines []string
	for _, c := range t.Columns {
		name := sql.QuoteIdentIfNeeded(c.Name)
		switch c.Kind {
		case sql.ComputedColumn:
			lines = append(lines, fmt.Sprintf("  %s AS %s", name, c.ExprText))
		case sql.MetadataColumn:
			l := fmt.Sprintf("  %s %s METADATA", name, c.Type)
			if c.MetadataKey != "" && c.MetadataKey != c.Name {
				l += fmt.Sprintf(" FROM '%s'", c.MetadataKey)
			}
			if c.Virtual {
				l += " VIRTUAL"
			}
			lines = append(lines, l)
		default:
			lines = append(lines, fmt.Sprintf("  %s %s", name, c.Type))
		}
	}
	if t.Watermark != nil {
		lines = append(lines, fmt.Sprintf("  WATERMARK FOR %s AS %s", sql.QuoteIdentIfNeeded(t.Watermark.Column), t.Watermark.ExprText))
	}
	if len(t.PrimaryKey) > 0 {
		var ks []string
		for _, k := range t.PrimaryKey {
			ks = append(ks, sql.QuoteIdentIfNeeded(k))
		}
		lines = append(lines, fmt.Sprintf("  PRIMARY KEY (%s) NOT ENFORCED", strings.Join(ks, ", ")))
	}
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n)")
	if t.Comment != "" {
		fmt.Fprintf(&b, "\nCOMMENT '%s'", strings.ReplaceAll(t.Comment, "'", "''"))
	}
	if len(t.PartitionKeys) > 0 {
		ks := make([]string, len(t.PartitionKeys))
		for i, k := range t.PartitionKeys {
			ks[i] = sql.QuoteIdentIfNeeded(k)
		}
		fmt.Fprintf(&b, "\nPARTITIONED BY (%s)", strings.Join(ks, ", "))
	}
	b.WriteString(" ")
	b.WriteString(t.OptionsText())
	return b.String()
}
