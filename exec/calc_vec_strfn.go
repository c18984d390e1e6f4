package exec

import (
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// REPLACE(s, from, to) (strings.ReplaceAll, as the row path: an empty search string matches before every
// code point and at the end) and CONCAT_WS(sep, s...) (NULL when sep is NULL; NULL arguments skipped),
// written into the kernel's reused string arena.

// compileStrFn compiles REPLACE and CONCAT_WS; nil for others or operands without kernels.
func (c *vcompiler) compileStrFn(name string, args []expr.Expr) vexpr {
	if name == "REPLACE" && len(args) != 3 || name == "CONCAT_WS" && len(args) < 2 {
		return nil
	}
	k := &vstrFn{ws: name == "CONCAT_WS"}
	for _, a := range args {
		if !a.Type().IsString() {
			return nil
		}
		ka := c.compile(a)
		if ka == nil {
			return nil
		}
		k.args = append(k.args, ka)
	}
	return k
}

// vstrFn is REPLACE or CONCAT_WS (ws).
type vstrFn struct {
	args  []vexpr
	ws    bool
	cols  []*vec.Col
	out   vec.Col
	nb    vec.Bitmap
	nulls vec.Bitmap
}

func (k *vstrFn) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	k.cols = k.cols[:0]
	for _, a := range k.args {
		c, err := strCol(a, b)
		if err != nil {
			return nil, err
		}
		k.cols = append(k.cols, c)
	}
	// NULL when s, from or to is NULL (REPLACE), when sep is NULL (CONCAT_WS).
	nulls := k.cols[0].Nulls
	if !k.ws {
		nulls = orNulls(&k.nb, n, k.cols[0].Nulls, k.cols[1].Nulls)
		nulls = unionNulls(&k.nulls, n, nulls, k.cols[2].Nulls)
	}
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || nulls.Get(i) {
			endRow(out)
			continue
		}
		if k.ws {
			sep, first := k.cols[0].Str(i), true
			for _, c := range k.cols[1:] {
				if c.Nulls.Get(i) {
					continue
				}
				if !first {
					out.Data = append(out.Data, sep...)
				}
				first = false
				out.Data = append(out.Data, c.Str(i)...)
			}
			endRow(out)
			continue
		}
		out.Data = appendReplace(out.Data, k.cols[0].Str(i), k.cols[1].Str(i), k.cols[2].Str(i))
		endRow(out)
	}
	out.Nulls = nulls
	return out, nil
}

// appendReplace appends strings.ReplaceAll(s, from, to).
func appendReplace(dst []byte, s, from, to string) []byte {
	if from == "" {
		dst = append(dst, to...)
		for len(s) > 0 {
			_, w := utf8.DecodeRuneInString(s)
			dst = append(dst, s[:w]...)
			dst = append(dst, to...)
			s = s[w:]
		}
		return dst
	}
	for {
		j := strings.Index(s, from)
		if j < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:j]...)
		dst = append(dst, to...)
		s = s[j+len(from):]
	}
}

// compilePad compiles LPAD/RPAD(s, length, pad).
func (c *vcompiler) compilePad(left bool, args []expr.Expr) vexpr {
	if len(args) != 3 || !args[0].Type().IsString() || !args[1].Type().IsIntegral() || !args[2].Type().IsString() {
		return nil
	}
	k := &vpad{left: left}
	for i, a := range args {
		if k.args[i] = c.compile(a); k.args[i] == nil {
			return nil
		}
	}
	return k
}

// vpad is LPAD (left) or RPAD as the row path's pad: NULL when an argument is NULL, the length is negative
// or the pad is empty; s cut to length code points, or filled up to it by repeating the pad. Code points
// are those of []rune(s): an invalid byte is one code point and comes out as U+FFFD. A length beyond the
// row path's limit (its error) bails.
type vpad struct {
	args  [3]vexpr
	left  bool
	out   vec.Col
	nb    vec.Bitmap
	tb    vec.Bitmap
	nulls vec.Bitmap
}

func (k *vpad) eval(b *vec.Batch) (*vec.Col, error) {
	n := b.N
	s, err := strCol(k.args[0], b)
	if err != nil {
		return nil, err
	}
	l, err := intCol(k.args[1], b)
	if err != nil {
		return nil, err
	}
	p, err := strCol(k.args[2], b)
	if err != nil {
		return nil, err
	}
	nulls := orNulls(&k.nb, n, s.Nulls, l.Nulls)
	nulls = unionNulls(&k.nulls, n, nulls, p.Nulls)
	var empty vec.Bitmap // rows NULL for a negative length or an empty pad
	bytesOut(&k.out, types.TagString, n)
	out := &k.out
	cur := selCursor{sel: b.Sel}
	for i := 0; i < n; i++ {
		if cur.skip(i) || nulls.Get(i) {
			endRow(out)
			continue
		}
		length, str, pad := l.I64[i], s.Str(i), p.Str(i)
		if length < 0 || pad == "" {
			if empty == nil {
				k.tb = vec.ResetBitmap(k.tb, n)
				empty = k.tb
			}
			empty.Set(i)
			endRow(out)
			continue
		}
		if length > 1<<28 {
			return nil, errBail
		}
		want := int(length)
		if k.left {
			if have := utf8.RuneCountInString(str); have < want {
				out.Data = appendCycled(out.Data, pad, want-have)
			}
			out.Data, _ = appendRunes(out.Data, str, want)
		} else {
			var have int
			out.Data, have = appendRunes(out.Data, str, want)
			out.Data = appendCycled(out.Data, pad, want-have)
		}
		endRow(out)
	}
	if empty != nil {
		nulls = unionNulls(&k.nulls, n, nulls, empty)
	}
	out.Nulls = nulls
	return out, nil
}

// appendRunes appends the first at most max code points of s as string([]rune(s)) spells them and returns
// how many it appended.
func appendRunes(dst []byte, s string, max int) ([]byte, int) {
	n := 0
	for i := 0; i < len(s) && n < max; n++ {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, r)
		i += w
	}
	return dst, n
}

// appendCycled appends need code points of pad (non-empty), repeated.
func appendCycled(dst []byte, pad string, need int) []byte {
	for need > 0 {
		var k int
		dst, k = appendRunes(dst, pad, need)
		need -= k
	}
	return dst
}
