package exec

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/changelog"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Lazy CASE, COALESCE, IF and NULLIF (vcase): a branch that fails (a division by zero, a CAST of text that is
// not a number) only on rows an earlier condition or argument covers keeps the batch on the kernels with the
// row path's rows; a shared subexpression first computed under a branch's rows is computed again for wider
// rows; random nested conditionals over shared guarded divisions match the row path without a bail.

func TestCalcVecLazyBranchesDoNotBail(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	i, k, a, s, flag := e.col(2), e.col(19), e.col(3), e.col(12), e.col(16)
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(e.env, x, to, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	kase := func(conds, results []expr.Expr, els expr.Expr) expr.Expr {
		x, err := expr.CaseWhen(conds, results, els)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	zero := i32(0)
	numText := e.call("IF", e.call(">", k, zero), cast(k, types.StringType()), s) // text of k where k > 0, else s (not a number)
	exprs := map[string]expr.Expr{
		"flag":         flag,
		"k-nonzero":    e.call("<>", k, zero),
		"if-div":       e.call("IF", e.call("<>", i, zero), e.call("/", i32(1000), i), i32(-1)),
		"if-mod-else":  e.call("IF", e.call("=", k, zero), i32(-1), e.call("MOD", i, k)),
		"case-div":     kase([]expr.Expr{e.call("=", k, zero), e.call("=", i, zero)}, []expr.Expr{i32(-1), i32(-2)}, e.call("/", i, k)),
		"case-cond":    kase([]expr.Expr{e.call("=", k, zero), e.call(">", e.call("/", i, k), i32(10))}, []expr.Expr{i32(-1), i32(1)}, i32(0)),
		"coalesce-div": e.call("COALESCE", kase([]expr.Expr{e.call("=", k, zero)}, []expr.Expr{i32(7)}, nil), e.call("/", a, k)),
		"nullif-div":   e.call("IF", e.call("IS NULL", e.call("NULLIF", k, zero)), i32(0), e.call("/", i, e.call("NULLIF", k, zero))),
		"if-cast":      e.call("IF", e.call(">", k, zero), cast(numText, types.IntType()), i32(-1)),
		"case-cast":    kase([]expr.Expr{e.call("<=", k, zero), e.call("IS NULL", k)}, []expr.Expr{i32(0), i32(1)}, e.call("+", cast(numText, types.BigIntType()), a)),
	}
	mustNotBail := []string{"if-div", "if-mod-else", "case-div", "case-cond", "coalesce-div", "nullif-div", "if-cast", "case-cast"}
	var cases []vecCase
	for _, name := range mustNotBail {
		cases = append(cases, vecCase{projects: []string{name}}, vecCase{filter: "flag", projects: []string{name}})
	}
	cases = append(cases, vecCase{projects: mustNotBail}, vecCase{filter: "k-nonzero", projects: mustNotBail})
	batches := fnBatches(5)
	zeros := 0
	for _, rows := range batches {
		for _, r := range rows {
			if r.Vals[19].IsNull() || r.Vals[2].IsNull() {
				continue
			}
			if r.Vals[19].I == 0 || r.Vals[2].I == 0 {
				zeros++
			}
		}
	}
	if zeros < 50 {
		t.Fatalf("only %d rows divide by zero in a branch not taken: the test is weak", zeros)
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, batches)
}

// A shared LOWER(s) first computed inside IF(flag, ...) (flag rows only: the string kernels skip rows not
// selected) and read again over every row, and a CASE whose later condition reads the same UPPER(s) its
// first branch computed on other rows: reusing the narrower column would give wrong strings.
func TestCalcVecLazyBranchesSharedSelection(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	s, flag := e.col(12), e.col(16)
	kase := func(conds, results []expr.Expr, els expr.Expr) expr.Expr {
		x, err := expr.CaseWhen(conds, results, els)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	lower := func() expr.Expr { return e.call("LOWER", s) }
	upper := func() expr.Expr { return e.call("UPPER", s) }
	exprs := map[string]expr.Expr{
		"flag":       flag,
		"if-lower":   e.call("IF", flag, lower(), strLit("-")),
		"lower":      lower(),
		"case-upper": kase([]expr.Expr{flag, e.call("=", upper(), strLit("ABC"))}, []expr.Expr{upper(), strLit("y")}, e.call("CONCAT", upper(), strLit("!"))),
		"upper-len":  e.call("CHAR_LENGTH", upper()),
		"not-flag":   e.call("NOT", flag),
	}
	cases := []vecCase{
		{projects: []string{"if-lower", "lower"}},
		{projects: []string{"case-upper"}},
		{projects: []string{"case-upper", "upper-len", "if-lower", "lower"}},
		{filter: "not-flag", projects: []string{"if-lower", "lower", "case-upper"}},
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(6))

	// LOWER(s) is one shared kernel, computed again for the wider rows (twice a batch).
	c := NewCalc([]expr.Expr{exprs["if-lower"], exprs["lower"]}, nil, NewCollect(func(changelog.Row) error { return nil })).(*calc)
	if c.vx == nil || c.vx.memoKernels != 1 {
		t.Fatalf("LOWER(s) is not one shared kernel")
	}
	memos := sharedMemos(c.vx)
	if len(memos) != 1 {
		t.Fatalf("%d shared kernels in the plan, want 1", len(memos))
	}
	c.vx.rowsOnly = false
	rows := fnBatches(7)[0]
	if err := c.Push(&changelog.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	if c.vx.bails > 0 || memos[0].evals != 2 {
		t.Fatalf("bails %d, LOWER(s) evaluated %d times, want 2", c.vx.bails, memos[0].evals)
	}
}

// Random nested IF / COALESCE / NULLIF / CASE over INT columns whose divisions are guarded by a condition on
// the divisor (the divisor is then a shared subexpression, read under the guard's rows and its branch's):
// the kernels give the row path's rows and never bail.
func TestCalcVecLazyBranchesRandom(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	rng := rand.New(rand.NewSource(8))
	leaves := []expr.Expr{e.col(2), e.col(19), e.col(19), i32(0), i32(3), i32(-7), expr.Literal(types.NullValue, types.IntType())}
	var gen func(depth int) expr.Expr
	gen = func(depth int) expr.Expr {
		if depth == 0 || rng.Intn(5) == 0 {
			return leaves[rng.Intn(len(leaves))]
		}
		x, y := gen(depth-1), gen(depth-1)
		switch rng.Intn(7) {
		case 0:
			return e.call("+", x, y)
		case 1: // a guarded division: y shared by the guard and the branch
			return e.call("IF", e.call("<>", y, i32(0)), e.call("/", x, y), gen(depth-1))
		case 2:
			k, err := expr.CaseWhen([]expr.Expr{e.call("=", y, i32(0))}, []expr.Expr{i32(1)}, nil) // non-NULL where y = 0
			if err != nil {
				t.Fatal(err)
			}
			return e.call("COALESCE", k, e.call("/", x, y))
		case 3:
			return e.call("NULLIF", x, y)
		case 4:
			conds := []expr.Expr{e.call("=", y, i32(0)), e.call(">", e.call("/", x, y), i32(1))}
			k, err := expr.CaseWhen(conds, []expr.Expr{x, e.call("MOD", x, y)}, e.call("-", x, y))
			if err != nil {
				t.Fatal(err)
			}
			return k
		case 5:
			return e.call("COALESCE", x, y, gen(depth-1))
		default:
			return e.call("IF", e.call(">", x, y), x, e.call("-", y, x))
		}
	}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var names []string
	for n := 0; n < 24; n++ {
		name := fmt.Sprintf("gen%d", n)
		exprs[name] = gen(4)
		names = append(names, name)
	}
	var cases []vecCase
	for n := 0; n < len(names); n += 4 {
		cases = append(cases, vecCase{projects: names[n : n+4]}, vecCase{filter: "flag", projects: names[n : n+4]})
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(9))
}
