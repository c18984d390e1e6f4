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

	// Trace, when set, records every statement's plan as bound, after each rewrite phase that changed it,
	// and after the physical pass (EXPLAIN's sections).
	Trace *Trace

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
	n, err := p.query(q)
	if err != nil {
		return nil, err
	}
	return p.optimize(n)
}

// Trace is what planning did to each statement, in order (a statement set has several).
type Trace struct {
	Statements []StatementTrace
}

// StatementTrace holds the plans of one statement.
type StatementTrace struct {
	AST      Node        // the logical plan as bound (== Abstract Syntax Tree ==)
	Steps    []PhaseStep // the plan after each rewrite phase that changed it (EXPLAIN VERBOSE)
	Physical Node        // the physical plan (== Optimized Physical Plan ==)
}

// optimize runs the rewrite phases for the runtime mode over a bound plan, then the physical pass.
func (p *Planner) optimize(logical Node) (Node, error) {
	n, steps, err := Optimize(logical, phases(p.Batch))
	if err != nil {
		return nil, err
	}
	phys, err := p.physical(n)
	if err != nil {
		return nil, err
	}
	if !p.Batch {
		// Mini-batch, two-phase and split distinct aggregation (minibatch.go), then the mode checks again
		// (a split aggregate may delete where the one-level aggregate only updated).
		rewritten, _, err := physicalRewrite(phys, p.Session)
		if err != nil {
			return nil, err
		}
		if rewritten != phys {
			if err := inferModes(rewritten); err != nil {
				return nil, err
			}
			phys = rewritten
		}
		if phys, err = p.sinkMaterialize(phys); err != nil { // sink_materialize.go
			return nil, err
		}
	}
	if p.Trace != nil {
		p.Trace.Statements = append(p.Trace.Statements, StatementTrace{AST: logical, Steps: steps, Physical: phys})
	}
	return phys, nil
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
