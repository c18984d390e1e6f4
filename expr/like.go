package expr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluicesql/sluice/types"
)

// likePattern is a compiled LIKE pattern: the parts between % signs, each a sequence of literal code
// points and _ wildcards (-1). The first part is anchored at the start, the last at the end (both empty
// when the pattern starts or ends with %); the middle parts float.
type likePattern struct {
	kind   likeKind
	lit    string // for the literal fast paths
	first  []rune
	middle [][]rune
	// midLit holds each middle part as a string when it has no _ and no U+FFFD (it is then found with
	// strings.Index: a valid UTF-8 literal only matches at a code point boundary), else "".
	midLit []string
	last   []rune
	single bool // no % at all: first is the whole pattern
}

type likeKind uint8

const (
	likeGeneral  likeKind = iota
	likeExact             // abc
	likePrefix            // abc%
	likeSuffix            // %abc
	likeContains          // %abc%
	likeAll               // %
)

// compileLike compiles a LIKE pattern. escape is the escape character (0 for none): it must be followed
// by _, % or itself.
func compileLike(pattern string, escape rune) (*likePattern, error) {
	var parts [][]rune
	cur := []rune{}
	underscore := false
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case escape != 0 && r == escape:
			if i+1 >= len(rs) || rs[i+1] != '_' && rs[i+1] != '%' && rs[i+1] != escape {
				return nil, fmt.Errorf("Invalid escape sequence '%s', %d", pattern, i)
			}
			i++
			cur = append(cur, rs[i])
		case r == '%':
			parts = append(parts, cur)
			cur = []rune{}
		case r == '_':
			underscore = true
			cur = append(cur, -1)
		default:
			cur = append(cur, r)
		}
	}
	parts = append(parts, cur)
	p := &likePattern{first: parts[0], last: parts[len(parts)-1], single: len(parts) == 1}
	for _, m := range parts[1:max(1, len(parts)-1)] {
		if len(m) > 0 {
			p.middle = append(p.middle, m)
			lit := string(m)
			if slices.Contains(m, -1) || slices.Contains(m, utf8.RuneError) {
				lit = ""
			}
			p.midLit = append(p.midLit, lit)
		}
	}
	if underscore {
		return p, nil
	}
	switch {
	case p.single:
		p.kind, p.lit = likeExact, string(p.first)
	case len(p.middle) == 0 && len(p.first) == 0 && len(p.last) == 0:
		p.kind = likeAll
	case len(p.middle) == 0 && len(p.last) == 0:
		p.kind, p.lit = likePrefix, string(p.first)
	case len(p.middle) == 0 && len(p.first) == 0:
		p.kind, p.lit = likeSuffix, string(p.last)
	case len(p.middle) == 1 && len(p.first) == 0 && len(p.last) == 0:
		p.kind, p.lit = likeContains, string(p.middle[0])
	}
	return p, nil
}

