// Package catalog owns tables, views and their schemas: what CREATE/DROP/SHOW/DESCRIBE act on. It must not
// know about any connector.
package catalog

import (
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// ColumnKind distinguishes physical, metadata and computed columns.
type ColumnKind = sql.ColumnKind

// Column is one column of a table.
type Column struct {
	Name        string
	Type        types.Type
	Kind        ColumnKind
	MetadataKey string   // metadata columns: the key (the column name when not given)
	Virtual     bool     // metadata columns: read-only, excluded from sinks
	Expr        sql.Expr // computed columns
	ExprText    string   // computed columns: the expression as written
	Comment     string
}

// Watermark is WATERMARK FOR Column AS Expr.
type Watermark struct {
	Column   string
	Expr     sql.Expr
	ExprText string
}

// Table is a table created by CREATE TABLE.
type Table struct {
	Name       string
	Columns    []Column
	Watermark  *Watermark
	PrimaryKey []string
	// PartitionKeys are the columns of PARTITIONED BY (...), in order.
	PartitionKeys []string
	Options       map[string]string
	OptionKeys    []string // option keys in declaration order
	Comment       string
	Temporary     bool
	// Warnings are notices for the user about the definition (legacy options mapped onto today's), shown
	// when the table is created.
	Warnings []string
	// Def is the CREATE TABLE statement the table came from, for positions in errors.
	Def *sql.CreateTable
}

// View is a view created by CREATE VIEW.
type View struct {
	Name      string
	Columns   []string
	Query     *sql.Query
	QueryText string
	Temporary bool
}

// PhysicalColumns returns the physical columns in order.
func (t *Table) PhysicalColumns() []Column {
	var out []Column
	for _, c := range t.Columns {
		if c.Kind == sql.PhysicalColumn {
			out = append(out, c)
		}
	}
	return out
}

// PhysicalRowType is the ROW type of the physical columns.
func (t *Table) PhysicalRowType() types.Type {
	var fs []types.Field
	for _, c := range t.PhysicalColumns() {
		fs = append(fs, types.Field{Name: c.Name, Type: c.Type})
	}
	return types.RowType(fs...)
}

// Column returns the column named name (case-sensitive, as Flink) and its index.
func (t *Table) Column(name string) (*Column, int) {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i], i
		}
	}
	return nil, -1
}
