package expr

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/types"
)

// String functions work on Unicode code points (Java counts UTF-16 units; the two differ only outside the
// Basic Multilingual Plane).

// strArgs checks that the listed arguments are character strings and gives untyped NULLs type STRING.
func (c *callSite) strArgs(idx ...int) bool {
	for _, i := range idx {
		t := c.t(i)
		if !isStrT(t) {
			return false
		}
		if t.Kind == types.Null {
			c.args[i] = Literal(types.NullValue, types.StringType())
		}
	}
	return true
}

// intArgs checks that the listed arguments are integers and gives untyped NULLs type INT.
func (c *callSite) intArgs(idx ...int) bool {
	for _, i := range idx {
		t := c.t(i)
		if !isIntT(t) {
			return false
		}
		if t.Kind == types.Null {
			c.args[i] = Literal(types.NullValue, types.IntType())
		}
	}
	return true
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// varchar returns VARCHAR(n), capped at STRING.
func varchar(n int) types.Type {
	if n < 0 || n > types.MaxLength {
		n = types.MaxLength
	}
	return types.VarCharType(n)
}

// varying is the VARCHAR of a string type's length (CHAR(3) → VARCHAR(3)).
func varying(t types.Type) types.Type {
	if t.IsString() {
		return varchar(t.Length).WithNullable(t.Nullable())
	}
	return types.StringType().WithNullable(t.Nullable())
}

func str(s string) (types.Value, error) { return types.StringValue(s), nil }

// unary string → string function keeping the argument's type.
func bindStrMap(f func(string) string, keepType bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.strArgs(0) {
			return nil, c.bad()
		}
		t := c.t(0)
		if !keepType {
			t = varying(t)
		}
		return c.make(t, strict1(c.args[0], func(v types.Value) (types.Value, error) { return str(f(v.S)) })), nil
	}
}

// initcap upper-cases the first letter of each word and lower-cases the rest; words are runs of letters
// and digits (as Calcite's INITCAP).
func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	start := true
	for _, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if start {
			b.WriteString(strings.ToUpper(string(r)))
		} else {
			b.WriteString(strings.ToLower(string(r)))
		}
		start = !alnum
	}
	return b.String()
}

