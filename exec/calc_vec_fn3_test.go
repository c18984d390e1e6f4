package exec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/expr"
)

// Kernels of session 19 (issue 14 part 3) against the row path, as calc_vec_fn_test.go: random batches
// with NULLs and edge values give the same rows and errors on the row path and both vector paths.

// TestCalcVecRoundPlacesMatchRowPath: ROUND/TRUNCATE of integers and floats with places that are a column
// or an expression (negative, zero, beyond the digits, NULL).
func TestCalcVecRoundPlacesMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	var names []string
	places := map[string]expr.Expr{
		"k":    e.col(19),                       // -2..12
		"ti":   e.col(0),                        // -128..127
		"k-18": e.call("-", e.col(19), i32(18)), // -20..-6
		"neg":  e.call("-", i32(0), e.col(19)),  // 2..-12
	}
	for ci := 0; ci <= 5; ci++ {
		for pn, p := range places {
			for _, fn := range []string{"ROUND", "TRUNCATE"} {
				name := fmt.Sprintf("%s(%s,%s)", fn, fnTestNames[ci], pn)
				exprs[name] = e.call(fn, e.col(ci), p)
				names = append(names, name)
			}
		}
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(4))
}
