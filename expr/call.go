package expr

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sluicesql/sluice/types"
)

// ValidationError is a bind-time error in Flink's words (the planner adds the position).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func errorf(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// syntax says how a function or operator is written, for error messages.
type syntax uint8

const (
	synFunc    syntax = iota // NAME(a, b)
	synInfix                 // a op b
	synPrefix                // op a (NOT, -)
	synPostfix               // a IS NULL
)

// funcDef is one entry of the function library.
type funcDef struct {
	min, max int // argument count; max < 0 means no upper bound
	syn      syntax
	display  string   // printed name when it differs from the lookup name ("-" for NEG)
	forms    []string // supported forms for "Cannot apply" errors
	bind     func(c *callSite) (Expr, error)
	isOp     bool // an operator, not listed by FunctionNames
}

// callSite is one call being bound.
type callSite struct {
	env  *Env
	name string // upper-case lookup name
	def  *funcDef
	args []Expr
	// trimMode is TRIM's BOTH, LEADING or TRAILING once bound (empty for TRIM(s)): kept here so that the
	// call bound again over other arguments (MapColumns) keeps it, and read by TrimMode.
	trimMode string
}

var library = sync.OnceValue(buildLibrary)

// Call resolves the function or operator name (upper case) for the argument types, checks them, inserts
// implicit casts and returns the typed call. Errors follow Flink's validator:
//
//	Cannot apply '+' to arguments of type '<INTEGER> + <VARCHAR(2147483647)>'. Supported form(s): ...
//	No match found for function signature FOO(<NUMERIC>)
//	Invalid number of arguments to function 'SUBSTRING'. Was expecting 2 or 3 arguments
func Call(env *Env, name string, args ...Expr) (Expr, error) {
	if env == nil {
		env = NewEnv(nil)
	}
	up := strings.ToUpper(name)
	if u, ok := env.lookupUDF(up); ok {
		return u.bind(args)
	}
	def, ok := library()[up]
	if !ok {
		fams := make([]string, len(args))
		for i, a := range args {
			fams[i] = "<" + familyName(a.Type()) + ">"
		}
		return nil, errorf("No match found for function signature %s(%s)", name, strings.Join(fams, ", "))
	}
	if len(args) < def.min || def.max >= 0 && len(args) > def.max {
		return nil, arityError(up, def)
	}
	c := &callSite{env: env, name: up, def: def, args: append([]Expr(nil), args...)}
	return def.bind(c)
}

func arityError(name string, def *funcDef) error {
	var want string
	switch {
	case def.max < 0:
		want = fmt.Sprintf("at least %d", def.min)
	case def.min == def.max:
		want = fmt.Sprintf("%d", def.min)
	case def.max == def.min+1:
		want = fmt.Sprintf("%d or %d", def.min, def.max)
	default:
		want = fmt.Sprintf("between %d and %d", def.min, def.max)
	}
	noun := "arguments"
	if want == "1" || want == "at least 1" {
		noun = "argument"
	}
	return errorf("Invalid number of arguments to function '%s'. Was expecting %s %s", name, want, noun)
}

// FunctionNames returns the sorted names of the scalar functions (not the operators), for SHOW FUNCTIONS.
func FunctionNames() []string {
	var out []string
	for name, def := range library() {
		if !def.isOp {
			out = append(out, name)
		}
	}
	out = append(out, "CAST", "TRY_CAST")
	sort.Strings(out)
	return out
}

func (c *callSite) displayName() string {
	if c.def.display != "" {
		return c.def.display
	}
	return c.name
}

// bad returns the "Cannot apply" error for the current argument types.
func (c *callSite) bad() error {
	ts := make([]string, len(c.args))
	for i, a := range c.args {
		ts[i] = "<" + sqlTypeName(a.Type()) + ">"
	}
	name := c.displayName()
	var sig string
	switch c.def.syn {
	case synInfix:
		sig = strings.Join(ts, " "+name+" ")
	case synPrefix:
		sig = name + strings.Join(ts, " ")
	case synPostfix:
		sig = strings.Join(ts, " ") + " " + name
	default:
		sig = name + "(" + strings.Join(ts, ", ") + ")"
	}
	forms := make([]string, len(c.def.forms))
	for i, f := range c.def.forms {
		forms[i] = "'" + f + "'"
	}
	return errorf("Cannot apply '%s' to arguments of type '%s'. Supported form(s): %s", name, sig, strings.Join(forms, "\n"))
}

func (c *callSite) t(i int) types.Type { return c.args[i].Type() }

// anyNullable reports whether any expression may be NULL.
func anyNullable(xs ...Expr) bool {
	for _, x := range xs {
		if x.Type().Nullable() {
			return true
		}
	}
	return false
}

// make builds the call node with the site's (possibly coerced) arguments.
func (c *callSite) make(t types.Type, eval evalFn) *callExpr {
	return &callExpr{name: c.displayName(), args: c.args, typ: t, eval: eval, site: c}
}

// strict returns the call node for a function that is NULL exactly when an argument is NULL: its type is
// nullable when any argument is (t's own nullability is ignored).
func (c *callSite) strict(t types.Type, eval evalFn) *callExpr {
	return c.make(t.WithNullable(anyNullable(c.args...)), eval)
}

