package exec

import (
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// String kernels: UPPER, LOWER, CHAR_LENGTH, SUBSTRING, CONCAT and ||, TRIM/LTRIM/RTRIM, POSITION, LIKE
// with a constant pattern. Inputs are read in place from their byte arenas (Col.Str shares the arena);
// results are appended to the kernel's own output arena, which is reused across batches unless a value of
// it was handed out as a row value (vec.Col.Reset). Only selected, non-NULL rows are computed; the other
// slots hold empty strings or zeros.

// selCursor walks a batch's rows in order and reports the ones outside the selection.
type selCursor struct {
	sel []int32
	k   int
}

// skip reports whether row i (rows are visited in ascending order) is not selected.
func (c *selCursor) skip(i int) bool {
	if c.sel == nil {
		return false
	}
	if c.k < len(c.sel) && int(c.sel[c.k]) == i {
		c.k++
		return false
	}
	return true
}

// bytesOut readies c as a kernel's Bytes output for n rows. The NULL bitmap is dropped first: it may be
// an input's (kernels pass NULLs through by reference), which Reset must not truncate and refill.
func bytesOut(c *vec.Col, tag types.Tag, n int) {
	c.Nulls = nil
	c.Kind, c.Tag = vec.Bytes, tag
	c.Reset(n)
	if cap(c.Off) < n+1 {
		off := make([]int32, 1, n+1)
		c.Off = off
	}
}

// unionNulls is orNulls for an accumulating union: acc may already be *buf (then add is ORed in place).
func unionNulls(buf *vec.Bitmap, n int, acc, add vec.Bitmap) vec.Bitmap {
	switch {
	case !add.Any():
		return acc
	case !acc.Any():
		return add
	case len(*buf) > 0 && len(acc) == len(*buf) && &acc[0] == &(*buf)[0]:
		for i := range acc {
			if i < len(add) {
				acc[i] |= add[i]
			}
		}
		return acc
	}
	return orNulls(buf, n, acc, add)
}

// endRow closes the current output value of a Bytes column.
func endRow(c *vec.Col) { c.Off = append(c.Off, int32(len(c.Data))) }

// strCol evaluates a kernel that must give a Bytes column.
func strCol(k vexpr, b *vec.Batch) (*vec.Col, error) {
	c, err := k.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Bytes {
		return nil, errBail
	}
	return c, nil
}

// intCol evaluates a kernel that must give an Int64 column.
func intCol(k vexpr, b *vec.Batch) (*vec.Col, error) {
	c, err := k.eval(b)
	if err != nil {
		return nil, err
	}
	if c.Kind != vec.Int64 {
		return nil, errBail
	}
	return c, nil
}

// compileString compiles the string functions; nil when the call has no kernel.
func (c *vcompiler) compileString(x expr.Expr, name string, args []expr.Expr) vexpr {
	for _, a := range args {
		if a.Type().Kind == types.Null {
			return nil
		}
	}
	switch name {
	case "UPPER", "LOWER":
		if k := c.compile(args[0]); k != nil && args[0].Type().IsString() {
			return &vcaseMap{x: k, upper: name == "UPPER"}
		}
	case "CHAR_LENGTH", "CHARACTER_LENGTH":
		if k := c.compile(args[0]); k != nil && args[0].Type().IsString() {
			return &vcharLen{x: k}
		}
	case "POSITION":
		ks, ok := c.compileAll(args)
		if ok && args[0].Type().IsString() && args[1].Type().IsString() {
			return &vposition{sub: ks[0], s: ks[1]}
		}
	case "SUBSTRING", "SUBSTR":
		ks, ok := c.compileAll(args)
		if !ok || !args[0].Type().IsString() || !args[1].Type().IsIntegral() || len(args) == 3 && !args[2].Type().IsIntegral() {
			return nil
		}
		k := &vsubstr{s: ks[0], pos: ks[1]}
		if len(ks) == 3 {
			k.n = ks[2]
		}
		return k
	case "CONCAT", "||":
		ks, ok := c.compileAll(args)
		if !ok {
			return nil
		}
		tag := types.TagString
		if x.Type().IsBinary() {
			tag = types.TagBytes
		}
		for _, a := range args {
			if a.Type().IsBinary() != (tag == types.TagBytes) || !a.Type().IsString() && !a.Type().IsBinary() {
				return nil
			}
		}
		return &vconcat{args: ks, tag: tag}
	case "TRIM", "LTRIM", "RTRIM":
		return c.compileTrim(x, name, args)
	case "LIKE":
		return c.compileLike(args)
	case "REGEXP_EXTRACT":
		return c.compileRegexpExtract(args)
	case "SPLIT_INDEX":
		sep, ok := expr.LiteralOf(args[1])
		if !ok || sep.IsNull() || sep.S == "" || !args[0].Type().IsString() || !args[2].Type().IsIntegral() {
			return nil // an empty separator splits at white space (strings.Fields): the row path's
		}
		ks, ok := c.compileAll([]expr.Expr{args[0], args[2]})
		if !ok {
			return nil
		}
		return &vsplitIndex{s: ks[0], sep: sep.S, idx: ks[1]}
	}
	return nil
}

func (c *vcompiler) compileAll(args []expr.Expr) ([]vexpr, bool) {
	ks := make([]vexpr, len(args))
	for i, a := range args {
		if ks[i] = c.compile(a); ks[i] == nil {
			return nil, false
		}
	}
	return ks, true
}

// compileTrim compiles TRIM([BOTH|LEADING|TRAILING] [chars] FROM s), LTRIM(s[, chars]) and RTRIM(s[,
// chars]) with constant (or no) characters to remove. TRIM's mode is the bound call's (expr.TrimMode).
func (c *vcompiler) compileTrim(x expr.Expr, name string, args []expr.Expr) vexpr {
	k := &vtrim{leading: name != "RTRIM", trailing: name != "LTRIM", chars: " "}
	var s, chars expr.Expr
	switch {
	case name == "TRIM" && (len(args) == 1 || len(args) == 2):
		var ok bool
		if k.leading, k.trailing, ok = expr.TrimMode(x); !ok {
			return nil
		}
		s = args[len(args)-1]
		if len(args) == 2 {
			chars = args[0]
		}
	case name != "TRIM" && len(args) <= 2:
		s = args[0]
		if len(args) == 2 {
			chars = args[1]
		}
	default:
		return nil
	}
	if chars != nil {
		v, ok := expr.LiteralOf(chars)
		if !ok || v.IsNull() {
			return nil
		}
		k.chars = v.S
	}
	if !s.Type().IsString() {
		return nil
	}
	if k.s = c.compile(s); k.s == nil {
		return nil
	}
	k.ascii = true
	for i := 0; i < len(k.chars); i++ {
		if k.chars[i] >= utf8.RuneSelf {
			k.ascii = false
			break
		}
		k.set[k.chars[i]] = true
	}
	return k
}

// compileLike compiles s LIKE pattern [ESCAPE e] with a constant pattern and escape.
func (c *vcompiler) compileLike(args []expr.Expr) vexpr {
	pv, ok := expr.LiteralOf(args[1])
	if !ok || pv.IsNull() || !args[0].Type().IsString() {
		return nil
	}
	esc := ""
	if len(args) == 3 {
		ev, ok := expr.LiteralOf(args[2])
		if !ok || ev.IsNull() {
			return nil
		}
		esc = ev.S
	}
	m, err := expr.CompileLike(pv.S, esc)
	if err != nil {
		return nil // the binder reported it; the row path keeps its behavior
	}
	k := c.compile(args[0])
	if k == nil {
		return nil
	}
	return &vlike{x: k, m: m}
}

// isASCII reports whether s has only ASCII bytes.
func isASCII(s string) bool {
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		if w&0x8080808080808080 != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// vcaseMap is UPPER or LOWER (Go's Unicode case mapping, as the row path); ASCII strings are mapped
// byte by byte into the arena.
type vcaseMap struct {
	x     vexpr
	upper bool
	out   vec.Col
}

func (k *vcaseMap) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			endRow(out)
			continue
		}
		s := x.Str(i)
		if !isASCII(s) {
			if k.upper {
				out.Data = append(out.Data, strings.ToUpper(s)...)
			} else {
				out.Data = append(out.Data, strings.ToLower(s)...)
			}
			endRow(out)
			continue
		}
		start := len(out.Data)
		out.Data = append(out.Data, s...)
		d := out.Data[start:]
		if k.upper {
			for j, ch := range d {
				if 'a' <= ch && ch <= 'z' {
					d[j] = ch - ('a' - 'A')
				}
			}
		} else {
			for j, ch := range d {
				if 'A' <= ch && ch <= 'Z' {
					d[j] = ch + ('a' - 'A')
				}
			}
		}
		endRow(out)
	}
	out.Nulls = x.Nulls
	return out, nil
}

