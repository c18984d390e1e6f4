package expr

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/types"
)

// UDF is a scalar function written in Go, usable in SQL once a session carries it (Env.Functions).
//
// The Go function takes zero or more arguments of the types below and returns one value of those types,
// optionally followed by an error. SQL argument types are checked when a query is bound; a mismatch fails
// with "Cannot apply 'NAME' to arguments of type ...", naming the accepted Go signature.
//
//	Go type     SQL arguments accepted                         SQL result type
//	int64       TINYINT, SMALLINT, INT, BIGINT                 BIGINT
//	int32       TINYINT, SMALLINT, INT                         INT
//	float64     FLOAT, DOUBLE, any integer, DECIMAL            DOUBLE
//	string      CHAR, VARCHAR                                  STRING
//	[]byte      BINARY, VARBINARY                              BYTES
//	bool        BOOLEAN                                        BOOLEAN
//	time.Time   TIMESTAMP (wall clock as UTC), TIMESTAMP_LTZ   TIMESTAMP(9) (the wall clock of the result
//	            (the instant), DATE (midnight UTC)             as shown in its own location)
//	*big.Rat    DECIMAL, any integer                           DECIMAL(38, 18), rounded half up
//
// NULL handling is strict, as for most built-in functions: when any argument is NULL the function is not
// called and the result is NULL. A returned error, or a panic inside the function, fails the query with an
// error naming the function. UDFs are treated as non-deterministic (never constant-folded).
type UDF struct {
	name   string
	fn     reflect.Value
	params []goKind
	result goKind
	hasErr bool

	// direct, when set (NewValueUDF), is called with the SQL argument values instead of fn; origin names
	// where the function comes from in error messages ("WASM function").
	direct func(args []types.Value) (types.Value, error)
	origin string
	argBuf sync.Pool // *[]types.Value of len(params), for direct calls
}

// goKind is one supported Go parameter or result type.
type goKind uint8

const (
	goInt64 goKind = iota + 1
	goInt32
	goFloat64
	goString
	goBytes
	goBool
	goTime
	goRat
)

var (
	timeType  = reflect.TypeOf(time.Time{})
	ratType   = reflect.TypeOf((*big.Rat)(nil))
	errorType = reflect.TypeOf((*error)(nil)).Elem()
	bytesType = reflect.TypeOf([]byte(nil))
)

func kindOfGo(t reflect.Type) (goKind, bool) {
	switch {
	case t == timeType:
		return goTime, true
	case t == ratType:
		return goRat, true
	case t == bytesType:
		return goBytes, true
	}
	switch t.Kind() {
	case reflect.Int64:
		return goInt64, true
	case reflect.Int32:
		return goInt32, true
	case reflect.Float64:
		return goFloat64, true
	case reflect.String:
		return goString, true
	case reflect.Bool:
		return goBool, true
	}
	return 0, false
}

func (k goKind) goName() string {
	return [...]string{"?", "int64", "int32", "float64", "string", "[]byte", "bool", "time.Time", "*big.Rat"}[k]
}

// sqlType is the SQL type of a result of Go kind k (nullable).
func (k goKind) sqlType() types.Type {
	switch k {
	case goInt64:
		return types.BigIntType()
	case goInt32:
		return types.IntType()
	case goFloat64:
		return types.DoubleType()
	case goString:
		return types.StringType()
	case goBytes:
		return types.BytesType()
	case goBool:
		return types.BooleanType()
	case goTime:
		return types.TimestampType(9)
	}
	return types.DecimalType(38, 18)
}

