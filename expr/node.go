package expr

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// evalFn is the pre-resolved evaluation of a call: chosen once at Call time for the argument types, so
// Eval does no per-row type dispatch.
type evalFn func(row []types.Value) (types.Value, error)

// constness is implemented by expressions that know whether they are constant.
type constness interface {
	isConstant() bool
}

// columnExpr reads one input column.
type columnExpr struct {
	index int
	name  string
	typ   types.Type
}

// Column returns a reference to input column index. String prints name, backquoted unless it is a plain
// identifier.
func Column(index int, name string, t types.Type) Expr {
	return &columnExpr{index: index, name: name, typ: t}
}

func (c *columnExpr) Type() types.Type { return c.typ }

func (c *columnExpr) Eval(row []types.Value) (types.Value, error) { return row[c.index], nil }

func (c *columnExpr) String() string { return quoteIdent(c.name) }

func (c *columnExpr) isConstant() bool { return false }

// quoteIdent backquotes a name unless it is a plain identifier ([A-Za-z_][A-Za-z0-9_$]*).
func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '$'):
		default:
			plain = false
		}
	}
	if plain {
		return s
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// literalExpr is a constant.
type literalExpr struct {
	v   types.Value
	typ types.Type
}

// Literal returns a constant of type t. A NULL value makes the type nullable.
func Literal(v types.Value, t types.Type) Expr {
	if v.IsNull() {
		t = t.WithNullable(true)
	}
	return &literalExpr{v: v, typ: t}
}

func (l *literalExpr) Type() types.Type { return l.typ }

func (l *literalExpr) Eval([]types.Value) (types.Value, error) { return l.v, nil }

func (l *literalExpr) isConstant() bool { return true }

// String prints SQL literal text: 'abc', 12.30, TRUE, NULL, DATE '2020-01-01', TIMESTAMP '2020-01-01
// 00:00:00.000', INTERVAL '+0 00:00:05.000' DAY TO SECOND, X'0aff', ARRAY[1, 2].
func (l *literalExpr) String() string {
	return string(appendLiteral(nil, l.v, l.typ))
}

func appendLiteral(dst []byte, v types.Value, t types.Type) []byte {
	if v.IsNull() {
		return append(dst, "NULL"...)
	}
	switch t.Kind {
	case types.Char, types.VarChar:
		return appendQuoted(dst, v.S)
	case types.Binary, types.VarBinary:
		dst = append(dst, "X'"...)
		const hex = "0123456789ABCDEF"
		for i := 0; i < len(v.S); i++ {
			dst = append(dst, hex[v.S[i]>>4], hex[v.S[i]&15])
		}
		return append(dst, '\'')
	case types.Date:
		dst = append(dst, "DATE "...)
		return appendQuoted(dst, string(types.AppendSQL(nil, v, t, nil)))
	case types.Time:
		dst = append(dst, "TIME "...)
		return appendQuoted(dst, string(types.AppendSQL(nil, v, t, nil)))
	case types.Timestamp:
		dst = append(dst, "TIMESTAMP "...)
		return appendQuoted(dst, string(types.AppendSQL(nil, v, t, nil)))
	case types.TimestampLTZ:
		dst = append(dst, "TO_TIMESTAMP_LTZ("...)
		dst = strconv.AppendInt(dst, v.I, 10)
		return append(dst, ", 3)"...)
	case types.IntervalYearMonth:
		dst = append(dst, "INTERVAL "...)
		dst = appendQuoted(dst, string(types.AppendIntervalYearMonth(nil, v.I)))
		return append(dst, " YEAR TO MONTH"...)
	case types.IntervalDayTime:
		dst = append(dst, "INTERVAL "...)
		dst = appendQuoted(dst, string(types.AppendIntervalDayTime(nil, v.I)))
		return append(dst, " DAY TO SECOND"...)
	case types.Array:
		dst = append(dst, "ARRAY["...)
		for i, e := range v.Array() {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendLiteral(dst, e, elemOf(t))
		}
		return append(dst, ']')
	case types.Map:
		dst = append(dst, "MAP["...)
		if m := v.Map(); m != nil {
			for i := range m.Keys {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				dst = appendLiteral(dst, m.Keys[i], keyOf(t))
				dst = append(dst, ", "...)
				dst = appendLiteral(dst, m.Vals[i], elemOf(t))
			}
		}
		return append(dst, ']')
	case types.Row:
		dst = append(dst, "ROW("...)
		for i, f := range v.Fields() {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var ft types.Type
			if i < len(t.Fields) {
				ft = t.Fields[i].Type
			}
			dst = appendLiteral(dst, f, ft)
		}
		return append(dst, ')')
	}
	return types.AppendSQL(dst, v, t, nil)
}

func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			dst = append(dst, '\'')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '\'')
}

func elemOf(t types.Type) types.Type {
	if t.Elem != nil {
		return *t.Elem
	}
	return types.NullType()
}

func keyOf(t types.Type) types.Type {
	if t.Key != nil {
		return *t.Key
	}
	return types.NullType()
}

// callExpr is a resolved function or operator call.
type callExpr struct {
	name     string // printed name: "+", "UPPER", "IS NULL"
	args     []Expr
	typ      types.Type
	eval     evalFn
	volatile bool // non-deterministic (RAND, UUID, CURRENT_TIMESTAMP): never constant
	// str, when set, prints the call instead of the default name(args).
	str func() string
	// site is the bound call this node came from (nil for Go functions), so MapColumns can bind it again
	// over other argument expressions; udf is the Go or WebAssembly function of a UDF call, for the same.
	site *callSite
	udf  *UDF
}

func (c *callExpr) Type() types.Type { return c.typ }

func (c *callExpr) Eval(row []types.Value) (types.Value, error) { return c.eval(row) }

func (c *callExpr) String() string {
	if c.str != nil {
		return c.str()
	}
	return c.name + "(" + joinExprs(c.args) + ")"
}

func (c *callExpr) isConstant() bool {
	if c.volatile {
		return false
	}
	for _, a := range c.args {
		if !IsConstant(a) {
			return false
		}
	}
	return true
}

func joinExprs(xs []Expr) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	return b.String()
}

// IsConstant reports whether x is a literal or a deterministic call over constants (so it evaluates to
// the same value for every row and may be folded). CURRENT_TIMESTAMP, RAND, UUID and the like are not.
func IsConstant(x Expr) bool {
	if c, ok := x.(constness); ok {
		return c.isConstant()
	}
	return false
}

// ConstantFold replaces a constant expression by its value. It returns x unchanged when x is not
// constant, is already a literal, or fails to evaluate (the error then surfaces at run time, per row).
func ConstantFold(x Expr) Expr {
	if _, ok := x.(*literalExpr); ok || !IsConstant(x) {
		return x
	}
	v, err := x.Eval(nil)
	if err != nil {
		return x
	}
	return Literal(v, x.Type())
}

// isNullLiteral reports an untyped or typed NULL literal.
func isNullLiteral(x Expr) bool {
	l, ok := x.(*literalExpr)
	return ok && l.v.IsNull()
}

// constValue evaluates a constant expression at bind time.
func constValue(x Expr) (types.Value, bool) {
	if l, ok := x.(*literalExpr); ok {
		return l.v, true
	}
	if !IsConstant(x) {
		return types.NullValue, false
	}
	v, err := x.Eval(nil)
	if err != nil {
		return types.NullValue, false
	}
	return v, true
}