func reverseRunes(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// substringSQL is Flink's SUBSTRING(s, pos[, len]): positions are 1-based, 0 is taken as 1, a negative
// position counts from the end; a negative length is NULL.
func substringSQL(s string, pos, length int64) (types.Value, bool) {
	if length < 0 {
		return types.NullValue, false
	}
	n := int64(utf8.RuneCountInString(s))
	var start int64
	switch {
	case pos > 0:
		start = pos - 1
		if start >= n {
			return types.StringValue(""), true
		}
	case pos < 0:
		start = n + pos
		if start < 0 {
			return types.StringValue(""), true
		}
	}
	end := n
	if n-start >= length {
		end = start + length
	}
	return types.StringValue(runeSlice(s, start, end)), true
}

// runeSlice returns the code points [start, end) of s.
func runeSlice(s string, start, end int64) string {
	if start >= end {
		return ""
	}
	i, bs, be := int64(0), len(s), len(s)
	for off := range s {
		if i == start {
			bs = off
		}
		if i == end {
			be = off
			break
		}
		i++
	}
	return s[bs:be]
}

func bindSubstring(c *callSite) (Expr, error) {
	if !c.strArgs(0) || !c.intArgs(seq(1, len(c.args))...) {
		return nil, c.bad()
	}
	s, pos := c.args[0], c.args[1]
	nullable := anyNullable(c.args...)
	rt := varying(c.t(0))
	if len(c.args) == 2 {
		return c.make(rt.WithNullable(nullable), strict2(s, pos, func(x, p types.Value) (types.Value, error) {
			v, _ := substringSQL(x.S, p.I, 1<<62)
			return v, nil
		})), nil
	}
	if n, okc := intLiteral(c.args[2]); !okc || n < 0 {
		nullable = true
	}
	return c.make(rt.WithNullable(nullable), strict3(s, pos, c.args[2], func(x, p, l types.Value) (types.Value, error) {
		v, _ := substringSQL(x.S, p.I, l.I)
		return v, nil
	})), nil
}

// bindConcatOp is a || b on strings or binary strings; NULL when either is NULL.
func bindConcatOp(c *callSite) (Expr, error) {
	ta, tb := c.t(0), c.t(1)
	bin := (ta.IsBinary() || isNullT(ta)) && (tb.IsBinary() || isNullT(tb)) && !(isNullT(ta) && isNullT(tb))
	if !bin && (!c.strArgs(0, 1)) {
		return nil, c.bad()
	}
	ta, tb = c.t(0), c.t(1)
	var rt types.Type
	if bin {
		for i := range c.args {
			if isNullT(c.t(i)) {
				c.args[i] = Literal(types.NullValue, types.BytesType())
			}
		}
		ta, tb = c.t(0), c.t(1)
		rt = types.Type{Kind: types.VarBinary, Length: capLen(ta.Length + tb.Length)}
		if ta.Kind == types.Binary && tb.Kind == types.Binary {
			rt.Kind = types.Binary
		}
	} else {
		rt = varchar(capLen(ta.Length + tb.Length))
		if ta.Kind == types.Char && tb.Kind == types.Char {
			rt = types.CharType(ta.Length + tb.Length)
		}
	}
	tag := types.TagString
	if bin {
		tag = types.TagBytes
	}
	return c.strict(rt, strict2(c.args[0], c.args[1], func(x, y types.Value) (types.Value, error) {
		return types.Value{T: tag, S: x.S + y.S}, nil
	})), nil
}

func capLen(n int) int {
	if n > types.MaxLength || n < 0 {
		return types.MaxLength
	}
	return n
}

// bindConcat is CONCAT(s1, s2, ...): NULL when any argument is NULL.
func bindConcat(c *callSite) (Expr, error) {
	if !c.strArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	n := 0
	for _, a := range c.args {
		n = capLen(n + a.Type().Length)
	}
	return c.strict(varchar(n), strictN(c.args, func(vs []types.Value) (types.Value, error) {
		var b strings.Builder
		for _, v := range vs {
			b.WriteString(v.S)
		}
		return str(b.String())
	})), nil
}

// bindConcatWs is CONCAT_WS(sep, s1, ...): NULL when sep is NULL; NULL strings are skipped.
func bindConcatWs(c *callSite) (Expr, error) {
	if !c.strArgs(seq(0, len(c.args))...) {
		return nil, c.bad()
	}
	n := 0
	for i, a := range c.args[1:] {
		if i > 0 {
			n = capLen(n + c.t(0).Length)
		}
		n = capLen(n + a.Type().Length)
	}
	args := c.args
	return c.make(varchar(n).WithNullable(c.t(0).Nullable()), func(row []types.Value) (types.Value, error) {
		sep, err := args[0].Eval(row)
		if err != nil || sep.T == types.TagNull {
			return types.NullValue, err
		}
		var b strings.Builder
		first := true
		for _, a := range args[1:] {
			v, err := a.Eval(row)
			if err != nil {
				return types.NullValue, err
			}
			if v.T == types.TagNull {
				continue
			}
			if !first {
				b.WriteString(sep.S)
			}
			first = false
			b.WriteString(v.S)
		}
		return str(b.String())
	}), nil
}

// trimChars removes leading and/or trailing code points that occur in chars.
func trimChars(s, chars string, leading, trailing bool) string {
	in := func(r rune) bool { return strings.ContainsRune(chars, r) }
	if leading {
		s = strings.TrimLeftFunc(s, in)
	}
	if trailing {
		s = strings.TrimRightFunc(s, in)
	}
	return s
}

// bindTrim is TRIM(mode, chars, s) as the parser normalizes TRIM([BOTH|LEADING|TRAILING] [chars] FROM s)
// (chars a NULL literal when omitted: a space), or TRIM(s). The mode is kept on the call site (TrimMode): a
// call bound before is bound again over its printed arguments, (s) or (chars, s), by MapColumns.
func bindTrim(c *callSite) (Expr, error) {
	var mode string
	var chars, s Expr
	switch {
	case c.trimMode != "" && (len(c.args) == 1 || len(c.args) == 2):
		mode, s = c.trimMode, c.args[len(c.args)-1]
		if len(c.args) == 2 {
			chars = c.args[0]
		}
	case len(c.args) == 1:
		if !c.strArgs(0) {
			return nil, c.bad()
		}
		return c.make(varying(c.t(0)), strict1(c.args[0], func(v types.Value) (types.Value, error) {
			return str(trimChars(v.S, " ", true, true))
		})), nil
	case len(c.args) == 3:
		m, ok := strLiteral(c.args[0])
		mode = strings.ToUpper(m)
		if !ok || mode != "BOTH" && mode != "LEADING" && mode != "TRAILING" || !c.strArgs(1, 2) {
			return nil, c.bad()
		}
		chars, s = c.args[1], c.args[2]
		if isNullLiteral(chars) {
			chars = nil
		}
	default:
		return nil, c.bad()
	}
	leading, trailing := mode != "TRAILING", mode != "LEADING"
	c.trimMode = mode
	c.args = []Expr{s} // printed as TRIM(s) with the mode below
	rt := varying(s.Type())
	if chars == nil {
		e := c.make(rt, strict1(s, func(v types.Value) (types.Value, error) {
			return str(trimChars(v.S, " ", leading, trailing))
		}))
		e.args = []Expr{s}
		e.str = func() string { return "TRIM(" + mode + " ' ' FROM " + s.String() + ")" }
		return e, nil
	}
	e := c.make(rt.WithNullable(anyNullable(chars, s)), strict2(chars, s, func(ch, v types.Value) (types.Value, error) {
		return str(trimChars(v.S, ch.S, leading, trailing))
	}))
	e.args = []Expr{chars, s}
	e.str = func() string {
		return "TRIM(" + mode + " " + chars.String() + " FROM " + s.String() + ")"
	}
	return e, nil
}

// bindSideTrim is LTRIM/RTRIM(s[, chars]).
func bindSideTrim(leading bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.strArgs(seq(0, len(c.args))...) {
			return nil, c.bad()
		}
		rt := varying(c.t(0))
		if len(c.args) == 1 {
			return c.make(rt, strict1(c.args[0], func(v types.Value) (types.Value, error) {
				return str(trimChars(v.S, " ", leading, !leading))
			})), nil
		}
		return c.strict(rt, strict2(c.args[0], c.args[1], func(v, ch types.Value) (types.Value, error) {
			return str(trimChars(v.S, ch.S, leading, !leading))
		})), nil
	}
}

