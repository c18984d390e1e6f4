package expr

import (
	"testing"

	"github.com/sluicesql/sluice/types"
)

// MapColumns renumbers the columns of every kind of expression the planner builds; the renumbered
// expression over the narrower row evaluates as the original over the wide one.
func TestMapColumns(t *testing.T) {
	a := Column(0, "a", types.IntType())
	pad := Column(1, "pad", types.StringType())
	b := Column(2, "b", types.BigIntType())
	c := Column(3, "c", types.StringType())
	call := func(name string, args ...Expr) Expr {
		x, err := Call(nil, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	lit := func(v types.Value, typ types.Type) Expr { return Literal(v, typ) }
	cast, err := Cast(nil, a, types.StringType(), false)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := CaseWhen([]Expr{call("=", c, lit(types.StringValue("x"), types.StringType()))}, []Expr{call("UPPER", c)}, cast)
	if err != nil {
		t.Fatal(err)
	}
	in, err := In(a, []Expr{lit(types.IntValue(1), types.IntType()), b}, false)
	if err != nil {
		t.Fatal(err)
	}
	between := call("AND", call(">=", call("+", a, lit(types.IntValue(1), types.IntType())), call("-", b, lit(types.IntValue(2), types.IntType()))),
		call("<=", call("+", a, lit(types.IntValue(1), types.IntType())), b))
	dropPad := func(i int) (int, bool) {
		switch {
		case i == 1:
			return 0, false
		case i > 1:
			return i - 1, true
		}
		return i, true
	}
	rows := [][]types.Value{
		{types.IntValue(1), types.StringValue("p"), types.IntValue(2), types.StringValue("x")},
		{types.IntValue(5), types.StringValue("p"), types.IntValue(6), types.StringValue("y")},
		{types.IntValue(7), types.NullValue, types.NullValue, types.NullValue},
	}
	for _, x := range []Expr{between, cw, in, cast, call("CONCAT", c, cast)} {
		y, ok := MapColumns(x, dropPad)
		if !ok {
			t.Fatalf("MapColumns(%s) refused", x)
		}
		if y.String() != x.String() || !y.Type().Equal(x.Type()) {
			t.Errorf("MapColumns(%s) = %s %s, want the same text and type %s", x, y, y.Type(), x.Type())
		}
		for _, r := range rows {
			want, err1 := x.Eval(r)
			got, err2 := y.Eval([]types.Value{r[0], r[2], r[3]})
			if err1 != nil || err2 != nil || types.Compare(want, got, x.Type()) != 0 || want.IsNull() != got.IsNull() {
				t.Errorf("%s over %v: %v (%v), renumbered %v (%v)", x, r, want, err1, got, err2)
			}
		}
	}
	if _, ok := MapColumns(call("CONCAT", pad, c), dropPad); ok {
		t.Errorf("MapColumns renumbered a read of a dropped column")
	}
	u, err := NewUDF("f", func(s string) string { return s + "!" })
	if err != nil {
		t.Fatal(err)
	}
	env := NewEnv(nil)
	env.Functions = map[string]*UDF{u.Name(): u}
	fx, err := Call(env, "F", c)
	if err != nil {
		t.Fatal(err)
	}
	// A Go function's call is bound again over the moved columns and evaluates as before.
	fy, ok := MapColumns(fx, dropPad)
	if !ok || fy.String() != fx.String() {
		t.Fatalf("MapColumns(%s) = %v, %t; want the call over the moved column", fx, fy, ok)
	}
	for _, r := range rows[:2] {
		want, err1 := fx.Eval(r)
		got, err2 := fy.Eval([]types.Value{r[0], r[2], r[3]})
		if err1 != nil || err2 != nil || want.S != got.S {
			t.Errorf("%s over %v: %v (%v), renumbered %v (%v)", fx, r, want, err1, got, err2)
		}
	}
	if _, ok := MapColumns(call("CONCAT", fx, pad), dropPad); ok {
		t.Errorf("MapColumns renumbered a Go function's call reading a dropped column")
	}
	if y, ok := MapColumns(fx, func(i int) (int, bool) { return i, true }); !ok || y != fx {
		t.Errorf("MapColumns of an unmoved Go function's call = %v, %t; want it unchanged", y, ok)
	}
}

// TRIM's mode survives renumbering (the call is bound again over the moved argument), with and without
// characters, and TrimMode reports it.
func TestMapColumnsTrimMode(t *testing.T) {
	s := Column(1, "s", types.StringType())
	str := func(v string) Expr { return Literal(types.StringValue(v), types.StringType()) }
	null := Literal(types.NullValue, types.StringType())
	to := func(i int) (int, bool) { return i - 1, i == 1 }
	for _, c := range []struct {
		args              []Expr
		in, want          string
		leading, trailing bool
	}{
		{[]Expr{s}, "  ab  ", "ab", true, true},
		{[]Expr{str("BOTH"), null, s}, "  ab  ", "ab", true, true},
		{[]Expr{str("LEADING"), null, s}, "  ab  ", "ab  ", true, false},
		{[]Expr{str("TRAILING"), null, s}, "  ab  ", "  ab", false, true},
		{[]Expr{str("LEADING"), str("x"), s}, "xxabxx", "abxx", true, false},
		{[]Expr{str("TRAILING"), str("x"), s}, "xxabxx", "xxab", false, true},
	} {
		x, err := Call(nil, "TRIM", c.args...)
		if err != nil {
			t.Fatal(err)
		}
		y, ok := MapColumns(x, to)
		if !ok {
			t.Fatalf("MapColumns(%s) refused", x)
		}
		got, err := y.Eval([]types.Value{types.StringValue(c.in)})
		if err != nil || got.S != c.want || y.String() != x.String() {
			t.Errorf("%s renumbered: %s over %q = %q (%v), want %q", x, y, c.in, got.S, err, c.want)
		}
		for _, e := range []Expr{x, y} {
			if l, tr, ok := TrimMode(e); !ok || l != c.leading || tr != c.trailing {
				t.Errorf("TrimMode(%s) = %t, %t, %t; want %t, %t", e, l, tr, ok, c.leading, c.trailing)
			}
		}
	}
	if _, _, ok := TrimMode(s); ok {
		t.Errorf("TrimMode of a column reports a mode")
	}
	up, err := Call(nil, "UPPER", s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := TrimMode(up); ok {
		t.Errorf("TrimMode of UPPER reports a mode")
	}
}
