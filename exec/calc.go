package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// NewCalc returns an operator that filters rows by filter (nil keeps every row; NULL and FALSE drop it) and
// then projects the kept rows through projects (nil projects passes the input values through). The row
// kind is preserved. It reuses one output batch and one value arena across pushes. An evaluation error
// fails the push, naming the expression.
func NewCalc(projects []expr.Expr, filter expr.Expr, out changelog.Output) changelog.Output {
	c := &calc{projects: projects, filter: filter, out: out, refs: columnRefs(projects)}
	c.ident = c.refs != nil
	for j, i := range c.refs {
		c.ident = c.ident && i == j
	}
	if vx := compileCalc(projects, filter); vx != nil {
		c.vx = vx
		if vx.udfs { // the row path replays what the kernels computed of user functions (calc_vec_udf.go)
			c.filter, c.projects = vx.rowFilter, vx.rowProjects
		}
	}
	return c
}

// vecMinRows is the smallest row batch the vector kernels take (below it, converting costs more than it saves).
const vecMinRows = 8

type calc struct {
	projects []expr.Expr
	filter   expr.Expr
	out      changelog.Output
	batch    changelog.Batch
	arena    []types.Value
	vx       *calcVec // the filter and projections as vector kernels (calc_vec.go); nil: rows only
	refs     []int    // every projection a column reference: their columns (a row's values copied, no Eval)
	ident    bool     // refs are 0, 1, ... len(refs)-1
}

// columnRefs returns the columns of projects when each is a column reference, else nil.
func columnRefs(projects []expr.Expr) []int {
	if len(projects) == 0 {
		return nil
	}
	refs := make([]int, len(projects))
	for j, p := range projects {
		i, ok := expr.ColumnIndex(p)
		if !ok {
			return nil
		}
		refs[j] = i
	}
	return refs
}

func (c *calc) Push(b *changelog.Batch) error {
	if c.vx != nil && !c.vx.rowsOnly && len(b.Rows) >= vecMinRows {
		if done, err := c.pushRows(b); done {
			return err
		}
	}
	return c.pushRowPath(b, nil)
}

// pushRowPath is the row path. When the kernels bailed on the batch and called user functions
// (c.vx.replay.active), rows[k] is row sel[k] of the batch they ran on (nil: row k), for the replays.
func (c *calc) pushRowPath(b *changelog.Batch, sel []int32) error {
	var cur *replayCursor
	if c.vx != nil && c.vx.udfs {
		if !c.vx.replay.active { // a batch the kernels did not run: a run of its own
			c.vx.runs++
			c.vx.replayOn(len(b.Rows))
		}
		cur = &c.vx.replay
		defer func() { cur.active = false }()
	}
	c.batch.Reset()
	n := len(c.projects)
	if need := len(b.Rows) * n; cap(c.arena) < need {
		c.arena = make([]types.Value, need)
	} else {
		c.arena = c.arena[:need]
	}
	k := 0
	for ri, r := range b.Rows {
		if cur != nil {
			cur.row = ri
			if sel != nil {
				cur.row = int(sel[ri])
			}
		}
		if c.filter != nil {
			v, err := c.filter.Eval(r.Vals)
			if err != nil {
				return fmt.Errorf("evaluate filter %s: %w", c.filter.String(), err)
			}
			if !isTrue(v) {
				continue
			}
		}
		if c.projects == nil {
			c.batch.Append(r.Kind, r.Vals)
			continue
		}
		vals := c.arena[k*n : (k+1)*n : (k+1)*n]
		k++
		if c.refs != nil {
			// the values a column reference's Eval returns, without a call per value (the projection behind
			// a group aggregate renames its columns: Nexmark q16)
			if c.ident {
				copy(vals, r.Vals[:n])
			} else {
				for j, x := range c.refs {
					vals[j] = r.Vals[x]
				}
			}
			c.batch.Append(r.Kind, vals)
			continue
		}
		for j, p := range c.projects {
			v, err := p.Eval(r.Vals)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", p.String(), err)
			}
			vals[j] = v
		}
		c.batch.Append(r.Kind, vals)
	}
	if len(c.batch.Rows) == 0 && len(b.Rows) > 0 {
		return nil
	}
	// An empty input batch is passed on: sources push one to let a watermark assigner notice idle splits.
	return c.out.Push(&c.batch)
}

func (c *calc) Watermark(ts int64) error { return c.out.Watermark(ts) }
func (c *calc) End() error               { return c.out.End() }
