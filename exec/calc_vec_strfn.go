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
