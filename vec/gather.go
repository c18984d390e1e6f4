package vec

import "github.com/sluicesql/sluice/changelog"

// Gathering rows of a batch into another batch of the same shape, a column at a time: a hash exchange splits
// a columnar batch into one batch per destination subtask (exec.ExchangeSender.PushColumns). The destination
// owns its storage (strings are copied into its byte arena), so the source batch may be reused at once.

// SameShape reports whether src's rows can be appended to c with AppendRows: the same kind, tag and scale,
// and for a ROW the same shape of every field.
func (c *Col) SameShape(src *Col) bool {
	if c.Kind != src.Kind || c.Tag != src.Tag || c.Scale != src.Scale {
		return false
	}
	if c.Kind == Struct {
		if len(c.Fields) != len(src.Fields) {
			return false
		}
		for j, f := range c.Fields {
			if !f.SameShape(src.Fields[j]) {
				return false
			}
		}
	}
	return true
}

// Reshape makes c an empty column of src's shape, reusing its storage.
func (c *Col) Reshape(src *Col) {
	c.Kind, c.Tag, c.Scale = src.Kind, src.Tag, src.Scale
	if c.Kind == Struct {
		for len(c.Fields) < len(src.Fields) {
			c.Fields = append(c.Fields, &Col{})
		}
		c.Fields = c.Fields[:len(src.Fields)]
		for j, f := range c.Fields {
			f.Reshape(src.Fields[j])
		}
	} else {
		c.Fields = c.Fields[:0]
	}
	c.Reset(0) // a Bytes column gets its arena state before any value is handed out
}

// AppendRows appends the physical rows rows of src (ascending or not) to c, which has at rows, and which has
// src's shape (SameShape). Strings are copied into c's arena. It allocates only when c's storage grows.
func (c *Col) AppendRows(src *Col, rows []int32, at int) {
	if src.Nulls.Any() {
		for need := Words(at + len(rows)); len(c.Nulls) < need; {
			c.Nulls = append(c.Nulls, 0)
		}
		for t, i := range rows {
			if src.Nulls.Get(int(i)) {
				c.Nulls.Set(at + t)
			}
		}
	}
	switch c.Kind {
	case Int64:
		for _, i := range rows {
			c.I64 = append(c.I64, src.I64[i])
		}
		if src.Nanos != nil {
			if c.Nanos == nil {
				c.Nanos = make([]int32, at, cap(c.I64))
			}
			for _, i := range rows {
				c.Nanos = append(c.Nanos, src.Nanos[i])
			}
		} else if c.Nanos != nil {
			for range rows {
				c.Nanos = append(c.Nanos, 0)
			}
		}
	case Float64:
		for _, i := range rows {
			c.F64 = append(c.F64, src.F64[i])
		}
	case Bool:
		for _, i := range rows {
			c.B = append(c.B, src.B[i])
		}
	case Dec128:
		for _, i := range rows {
			c.D128 = append(c.D128, src.D128[i])
		}
	case Bytes:
		if len(c.Off) == 0 {
			c.Off = append(c.Off, 0)
		}
		for _, i := range rows {
			c.Data = append(c.Data, src.Data[src.Off[i]:src.Off[i+1]]...)
			c.Off = append(c.Off, int32(len(c.Data)))
		}
	case Struct:
		for j, f := range c.Fields {
			f.AppendRows(src.Fields[j], rows, at)
		}
	default:
		for _, i := range rows {
			c.Vals = append(c.Vals, src.Vals[i])
		}
	}
}

// Gather is a batch that rows of other batches are gathered into (a destination of a hash exchange). Its
// Batch has no selection vector; Kinds is set only when a gathered row is not an insert.
type Gather struct {
	Batch
	kinds   []changelog.Kind
	updates bool // some row is not an insert: kinds holds every row's kind
}

// Fits reports whether b's rows can be appended to g: g is empty or has b's shape.
func (g *Gather) Fits(b *Batch) bool {
	if g.N == 0 {
		return true
	}
	if len(g.Cols) != len(b.Cols) {
		return false
	}
	for j, c := range g.Cols {
		if !c.SameShape(b.Cols[j]) {
			return false
		}
	}
	return true
}

// Append appends the physical rows rows of b to g (which must fit b: Fits).
func (g *Gather) Append(b *Batch, rows []int32) {
	if len(rows) == 0 {
		return
	}
	if g.N == 0 {
		g.shape(b)
	}
	at := g.N
	for j, c := range g.Cols {
		c.AppendRows(b.Cols[j], rows, at)
	}
	if !g.updates && b.Kinds != nil {
		for _, i := range rows {
			if b.Kinds[i] != changelog.Insert {
				g.updates = true
				g.kinds = g.kinds[:0]
				for range at {
					g.kinds = append(g.kinds, changelog.Insert)
				}
				break
			}
		}
	}
	if g.updates {
		for _, i := range rows {
			g.kinds = append(g.kinds, b.Kind(int(i)))
		}
		g.Kinds = g.kinds
	}
	g.N += len(rows)
}

// shape gives the empty g b's columns' shapes.
func (g *Gather) shape(b *Batch) {
	for len(g.Cols) < len(b.Cols) {
		g.Cols = append(g.Cols, &Col{})
	}
	g.Cols = g.Cols[:len(b.Cols)]
	for j, c := range g.Cols {
		if !c.SameShape(b.Cols[j]) || c.Kind == Bytes && len(c.Off) == 0 {
			c.Reshape(b.Cols[j])
		}
	}
}

// Reset empties g for reuse (call it once the batch's consumer returned: Col.Reset keeps an arena whose
// strings were not handed out as row values).
func (g *Gather) Reset() {
	for _, c := range g.Cols {
		c.Reset(0)
	}
	g.N, g.Sel, g.Kinds = 0, nil, nil
	g.kinds = g.kinds[:0]
	g.updates = false
}