// accepts reports whether an argument of SQL type t can be passed as Go kind k.
func (k goKind) accepts(t types.Type) bool {
	if t.Kind == types.Null {
		return true
	}
	switch k {
	case goInt64:
		return t.Kind == types.TinyInt || t.Kind == types.SmallInt || t.Kind == types.Int || t.Kind == types.BigInt
	case goInt32:
		return t.Kind == types.TinyInt || t.Kind == types.SmallInt || t.Kind == types.Int
	case goFloat64:
		return t.IsNumeric()
	case goString:
		return t.Kind == types.Char || t.Kind == types.VarChar
	case goBytes:
		return t.Kind == types.Binary || t.Kind == types.VarBinary
	case goBool:
		return t.Kind == types.Boolean
	case goTime:
		return t.Kind == types.Timestamp || t.Kind == types.TimestampLTZ || t.Kind == types.Date
	case goRat:
		return t.Kind == types.Decimal || t.Kind == types.TinyInt || t.Kind == types.SmallInt || t.Kind == types.Int || t.Kind == types.BigInt
	}
	return false
}

// NewUDF checks that fn is a function of supported argument and result types and returns it as a UDF
// named name (case-insensitive in SQL).
func NewUDF(name string, fn any) (*UDF, error) {
	if !plainIdent(name) {
		return nil, fmt.Errorf("function name %q: want a plain identifier ([A-Za-z_][A-Za-z0-9_]*)", name)
	}
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.Kind() != reflect.Func || v.IsNil() {
		return nil, fmt.Errorf("function %s: got %T, want a Go func", name, fn)
	}
	t := v.Type()
	if t.IsVariadic() {
		return nil, fmt.Errorf("function %s: variadic functions are not supported", name)
	}
	u := &UDF{name: strings.ToUpper(name), fn: v}
	for i := range t.NumIn() {
		k, ok := kindOfGo(t.In(i))
		if !ok {
			return nil, fmt.Errorf("function %s: argument %d has unsupported type %s (want int64, int32, float64, string, []byte, bool, time.Time or *big.Rat)", name, i+1, t.In(i))
		}
		u.params = append(u.params, k)
	}
	switch {
	case t.NumOut() == 2 && t.Out(1) == errorType:
		u.hasErr = true
	case t.NumOut() == 1:
	default:
		return nil, fmt.Errorf("function %s: want one result, optionally followed by an error; got %s", name, t)
	}
	k, ok := kindOfGo(t.Out(0))
	if !ok {
		return nil, fmt.Errorf("function %s: result has unsupported type %s (want int64, int32, float64, string, []byte, bool, time.Time or *big.Rat)", name, t.Out(0))
	}
	u.result = k
	return u, nil
}

// Name is the function's upper-case SQL name.
func (u *UDF) Name() string { return u.name }

// ResultType is the SQL type of the function's result.
func (u *UDF) ResultType() types.Type { return u.result.sqlType() }

// signature prints the accepted Go signature for error messages: FOO(int64, string) string, or the SQL one
// of a direct UDF: FOO(<STRING>, <STRING>) INT.
func (u *UDF) signature() string {
	ps := make([]string, len(u.params))
	for i, p := range u.params {
		ps[i] = u.paramName(p)
	}
	if u.direct != nil {
		return u.name + "(" + strings.Join(ps, ", ") + ") " + sqlTypeName(u.result.sqlType())
	}
	return u.name + "(" + strings.Join(ps, ", ") + ") " + u.result.goName()
}

// paramName names a parameter kind in error messages: its Go type, or <SQL TYPE> for a direct UDF.
func (u *UDF) paramName(k goKind) string {
	if u.direct != nil {
		return "<" + sqlTypeName(k.sqlType()) + ">"
	}
	return k.goName()
}

