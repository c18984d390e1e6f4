package planner

import (
	"io"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Planner turns statements into plans. A Planner is used for one statement.
type Planner struct {
	Catalog    *catalog.Catalog
	Connectors *connectors.Registry
	Formats    *formats.Registry
	// Session is the session configuration.
	Session map[string]string
	// Batch plans for the batch runtime mode.
	Batch  bool
	Env    *expr.Env
	Params []types.Value
	Stdout io.Writer
	Stderr io.Writer

	b        binder
	ctes     []map[string]*sql.CTE
	viewPath []string
}

func (p *Planner) init() {
	p.b = binder{env: p.Env, params: p.Params}
}

// PlanQuery plans a query whose rows are returned to the caller.
func (p *Planner) PlanQuery(q *sql.Query) (Node, error) {
	p.init()
	return p.query(q)
}

func qualified(name string) string { return "default_catalog.default_database." + name }

// Sources returns the scans of a plan.
func Sources(n Node) []*Scan {
	var out []*Scan
	if s, ok := n.(*Scan); ok {
		out = append(out, s)
	}
	for _, in := range n.Inputs() {
		out = append(out, Sources(in)...)
	}
	return out
}

func (p *Planner) connectorContext(t *catalog.Table) connectors.Context {
	return connectors.Context{Table: t, Options: t.Options, Formats: p.Formats, Batch: p.Batch, Session: p.Session, Stdout: p.Stdout, Stderr: p.Stderr}
}

// ModeOf is a helper for callers: the changelog mode of a plan's root.
func ModeOf(n Node) changelog.Mode { return n.Mode() }
