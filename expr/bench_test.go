package expr

import (
	"testing"

	"github.com/sluicesql/sluice/types"
)

func mustCall(tb testing.TB, name string, args ...Expr) Expr {
	tb.Helper()
	x, err := Call(NewEnv(nil), name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

func intLit(i int64) Expr { return Literal(types.IntValue(i), types.IntType().WithNullable(false)) }

// hotExprs are the expressions whose Eval must not allocate.
func hotExprs(tb testing.TB) map[string]struct {
	x   Expr
	row []types.Value
} {
	a := Column(0, "a", types.IntType())
	b := Column(1, "b", types.BigIntType())
	d := Column(2, "d", types.DecimalType(10, 2))
	f := Column(3, "f", types.DoubleType())
	s := Column(4, "s", types.StringType())
	ts := Column(5, "ts", types.TimestampType(3))
	addrT := types.RowType(types.Field{Name: "city", Type: types.StringType()}, types.Field{Name: "zip", Type: types.IntType()})
	r := Column(6, "r", types.RowType(types.Field{Name: "id", Type: types.BigIntType()}, types.Field{Name: "addr", Type: addrT}))
	row := []types.Value{types.IntValue(7), types.IntValue(1 << 40), types.DecimalValue(12345, 2),
		types.FloatValue(2.5), types.StringValue("hello world"), types.TimestampValue(1_600_000_000_000, 0),
		types.RowValue([]types.Value{types.IntValue(10), types.RowValue([]types.Value{types.StringValue("Paris"), types.IntValue(75001)})})}
	field := func(x Expr, name string) Expr {
		return mustCall(tb, "FIELD", x, Literal(types.StringValue(name), types.StringType().WithNullable(false)))
	}
	dec := Literal(types.DecimalValue(150, 2), types.DecimalType(3, 2).WithNullable(false))
	str := Literal(types.StringValue("hello world"), types.CharType(11).WithNullable(false))
	like, err := Call(NewEnv(nil), "LIKE", s, Literal(types.StringValue("h%o_w%d"), types.StringType()))
	if err != nil {
		tb.Fatal(err)
	}
	in, err := In(a, []Expr{intLit(1), intLit(7), intLit(9)}, false)
	if err != nil {
		tb.Fatal(err)
	}
	inStr, err := In(s, []Expr{str, Literal(types.StringValue("x"), types.CharType(1).WithNullable(false))}, false)
	if err != nil {
		tb.Fatal(err)
	}
	gt := mustCall(tb, ">", a, intLit(3))
	cs, err := CaseWhen([]Expr{gt}, []Expr{a}, intLit(0))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]struct {
		x   Expr
		row []types.Value
	}{}
	add := func(name string, x Expr) {
		out[name] = struct {
			x   Expr
			row []types.Value
		}{x, row}
	}
	add("int+int", mustCall(tb, "+", a, intLit(1)))
	add("int*bigint", mustCall(tb, "*", a, b))
	add("int/int", mustCall(tb, "/", a, intLit(2)))
	add("dec+dec", mustCall(tb, "+", d, dec))
	add("dec*int", mustCall(tb, "*", d, a))
	add("dec/dec", mustCall(tb, "/", d, dec))
	add("double+int", mustCall(tb, "+", f, a))
	add("int>int", gt)
	add("dec<int", mustCall(tb, "<", d, a))
	add("double=dec", mustCall(tb, "=", f, d))
	add("string=string", mustCall(tb, "=", s, str))
	add("ts+interval", mustCall(tb, "+", ts, Literal(types.IntValue(1000), types.Type{Kind: types.IntervalDayTime, NotNull: true})))
	add("and", mustCall(tb, "AND", gt, mustCall(tb, "IS NOT NULL", s)))
	add("like", like)
	add("in-int", in)
	add("in-string", inStr)
	add("case", cs)
	add("coalesce", mustCall(tb, "COALESCE", a, intLit(0)))
	add("abs", mustCall(tb, "ABS", mustCall(tb, "NEG", a)))
	add("char_length", mustCall(tb, "CHAR_LENGTH", s))
	add("cast-int-bigint", func() Expr { x, _ := Cast(NewEnv(nil), a, types.BigIntType(), false); return x }())
	add("extract", mustCall(tb, "EXTRACT", Literal(types.StringValue("HOUR"), types.CharType(4).WithNullable(false)), ts))
	add("field", mustCall(tb, "*", field(r, "id"), intLit(2)))
	add("field-path", field(field(r, "addr"), "city"))
	return out
}

func TestEvalDoesNotAllocate(t *testing.T) {
	for name, c := range hotExprs(t) {
		c := c
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := c.x.Eval(c.row); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s (%s): %v allocations per Eval", name, c.x, allocs)
		}
	}
}

func benchEval(b *testing.B, names ...string) {
	hot := hotExprs(b)
	for _, name := range names {
		c := hot[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.x.Eval(c.row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEvalArith(b *testing.B) {
	benchEval(b, "int+int", "int*bigint", "int/int", "double+int", "dec+dec", "dec*int", "dec/dec", "ts+interval")
}

func BenchmarkEvalCompare(b *testing.B) {
	benchEval(b, "int>int", "dec<int", "double=dec", "string=string", "and", "in-int", "in-string", "case")
}

func BenchmarkLike(b *testing.B) {
	s := Column(0, "s", types.StringType())
	row := []types.Value{types.StringValue("the quick brown fox jumps over the lazy dog")}
	for _, p := range []string{"the%", "%dog", "%fox%", "%qu_ck%l_zy%", "the _uick%over%dog"} {
		x := mustCall(b, "LIKE", s, Literal(types.StringValue(p), types.StringType().WithNullable(false)))
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := x.Eval(row)
				if err != nil || v.I != 1 {
					b.Fatalf("%v %v", v, err)
				}
			}
		})
	}
}