func (p *likePattern) match(s string) bool {
	switch p.kind {
	case likeAll:
		return true
	case likeExact:
		return s == p.lit
	case likePrefix:
		return strings.HasPrefix(s, p.lit)
	case likeSuffix:
		return strings.HasSuffix(s, p.lit)
	case likeContains:
		return strings.Contains(s, p.lit)
	}
	pos := matchSeg(s, 0, p.first)
	if pos < 0 {
		return false
	}
	if p.single {
		return pos == len(s)
	}
	for j, seg := range p.middle {
		if lit := p.midLit[j]; lit != "" {
			k := strings.Index(s[pos:], lit)
			if k < 0 {
				return false
			}
			pos += k + len(lit)
			continue
		}
		found := -1
		for i := pos; i < len(s); {
			if end := matchSeg(s, i, seg); end >= 0 {
				found = end
				break
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		if found < 0 {
			return false
		}
		pos = found
	}
	// the last part has a fixed number of code points: match it at the end.
	start := len(s)
	for range p.last {
		if start <= pos {
			return false
		}
		_, w := utf8.DecodeLastRuneInString(s[:start])
		start -= w
	}
	return matchSeg(s, start, p.last) == len(s)
}

// matchSeg matches seg at byte offset i of s and returns the end offset, or -1.
func matchSeg(s string, i int, seg []rune) int {
	for _, want := range seg {
		if i >= len(s) {
			return -1
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if want >= 0 && r != want {
			return -1
		}
		i += w
	}
	return i
}

func escapeRune(e types.Value) (rune, error) {
	if utf8.RuneCountInString(e.S) != 1 {
		return 0, fmt.Errorf("Invalid escape character '%s'", e.S)
	}
	r, _ := utf8.DecodeRuneInString(e.S)
	return r, nil
}

// bindLike is x LIKE pattern [ESCAPE e]. A constant pattern is compiled once.
func bindLike(c *callSite) (Expr, error) {
	if !c.strArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	x, pat := c.args[0], c.args[1]
	var esc Expr
	if len(c.args) == 3 {
		esc = c.args[2]
	}
	rt := types.BooleanType().WithNullable(anyNullable(c.args...))
	pv, pconst := constValue(pat)
	var ev types.Value
	econst := true
	if esc != nil {
		ev, econst = constValue(esc)
	}
	if pconst && econst {
		if pv.IsNull() || esc != nil && ev.IsNull() {
			return c.make(rt.WithNullable(true), func([]types.Value) (types.Value, error) { return types.NullValue, nil }), nil
		}
		var er rune
		if esc != nil {
			r, err := escapeRune(ev)
			if err != nil {
				return nil, errorf("%s", err.Error())
			}
			er = r
		}
		p, err := compileLike(pv.S, er)
		if err != nil {
			return nil, errorf("%s", err.Error())
		}
		return c.make(rt, func(row []types.Value) (types.Value, error) {
			v, err := x.Eval(row)
			if err != nil || v.T == types.TagNull {
				return types.NullValue, err
			}
			return types.BoolValue(p.match(v.S)), nil
		}), nil
	}
	match := func(s, pattern types.Value, e rune) (types.Value, error) {
		p, err := compileLike(pattern.S, e)
		if err != nil {
			return types.NullValue, err
		}
		return types.BoolValue(p.match(s.S)), nil
	}
	if esc == nil {
		return c.make(rt, strict2(x, pat, func(s, p types.Value) (types.Value, error) { return match(s, p, 0) })), nil
	}
	return c.make(rt, strict3(x, pat, esc, func(s, p, e types.Value) (types.Value, error) {
		r, err := escapeRune(e)
		if err != nil {
			return types.NullValue, err
		}
		return match(s, p, r)
	})), nil
}

// similarToRegexp translates a SQL SIMILAR TO pattern into an anchored Go regular expression.
func similarToRegexp(pattern string, escape rune) (string, error) {
	var b strings.Builder
	b.WriteString("^(?:")
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case escape != 0 && r == escape:
			if i+1 >= len(rs) {
				return "", fmt.Errorf("Invalid escape sequence '%s', %d", pattern, i)
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case r == '%':
			b.WriteString("(?s:.*)")
		case r == '_':
			b.WriteString("(?s:.)")
		case r == '.' || r == '^' || r == '$' || r == '\\':
			b.WriteString(regexp.QuoteMeta(string(r)))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(")$")
	return b.String(), nil
}

func bindSimilar(c *callSite) (Expr, error) {
	if !c.strArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	x, pat := c.args[0], c.args[1]
	rt := types.BooleanType().WithNullable(anyNullable(c.args...))
	compile := func(p types.Value, e rune) (*regexp.Regexp, error) {
		src, err := similarToRegexp(p.S, e)
		if err != nil {
			return nil, err
		}
		return regexp.Compile(src)
	}
	pv, pconst := constValue(pat)
	if pconst && len(c.args) == 2 && !pv.IsNull() {
		re, err := compile(pv, 0)
		if err != nil {
			return nil, errorf("Invalid regular expression '%s': %s", pv.S, err.Error())
		}
		return c.make(rt, strict1(x, func(s types.Value) (types.Value, error) {
			return types.BoolValue(re.MatchString(s.S)), nil
		})), nil
	}
	esc := Literal(types.StringValue(""), types.StringType().WithNullable(false))
	if len(c.args) == 3 {
		esc = c.args[2]
	}
	return c.make(rt, strict3(x, pat, esc, func(s, p, e types.Value) (types.Value, error) {
		var r rune
		if e.S != "" {
			var err error
			if r, err = escapeRune(e); err != nil {
				return types.NullValue, err
			}
		}
		re, err := compile(p, r)
		if err != nil {
			return types.NullValue, err
		}
		return types.BoolValue(re.MatchString(s.S)), nil
	})), nil
}

// regexCache compiles non-constant patterns, remembering the last one (rows often repeat a pattern).
type regexCache struct {
	mu   sync.Mutex
	src  string
	re   *Regexp
	err  error
	used bool
}

func (rc *regexCache) get(src string) (*Regexp, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.used && rc.src == src {
		return rc.re, rc.err
	}
	rc.src, rc.used = src, true
	rc.re, rc.err = CompileRegexpFast(src)
	return rc.re, rc.err
}

// javaRegexp adapts a Java regular expression to Go's RE2 syntax where they differ in spelling: \Q..\E
// quoting is expanded, the rest is passed through (RE2 rejects back-references and look-around).
func javaRegexp(src string) string {
	if !strings.Contains(src, `\Q`) {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(src, `\Q`)
		if i < 0 {
			b.WriteString(src)
			return b.String()
		}
		b.WriteString(src[:i])
		rest := src[i+2:]
		j := strings.Index(rest, `\E`)
		if j < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			return b.String()
		}
		b.WriteString(regexp.QuoteMeta(rest[:j]))
		src = rest[j+2:]
	}
}

// regexArg returns the regexp getter for a pattern argument: compiled once when constant (an invalid
// constant pattern is a bind-time error).
func regexArg(pat Expr) (func(types.Value) (*Regexp, error), error) {
	if v, okc := constValue(pat); okc && !v.IsNull() {
		re, err := CompileRegexpFast(v.S)
		if err != nil {
			return nil, errorf("Invalid regular expression '%s': %s", v.S, err.Error())
		}
		return func(types.Value) (*Regexp, error) { return re, nil }, nil
	}
	rc := &regexCache{}
	return func(v types.Value) (*Regexp, error) { return rc.get(v.S) }, nil
}

// bindRegexp is REGEXP(s, pattern): TRUE when some substring matches. As Flink, an empty or invalid
// (non-constant) pattern gives FALSE.
func bindRegexp(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1) {
		return nil, c.bad()
	}
	get, err := regexArg(c.args[1])
	if err != nil {
		return nil, err
	}
	return c.strict(types.BooleanType(), strict2(c.args[0], c.args[1], func(s, p types.Value) (types.Value, error) {
		if p.S == "" {
			return falseValue, nil
		}
		re, err := get(p)
		if err != nil {
			return falseValue, nil
		}
		return types.BoolValue(re.Match(s.S)), nil
	})), nil
}

// bindRegexpReplace is REGEXP_REPLACE(s, pattern, replacement). As Flink (Matcher.quoteReplacement), the
// replacement is literal text: $1 is not a group reference. An invalid non-constant pattern gives NULL.
func bindRegexpReplace(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1, 2) {
		return nil, c.bad()
	}
	get, err := regexArg(c.args[1])
	if err != nil {
		return nil, err
	}
	nullable := anyNullable(c.args...) || !IsConstant(c.args[1])
	return c.make(types.StringType().WithNullable(nullable), strict3(c.args[0], c.args[1], c.args[2], func(s, p, r types.Value) (types.Value, error) {
		re, err := get(p)
		if err != nil {
			return types.NullValue, nil
		}
		return str(re.ReplaceAllLiteralString(s.S, r.S))
	})), nil
}

// bindRegexpExtract is REGEXP_EXTRACT(s, pattern[, group]): the group (default 0, the whole match) of
// the first match, NULL when there is no match or no such group.
func bindRegexpExtract(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1) || len(c.args) == 3 && !c.intArgs(2) {
		return nil, c.bad()
	}
	get, err := regexArg(c.args[1])
	if err != nil {
		return nil, err
	}
	extract := func(s, p types.Value, g int64) (types.Value, error) {
		re, err := get(p)
		if err != nil {
			return types.NullValue, nil
		}
		var buf [8]int
		m := re.SubmatchIndex(s.S, buf[:0])
		if m == nil || g < 0 || int(g) > re.NumSubexp() || m[2*g] < 0 {
			return types.NullValue, nil
		}
		return str(s.S[m[2*g]:m[2*g+1]])
	}
	rt := types.StringType()
	if len(c.args) == 2 {
		return c.make(rt, strict2(c.args[0], c.args[1], func(s, p types.Value) (types.Value, error) {
			return extract(s, p, 0)
		})), nil
	}
	return c.make(rt, strict3(c.args[0], c.args[1], c.args[2], func(s, p, g types.Value) (types.Value, error) {
		return extract(s, p, g.I)
	})), nil
}
