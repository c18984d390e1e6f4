package exec

import (
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Pattern kernels whose pattern is a column (or any non-constant string expression): LIKE, REGEXP and
// REGEXP_EXTRACT. The last compiled pattern is cached (patterns repeat along a column), keyed by a copy of
// its text since the arena it was read from is reused. The row path's rules hold: a NULL operand gives NULL;
// a LIKE pattern that does not compile (a bad escape sequence) is an error, so the kernel bails and the row
// path reports it; an empty or invalid REGEXP pattern gives FALSE; an invalid REGEXP_EXTRACT pattern NULL.

// compilePatternDyn compiles LIKE and REGEXP_EXTRACT calls that the constant-pattern kernels do not take,
// and REGEXP.
func (c *vcompiler) compilePatternDyn(name string, args []expr.Expr) vexpr {
	for _, a := range args {
		if a.Type().Kind == types.Null {
			return nil
		}
	}
	switch name {
	case "LIKE":
		return c.compileLikeDyn(args)
	case "REGEXP", "REGEXP_EXTRACT":
		return c.compileRegexpDyn(name, args)
	}
	return nil
}

// compileLikeDyn compiles s LIKE p [ESCAPE e] with a non-constant p or e.
func (c *vcompiler) compileLikeDyn(args []expr.Expr) vexpr {
	if !args[0].Type().IsString() || !args[1].Type().IsString() {
		return nil
	}
	k := &vlikeDyn{}
	if len(args) == 3 {
		if !args[2].Type().IsString() {
			return nil
		}
		if ev, ok := expr.LiteralOf(args[2]); ok && !ev.IsNull() && ev.S != "" {
			k.esc = ev.S
		} else if k.e = c.compile(args[2]); k.e == nil { // a column, or '' (an error per row)
			return nil
		}
	}
	ks, ok := c.compileAll(args[:2])
	if !ok {
		return nil
	}
	k.s, k.p = ks[0], ks[1]
	return k
}

type vlikeDyn struct {
	s, p  vexpr
	e     vexpr  // an escape column (nil: esc)
	esc   string // the constant escape ("" for none)
	last  string
	lastE string // e: the escape m was compiled with
	m     *expr.LikeMatcher
	out   vec.Col
	nulls vec.Bitmap
}

func (k *vlikeDyn) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	p, err := strCol(k.p, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n)}
	out := k.out.B
	k.out.Nulls = orNulls(&k.nulls, n, s.Nulls, p.Nulls)
	var e *vec.Col
	if k.e != nil {
		if e, err = strCol(k.e, b); err != nil {
			return nil, err
		}
		k.out.Nulls = unionNulls(&k.nulls, n, k.out.Nulls, e.Nulls)
	}
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = false
		if cur.skip(i) || k.out.Nulls.Get(i) {
			continue
		}
		pat, esc := p.Str(i), k.esc
		if e != nil {
			if esc = e.Str(i); esc == "" {
				return nil, errBail // the row path reports the escape
			}
		}
		if k.m == nil || pat != k.last || esc != k.lastE {
			m, err := expr.CompileLike(pat, esc)
			if err != nil {
				return nil, errBail // the row path reports the pattern's or the escape's error
			}
			k.m, k.last, k.lastE = m, strings.Clone(pat), strings.Clone(esc)
		}
		out[i] = k.m.Match(s.Str(i))
	}
	return &k.out, nil
}

// regexCacheVec holds the last compiled pattern.
type regexCacheVec struct {
	valid bool
	last  string
	re    *expr.Regexp // nil: the pattern does not compile
	m     []int        // the last match's positions (reused)
}

func (c *regexCacheVec) get(p string) *expr.Regexp {
	if !c.valid || p != c.last {
		re, err := expr.CompileRegexpFast(p)
		if err != nil {
			re = nil
		}
		c.valid, c.last, c.re = true, strings.Clone(p), re
	}
	return c.re
}

// compileRegexpDyn compiles REGEXP(s, p) (any pattern) and REGEXP_EXTRACT(s, p[, constant group]) with a
// non-constant p.
func (c *vcompiler) compileRegexpDyn(name string, args []expr.Expr) vexpr {
	if !args[0].Type().IsString() || !args[1].Type().IsString() {
		return nil
	}
	k := &vregexpDyn{extract: name == "REGEXP_EXTRACT"}
	if len(args) == 3 {
		gv, ok := expr.LiteralOf(args[2])
		if !ok || gv.IsNull() || gv.T != types.TagInt {
			return nil
		}
		k.group = gv.I
	}
	ks, ok := c.compileAll(args[:2])
	if !ok {
		return nil
	}
	k.s, k.p = ks[0], ks[1]
	return k
}

type vregexpDyn struct {
	s, p    vexpr
	extract bool
	group   int64
	cache   regexCacheVec
	out     vec.Col
	nulls   vec.Bitmap
	nb      vec.Bitmap
}

func (k *vregexpDyn) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	p, err := strCol(k.p, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	in := orNulls(&k.nulls, n, s.Nulls, p.Nulls)
	cur := selCursor{sel: b.Sel}
	if !k.extract {
		k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n), Nulls: in}
		out := k.out.B
		for i := 0; i < n; i++ {
			out[i] = false
			if cur.skip(i) || in.Get(i) {
				continue
			}
			pat := p.Str(i)
			if pat == "" {
				continue
			}
			if re := k.cache.get(pat); re != nil {
				out[i] = re.Match(s.Str(i))
			}
		}
		return &k.out, nil
	}
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	k.nb = vec.ResetBitmap(k.nb, n)
	nulls := k.nb
	g := k.group
	for i := 0; i < n; i++ {
		if cur.skip(i) {
			endRow(out)
			continue
		}
		if in.Get(i) {
			nulls.Set(i)
			endRow(out)
			continue
		}
		re := k.cache.get(p.Str(i))
		str := s.Str(i)
		var m []int
		if re != nil {
			m = re.SubmatchIndex(str, k.cache.m)
			if m != nil {
				k.cache.m = m
			}
		}
		if m == nil || g < 0 || int(g) > re.NumSubexp() || m[2*g] < 0 {
			nulls.Set(i)
		} else {
			out.Data = append(out.Data, str[m[2*g]:m[2*g+1]]...)
		}
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}
