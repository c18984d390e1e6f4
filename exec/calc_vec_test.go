package exec

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The vectorized Calc must give exactly the row path's results and errors. Every case runs the same random
// batches (with NULLs, zeros and extreme values) through the row path, the vectorized path for row input
// and the vectorized path for columnar input, and compares the output rows value by value.

var vecTestTypes = []types.Type{
	types.BigIntType(),       // 0 a
	types.IntType(),          // 1 b
	types.DecimalType(10, 2), // 2 d
	types.DoubleType(),       // 3 f
	types.StringType(),       // 4 s
	types.TimestampType(3),   // 5 t
	types.RowType(types.Field{Name: "x", Type: types.BigIntType()}, types.Field{Name: "y", Type: types.StringType()}), // 6 r
	types.BooleanType(), // 7 flag
}

var vecTestNames = []string{"a", "b", "d", "f", "s", "t", "r", "flag"}

func vecTestRows(rng *rand.Rand, n int, kinds bool) []changelog.Row {
	ints := []int64{0, 1, -1, 2, 3, 7, 123, 246, -123, 1000, math.MaxInt64, math.MinInt64, math.MaxInt32, 99_999_999}
	pick := func() int64 {
		if rng.Intn(3) == 0 {
			return ints[rng.Intn(len(ints))]
		}
		return rng.Int63n(2000) - 1000
	}
	null := func() bool { return rng.Intn(6) == 0 }
	rows := make([]changelog.Row, n)
	for i := range rows {
		v := make([]types.Value, len(vecTestTypes))
		if !null() {
			v[0] = types.IntValue(pick())
		}
		if !null() {
			v[1] = types.IntValue(int64(int32(pick())))
		}
		if !null() {
			v[2] = types.DecimalValue(rng.Int63n(2_000_000)-1_000_000, 2)
			if rng.Intn(20) == 0 {
				v[2] = types.DecimalValue(9_999_999_999, 2)
			}
		}
		if !null() {
			v[3] = types.FloatValue(float64(pick()) / 4)
		}
		if !null() {
			v[4] = types.StringValue([]string{"", "a", "abc", "b", "Google"}[rng.Intn(5)])
		}
		if !null() {
			v[5] = types.TimestampValue(1_700_000_000_000+pick(), 0)
		}
		if !null() {
			f := []types.Value{types.IntValue(pick()), types.StringValue("y" + fmt.Sprint(rng.Intn(3)))}
			if null() {
				f[0] = types.NullValue
			}
			v[6] = types.RowValue(f)
		}
		if !null() {
			v[7] = types.BoolValue(rng.Intn(2) == 0)
		}
		rows[i].Vals = v
		if kinds {
			rows[i].Kind = changelog.Kind(rng.Intn(4))
		}
	}
	return rows
}

func vecFormatValue(v types.Value) string {
	if v.T == types.TagRow {
		var parts []string
		for _, f := range v.Fields() {
			parts = append(parts, vecFormatValue(f))
		}
		return "ROW(" + strings.Join(parts, ",") + ")"
	}
	if v.X != nil {
		return fmt.Sprintf("%d/%d/%v", v.T, v.N, v.X)
	}
	return fmt.Sprintf("%d/%d/%d/%q", v.T, v.N, v.I, v.S)
}

type vecCase struct {
	filter   string   // name of an entry of the expression table, "" for none
	projects []string // names of entries, nil for pass-through
}

func TestCalcVecMatchesRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, vecTestNames[i], vecTestTypes[i]) }
	lit := func(v types.Value, typ types.Type) expr.Expr { return expr.Literal(v, typ) }
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
	field := func(i int, name string) expr.Expr {
		return call("FIELD", col(i), lit(types.StringValue(name), types.StringType()))
	}
	caseWhen := func(conds, results []expr.Expr, els expr.Expr) expr.Expr {
		x, err := expr.CaseWhen(conds, results, els)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	i64 := func(v int64) expr.Expr { return lit(types.IntValue(v), types.BigIntType()) }
	i32 := func(v int64) expr.Expr { return lit(types.IntValue(v), types.IntType()) }
	exprs := map[string]expr.Expr{
		"mod":        call("=", call("MOD", col(0), i32(123)), i32(0)),
		"mod-col":    call("MOD", col(0), col(1)),
		"div-col":    call("/", col(0), col(1)),
		"div-zero":   call("/", col(1), i32(0)),
		"plus":       call("+", col(0), col(1)),
		"minus-lit":  call("-", i64(10), col(0)),
		"times":      call("*", col(1), col(1)),
		"dec-mul":    call("*", lit(types.DecimalValue(908, 3), types.DecimalType(3, 3)), col(0)),
		"dec-mul-b":  call("*", col(2), col(1)),
		"dec-plus":   call("+", col(2), col(1)),
		"dec-minus":  call("-", col(2), lit(types.DecimalValue(5, 1), types.DecimalType(2, 1))),
		"float":      call("/", col(3), col(0)),
		"float-plus": call("+", col(3), col(1)),
		"lt":         call("<", col(0), col(1)),
		"ge-float":   call(">=", col(3), col(1)),
		"eq-str":     call("=", col(4), lit(types.StringValue("abc"), types.StringType())),
		"lt-ts":      call("<", col(5), call("-", col(5), lit(types.IntValue(4000), types.Type{Kind: types.IntervalDayTime}))),
		"ts-minus":   call("-", col(5), lit(types.IntValue(4000), types.Type{Kind: types.IntervalDayTime})),
		"and":        call("AND", call(">", col(0), i64(0)), call("<", col(1), i32(100)), col(7)),
		"or":         call("OR", call(">", col(0), i64(0)), col(7)),
		"not":        call("NOT", col(7)),
		"isnull":     call("IS NULL", col(1)),
		"isnotnull":  call("IS NOT NULL", field(6, "x")),
		"field-x":    field(6, "x"),
		"field-y":    field(6, "y"),
		"field-eq":   call("=", field(6, "x"), col(0)),
		"case":       caseWhen([]expr.Expr{call("=", col(1), i32(0)), call(">", col(0), i64(0))}, []expr.Expr{col(5), call("-", col(5), lit(types.IntValue(1000), types.Type{Kind: types.IntervalDayTime}))}, col(5)),
		"case-str":   caseWhen([]expr.Expr{col(7)}, []expr.Expr{col(4)}, nil),
		"cast-dbl":   cast(col(0), types.DoubleType()),
		"cast-dec":   cast(col(1), types.DecimalType(12, 2)),
		"cast-dec-s": cast(col(0), types.DecimalType(5, 1)),
		"cast-big":   cast(col(1), types.BigIntType()),
		"reverse":    call("REVERSE", col(4)), // not vectorized: the whole Calc takes the row path
	}
	notCompiled := map[string]bool{"reverse": true}
	// mayBail: expressions whose kernels leave some rows to the row path (division by zero, int64 overflow
	// in DECIMAL arithmetic, a cast that does not fit).
	mayBail := map[string]bool{"div-col": true, "div-zero": true, "mod-col": true, "dec-mul": true, "dec-mul-b": true,
		"cast-dec-s": true}
	cases := []vecCase{
		{filter: "mod", projects: []string{"plus", "dec-mul"}},
		{filter: "mod"},
		{projects: []string{"mod-col", "minus-lit", "times"}},
		{projects: []string{"div-col"}},
		{filter: "isnotnull", projects: []string{"div-col", "field-x"}},
		{projects: []string{"div-zero"}},
		{filter: "isnull", projects: []string{"div-zero"}},
		{projects: []string{"dec-mul", "dec-mul-b", "dec-plus", "dec-minus"}},
		{projects: []string{"float", "float-plus", "cast-dbl"}},
		{filter: "lt", projects: []string{"ge-float", "eq-str", "lt-ts", "ts-minus"}},
		{filter: "and", projects: []string{"or", "not", "isnull"}},
		{filter: "or", projects: []string{"field-x", "field-y", "field-eq"}},
		{filter: "not", projects: []string{"case", "case-str"}},
		{projects: []string{"cast-dec", "cast-dec-s", "cast-big"}},
		{filter: "field-eq", projects: []string{"reverse"}},
	}
	rng := rand.New(rand.NewSource(7))
	var batches [][]changelog.Row
	for i := 0; i < 30; i++ {
		batches = append(batches, vecTestRows(rng, 1+rng.Intn(300), i%3 == 0))
	}
	for _, tc := range cases {
		name := tc.filter + ":" + strings.Join(tc.projects, ",")
		t.Run(name, func(t *testing.T) {
			var filter expr.Expr
			if tc.filter != "" {
				filter = exprs[tc.filter]
			}
			var projects []expr.Expr
			compiled := !notCompiled[tc.filter]
			for _, p := range tc.projects {
				projects = append(projects, exprs[p])
				compiled = compiled && !notCompiled[p]
			}
			if got := compileCalc(projects, filter) != nil; got != compiled {
				t.Fatalf("compiled = %v, want %v", got, compiled)
			}
			bailOK := false
			for _, p := range tc.projects {
				bailOK = bailOK || mayBail[p]
			}
			outRows, errs := 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPath(projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				if werr != nil {
					errs++
				}
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPath(projects, filter, rows, path)
					if bails := lastBails; bails > 0 && !bailOK {
						t.Fatalf("batch %d, %s: the kernels bailed", bi, path)
					}
					if fmt.Sprint(werr) != fmt.Sprint(gerr) {
						t.Fatalf("batch %d, %s: error %v, row path %v", bi, path, gerr, werr)
					}
					if got != want {
						t.Fatalf("batch %d, %s:\n%s\nrow path:\n%s", bi, path, got, want)
					}
				}
			}
			if outRows == 0 && errs < len(batches) {
				t.Fatalf("no output rows: the comparison is vacuous")
			}
			t.Logf("%d rows out, %d batches failed (the same way on every path)", outRows, errs)
		})
	}
}

// runCalcPath runs rows through a Calc by one path and returns the output rows as text.
func runCalcPath(projects []expr.Expr, filter expr.Expr, rows []changelog.Row, path string) (string, error) {
	return runCalcPathTypes(vecTestTypes, projects, filter, rows, path)
}

// runCalcPathTypes is runCalcPath for rows of the given column types.
func runCalcPathTypes(ts []types.Type, projects []expr.Expr, filter expr.Expr, rows []changelog.Row, path string) (string, error) {
	var sb strings.Builder
	sink := NewCollect(func(r changelog.Row) error {
		sb.WriteString(r.Kind.String())
		for _, v := range r.Vals {
			sb.WriteString(" " + vecFormatValue(v))
		}
		sb.WriteByte('\n')
		return nil
	})
	c := NewCalc(projects, filter, sink).(*calc)
	var err error
	switch path {
	case "rows":
		c.vx = nil
		err = c.Push(&changelog.Batch{Rows: rows})
	case "vec-rows":
		if c.vx != nil {
			c.vx.rowsOnly = false
		}
		err = c.Push(&changelog.Batch{Rows: rows})
	case "vec-cols":
		var b vec.Batch
		if !vec.FromRows(&b, rows, ts, nil) {
			return "", fmt.Errorf("rows do not convert to columns")
		}
		err = c.PushColumns(&b)
	}
	lastBails = 0
	if c.vx != nil {
		lastBails = c.vx.bails
	}
	return sb.String(), err
}

// lastBails is the number of bails of the last runCalcPath.
var lastBails int