// vcharLen is CHAR_LENGTH: code points.
type vcharLen struct {
	x   vexpr
	out vec.Col
}

func (k *vcharLen) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: x.Nulls}
	out := k.out.I64
	for i := 0; i < n; i++ {
		out[i] = int64(utf8.RuneCountInString(x.Str(i)))
	}
	return &k.out, nil
}

// vposition is POSITION(sub IN s): the 1-based code point position of the first occurrence, 0 if none.
type vposition struct {
	sub, s vexpr
	out    vec.Col
	nb     vec.Bitmap
}

func (k *vposition) eval(b *vec.Batch) (*vec.Col, error) {
	sub, err := strCol(k.sub, b)
	if err != nil {
		return nil, err
	}
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Int64, Tag: types.TagInt, I64: growI64(k.out.I64, n), Nulls: orNulls(&k.nb, n, sub.Nulls, s.Nulls)}
	out := k.out.I64
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = 0
		if cur.skip(i) {
			continue
		}
		str := s.Str(i)
		if j := strings.Index(str, sub.Str(i)); j >= 0 {
			out[i] = 1 + int64(utf8.RuneCountInString(str[:j]))
		}
	}
	return &k.out, nil
}

// vsubstr is SUBSTRING(s FROM pos [FOR len]) with Flink's rules (substringSQL in expr): positions are
// 1-based, 0 counts as 1, a negative position counts from the end, a negative length gives NULL.
type vsubstr struct {
	s, pos, n vexpr // n nil: to the end
	out       vec.Col
	nb        vec.Bitmap
}

