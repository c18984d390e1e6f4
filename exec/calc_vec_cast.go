package exec

import (
	"errors"
	"time"
	"unicode/utf8"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// CAST (and TRY_CAST) from CHAR/VARCHAR to the integer types, FLOAT/DOUBLE, DECIMAL (any precision), DATE,
// TIME, TIMESTAMP, TIMESTAMP_LTZ (the wall clock in the cast's session zone) and BOOLEAN. Each value
// converts with the row path's own conversion (types.Cast), with fast paths for plain decimal integers and
// plain decimal text (parseDecText); the results are written into typed columns. A value that does not
// convert is NULL where the row path makes it NULL (TRY_CAST; a number too large for a nullable DECIMAL);
// otherwise the kernel bails, so the row path reports the error exactly as before (the first failing row
// and projection in row order).

// compileStrCast compiles a cast of the string expression x to type to; nil when to has no kernel.
func (c *vcompiler) compileStrCast(x expr.Expr, to types.Type, try, overflowNull bool, loc *time.Location) vexpr {
	if to.IsString() {
		if k := c.compile(x); k != nil && to.Length > 0 && to.Length < types.MaxLength {
			return &vfitString{x: k, n: to.Length, char: to.Kind == types.Char}
		}
		return nil
	}
	switch {
	case to.IsIntegral(), isFloat(to), to.Kind == types.Boolean, to.Kind == types.Date, to.Kind == types.Timestamp,
		to.Kind == types.TimestampLTZ, to.Kind == types.Time:
	case to.Kind == types.Decimal && to.Precision <= 38:
	default:
		return nil
	}
	k := c.compile(x)
	if k == nil {
		return nil
	}
	lo, hi := int64(-1)<<(intWidth(to.Kind)-1), int64(1)<<(intWidth(to.Kind)-1)-1
	if to.Kind == types.BigInt {
		lo, hi = -1<<63, 1<<63-1
	}
	return &vstrCast{x: k, from: x.Type(), to: to, try: try, overflowNull: overflowNull, lo: lo, hi: hi, loc: loc}
}

// vstrCast converts a Bytes column of strings to the column of the target type.
type vstrCast struct {
	x            vexpr
	from, to     types.Type
	try          bool
	overflowNull bool
	lo, hi       int64          // integer targets' range
	loc          *time.Location // the session zone (TIMESTAMP_LTZ targets)
	out          *vec.Col
	nb           vec.Bitmap
}

// parseDecInt parses -?[0-9]{1,18} (the strings whose value parseJavaLong obviously agrees on).
func parseDecInt(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		v = v*10 + int64(d)
	}
	if neg {
		v = -v
	}
	return v, true
}

func (k *vstrCast) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	if k.out == nil {
		k.out = vec.ColFor(k.to)
	}
	n := b.N
	out := k.out
	out.Nulls = nil
	out.Reset(n)
	k.nb = vec.ResetBitmap(k.nb, n)
	nulls, anyNull := k.nb, false
	integral := k.to.IsIntegral()
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			nulls.Set(i)
			anyNull = true
			zeroSlot(out)
			continue
		}
		s := x.Str(i)
		if integral {
			if v, ok := parseDecInt(s); ok && v >= k.lo && v <= k.hi {
				out.I64 = append(out.I64, v)
				continue
			}
		}
		if k.to.Kind == types.Decimal { // plain decimal text without types.Cast's values
			if m, neg, ok := parseDecText(s, k.to.Scale); ok && m.cmp(pow10x[k.to.Precision]) < 0 {
				setDec(out, m, neg)
				continue
			}
		}
		r, err := types.Cast(types.StringValue(s), k.from, k.to, k.loc)
		if err != nil {
			if k.try || k.overflowNull && errors.Is(err, types.ErrDecimalOverflow) {
				nulls.Set(i)
				anyNull = true
				out.Append(i, types.NullValue)
				continue
			}
			return nil, errBail // the row path reports the error
		}
		if !out.Append(i, r) {
			return nil, errBail
		}
	}
	if anyNull {
		out.Nulls = nulls
	}
	return out, nil
}

// zeroSlot appends the zero slot of a NULL to a typed column (the NULL bit is kept elsewhere).
func zeroSlot(c *vec.Col) {
	switch c.Kind {
	case vec.Int64:
		c.I64 = append(c.I64, 0)
		if c.Nanos != nil {
			c.Nanos = append(c.Nanos, 0)
		}
	case vec.Float64:
		c.F64 = append(c.F64, 0)
	case vec.Bool:
		c.B = append(c.B, false)
	case vec.Dec128:
		c.D128 = append(c.D128, vec.Int128{})
	}
}

// vfitString is CAST(s AS VARCHAR(n)) or CHAR(n) of a longer string type (as at a sink column): values cut to
// n code points, CHAR padded with spaces to n (types.Cast's fitString). A column whose selected values
// are all at most n bytes (and, for CHAR, exactly n code points) is passed through as it is.
type vfitString struct {
	x    vexpr
	n    int
	char bool
	out  vec.Col
}

func (k *vfitString) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	fits := true
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n && fits; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			continue
		}
		l := int(x.Off[i+1] - x.Off[i])
		fits = l <= k.n && (!k.char || l == k.n && utf8.RuneCount(x.Data[x.Off[i]:x.Off[i+1]]) == k.n)
	}
	if fits {
		return x, nil
	}
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	cur = selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			endRow(out)
			continue
		}
		s := x.Data[x.Off[i]:x.Off[i+1]]
		j, c := 0, 0
		for j < len(s) && c < k.n {
			if s[j] < utf8.RuneSelf {
				j++
			} else {
				_, w := utf8.DecodeRune(s[j:])
				j += w
			}
			c++
		}
		out.Data = append(out.Data, s[:j]...)
		for ; k.char && c < k.n; c++ {
			out.Data = append(out.Data, ' ')
		}
		endRow(out)
	}
	out.Nulls = x.Nulls
	return out, nil
}
