package expr

import (
	"regexp"
	resyntax "regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Regexp is a compiled REGEXP / REGEXP_EXTRACT / REGEXP_REPLACE pattern. Simple shapes (Nexmark q21's
// '(&|^)channel_id=([^&]*)') are matched by hand, with exactly the regexp package's semantics
// (leftmost-first, the same group numbering); every other pattern goes to regexp. The embedded
// *regexp.Regexp serves what the hand matcher does not (ReplaceAllLiteralString, NumSubexp).
type Regexp struct {
	*regexp.Regexp
	fast *fastRegexp
}

// CompileRegexpFast compiles a (Java-spelled) pattern as CompileRegexp does, adding the hand matcher when
// the pattern has a shape it takes.
func CompileRegexpFast(src string) (*Regexp, error) {
	re, err := CompileRegexp(src)
	if err != nil {
		return nil, err
	}
	return &Regexp{Regexp: re, fast: parseFastRegexp(javaRegexp(src), re.NumSubexp())}, nil
}

// Fast reports whether the pattern is matched by hand (for tests and plans).
func (r *Regexp) Fast() bool { return r.fast != nil }

// SubmatchIndex is regexp's FindStringSubmatchIndex, writing into dst (reused when it has room): nil when
// there is no match, else 2*(NumSubexp()+1) positions, -1 for a group that took no part.
func (r *Regexp) SubmatchIndex(s string, dst []int) []int {
	if r.fast != nil {
		return r.fast.match(s, dst)
	}
	return r.Regexp.FindStringSubmatchIndex(s)
}

// Match reports whether some substring of s matches.
func (r *Regexp) Match(s string) bool {
	if r.fast != nil {
		_, _, _, ok := r.fast.find(s)
		return ok
	}
	return r.Regexp.MatchString(s)
}

// AppendReplaceAllLiteral appends regexp's ReplaceAllLiteralString(s, repl) to dst. The hand matcher's
// matches are never empty (its literal is not), so each search resumes at the end of the last match, as
// regexp's.
func (r *Regexp) AppendReplaceAllLiteral(dst []byte, s, repl string) []byte {
	if r.fast == nil {
		return append(dst, r.Regexp.ReplaceAllLiteralString(s, repl)...)
	}
	pos := 0
	for pos <= len(s) {
		p, _, e, ok := r.fast.findFrom(s, pos)
		if !ok {
			break
		}
		dst = append(dst, s[pos:p]...)
		dst = append(dst, repl...)
		pos = e
	}
	return append(dst, s[pos:]...)
}

// fastRegexp is the shape [prefix] literal run [$]: prefix is an alternation of literals, ^ and the empty
// string (optionally a group), tried in order; literal a non-empty string; run a greedy X* or X+ (optionally a
// group) of a class X whose non-ASCII part is all or nothing, so that it is decided byte by byte.
type fastRegexp struct {
	alts       []fastAlt
	altCap     int // group of the prefix, 0: none
	minA, maxA int // shortest and longest prefix alternative
	lit        string
	stop       [256]bool // bytes that end the run
	plus       bool
	runCap     int // group of the run, 0: none
	end        bool
	ncap       int
}

type fastAlt struct {
	lit   string
	begin bool // ^ (the start of the text)
}

// parseFastRegexp returns the hand matcher of src, or nil when src is not of its shape.
func parseFastRegexp(src string, ncap int) *fastRegexp {
	re, err := resyntax.Parse(src, resyntax.Perl)
	if err != nil || re.Op != resyntax.OpConcat {
		return nil
	}
	subs := re.Sub
	f := &fastRegexp{ncap: ncap}
	seen := 0 // groups met, to check that the shape holds every group of the pattern
	// The prefix.
	if len(subs) > 0 {
		p := subs[0]
		capIdx := 0
		if p.Op == resyntax.OpCapture {
			capIdx, p = p.Cap, p.Sub[0]
		}
		var alts []*resyntax.Regexp
		switch p.Op {
		case resyntax.OpAlternate:
			alts = p.Sub
		case resyntax.OpBeginText, resyntax.OpEmptyMatch:
			alts = []*resyntax.Regexp{p}
		case resyntax.OpLiteral:
			if capIdx != 0 { // (x)lit...: a group of a literal prefix
				alts = []*resyntax.Regexp{p}
			}
		}
		if alts != nil {
			for _, a := range alts {
				switch a.Op {
				case resyntax.OpLiteral:
					s, ok := literalOf(a)
					if !ok {
						return nil
					}
					f.alts = append(f.alts, fastAlt{lit: s})
				case resyntax.OpBeginText:
					f.alts = append(f.alts, fastAlt{begin: true})
				case resyntax.OpEmptyMatch:
					f.alts = append(f.alts, fastAlt{})
				default:
					return nil
				}
			}
			f.altCap = capIdx
			if capIdx != 0 {
				seen++
			}
			subs = subs[1:]
		}
	}
	if f.alts == nil {
		f.alts = []fastAlt{{}}
	}
	f.minA, f.maxA = len(f.alts[0].lit), len(f.alts[0].lit)
	for _, a := range f.alts {
		f.minA, f.maxA = min(f.minA, len(a.lit)), max(f.maxA, len(a.lit))
	}
	// The literal.
	if len(subs) == 0 || subs[0].Op != resyntax.OpLiteral {
		return nil
	}
	lit, ok := literalOf(subs[0])
	if !ok || lit == "" {
		return nil
	}
	f.lit = lit
	subs = subs[1:]
	// The run.
	if len(subs) == 0 {
		return nil
	}
	r := subs[0]
	if r.Op == resyntax.OpCapture {
		f.runCap, r = r.Cap, r.Sub[0]
		seen++
	}
	if r.Op != resyntax.OpStar && r.Op != resyntax.OpPlus || r.Flags&resyntax.NonGreedy != 0 {
		return nil
	}
	f.plus = r.Op == resyntax.OpPlus
	if !f.setClass(r.Sub[0]) {
		return nil
	}
	subs = subs[1:]
	if len(subs) > 0 && subs[0].Op == resyntax.OpEndText {
		f.end = true
		subs = subs[1:]
	}
	if len(subs) != 0 || seen != ncap {
		return nil
	}
	return f
}

// literalOf is a case-sensitive literal as a string; not when it holds U+FFFD, which regexp also matches
// against a byte of invalid UTF-8.
func literalOf(r *resyntax.Regexp) (string, bool) {
	if r.Flags&resyntax.FoldCase != 0 {
		return "", false
	}
	for _, c := range r.Rune {
		if c == utf8.RuneError || !utf8.ValidRune(c) {
			return "", false
		}
	}
	return string(r.Rune), true
}

// setClass sets the run's stop bytes from its class: ASCII one by one; the non-ASCII runes (and bytes of
// invalid UTF-8, which regexp reads as U+FFFD) must be all in the class or all out.
func (f *fastRegexp) setClass(c *resyntax.Regexp) bool {
	var ranges []rune
	switch c.Op {
	case resyntax.OpCharClass:
		ranges = c.Rune
	case resyntax.OpAnyChar:
		ranges = []rune{0, utf8.MaxRune}
	case resyntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case resyntax.OpLiteral:
		if c.Flags&resyntax.FoldCase != 0 || len(c.Rune) != 1 {
			return false
		}
		ranges = []rune{c.Rune[0], c.Rune[0]}
	default:
		return false
	}
	in := func(x rune) bool {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= x && x <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	highAll := false
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i] <= utf8.RuneSelf && ranges[i+1] == utf8.MaxRune {
			highAll = true
		}
	}
	highAny := false
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1] >= utf8.RuneSelf {
			highAny = true
		}
	}
	if highAny && !highAll {
		return false
	}
	for b := 0; b < 256; b++ {
		if b < utf8.RuneSelf {
			f.stop[b] = !in(rune(b))
		} else {
			f.stop[b] = !highAll
		}
	}
	return true
}

