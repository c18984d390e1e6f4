package exec

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Lazy AND / OR (calc_vec_logic.go) and IN over lists that are not constant (calc_vec_inlist.go): an operand
// or element that fails (a division by zero) only on rows an earlier operand decided keeps the batch on the
// kernels with the row path's rows; NULL operands do not decide (NULL AND FALSE is FALSE), so the operands
// after them still run there; random boolean trees over guarded divisions match the row path and never bail.

func TestCalcVecLazyAndOrDoNotBail(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	i, k, a, flag := e.col(2), e.col(19), e.col(3), e.col(16)
	zero := i32(0)
	in := func(x expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(x, list, false)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	notIn := func(x expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(x, list, true)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	div := e.call("/", i, k)
	nullInt := expr.Literal(types.NullValue, types.IntType())
	exprs := map[string]expr.Expr{
		"flag":      flag,
		"and-div":   e.call("AND", e.call("<>", k, zero), e.call(">", div, i32(1))),
		"or-div":    e.call("OR", e.call("=", k, zero), e.call(">", div, i32(1))),
		"and3":      e.call("AND", e.call("IS NOT NULL", k), e.call("<>", k, zero), e.call("=", e.call("MOD", i, k), i32(1))),
		"or3":       e.call("OR", e.call("IS NULL", k), e.call("=", k, zero), e.call("<", e.call("MOD", a, k), i32(0))),
		"and-null":  e.call("AND", flag, e.call("<>", k, zero), e.call(">=", div, zero)), // NULL flag: k <> 0 still decides
		"or-null":   e.call("OR", e.call("NOT", flag), e.call("=", k, zero), e.call("<=", div, zero)),
		"nested":    e.call("OR", e.call("AND", e.call("<>", k, zero), e.call(">", div, i32(3))), e.call("AND", e.call("=", k, zero), flag)),
		"in-div":    in(k, zero, div),
		"in-never":  in(a, a, e.call("/", i32(100), e.call("+", k, i32(2)))),
		"in-null":   in(k, nullInt, zero, e.call("/", i32(7), k)), // the NULL element does not stop the search
		"notin-div": notIn(k, zero, e.call("MOD", i, k), a),
		"notin-nul": notIn(k, zero, e.call("MOD", i, k), nullInt),
		"in-guard":  e.call("AND", e.call("<>", k, zero), in(i, div, e.call("*", div, i32(2)), a)),
	}
	names := []string{"and-div", "or-div", "and3", "or3", "and-null", "or-null", "nested", "in-div", "in-never", "in-null", "notin-div", "notin-nul", "in-guard"}
	var cases []vecCase
	for _, name := range names {
		cases = append(cases, vecCase{projects: []string{name}}, vecCase{filter: "flag", projects: []string{name}})
		if name != "notin-nul" { // never TRUE
			cases = append(cases, vecCase{filter: name, projects: []string{"flag"}})
		}
	}
	cases = append(cases, vecCase{projects: names}, vecCase{filter: "and-div", projects: names})
	batches := fnBatches(11)
	zeros := 0
	for _, rows := range batches {
		for _, r := range rows {
			if !r.Vals[19].IsNull() && r.Vals[19].I == 0 {
				zeros++
			}
		}
	}
	if zeros < 50 {
		t.Fatalf("only %d rows with k = 0: the test is weak", zeros)
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, batches)
}

// Where the row path does evaluate a failing operand (a NULL left operand of AND: NULL AND x needs x), the
// kernels bail and the batch gets the row path's error.
func TestCalcVecLazyAndOrErrorsMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	i, k, flag := e.col(2), e.col(19), e.col(16)
	exprs := map[string]expr.Expr{
		"and-fails": e.call("AND", e.call("OR", e.call("<>", k, i32(0)), flag), e.call(">", e.call("/", i, k), i32(0))),
		"in-fails": func() expr.Expr {
			r, _ := expr.In(k, []expr.Expr{expr.Literal(types.NullValue, types.IntType()), e.call("/", i, k)}, false)
			return r
		}(),
	}
	cases := []vecCase{{projects: []string{"and-fails"}}, {projects: []string{"in-fails"}}}
	checkVecCases(t, fnTestTypes, exprs, map[string]bool{"and-fails": true, "in-fails": true}, cases, fnBatches(12))
}

// Random AND / OR / NOT trees (two to four operands) over comparisons, NULL leaves, IN lists that are not
// constant and divisions each guarded by an earlier operand of its AND, in filters and projections.
func TestCalcVecLazyAndOrRandom(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	rng := rand.New(rand.NewSource(22))
	ints := []expr.Expr{e.col(2), e.col(19), e.col(19), e.col(0), i32(0), i32(2), i32(-3), expr.Literal(types.NullValue, types.IntType())}
	intLeaf := func() expr.Expr { return ints[rng.Intn(len(ints))] }
	cmps := []string{"=", "<>", "<", ">=", ">"}
	var gen func(depth int) expr.Expr
	gen = func(depth int) expr.Expr {
		if depth == 0 || rng.Intn(4) == 0 {
			switch rng.Intn(5) {
			case 0:
				return e.col(16)
			case 1:
				return expr.Literal(types.NullValue, types.BooleanType())
			case 2: // a guarded division: y <> 0 AND x / y op c
				y := e.col([]int{2, 19, 0}[rng.Intn(3)])
				return e.call("AND", e.call("<>", y, i32(0)), e.call(cmps[rng.Intn(len(cmps))], e.call("/", intLeaf(), y), intLeaf()))
			case 3:
				x := e.col(19)
				r, err := expr.In(x, []expr.Expr{i32(0), e.call("/", intLeaf(), x), intLeaf()}, rng.Intn(2) == 0)
				if err != nil {
					t.Fatal(err)
				}
				return r
			default:
				return e.call(cmps[rng.Intn(len(cmps))], intLeaf(), intLeaf())
			}
		}
		switch rng.Intn(5) {
		case 0:
			return e.call("NOT", gen(depth-1))
		case 1, 2:
			args := []expr.Expr{gen(depth - 1), gen(depth - 1)}
			for rng.Intn(3) == 0 && len(args) < 4 {
				args = append(args, gen(depth-1))
			}
			return e.call("AND", args...)
		default:
			args := []expr.Expr{gen(depth - 1), gen(depth - 1)}
			for rng.Intn(3) == 0 && len(args) < 4 {
				args = append(args, gen(depth-1))
			}
			return e.call("OR", args...)
		}
	}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var names []string
	for n := 0; n < 32; n++ {
		name := fmt.Sprintf("gen%d", n)
		exprs[name] = gen(4)
		names = append(names, name)
	}
	var cases []vecCase
	for n := 0; n < len(names); n += 4 {
		// The filter reads gen n on the rows flag leaves open, or flag on the rows gen n leaves open.
		filter := fmt.Sprintf("f%d", n)
		if n%8 == 0 {
			exprs[filter] = e.call("OR", e.col(16), exprs[names[n]])
		} else {
			exprs[filter] = e.call("OR", exprs[names[n]], e.col(16))
		}
		cases = append(cases, vecCase{projects: names[n : n+4]}, vecCase{filter: "flag", projects: names[n : n+4]},
			vecCase{filter: filter, projects: names[n+1 : n+4]})
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(13))
}
