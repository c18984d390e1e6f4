package exec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
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

// TestCalcVecEpochFloatMatchRowPath: TO_TIMESTAMP_LTZ and FROM_UNIXTIME of DECIMAL, FLOAT and DOUBLE
// (fractions of a millisecond, negative values, NaN and infinities, values beyond the years 1..9999).
func TestCalcVecEpochFloatMatchRowPath(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			e := fnTestEnv{t, expr.NewEnv(loc)}
			exprs := map[string]expr.Expr{"flag": e.col(16)}
			dbl := func(f float64) expr.Expr {
				return expr.Literal(types.FloatValue(f), types.DoubleType().WithNullable(false))
			}
			recent := e.call("+", e.call("*", e.col(19), dbl(86_399.1237)), dbl(1.7e9)) // never beyond the years 1..9999
			ms := e.call("*", recent, dbl(1000))
			recentDec := e.call("+", e.col(6), expr.Literal(types.DecimalValue(1_700_000_000, 0), types.DecimalType(10, 0).WithNullable(false)))
			var ltz, fmts []string
			for name, x := range map[string]expr.Expr{"fl": e.col(4), "db": e.col(5), "d": e.col(6), "n": e.col(8), "w": e.col(9), "m": e.col(11), "recent": recent, "ms": ms, "recentDec": recentDec} {
				for _, p := range []int64{0, 3, -1} {
					args := []expr.Expr{x}
					if p >= 0 {
						args = append(args, i32(p))
					}
					key := fmt.Sprintf("ltz-%s-%d", name, p)
					exprs[key] = e.call("TO_TIMESTAMP_LTZ", args...)
					ltz = append(ltz, key)
				}
				if name == "ms" {
					continue
				}
				for pn, args := range map[string][]expr.Expr{
					"def": {x},
					"fmt": {x, strLit("yyyy-MM-dd HH:mm:ss.SSS EEE")},
					"col": {x, e.call("IF", e.col(16), strLit("yyyy-MM"), strLit("HH:mm:ss.SSS"))},
				} {
					key := fmt.Sprintf("from-%s-%s", name, pn)
					exprs[key] = e.call("FROM_UNIXTIME", args...)
					fmts = append(fmts, key)
				}
			}
			mayBail := map[string]bool{}
			for _, f := range fmts {
				mayBail[f] = !strings.Contains(f, "recent")
			}
			cases := []vecCase{{projects: ltz}, {filter: "flag", projects: ltz}}
			for _, f := range fmts {
				cases = append(cases, vecCase{projects: []string{f}})
			}
			cases = append(cases, vecCase{filter: "flag", projects: []string{"from-recent-fmt", "from-recentDec-col"}})
			checkVecCases(t, fnTestTypes, exprs, mayBail, cases, fnBatches(5))
		})
	}
}