func bindCharLength(c *callSite) (Expr, error) {
	if !c.strArgs(0) {
		return nil, c.bad()
	}
	return c.strict(types.IntType().WithNullable(false), strict1(c.args[0], func(v types.Value) (types.Value, error) {
		return types.IntValue(int64(utf8.RuneCountInString(v.S))), nil
	})), nil
}

// runeIndex returns the 1-based code point position of sub in s at or after code point from (1-based),
// or 0.
func runeIndex(s, sub string, from int64) int64 {
	if from < 1 {
		return 0
	}
	// skip from-1 code points
	off, i := 0, int64(1)
	for i < from {
		if off >= len(s) {
			if sub == "" && i == from {
				break
			}
			return 0
		}
		_, w := utf8.DecodeRuneInString(s[off:])
		off += w
		i++
	}
	k := strings.Index(s[off:], sub)
	if k < 0 {
		return 0
	}
	return from + int64(utf8.RuneCountInString(s[off:off+k]))
}

// bindPosition is POSITION(sub IN s), normalized to POSITION(sub, s).
func bindPosition(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1) {
		return nil, c.bad()
	}
	return c.strict(types.IntType().WithNullable(false), strict2(c.args[0], c.args[1], func(sub, s types.Value) (types.Value, error) {
		return types.IntValue(runeIndex(s.S, sub.S, 1)), nil
	})), nil
}