func (k *vsubstr) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	pos, err := intCol(k.pos, b)
	if err != nil {
		return nil, err
	}
	var ln *vec.Col
	if k.n != nil {
		if ln, err = intCol(k.n, b); err != nil {
			return nil, err
		}
	}
	n := b.N
	nulls := orNulls(&k.nb, n, s.Nulls, pos.Nulls)
	if ln != nil {
		nulls = unionNulls(&k.nb, n, nulls, ln.Nulls)
	}
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	var neg vec.Bitmap // rows with a negative length: NULL
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || nulls.Get(i) {
			endRow(out)
			continue
		}
		length := int64(1 << 62)
		if ln != nil {
			if length = ln.I64[i]; length < 0 {
				if neg == nil {
					neg = make(vec.Bitmap, vec.Words(n))
				}
				neg.Set(i)
				endRow(out)
				continue
			}
		}
		out.Data = append(out.Data, substringBytes(s.Str(i), pos.I64[i], length)...)
		endRow(out)
	}
	if neg != nil {
		nulls = unionNulls(&k.nb, n, nulls, neg)
	}
	out.Nulls = nulls
	return out, nil
}

// substringBytes is expr's substringSQL for a non-negative length, as a slice of s.
func substringBytes(s string, pos, length int64) string {
	ascii := isASCII(s)
	n := int64(len(s))
	if !ascii {
		n = int64(utf8.RuneCountInString(s))
	}
	var start int64
	switch {
	case pos > 0:
		if start = pos - 1; start >= n {
			return ""
		}
	case pos < 0:
		if start = n + pos; start < 0 {
			return ""
		}
	}
	end := n
	if n-start >= length {
		end = start + length
	}
	if start >= end {
		return ""
	}
	if ascii {
		return s[start:end]
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

// vconcat is CONCAT(a, b, ...) and a || b: NULL when any argument is NULL.
type vconcat struct {
	args []vexpr
	tag  types.Tag
	cols []*vec.Col
	out  vec.Col
	nb   vec.Bitmap
}

func (k *vconcat) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.cols = k.cols[:0]
	var nulls vec.Bitmap
	for _, a := range k.args {
		c, err := strCol(a, b)
		if err != nil {
			return nil, err
		}
		k.cols = append(k.cols, c)
		nulls = unionNulls(&k.nb, n, nulls, c.Nulls)
	}
	bytesOut(&k.out, k.tag, n)
	out := &k.out
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if !cur.skip(i) && !nulls.Get(i) {
			for _, c := range k.cols {
				out.Data = append(out.Data, c.Data[c.Off[i]:c.Off[i+1]]...)
			}
		}
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}

// vtrim removes leading and/or trailing code points that occur in chars (a space by default).
type vtrim struct {
	s                 vexpr
	chars             string
	leading, trailing bool
	ascii             bool      // chars is ASCII: set is its byte table
	set               [128]bool // the ASCII characters of chars
	out               vec.Col
}

func (k *vtrim) in(r rune) bool { return strings.ContainsRune(k.chars, r) }

func (k *vtrim) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || s.Nulls.Get(i) {
			endRow(out)
			continue
		}
		str := s.Str(i)
		if k.ascii {
			// A byte of a multi-byte sequence (>= 0x80) never matches an ASCII character: the trim stops
			// there as the rune-wise trim does.
			lo, hi := 0, len(str)
			if k.leading {
				for lo < hi && str[lo] < utf8.RuneSelf && k.set[str[lo]] {
					lo++
				}
			}
			if k.trailing {
				for hi > lo && str[hi-1] < utf8.RuneSelf && k.set[str[hi-1]] {
					hi--
				}
			}
			str = str[lo:hi]
		} else {
			if k.leading {
				str = strings.TrimLeftFunc(str, k.in)
			}
			if k.trailing {
				str = strings.TrimRightFunc(str, k.in)
			}
		}
		out.Data = append(out.Data, str...)
		endRow(out)
	}
	out.Nulls = s.Nulls
	return out, nil
}

