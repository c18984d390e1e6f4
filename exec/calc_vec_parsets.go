package exec

import (
	"math"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TO_TIMESTAMP(s[, pattern]) and UNIX_TIMESTAMP(s[, pattern]) (a pattern column is compiled when a row's
// pattern differs from the previous row's; one the row path refuses bails), through the row path's own parsers (types.ParseTimestamp without a pattern, expr.WallParser with one): TO_TIMESTAMP is
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
		if !args[1].Type().IsString() {
			return nil
		}
		pv, ok := expr.LiteralOf(args[1])
		switch {
		case !ok:
			if k.pat = c.compile(args[1]); k.pat == nil {
				return nil
			}
		case pv.IsNull():
			return nil
		default:
			pattern = pv.S
		}
	}
	if k.pat == nil && (unix || len(args) == 2) {
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
	pat   vexpr  // a pattern column: parse is compiled when a row's pattern differs from last
	last  string // pat: the pattern parse holds
	have  bool   // pat: parse holds last's
	out   vec.Col
	nb    vec.Bitmap
	pnb   vec.Bitmap
}

func (k *vparseTs) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	in := x.Nulls
	var pat *vec.Col
	if k.pat != nil {
		if pat, err = strCol(k.pat, b); err != nil {
			return nil, err
		}
		in = orNulls(&k.pnb, n, x.Nulls, pat.Nulls)
	}
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
		if cur.skip(i) || in.Get(i) {
			continue
		}
		if pat != nil {
			if p := pat.Str(i); !k.have || p != k.last {
				parse, err := expr.WallParser(p)
				if err != nil {
					return nil, errBail // the row path reports the pattern
				}
				k.parse, k.last, k.have = parse, string([]byte(p)), true
			}
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
	k.out.Nulls = in
	if bad != nil {
		k.out.Nulls = unionNulls(&k.nb, n, bad, in)
	}
	return &k.out, nil
}

// compileNowFn compiles UNIX_TIMESTAMP(): the row path's expression, read for every selected row (Flink
// evaluates the non-deterministic function per record, as the row path does).
func (c *vcompiler) compileNowFn(call expr.Expr) vexpr {
	if call.Type().Kind != types.BigInt {
		return nil
	}
	return &vnowRows{x: call}
}

// vnowRows is a volatile call without arguments evaluated per selected row into a BIGINT column.
type vnowRows struct {
	x   expr.Expr
	out vec.Col
}

func (k *vnowRows) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n)}
	out := k.out.I64[:n]
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = 0
		if cur.skip(i) {
			continue
		}
		v, err := k.x.Eval(nil)
		if err != nil || v.T != types.TagInt {
			return nil, errBail
		}
		out[i] = v.I
	}
	return &k.out, nil
}
