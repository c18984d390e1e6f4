package engine

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// proctimeFirst goes in front of the Top-N of a deduplication that keeps each key's first row on processing
// time (planner.Rank.ProctimeFirst, planned insert-only as in Flink): it keeps the order column, a
// PROCTIME() value taken where the row was read, non-decreasing in the order rows arrive, raising a value
// below the highest one seen to it. Rows read by several source subtasks (or scale-out members) meet here in
// an order their clocks did not see; without it a row whose processing time was taken earlier but that came
// later would replace its key's first row, a retraction the insert-only plan does not have. With it the
// Top-N keeps the first row that arrives (ties keep arrival order), as Flink's operator, which compares no
// times. A scale-out member's restore replays the stored rows through it, so a member whose clock is behind
// the stored rows' does not replace them either.
type proctimeFirst struct {
	col   int
	last  types.Value // the highest order value seen (TagNull: none)
	out   changelog.Output
	ob    changelog.Batch
	arena []types.Value
}

// rankInput is where the input of Top-N r of plan node n goes: r, or the guard in front of it for a
// deduplication keeping the first row on processing time.
func rankInput(n *planner.Rank, r changelog.Output) changelog.Output {
	if n.ProctimeFirst() {
		return newProctimeFirst(n.Order[0].Col, r)
	}
	return r
}

// newProctimeFirst returns the guard for order column col in front of out.
func newProctimeFirst(col int, out changelog.Output) *proctimeFirst {
	return &proctimeFirst{col: col, out: out}
}

// below reports whether timestamp v is below p.last.
func (p *proctimeFirst) below(v types.Value) bool {
	return p.last.T == types.TagTimestamp && v.T == types.TagTimestamp && (v.I < p.last.I || v.I == p.last.I && v.N < p.last.N)
}

func (p *proctimeFirst) Push(b *changelog.Batch) error {
	start, raise := p.last, false
	for i := range b.Rows {
		v := b.Rows[i].Vals[p.col]
		if p.below(v) {
			raise = true
			continue
		}
		if v.T == types.TagTimestamp {
			p.last = v
		}
	}
	if !raise {
		return p.out.Push(b)
	}
	// Rows past the highest value are raised on a copy (the batch belongs to the caller): rare, when
	// channels' rows interleave.
	p.ob.Reset()
	p.arena = p.arena[:0]
	p.last = start
	for i := range b.Rows {
		row := &b.Rows[i]
		s := len(p.arena)
		p.arena = append(p.arena, row.Vals...)
		vals := p.arena[s:len(p.arena):len(p.arena)]
		if p.below(vals[p.col]) {
			vals[p.col] = p.last
		} else if vals[p.col].T == types.TagTimestamp {
			p.last = vals[p.col]
		}
		p.ob.Append(row.Kind, vals)
	}
	return p.out.Push(&p.ob)
}

func (p *proctimeFirst) Watermark(ts int64) error { return p.out.Watermark(ts) }
func (p *proctimeFirst) End() error               { return p.out.End() }
