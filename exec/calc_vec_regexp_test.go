package exec

import (
	"math/rand"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// TestCalcVecRegexpReplaceMatchRowPath: REGEXP_REPLACE with constant patterns the hand matcher takes (a
// literal and a run, anchored or not) and patterns it leaves to regexp, replacements that are literals
// (with "$1", which stays literal), columns and NULL, over strings with NULLs, non-ASCII and invalid UTF-8.
func TestCalcVecRegexpReplaceMatchRowPath(t *testing.T) {
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
	fast := []string{`b([^/]*)`, `(/|^)a([^/]*)`, `^a(b*)`, `ab(c*)$`, `(x|^)y([^a]+)`, `/(.*)`}
	slow := []string{`[0-9]+`, `a|b`, `(?i)abc`, `x*`, `é.`, ``}
	for _, p := range fast {
		if re, err := expr.CompileRegexpFast(p); err != nil || !re.Fast() {
			t.Fatalf("%s: not matched by hand", p)
		}
	}
	exprs := map[string]expr.Expr{"flag": col(7)}
	var names []string
	for pi, p := range append(fast, slow...) {
		for ri, r := range []expr.Expr{str("#"), str("$1"), str(""), col(1), expr.Literal(types.NullValue, types.StringType())} {
			name := string(rune('a'+pi)) + string(rune('0'+ri))
			exprs[name] = call("REGEXP_REPLACE", col(0), str(p), r)
			names = append(names, name)
		}
	}
	rng := rand.New(rand.NewSource(23))
	var batches [][]changelog.Row
	for range 20 {
		batches = append(batches, strTestRows(rng, 1+rng.Intn(300), false, false))
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	checkVecCases(t, strTestTypes, exprs, nil, cases, batches)
}
