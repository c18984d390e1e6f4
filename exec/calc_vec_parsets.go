package exec

import (
	"math"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TO_TIMESTAMP(s[, pattern]) and UNIX_TIMESTAMP(s[, pattern]) with a constant pattern, through the row
// path's own parsers (types.ParseTimestamp without a pattern, expr.WallParser with one): TO_TIMESTAMP is
// the TIMESTAMP(3) wall clock (NULL when s does not parse), UNIX_TIMESTAMP the epoch seconds of the wall
// clock in the session zone (of the UTC wall clock when s has an offset; BIGINT's minimum when s does not
// parse).

// compileParseTs compiles TO_TIMESTAMP (unix false) or UNIX_TIMESTAMP.
func (c *vcompiler) compileParseTs(call expr.Expr, unix bool, args []expr.Expr) vexpr {
	if len(args) == 0 || len(args) > 2 || !args[0].Type().IsString() {
		return nil
	}
	k := &vparseTs{unix: unix}
	pattern := expr.DefaultDateTimeFormat
	if len(args) == 2 {
		pv, ok := expr.LiteralOf(args[1])
		if !ok || pv.IsNull() || !args[1].Type().IsString() {
			return nil
		}
		pattern = pv.S
	}
	if unix || len(args) == 2 {
		p, err := expr.WallParser(pattern)
		if err != nil {
			return nil // the row path reports the pattern
		}
		k.parse = p
	}
	if unix {
		loc, ok := expr.SessionZone(call)
		if !ok {
			return nil
		}
		k.zone = newZoneOffsets(loc)
	}
	if k.x = c.compile(args[0]); k.x == nil {
		return nil
	}
	return k
}

// vparseTs is TO_TIMESTAMP or UNIX_TIMESTAMP (unix) of a string column.
type vparseTs struct {
	x     vexpr
	unix  bool
	parse func(s string) (ms int64, nanos int32, ok, zoned bool) // nil: types.ParseTimestamp
	zone  *zoneOffsets
	out   vec.Col
	nb    vec.Bitmap
}

func (k *vparseTs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	tag := types.TagTimestamp
	if k.unix {
		tag = types.TagInt
	}
	k.out = vec.Col{Kind: vec.Int64, Tag: tag, I64: growI64(k.out.I64, n)}
	out := k.out.I64[:n]
	var bad vec.Bitmap // TO_TIMESTAMP: texts that do not parse
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = 0
		if cur.skip(i) || x.Nulls.Get(i) {
			continue
		}
		var ms int64
		var ok, zoned bool
		if k.parse != nil {
			ms, _, ok, zoned = k.parse(x.Str(i))
		} else {
			v, err := types.ParseTimestamp(x.Str(i), 3)
			ms, ok = v.I, err == nil
		}
		switch {
		case !ok && k.unix:
			out[i] = math.MinInt64
		case !ok:
			if bad == nil {
				k.nb = vec.ResetBitmap(k.nb, n)
				bad = k.nb
			}
			bad.Set(i)
		case k.unix && zoned:
			out[i] = floorDiv(ms, 1000)
		case k.unix:
			out[i] = floorDiv(k.zone.fromLocal(ms), 1000)
		default:
			out[i] = ms // TIMESTAMP(3): the nanos within the millisecond are dropped
		}
	}
	k.out.Nulls = x.Nulls
	if bad != nil {
		k.out.Nulls = unionNulls(&k.nb, n, bad, x.Nulls)
	}
	return &k.out, nil
}
