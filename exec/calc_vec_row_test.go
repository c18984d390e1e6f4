package exec

import (
	"math"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// ROW = / <> (and the order comparisons) and IN over ROW lists against the row path, over the nested test
// rows (members from small domains so that equal ROWs are common; NULL ROWs, NULL members, NaN, nested
// ROWs): Struct columns, ROW constructors of their fields, ROW literals with NULL members, the casts the
// binder inserts, constant and non-constant lists, with and without a filter; no batch bails.

func rowKernelExprs(t *testing.T) (map[string]expr.Expr, []string) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	col := func(i int) expr.Expr { return expr.Column(i, nestedTestNames[i], nestedTestTypes[i]) }
	field := func(x expr.Expr, name string) expr.Expr { return e.call("FIELD", x, strLit(name)) }
	in := func(x expr.Expr, not bool, list ...expr.Expr) expr.Expr {
		y, err := expr.In(x, list, not)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	bigint := func(x expr.Expr) expr.Expr {
		y, err := expr.Cast(e.env, x, types.BigIntType(), false)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	r1, r2, r3, s1, s2 := col(0), col(1), col(2), col(6), col(7)
	nullInt := expr.Literal(types.NullValue, types.IntType())
	nan := expr.Literal(types.FloatValue(math.NaN()), types.DoubleType().WithNullable(false))
	ctor := func(r expr.Expr) expr.Expr { return e.call("ROW", field(r, "x"), field(r, "y")) }
	exprs := map[string]expr.Expr{
		"flag":          col(5),
		"eq-cols":       e.call("=", r1, r2),
		"ne-cols":       e.call("<>", r1, r3),
		"lt-cols":       e.call("<", r1, r2),
		"ge-cols":       e.call(">=", r2, r3),
		"eq-deep":       e.call("=", s1, s2),
		"eq-inner":      e.call("=", field(s1, "in"), r1),
		"eq-ctor":       e.call("=", ctor(r1), ctor(r2)),
		"ne-ctor":       e.call("<>", ctor(r2), ctor(r3)),
		"eq-ctor-lit":   e.call("=", ctor(r1), e.call("ROW", i32(1), strLit("a"))),
		"eq-null-field": e.call("=", e.call("ROW", field(r1, "x"), nullInt), e.call("ROW", field(r2, "x"), nullInt)),
		"eq-nan":        e.call("=", e.call("ROW", field(r1, "z"), field(r1, "x")), e.call("ROW", nan, i32(0))),
		"eq-nested-ctor": e.call("=", e.call("ROW", field(r1, "x"), e.call("ROW", field(r1, "y"), field(r1, "z"))),
			e.call("ROW", field(r2, "x"), e.call("ROW", field(r2, "y"), field(r2, "z")))),
		"eq-widen": e.call("=", e.call("ROW", field(r1, "x"), field(r1, "y")),
			e.call("ROW", bigint(field(r2, "x")), field(r2, "y"))),
		"eq-to-double": e.call("=", e.call("ROW", field(r1, "x"), field(r1, "y")), e.call("ROW", field(r2, "z"), field(r2, "y"))),
		"eq-to-dec":    e.call("=", e.call("ROW", field(r1, "x")), e.call("ROW", field(s1, "d"))),
		"in-const": in(ctor(r1), false, e.call("ROW", i32(0), strLit("a")), e.call("ROW", i32(1), strLit("")),
			e.call("ROW", i32(2), expr.Literal(types.NullValue, types.StringType()))),
		"notin-const": in(ctor(r1), true, e.call("ROW", i32(0), strLit("ab")), e.call("ROW", i32(2), strLit("b"))),
		"in-const-null": in(ctor(r2), false, e.call("ROW", i32(1), strLit("a")),
			expr.Literal(types.NullValue, ctor(r2).Type())),
		"in-cols":     in(r1, false, r2, r3),
		"notin-cols":  in(r1, true, r2, r3),
		"in-mixed":    in(ctor(r1), false, ctor(r2), e.call("ROW", i32(1), strLit("b")), ctor(r3)),
		"in-deep":     in(s1, false, s2, s1),
		"notin-inner": in(field(s1, "in"), true, r1, field(s2, "in")),
	}
	var names []string
	for n := range exprs {
		if n != "flag" {
			names = append(names, n)
		}
	}
	return exprs, names
}

func TestCalcVecRowCompareInMatchRowPath(t *testing.T) {
	exprs, names := rowKernelExprs(t)
	rng := rand.New(rand.NewSource(23))
	var batches [][]changelog.Row
	for range 30 {
		batches = append(batches, nestedTestRows(rng, 1+rng.Intn(300)))
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	for _, n := range names {
		cases = append(cases, vecCase{projects: []string{n}}, vecCase{filter: n, projects: []string{"flag"}})
	}
	checkVecCases(t, nestedTestTypes, exprs, nil, cases, batches)
}

// The row path's rule the kernels follow: a NULL member equals a NULL member (ROW(1, NULL) = ROW(1, NULL)
// is TRUE, not NULL), a NULL member differs from a value (FALSE), NaN equals NaN; only a NULL ROW is NULL.
func TestRowEqualityRowPathRule(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	nullInt := expr.Literal(types.NullValue, types.IntType())
	nan := expr.Literal(types.FloatValue(math.NaN()), types.DoubleType().WithNullable(false))
	for _, tc := range []struct {
		x    expr.Expr
		want string
	}{
		{e.call("=", e.call("ROW", i32(1), nullInt), e.call("ROW", i32(1), nullInt)), "TRUE"},
		{e.call("=", e.call("ROW", i32(1), nullInt), e.call("ROW", i32(1), i32(2))), "FALSE"},
		{e.call("<>", e.call("ROW", i32(1), nullInt), e.call("ROW", i32(1), i32(2))), "TRUE"},
		{e.call("=", e.call("ROW", nan), e.call("ROW", nan)), "TRUE"},
	} {
		v, err := tc.x.Eval(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := "NULL"
		if !v.IsNull() {
			got = "FALSE"
			if v.I != 0 {
				got = "TRUE"
			}
		}
		if got != tc.want {
			t.Errorf("%s = %s, want %s", tc.x, got, tc.want)
		}
	}
}