// vlike is s LIKE pattern [ESCAPE e] with a constant pattern, matched by the row path's matcher (which
// has prefix, suffix, contains and exact fast paths and a general matcher).
type vlike struct {
	x   vexpr
	m   *expr.LikeMatcher
	out vec.Col
}

func (k *vlike) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := strCol(k.x, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	k.out = vec.Col{Kind: vec.Bool, Tag: types.TagBool, B: growBool(k.out.B, n), Nulls: x.Nulls}
	out := k.out.B
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		out[i] = !cur.skip(i) && k.m.Match(x.Str(i))
	}
	return &k.out, nil
}

// vtoString is CAST(x AS VARCHAR(n) or CHAR(n)) of a number, BOOLEAN, DATE, TIME, TIMESTAMP or
// TIMESTAMP_LTZ (zone: the cast's session zone, in which the instant is shown): the row path's text
// (types.AppendSQL) appended to the arena, cut to n code points and, for CHAR, padded with spaces to n
// (types.Cast's fitString).
type vtoString struct {
	x        vexpr
	from, to types.Type
	zone     *zoneOffsets // TIMESTAMP_LTZ only
	out      vec.Col
}

func (k *vtoString) eval(b *vec.Batch) (*vec.Col, error) {
	x, err := k.x.eval(b)
	if err != nil {
		return nil, err
	}
	n := b.N
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	limit := k.to.Length
	if limit <= 0 || limit >= types.MaxLength {
		limit = 0
	}
	char := k.to.Kind == types.Char && limit > 0
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || x.Nulls.Get(i) {
			endRow(out)
			continue
		}
		start := len(out.Data)
		v := x.Value(i)
		if k.zone != nil {
			v.I = k.zone.toLocal(v.I) // then printed as UTC (AppendSQL's zone nil): the local wall clock
		}
		out.Data = types.AppendSQL(out.Data, v, k.from, nil)
		if limit > 0 && len(out.Data)-start > limit {
			j, c := start, 0
			for j < len(out.Data) && c < limit {
				_, w := utf8.DecodeRune(out.Data[j:])
				j += w
				c++
			}
			out.Data = out.Data[:j]
		}
		if char {
			for c := utf8.RuneCount(out.Data[start:]); c < limit; c++ {
				out.Data = append(out.Data, ' ')
			}
		}
		endRow(out)
	}
	out.Nulls = x.Nulls
	return out, nil
}