// match is SubmatchIndex by hand.
func (f *fastRegexp) match(s string, dst []int) []int {
	p, a, e, ok := f.find(s)
	if !ok {
		return nil
	}
	dst = dst[:0]
	for k := 0; k <= f.ncap; k++ {
		dst = append(dst, -1, -1)
	}
	dst[0], dst[1] = p, e
	t := p + len(f.alts[a].lit)
	if f.altCap != 0 {
		dst[2*f.altCap], dst[2*f.altCap+1] = p, t
	}
	if f.runCap != 0 {
		dst[2*f.runCap], dst[2*f.runCap+1] = t+len(f.lit), e
	}
	return dst
}

// find finds the leftmost-first match: the first start position p at which some alternative matches, and
// there the first alternative a in pattern order; e is the end of the match (and of the run).
func (f *fastRegexp) find(s string) (p, a, e int, ok bool) { return f.findFrom(s, 0) }

// findFrom is find for the matches starting at from or later (^ still anchors at 0 and $ at len(s), as
// regexp's ReplaceAll searches on).
func (f *fastRegexp) findFrom(s string, from int) (p, a, e int, ok bool) {
	n := len(s)
	for p = from; p <= n; p++ {
		// The literal must start within [p+minA, p+maxA]: jump to the first start that can have it.
		from := p + f.minA
		if from > n {
			return 0, 0, 0, false
		}
		j := strings.Index(s[from:], f.lit)
		if j < 0 {
			return 0, 0, 0, false
		}
		if q := from + j; q > p+f.maxA {
			p = q - f.maxA
		}
		for a = range f.alts {
			alt := &f.alts[a]
			if alt.begin && p != 0 || !strings.HasPrefix(s[p:], alt.lit) {
				continue
			}
			t := p + len(alt.lit)
			if !strings.HasPrefix(s[t:], f.lit) {
				continue
			}
			t += len(f.lit)
			e = t
			for e < n && !f.stop[s[e]] {
				e++
			}
			if f.plus && e == t || f.end && e != n {
				continue
			}
			return p, a, e, true
		}
	}
	return 0, 0, 0, false
}
