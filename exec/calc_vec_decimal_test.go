package exec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Property test of the wide DECIMAL kernels (precision 19..38) against the row path: random batches with
// values at the precision edges (18, 19 and 38 digits, int64's limits), negative values, NULLs, results
// that overflow the result precision (NULL) and, in some batches, zero divisors (the row path's error)
// give the same rows value by value (representation included) and the same errors on the three paths.

var wideTestTypes = []types.Type{
	types.DecimalType(38, 10), // 0 w
	types.DecimalType(38, 10), // 1 v
	types.DecimalType(19, 0),  // 2 g
	types.DecimalType(38, 0),  // 3 z
	types.DecimalType(18, 4),  // 4 n (narrow)
	types.BigIntType(),        // 5 a
	types.DecimalType(38, 30), // 6 f
	types.DecimalType(20, 2),  // 7 m
}

var wideTestNames = []string{"w", "v", "g", "z", "n", "a", "f", "m"}

// randUnscaled returns a random unscaled value of at most p digits, often at an edge.
func randUnscaled(rng *rand.Rand, p int) *big.Int {
	ten := big.NewInt(10)
	var b *big.Int
	switch rng.Intn(8) {
	case 0:
		b = new(big.Int).Exp(ten, big.NewInt(int64(p)), nil)
		b.Sub(b, big.NewInt(1+rng.Int63n(3))) // the largest values of the precision
	case 1:
		b = big.NewInt(math.MaxInt64 - rng.Int63n(2))
		b.Add(b, big.NewInt(rng.Int63n(3)))
	case 2:
		b = new(big.Int).Exp(ten, big.NewInt(int64(min(p-1, 17+rng.Intn(3)))), nil)
	case 3:
		b = big.NewInt(rng.Int63n(100))
	default:
		b = new(big.Int).Rand(rng, new(big.Int).Exp(ten, big.NewInt(int64(1+rng.Intn(p))), nil))
	}
	if b.Cmp(new(big.Int).Exp(ten, big.NewInt(int64(p)), nil)) >= 0 {
		b = big.NewInt(rng.Int63n(1000))
	}
	if rng.Intn(2) == 0 {
		b.Neg(b)
	}
	return b
}

// wideTestRows makes n rows; zeros says whether divisors may be zero.
func wideTestRows(rng *rand.Rand, n int, kinds, zeros bool) []changelog.Row {
	rows := make([]changelog.Row, n)
	for i := range rows {
		vals := make([]types.Value, len(wideTestTypes))
		for j, t := range wideTestTypes {
			if rng.Intn(9) == 0 {
				continue
			}
			if t.Kind == types.BigInt {
				vals[j] = types.IntValue(randUnscaled(rng, 18).Int64())
				if rng.Intn(20) == 0 {
					vals[j] = types.IntValue(math.MinInt64 + rng.Int63n(2))
				}
				continue
			}
			u := randUnscaled(rng, t.Precision)
			if !zeros && u.Sign() == 0 {
				u.SetInt64(7)
			}
			vals[j] = types.BigDecimalValue(u, t.Scale)
		}
		if zeros && rng.Intn(40) == 0 {
			vals[1] = types.DecimalValue(0, 10)
		}
		rows[i].Vals = vals
		if kinds && rng.Intn(3) == 0 {
			rows[i].Kind = changelog.Delete
		}
	}
	return rows
}

func TestCalcVecWideDecimalMatchesRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, wideTestNames[i], wideTestTypes[i]) }
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(env, x, to, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	lit := func(s string, p, sc int) expr.Expr {
		v, err := types.ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return expr.Literal(types.DecimalRescale(v, sc), types.DecimalType(p, sc).WithNullable(false))
	}
	exprs := map[string]expr.Expr{}
	ops := []string{"+", "-", "*", "/"}
	pairs := [][2]int{{0, 1}, {0, 2}, {2, 3}, {3, 4}, {4, 0}, {5, 0}, {0, 5}, {6, 7}, {7, 7}, {3, 6}, {2, 2}, {7, 4}, {6, 6}, {4, 4}, {4, 5}}
	var arith, divs []string
	for _, op := range ops {
		for _, p := range pairs {
			name := fmt.Sprintf("%s%s%s", wideTestNames[p[0]], op, wideTestNames[p[1]])
			exprs[name] = call(op, col(p[0]), col(p[1]))
			if op == "/" {
				divs = append(divs, name)
			} else {
				arith = append(arith, name)
			}
		}
	}
	exprs["w*lit"] = call("*", col(0), lit("12345678901234567890.5", 38, 1))
	exprs["lit-w"] = call("-", lit("-0.0000000001", 38, 10), col(0))
	exprs["w/lit"] = call("/", col(0), lit("3", 19, 0))
	exprs["m+1"] = call("+", col(7), expr.Literal(types.IntValue(1), types.IntType().WithNullable(false)))
	var cmps []string
	for _, op := range []string{"=", "<>", "<", "<=", ">", ">="} {
		for _, p := range [][2]int{{0, 1}, {0, 4}, {3, 2}, {6, 0}, {7, 4}} {
			name := fmt.Sprintf("%s%s%s", wideTestNames[p[0]], op, wideTestNames[p[1]])
			exprs[name] = call(op, col(p[0]), col(p[1]))
			cmps = append(cmps, name)
		}
	}
	exprs["w>lit"] = call(">", col(0), lit("123456789012.5", 38, 10))
	casts := map[string]expr.Expr{
		"w->(38,2)":  cast(col(0), types.DecimalType(38, 2)),
		"w->(38,20)": cast(col(0), types.DecimalType(38, 20)),
		"n->(30,6)":  cast(col(4), types.DecimalType(30, 6)),
		"a->(25,4)":  cast(col(5), types.DecimalType(25, 4)),
		"g->(20,0)":  cast(col(2), types.DecimalType(20, 0)),
		"m->(19,1)":  cast(col(7), types.DecimalType(19, 1)),
		"f->(18,3)":  cast(col(6), types.DecimalType(18, 3)),
		"w->double":  cast(col(0), types.DoubleType()),
		"f->double":  cast(col(6), types.DoubleType()),
		"z->double":  cast(col(3), types.DoubleType()),
		"m->float":   cast(col(7), types.FloatType()),
		"f->int":     cast(col(6), types.IntType()),
	}
	exprs["w->bigint"] = cast(col(0), types.BigIntType())
	exprs["g->bigint"] = cast(col(2), types.BigIntType())
	exprs["m->int"] = cast(col(7), types.IntType())
	caseX, err := expr.CaseWhen([]expr.Expr{call(">", col(0), col(1)), call("IS NULL", col(1))}, []expr.Expr{col(0), col(0)}, col(1))
	if err != nil {
		t.Fatal(err)
	}
	exprs["case"] = caseX
	exprs["small"] = call("AND", call("AND", call(">", col(2), lit("-9000000000000000000", 19, 0)), call("<", col(2), lit("9000000000000000000", 19, 0))),
		call("AND", call(">", col(7), lit("-2000000000", 20, 2)), call("<", col(7), lit("2000000000", 20, 2))))
	var castNames []string
	for k, v := range casts {
		exprs[k] = v
		castNames = append(castNames, k)
	}
	mayBail := map[string]bool{}
	for _, d := range append(divs, "w/lit") {
		mayBail[d] = true // zero divisors: the row path's error
	}
	for _, c := range []string{"w->(38,20)", "m->(19,1)", "f->(18,3)", "w->bigint"} {
		mayBail[c] = true // a CAST that overflows: the row path decides
	}
	cases := []vecCase{
		{projects: arith},
		{projects: append(divs, "w/lit")},
		{projects: []string{"w*lit", "lit-w", "m+1"}},
		{projects: []string{"case"}},
		{projects: cmps},
		{filter: "w>lit", projects: []string{"w*v", "w/v", "w+v"}},
		{filter: "w<v", projects: []string{"z-n"}},
		{projects: castNames},
		{projects: []string{"w->(38,2)", "n->(30,6)", "a->(25,4)", "g->(20,0)"}}, // never overflow: no bail
		{projects: []string{"w->double", "f->double", "z->double", "m->float", "f->int"}},
		{projects: []string{"w->bigint"}},
		{filter: "small", projects: []string{"g->bigint", "m->int"}}, // the values that fit: no bail
	}
	for _, n := range append(append([]string{}, arith...), divs...) {
		cases = append(cases, vecCase{projects: []string{n}})
	}
	rng := rand.New(rand.NewSource(5))
	var batches [][]changelog.Row
	for i := 0; i < 30; i++ {
		batches = append(batches, wideTestRows(rng, 1+rng.Intn(200), i%3 == 0, i%5 == 0))
	}
	for _, tc := range cases {
		name := tc.filter + ":" + strings.Join(tc.projects, ",")
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			var filter expr.Expr
			if tc.filter != "" {
				filter = exprs[tc.filter]
			}
			var projects []expr.Expr
			bailOK := false
			for _, p := range tc.projects {
				if exprs[p] == nil {
					t.Fatalf("no expression %q", p)
				}
				projects = append(projects, exprs[p])
				bailOK = bailOK || mayBail[p]
			}
			if compileCalc(projects, filter) == nil {
				t.Fatalf("not compiled into kernels")
			}
			outRows, nulls, errs, bailed := 0, 0, 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPathTypes(wideTestTypes, projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				nulls += strings.Count(want, " 0/0/0/")
				if werr != nil {
					errs++
				}
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPathTypes(wideTestTypes, projects, filter, rows, path)
					if lastBails > 0 {
						bailed++
						if !bailOK || werr == nil && !strings.Contains(name, "->") { // only a failing batch or an overflowing CAST bails
							t.Fatalf("batch %d, %s: the kernels bailed (row path error: %v)", bi, path, werr)
						}
					}
					if fmt.Sprint(werr) != fmt.Sprint(gerr) {
						t.Fatalf("batch %d, %s: error %v, row path %v", bi, path, gerr, werr)
					}
					if got != want {
						t.Fatalf("batch %d, %s:\n%s", bi, path, diffLines(got, want))
					}
				}
			}
			if outRows == 0 {
				t.Fatalf("no output rows: the comparison is vacuous")
			}
			if bailed == 2*len(batches) {
				t.Fatalf("every batch bailed: the kernels were not exercised")
			}
			t.Logf("%d rows out, %d NULL values, %d batches failed, %d runs bailed", outRows, nulls, errs, bailed)
		})
	}
}
