package exec

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Shared subexpressions (calc_vec_memo.go): a q21-shaped Calc (the same REGEXP_EXTRACT in the filter and in
// a CASE branch, LOWER(s) four times) gives the row path's rows over many batches pushed through one
// operator, evaluates each shared kernel once per batch, and does not share what only prints alike.

func TestCalcVecSharedSubexpressions(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, strTestNames[i], strTestTypes[i]) }
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	extract := func() expr.Expr {
		return call("REGEXP_EXTRACT", col(0), str("(a|b)(b+)"), expr.Literal(types.IntValue(2), types.IntType().WithNullable(false)))
	}
	lower := func() expr.Expr { return call("LOWER", col(0)) }
	in, err := expr.In(lower(), []expr.Expr{str("abc"), str("google"), str("x/y")}, false)
	if err != nil {
		t.Fatal(err)
	}
	filter := call("OR", call("IS NOT NULL", extract()), in)
	kase, err := expr.CaseWhen([]expr.Expr{call("=", lower(), str("abc")), call("=", lower(), str("google"))},
		[]expr.Expr{str("0"), str("1")}, extract())
	if err != nil {
		t.Fatal(err)
	}
	// Two columns printed alike (both named s) must not share: UPPER of column 0 and of column 1.
	twin := expr.Column(1, strTestNames[0], strTestTypes[1])
	projects := []expr.Expr{col(0), col(5), kase, call("UPPER", col(0)), call("UPPER", twin), lower()}

	rng := rand.New(rand.NewSource(21))
	var batches [][]changelog.Row
	for range 40 {
		batches = append(batches, strTestRows(rng, 1+rng.Intn(300), true, false))
	}
	run := func(path string) (string, *calc) {
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
		for _, rows := range batches {
			var err error
			switch path {
			case "rows":
				c.vx = nil
				err = c.Push(&changelog.Batch{Rows: rows})
			case "vec-cols":
				var b vec.Batch
				if !vec.FromRows(&b, rows, strTestTypes, nil) {
					t.Fatal("rows do not convert to columns")
				}
				err = c.PushColumns(&b)
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
		}
		return sb.String(), c
	}
	want, _ := run("rows")
	got, c := run("vec-cols")
	if got != want {
		t.Fatalf("shared kernels:\n%s\nrow path:\n%s", diffLines(got, want), want)
	}
	if n := strings.Count(want, "\n"); n < 100 {
		t.Fatalf("only %d rows out: the comparison is too weak", n)
	}
	v := c.vx
	if v == nil || v.bails > 0 {
		t.Fatalf("the kernels did not run every batch (compiled %v)", v != nil)
	}
	// Shared: REGEXP_EXTRACT(s, ...), LOWER(s) (and nothing printed alike: UPPER(s) twice reads two columns).
	if v.memoKernels != 2 {
		t.Fatalf("%d shared kernels, want 2 (REGEXP_EXTRACT and LOWER)", v.memoKernels)
	}
	memos := sharedMemos(v)
	if len(memos) != 2 {
		t.Fatalf("found %d shared kernels in the plan, want 2", len(memos))
	}
	// REGEXP_EXTRACT (the OR's first operand, found first) runs once a batch. LOWER runs first in the OR's
	// second operand, only on the rows where the extract is NULL (the lazy OR), and again for the filtered
	// rows the CASE reads: at most twice a batch.
	if m := memos[0]; m.evals != len(batches) {
		t.Fatalf("REGEXP_EXTRACT was evaluated %d times over %d batches", m.evals, len(batches))
	}
	if m := memos[1]; m.evals < len(batches) || m.evals > 2*len(batches) {
		t.Fatalf("LOWER was evaluated %d times over %d batches", m.evals, len(batches))
	}
}

// sharedMemos collects the distinct shared kernels reachable from v's filter and projections.
func sharedMemos(v *calcVec) []*vmemo {
	seen := map[*vmemo]bool{}
	var out []*vmemo
	find := func(k vexpr) {
		if m, ok := k.(*vmemo); ok && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	var walk func(k vexpr)
	walk = func(k vexpr) {
		find(k)
		switch x := k.(type) {
		case *vmemo:
			walk(x.k)
		case *vlogic:
			if x.nullGuard != nil {
				walk(x.nullGuard)
			}
			for _, a := range x.args {
				walk(a)
			}
		case *visnull:
			walk(x.x)
		case *vin:
			walk(x.x)
		case *vcase:
			for _, a := range x.conds {
				walk(a)
			}
			for _, a := range x.results {
				walk(a)
			}
			if x.els != nil {
				walk(x.els)
			}
		case *vcompare:
			walk(x.a)
			walk(x.b)
		}
	}
	walk(v.filter)
	for _, p := range v.projects {
		if p != nil {
			walk(p)
		}
	}
	return out
}