// bindLocate is LOCATE(sub, s[, from]).
func bindLocate(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1) || len(c.args) == 3 && !c.intArgs(2) {
		return nil, c.bad()
	}
	rt := types.IntType().WithNullable(false)
	if len(c.args) == 2 {
		return c.strict(rt, strict2(c.args[0], c.args[1], func(sub, s types.Value) (types.Value, error) {
			return types.IntValue(runeIndex(s.S, sub.S, 1)), nil
		})), nil
	}
	return c.strict(rt, strict3(c.args[0], c.args[1], c.args[2], func(sub, s, from types.Value) (types.Value, error) {
		return types.IntValue(runeIndex(s.S, sub.S, from.I)), nil
	})), nil
}

func bindReplace(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1, 2) {
		return nil, c.bad()
	}
	return c.strict(types.StringType(), strict3(c.args[0], c.args[1], c.args[2], func(s, from, to types.Value) (types.Value, error) {
		// Java's String.replace: an empty search string matches between every character.
		return str(strings.ReplaceAll(s.S, from.S, to.S))
	})), nil
}

func bindRepeat(c *callSite) (Expr, error) {
	if !c.strArgs(0) || !c.intArgs(1) {
		return nil, c.bad()
	}
	return c.strict(types.StringType(), strict2(c.args[0], c.args[1], func(s, n types.Value) (types.Value, error) {
		if n.I <= 0 || s.S == "" {
			return str("")
		}
		if int64(len(s.S))*n.I > 1<<30 {
			return types.NullValue, fmt.Errorf("REPEAT result of %d bytes is too large", int64(len(s.S))*n.I)
		}
		return str(strings.Repeat(s.S, int(n.I)))
	})), nil
}

// pad is Flink's LPAD/RPAD: NULL when length < 0 or pad is empty; the string is cut to length.
func pad(s string, length int64, p string, left bool) (types.Value, error) {
	if length < 0 || p == "" {
		return types.NullValue, nil
	}
	if length > 1<<28 {
		return types.NullValue, fmt.Errorf("padded length %d is too large", length)
	}
	rs := []rune(s)
	if int64(len(rs)) >= length {
		return str(string(rs[:length]))
	}
	pr := []rune(p)
	fill := make([]rune, 0, length)
	need := int(length) - len(rs)
	if !left {
		fill = append(fill, rs...)
	}
	for i := 0; i < need; i++ {
		fill = append(fill, pr[i%len(pr)])
	}
	if left {
		fill = append(fill, rs...)
	}
	return str(string(fill))
}

func bindPad(left bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.strArgs(0, 2) || !c.intArgs(1) {
			return nil, c.bad()
		}
		return c.make(types.StringType(), strict3(c.args[0], c.args[1], c.args[2], func(s, n, p types.Value) (types.Value, error) {
			return pad(s.S, n.I, p.S, left)
		})), nil
	}
}

// bindSplitIndex is SPLIT_INDEX(s, sep, i): the i-th (0-based) piece of s split at sep, NULL when out of
// range.
func bindSplitIndex(c *callSite) (Expr, error) {
	if !c.strArgs(0, 1) || !c.intArgs(2) {
		return nil, c.bad()
	}
	return c.make(types.StringType(), strict3(c.args[0], c.args[1], c.args[2], func(s, sep, i types.Value) (types.Value, error) {
		if i.I < 0 || s.S == "" {
			return types.NullValue, nil
		}
		var parts []string
		if sep.S == "" {
			parts = strings.Fields(s.S)
		} else {
			parts = strings.Split(s.S, sep.S)
		}
		if i.I >= int64(len(parts)) {
			return types.NullValue, nil
		}
		return str(parts[i.I])
	})), nil
}