// NewValueUDF returns a UDF named name whose calls pass the SQL argument values to fn, without reflection.
// params and result are among BIGINT, INT, DOUBLE, STRING (VARCHAR), BYTES (VARBINARY) and BOOLEAN; an
// argument is accepted as a Go UDF's of the matching Go type is (INT takes TINYINT and SMALLINT too, DOUBLE
// any number, passed to fn as a DOUBLE value). fn receives a slice that is reused after it returns and is
// never called with a NULL argument (the result is NULL then). origin names the function's kind in error
// messages, e.g. "WASM function".
func NewValueUDF(name, origin string, params []types.Type, result types.Type, fn func(args []types.Value) (types.Value, error)) (*UDF, error) {
	if !plainIdent(name) {
		return nil, fmt.Errorf("function name %q: want a plain identifier ([A-Za-z_][A-Za-z0-9_]*)", name)
	}
	if fn == nil {
		return nil, fmt.Errorf("function %s: nil function", name)
	}
	kindOf := func(t types.Type) (goKind, bool) {
		switch t.Kind {
		case types.BigInt:
			return goInt64, true
		case types.Int:
			return goInt32, true
		case types.Double:
			return goFloat64, true
		case types.VarChar:
			return goString, true
		case types.VarBinary:
			return goBytes, true
		case types.Boolean:
			return goBool, true
		}
		return 0, false
	}
	u := &UDF{name: strings.ToUpper(name), direct: fn, origin: origin}
	for i, t := range params {
		k, ok := kindOf(t)
		if !ok {
			return nil, fmt.Errorf("function %s: argument %d has unsupported type %s (want BIGINT, INT, DOUBLE, STRING, BYTES or BOOLEAN)", name, i+1, t)
		}
		u.params = append(u.params, k)
	}
	k, ok := kindOf(result)
	if !ok {
		return nil, fmt.Errorf("function %s: result has unsupported type %s (want BIGINT, INT, DOUBLE, STRING, BYTES or BOOLEAN)", name, result)
	}
	u.result = k
	n := len(params)
	u.argBuf.New = func() any { b := make([]types.Value, n); return &b }
	return u, nil
}

// bind type-checks a call of u and returns the call expression.
func (u *UDF) bind(args []Expr) (Expr, error) {
	if len(args) != len(u.params) {
		noun := "arguments"
		if len(u.params) == 1 {
			noun = "argument"
		}
		return nil, errorf("Invalid number of arguments to function '%s'. Was expecting %d %s", u.name, len(u.params), noun)
	}
	for i, a := range args {
		if !u.params[i].accepts(a.Type()) {
			ts := make([]string, len(args))
			for j, x := range args {
				ts[j] = "<" + sqlTypeName(x.Type()) + ">"
			}
			origin, want := "Go function", u.params[i].goName()
			if u.direct != nil {
				origin, want = u.origin, [...]string{"?", "BIGINT", "INT", "DOUBLE", "STRING", "BYTES", "BOOLEAN", "?", "?"}[u.params[i]]
			}
			return nil, errorf("Cannot apply '%s' to arguments of type '%s(%s)'. Supported form(s): '%s' (%s; argument %d must be %s)",
				u.name, u.name, strings.Join(ts, ", "), u.signature(), origin, i+1, want)
		}
	}
	c := &udfCall{u: u, args: append([]Expr(nil), args...), argTypes: make([]types.Type, len(args))}
	for i, a := range args {
		c.argTypes[i] = a.Type()
	}
	return &callExpr{name: u.name, args: c.args, typ: u.ResultType(), eval: c.eval, volatile: true, udf: u}, nil
}

// udfCall evaluates one bound call of a UDF.
type udfCall struct {
	u        *UDF
	args     []Expr
	argTypes []types.Type
}

func (c *udfCall) eval(row []types.Value) (out types.Value, err error) {
	if c.u.direct != nil {
		return c.evalDirect(row)
	}
	in := make([]reflect.Value, len(c.args))
	for i, a := range c.args {
		v, err := a.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.IsNull() {
			return types.NullValue, nil
		}
		in[i] = toGo(v, c.argTypes[i], c.u.params[i])
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = types.NullValue, fmt.Errorf("function %s panicked: %v", c.u.name, r)
		}
	}()
	res := c.u.fn.Call(in)
	if c.u.hasErr && !res[1].IsNil() {
		return types.NullValue, fmt.Errorf("function %s: %w", c.u.name, res[1].Interface().(error))
	}
	return fromGo(res[0], c.u.result)
}