// sqlTypeName prints a type as Calcite does in validation messages: INTEGER, VARCHAR(2147483647),
// DECIMAL(10, 2), TIMESTAMP_WITH_LOCAL_TIME_ZONE(3), INTEGER ARRAY.
func sqlTypeName(t types.Type) string {
	switch t.Kind {
	case types.Null:
		return "NULL"
	case types.Int:
		return "INTEGER"
	case types.VarChar:
		return fmt.Sprintf("VARCHAR(%d)", t.Length)
	case types.VarBinary:
		return fmt.Sprintf("VARBINARY(%d)", t.Length)
	case types.TimestampLTZ:
		return fmt.Sprintf("TIMESTAMP_WITH_LOCAL_TIME_ZONE(%d)", t.Precision)
	case types.Array:
		return sqlTypeName(elemOf(t)) + " ARRAY"
	case types.Multiset:
		return sqlTypeName(elemOf(t)) + " MULTISET"
	case types.Map:
		return "(" + sqlTypeName(keyOf(t)) + ", " + sqlTypeName(elemOf(t)) + ") MAP"
	case types.Row:
		var b strings.Builder
		b.WriteString("RecordType(")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(sqlTypeName(f.Type) + " " + f.Name)
		}
		b.WriteString(")")
		return b.String()
	}
	return t.WithNullable(true).String()
}

// familyName is the Calcite type family used in "No match found" messages.
func familyName(t types.Type) string {
	switch {
	case t.Kind == types.Null:
		return "NULL"
	case t.IsNumeric():
		return "NUMERIC"
	case t.IsString():
		return "CHARACTER"
	case t.IsBinary():
		return "BINARY"
	case t.Kind == types.Boolean:
		return "BOOLEAN"
	case t.Kind == types.Date:
		return "DATE"
	case t.Kind == types.Time:
		return "TIME"
	case t.IsTimestamp():
		return "TIMESTAMP"
	case t.Kind == types.IntervalYearMonth:
		return "INTERVAL_YEAR_MONTH"
	case t.Kind == types.IntervalDayTime:
		return "INTERVAL_DAY_TIME"
	case t.Kind == types.Array:
		return "ARRAY"
	case t.Kind == types.Map:
		return "MAP"
	case t.Kind == types.Multiset:
		return "MULTISET"
	case t.Kind == types.Row:
		return "ROW"
	}
	return "ANY"
}

// Argument predicates. An untyped NULL satisfies every family.
func isNullT(t types.Type) bool    { return t.Kind == types.Null }
func isStrT(t types.Type) bool     { return t.IsString() || isNullT(t) }
func isNumT(t types.Type) bool     { return t.IsNumeric() || isNullT(t) }
func isIntT(t types.Type) bool     { return t.IsIntegral() || isNullT(t) }
func isBoolT(t types.Type) bool    { return t.Kind == types.Boolean || isNullT(t) }
func isBinT(t types.Type) bool     { return t.IsBinary() || isNullT(t) }
func isStrOrBin(t types.Type) bool { return t.IsString() || t.IsBinary() || isNullT(t) }
func isTsT(t types.Type) bool      { return t.IsTimestamp() || isNullT(t) }
func isDateTimeT(t types.Type) bool {
	return t.IsTimestamp() || t.Kind == types.Date || t.Kind == types.Time || isNullT(t)
}

// strLiteral returns the text of a constant string argument.
func strLiteral(x Expr) (string, bool) {
	if !x.Type().IsString() {
		return "", false
	}
	v, ok := constValue(x)
	if !ok || v.IsNull() {
		return "", false
	}
	return v.S, true
}

// intLiteral returns the value of a constant integer argument.
func intLiteral(x Expr) (int64, bool) {
	if !x.Type().IsIntegral() {
		return 0, false
	}
	v, ok := constValue(x)
	if !ok || v.IsNull() {
		return 0, false
	}
	return v.I, true
}

// Strict evaluation helpers: NULL in any argument gives NULL without calling f.

func strict1(a Expr, f func(x types.Value) (types.Value, error)) evalFn {
	return func(row []types.Value) (types.Value, error) {
		x, err := a.Eval(row)
		if err != nil || x.T == types.TagNull {
			return types.NullValue, err
		}
		return f(x)
	}
}

func strict2(a, b Expr, f func(x, y types.Value) (types.Value, error)) evalFn {
	return func(row []types.Value) (types.Value, error) {
		x, err := a.Eval(row)
		if err != nil || x.T == types.TagNull {
			return types.NullValue, err
		}
		y, err := b.Eval(row)
		if err != nil || y.T == types.TagNull {
			return types.NullValue, err
		}
		return f(x, y)
	}
}

func strict3(a, b, c Expr, f func(x, y, z types.Value) (types.Value, error)) evalFn {
	return func(row []types.Value) (types.Value, error) {
		x, err := a.Eval(row)
		if err != nil || x.T == types.TagNull {
			return types.NullValue, err
		}
		y, err := b.Eval(row)
		if err != nil || y.T == types.TagNull {
			return types.NullValue, err
		}
		z, err := c.Eval(row)
		if err != nil || z.T == types.TagNull {
			return types.NullValue, err
		}
		return f(x, y, z)
	}
}

// strictN evaluates all arguments into a fresh slice (used by variadic string functions, which allocate
// their result anyway).
func strictN(args []Expr, f func(vs []types.Value) (types.Value, error)) evalFn {
	return func(row []types.Value) (types.Value, error) {
		vs := make([]types.Value, len(args))
		for i, a := range args {
			v, err := a.Eval(row)
			if err != nil || v.T == types.TagNull {
				return types.NullValue, err
			}
			vs[i] = v
		}
		return f(vs)
	}
}

// evalAll evaluates every argument (NULLs kept).
func evalAll(args []Expr, row []types.Value) ([]types.Value, error) {
	vs := make([]types.Value, len(args))
	for i, a := range args {
		v, err := a.Eval(row)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

func ok(v types.Value) (types.Value, error) { return v, nil }