// bindLeftRight is LEFT/RIGHT(s, n): the first/last n code points (” when n <= 0).
func bindLeftRight(left bool) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !c.strArgs(0) || !c.intArgs(1) {
			return nil, c.bad()
		}
		return c.strict(varying(c.t(0)), strict2(c.args[0], c.args[1], func(s, n types.Value) (types.Value, error) {
			if n.I <= 0 {
				return str("")
			}
			cnt := int64(utf8.RuneCountInString(s.S))
			if n.I >= cnt {
				return s, nil
			}
			if left {
				return str(runeSlice(s.S, 0, n.I))
			}
			return str(runeSlice(s.S, cnt-n.I, cnt))
		})), nil
	}
}

func bindASCII(c *callSite) (Expr, error) {
	if !c.strArgs(0) {
		return nil, c.bad()
	}
	return c.strict(types.IntType().WithNullable(false), strict1(c.args[0], func(s types.Value) (types.Value, error) {
		if s.S == "" {
			return types.IntValue(0), nil
		}
		r, _ := utf8.DecodeRuneInString(s.S)
		return types.IntValue(int64(r)), nil
	})), nil
}

// bindChr is CHR(n): the character with code n & 0xFF (” for a negative n), as Flink.
func bindChr(c *callSite) (Expr, error) {
	if !c.intArgs(0) {
		return nil, c.bad()
	}
	return c.strict(types.StringType().WithNullable(false), strict1(c.args[0], func(n types.Value) (types.Value, error) {
		if n.I < 0 {
			return str("")
		}
		return str(string(rune(n.I & 0xFF)))
	})), nil
}

func bindHash(name string, size int) func(c *callSite) (Expr, error) {
	return func(c *callSite) (Expr, error) {
		if !isStrOrBin(c.t(0)) || !c.strArgs(0) && !c.t(0).IsBinary() {
			return nil, c.bad()
		}
		var f func(s string) string
		switch name {
		case "MD5":
			f = func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
		case "SHA1":
			f = func(s string) string { h := sha1.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
		default:
			f = func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
		}
		return c.strict(types.CharType(size).WithNullable(false), strict1(c.args[0], func(v types.Value) (types.Value, error) {
			return str(f(v.S))
		})), nil
	}
}

func bindToBase64(c *callSite) (Expr, error) {
	if !isStrOrBin(c.t(0)) || !c.strArgs(0) && !c.t(0).IsBinary() {
		return nil, c.bad()
	}
	return c.strict(types.StringType().WithNullable(false), strict1(c.args[0], func(v types.Value) (types.Value, error) {
		return str(base64.StdEncoding.EncodeToString([]byte(v.S)))
	})), nil
}

func bindFromBase64(c *callSite) (Expr, error) {
	if !isStrOrBin(c.t(0)) || !c.strArgs(0) && !c.t(0).IsBinary() {
		return nil, c.bad()
	}
	return c.strict(types.StringType().WithNullable(false), strict1(c.args[0], func(v types.Value) (types.Value, error) {
		b, err := base64.StdEncoding.DecodeString(v.S)
		if err != nil {
			return types.NullValue, fmt.Errorf("FROM_BASE64: input is not valid base64: %w", err)
		}
		return str(string(b))
	})), nil
}

// bindUUID is UUID(): a random (version 4) UUID per call.
func bindUUID(c *callSite) (Expr, error) {
	e := c.make(types.CharType(36).WithNullable(false), func([]types.Value) (types.Value, error) {
		var u [16]byte
		_, _ = rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		var b [36]byte
		hex.Encode(b[0:8], u[0:4])
		b[8] = '-'
		hex.Encode(b[9:13], u[4:6])
		b[13] = '-'
		hex.Encode(b[14:18], u[6:8])
		b[18] = '-'
		hex.Encode(b[19:23], u[8:10])
		b[23] = '-'
		hex.Encode(b[24:], u[10:])
		return str(string(b[:]))
	})
	e.volatile = true
	return e, nil
}