// evalDirect evaluates a call of a NewValueUDF function.
func (c *udfCall) evalDirect(row []types.Value) (out types.Value, err error) {
	bp := c.u.argBuf.Get().(*[]types.Value)
	defer func() {
		c.u.argBuf.Put(bp)
		if r := recover(); r != nil {
			out, err = types.NullValue, fmt.Errorf("function %s panicked: %v", c.u.name, r)
		}
	}()
	in := *bp
	for i, a := range c.args {
		v, err := a.Eval(row)
		if err != nil {
			return types.NullValue, err
		}
		if v.IsNull() {
			return types.NullValue, nil
		}
		if c.u.params[i] == goFloat64 {
			switch c.argTypes[i].Kind {
			case types.Float, types.Double:
			case types.Decimal:
				v = types.FloatValue(types.DecimalToFloat(v))
			default:
				v = types.FloatValue(float64(v.Int()))
			}
		}
		in[i] = v
	}
	return c.u.direct(in)
}

// toGo converts a non-NULL SQL value of type t to the Go kind k (accepts(t) holds).
func toGo(v types.Value, t types.Type, k goKind) reflect.Value {
	switch k {
	case goInt64:
		return reflect.ValueOf(v.Int())
	case goInt32:
		return reflect.ValueOf(int32(v.Int()))
	case goFloat64:
		switch t.Kind {
		case types.Float, types.Double:
			return reflect.ValueOf(v.Float())
		case types.Decimal:
			return reflect.ValueOf(types.DecimalToFloat(v))
		}
		return reflect.ValueOf(float64(v.Int()))
	case goString:
		return reflect.ValueOf(v.Str())
	case goBytes:
		return reflect.ValueOf(v.Bytes())
	case goBool:
		return reflect.ValueOf(v.Bool())
	case goTime:
		if t.Kind == types.Date {
			return reflect.ValueOf(time.Unix(v.Int()*86400, 0).UTC())
		}
		return reflect.ValueOf(types.ValueToTime(v))
	}
	// goRat
	if t.Kind == types.Decimal {
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(v.DecimalScale())), nil)
		return reflect.ValueOf(new(big.Rat).SetFrac(v.DecimalBig(), den))
	}
	return reflect.ValueOf(new(big.Rat).SetInt64(v.Int()))
}

// fromGo converts a UDF result to a SQL value.
func fromGo(r reflect.Value, k goKind) (types.Value, error) {
	switch k {
	case goInt64, goInt32:
		return types.IntValue(r.Int()), nil
	case goFloat64:
		return types.FloatValue(r.Float()), nil
	case goString:
		return types.StringValue(r.String()), nil
	case goBytes:
		if r.IsNil() {
			return types.NullValue, nil
		}
		return types.BytesValue(r.Bytes()), nil
	case goBool:
		return types.BoolValue(r.Bool()), nil
	case goTime:
		t := r.Interface().(time.Time)
		wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		return types.TimestampFromTime(wall), nil
	}
	rat, _ := r.Interface().(*big.Rat)
	if rat == nil {
		return types.NullValue, nil
	}
	return RatToDecimal(rat, 38, 18)
}

// ErrDecimalOverflow is returned when a value does not fit the DECIMAL type it is converted to.
var ErrDecimalOverflow = errors.New("decimal overflow")

// RatToDecimal rounds r half away from zero to scale digits and checks that it fits DECIMAL(precision,
// scale).
func RatToDecimal(r *big.Rat, precision, scale int) (types.Value, error) {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	num := new(big.Int).Mul(r.Num(), den)
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	// round half away from zero: |2m| >= denom
	if new(big.Int).Abs(new(big.Int).Lsh(m, 1)).Cmp(r.Denom()) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	v := types.BigDecimalValue(q, scale)
	if !types.DecimalFits(v, precision, scale) {
		return types.NullValue, fmt.Errorf("%w: %s does not fit DECIMAL(%d, %d)", ErrDecimalOverflow, r.FloatString(scale), precision, scale)
	}
	return v, nil
}

func plainIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// lookupUDF returns the session's function named up (upper case), if any.
func (e *Env) lookupUDF(up string) (*UDF, bool) {
	if e == nil || e.Functions == nil {
		return nil, false
	}
	u, ok := e.Functions[up]
	return u, ok
}
