package datagen

import (
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// Projection pushdown (connectors.ProjectableSource): the fields a query does not read, and the members of
// ROW fields it does not read, are NULL and not built (no strings, collections, dates or ROW values). Every
// field of a row draws from one random stream, so an unread field still draws what it would have drawn
// (gen.skip): the read fields get the values they get without the projection, for the same seed.

var _ connectors.ProjectableSource = (*source)(nil)

// ApplyProjection replaces the generators of unread fields and members by skipping ones. Call it before Run.
func (s *source) ApplyProjection(p *formats.Projection) {
	gens := make([]gen, len(s.gens))
	for i, g := range s.gens {
		gens[i] = projectGen(g, p.Needs(i), p.Of(i))
	}
	s.gens = gens
}

// projectGen returns the generator of a field read (need) as sub (nil: whole).
func projectGen(g gen, need bool, sub *formats.Projection) gen {
	if !need {
		return skipped{g}
	}
	if sub == nil {
		return g
	}
	switch x := g.(type) {
	case *nullable:
		return &nullable{rate: x.rate, g: projectGen(x.g, true, sub)}
	case *rowGen:
		fields := make([]gen, len(x.fields))
		for i, f := range x.fields {
			fields[i] = projectGen(f, sub.Needs(i), sub.Of(i))
		}
		return &rowGen{fields: fields}
	}
	return g
}

// skipped is an unread field: NULL, after the random draws of its generator.
type skipped struct{ g gen }

func (s skipped) next(c *genCtx, row int64) types.Value {
	s.g.skip(c, row)
	return types.NullValue
}

func (s skipped) skip(c *genCtx, row int64) { s.g.skip(c, row) }

// The skip methods draw exactly the random numbers next draws, in the same order, without building values.

func (*seqGen) skip(*genCtx, int64) {} // a function of the row number

func (n *nullable) skip(c *genCtx, row int64) {
	if c.rng.Float32() <= n.rate {
		return
	}
	n.g.skip(c, row)
}

func (constNull) skip(*genCtx, int64) {}

func (boolGen) skip(c *genCtx, _ int64) { c.rng.Uint64() }

func (g *intGen) skip(c *genCtx, _ int64) { randInt(c.rng, g.lo, g.hi) }

func (*floatGen) skip(c *genCtx, _ int64) { c.rng.Float64() }

func (g *decimalGen) skip(c *genCtx, row int64) {
	if g.blo == nil {
		randInt(c.rng, g.lo, g.hi)
		return
	}
	g.next(c, row) // rejection sampling: how many draws depends on the values
}

func (g *stringGen) skip(c *genCtx, _ int64) {
	n := g.length
	if g.varLen && n > 1 {
		n = 1 + c.rng.IntN(n)
	}
	for i := 0; i < n; i += 16 {
		c.rng.Uint64()
		if g.bytes { // one more draw after every 8th byte of the chunk
			for k := min(16, n-i) / 8; k > 0; k-- {
				c.rng.Uint64()
			}
		}
	}
}

func (g *timeGen) skip(c *genCtx, _ int64) {
	if g.maxPast > 0 {
		c.rng.Int64N(g.maxPast)
	}
}

func (g *arrayGen) skip(c *genCtx, row int64) {
	if g.multiset {
		g.next(c, row) // how many draws depends on which elements repeat
		return
	}
	for i := 0; i < g.length; i++ {
		g.elem.skip(c, row)
	}
}

func (g *mapGen) skip(c *genCtx, row int64) {
	for i := 0; i < g.length; i++ { // key and value are drawn whether or not the key repeats
		g.key.skip(c, row)
		g.val.skip(c, row)
	}
}

func (g *rowGen) skip(c *genCtx, row int64) {
	for _, f := range g.fields {
		f.skip(c, row)
	}
}