// vsplitIndex is SPLIT_INDEX(s, sep, i) with a constant non-empty separator: the i-th (0-based) piece of s
// split at sep, NULL when s is empty, i is negative or there are not enough pieces (as strings.Split).
type vsplitIndex struct {
	s, idx vexpr
	sep    string
	out    vec.Col
	nb, ob vec.Bitmap
}

func (k *vsplitIndex) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	idx, err := intCol(k.idx, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	in := orNulls(&k.nb, n, s.Nulls, idx.Nulls)
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	k.ob = vec.ResetBitmap(k.ob, n) // not k.nb: in may be it
	nulls := k.ob
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) {
			endRow(out)
			continue
		}
		piece, ok := "", !in.Get(i)
		if ok {
			piece, ok = splitPiece(s.Str(i), k.sep, idx.I64[i])
		}
		if !ok {
			nulls.Set(i)
		}
		out.Data = append(out.Data, piece...)
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}

// splitPiece returns piece i of str split at sep (non-empty), as SPLIT_INDEX.
func splitPiece(str, sep string, i int64) (string, bool) {
	if i < 0 || str == "" {
		return "", false
	}
	for ; i > 0; i-- {
		j := strings.Index(str, sep)
		if j < 0 {
			return "", false
		}
		str = str[j+len(sep):]
	}
	if j := strings.Index(str, sep); j >= 0 {
		str = str[:j]
	}
	return str, true
}

// compileRegexpExtract compiles REGEXP_EXTRACT(s, pattern[, group]) with a constant, valid, non-NULL
// pattern and a constant group.
func (c *vcompiler) compileRegexpExtract(args []expr.Expr) vexpr {
	pv, ok := expr.LiteralOf(args[1])
	if !ok || pv.IsNull() || !args[0].Type().IsString() {
		return nil
	}
	re, err := expr.CompileRegexpFast(pv.S)
	if err != nil {
		return nil
	}
	k := &vregexpExtract{re: re}
	if len(args) == 3 {
		gv, ok := expr.LiteralOf(args[2])
		if !ok || gv.IsNull() || gv.T != types.TagInt {
			return nil
		}
		k.group = gv.I
	}
	if k.s = c.compile(args[0]); k.s == nil {
		return nil
	}
	return k
}

// vregexpExtract is REGEXP_EXTRACT: the group of the first match, NULL when there is no match or no such
// group (the row path's rule).
type vregexpExtract struct {
	s     vexpr
	re    *expr.Regexp
	m     []int // the last match's positions (reused)
	group int64
	out   vec.Col
	nb    vec.Bitmap
}

func (k *vregexpExtract) eval(b *vec.Batch) (*vec.Col, error) {
	s, err := strCol(k.s, b)
	if err != nil {
		return nil, err
	}
	n := b.N
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	k.nb = vec.ResetBitmap(k.nb, n)
	nulls := k.nb
	g := k.group
	badGroup := g < 0 || int(g) > k.re.NumSubexp()
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) {
			endRow(out)
			continue
		}
		if s.Nulls.Get(i) || badGroup {
			nulls.Set(i)
			endRow(out)
			continue
		}
		str := s.Str(i)
		m := k.re.SubmatchIndex(str, k.m)
		if m != nil {
			k.m = m
		}
		if m == nil || m[2*g] < 0 {
			nulls.Set(i)
		} else {
			out.Data = append(out.Data, str[m[2*g]:m[2*g+1]]...)
		}
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}
