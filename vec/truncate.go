package vec

// Truncate cuts the column back to its first n rows (a producer undoing a row it could not finish). A
// column with n rows or fewer is left as is.
func (c *Col) Truncate(n int) {
	if c.Len() <= n && c.Kind != Struct { // a struct's children may be uneven while a row is being decoded
		return
	}
	switch c.Kind {
	case Int64:
		c.I64 = c.I64[:n]
		if c.Nanos != nil {
			c.Nanos = c.Nanos[:n]
		}
	case Float64:
		c.F64 = c.F64[:n]
	case Bool:
		c.B = c.B[:n]
	case Dec128:
		c.D128 = c.D128[:n]
	case Bytes:
		c.Data = c.Data[:c.Off[n]]
		c.Off = c.Off[:n+1]
	case Struct:
		for _, f := range c.Fields {
			f.Truncate(n)
		}
	default:
		clear(c.Vals[n:])
		c.Vals = c.Vals[:n]
	}
	if w := n >> 6; w < len(c.Nulls) {
		c.Nulls[w] &= 1<<(uint(n)&63) - 1
		clear(c.Nulls[w+1:])
	}
}
