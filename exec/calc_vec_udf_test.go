package exec

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// User functions on kernels (calc_vec_udf.go): called exactly once per row the row path evaluates them on,
// on batches whose kernels bail (a wide decimal element, the function's own error) and batches that do
// not, through row input, columns, and columns under a selection; an error is the row path's.

var udfTestTypes = []types.Type{
	types.BigIntType(),                        // 0 id, unique per row
	types.ArrayType(types.DecimalType(38, 2)), // 1 arrd: a wide element bails
	types.IntType(),                           // 2 idx
	types.BooleanType(),                       // 3 flag
}

func udfTestRows(rng *rand.Rand, next *int64, n int) []changelog.Row {
	rows := make([]changelog.Row, n)
	for r := range rows {
		*next++
		arrd := []types.Value{types.DecimalValue(int64(rng.Intn(1000)), 2)}
		if rng.Intn(100) == 0 {
			arrd = append(arrd, types.BigDecimalValue(new(big.Int).Lsh(big.NewInt(1), 130), 2))
		}
		idx := types.NullValue
		if rng.Intn(6) != 0 {
			idx = types.IntValue(int64(rng.Intn(5)))
		}
		rows[r].Vals = []types.Value{types.IntValue(*next), types.ArrayValue(arrd), idx, types.BoolValue(rng.Intn(2) == 0)}
	}
	return rows
}

// udfCounter is a user function counting its calls by argument (a row's id).
type udfCounter struct {
	calls map[int64]int
	fail  map[int64]bool // ids whose call fails
}

func (u *udfCounter) udf(t *testing.T, name string) *expr.UDF {
	f, err := expr.NewUDF(name, func(id int64) (int64, error) {
		u.calls[id]++
		if u.fail[id] {
			return 0, errors.New("refused")
		}
		return id % 7, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCalcVecUDFCalledOncePerRow(t *testing.T) {
	var cnt, cnt2 udfCounter
	env := expr.NewEnv(nil)
	env.Functions = map[string]*expr.UDF{"CNT": cnt.udf(t, "cnt"), "CNT2": cnt2.udf(t, "cnt2")}
	e := fnTestEnv{t, env}
	col := func(i int) expr.Expr {
		return expr.Column(i, []string{"id", "arrd", "idx", "flag"}[i], udfTestTypes[i])
	}
	id, arrd, idx, flag := col(0), col(1), col(2), col(3)
	shapes := []struct {
		name     string
		filter   expr.Expr
		projects []expr.Expr
	}{
		{"udf then bail", nil, []expr.Expr{e.call("CNT", id), e.call("ITEM", arrd, i32(2))}},
		{"bail then udf", nil, []expr.Expr{e.call("ITEM", arrd, i32(2)), e.call("+", e.call("CNT", id), idx)}},
		{"filtered, in CASE", flag, []expr.Expr{e.call("ITEM", arrd, i32(2)),
			e.call("IF", e.call("IS NULL", idx), e.call("CNT", id), e.call("CNT2", id))}},
		{"udf filter", e.call(">", e.call("CNT", id), i32(2)), []expr.Expr{e.call("CNT", id), e.call("ITEM", arrd, i32(2)),
			e.call("CNT2", e.call("CNT", id))}},
		{"no bail", e.call("<", e.call("CNT2", id), i32(5)), []expr.Expr{e.call("CNT", id), idx}},
		// A later argument of a strict call: its kernel would call the function where the row path skips it
		// after a NULL, so the Calc stays on the row path.
		{"rows: later argument", nil, []expr.Expr{e.call("+", idx, e.call("CNT", id))}},
		{"rows: NULLIF", nil, []expr.Expr{e.call("NULLIF", idx, e.call("CNT", id))}},
	}
	rng := rand.New(rand.NewSource(5))
	var next int64
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			rowsOnly := strings.HasPrefix(sh.name, "rows:")
			if v := compileCalc(sh.projects, sh.filter); rowsOnly && v != nil {
				t.Fatal("compiled into kernels")
			} else if !rowsOnly && (v == nil || !v.udfs) {
				t.Fatal("not compiled into kernels with user functions")
			}
			bailed, clean := 0, 0
			for range 20 {
				rows := udfTestRows(rng, &next, 8+rng.Intn(200))
				var wantOut string
				var wantCalls [2]map[int64]int
				for _, path := range []string{"rows", "vec-rows", "vec-cols", "vec-cols-sel"} {
					cnt.calls, cnt2.calls = map[int64]int{}, map[int64]int{}
					got, err := runUDFCalcPath(sh.projects, sh.filter, rows, path)
					if err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					if path == "rows" {
						wantOut, wantCalls = got, [2]map[int64]int{cnt.calls, cnt2.calls}
						continue
					}
					if path == "vec-cols-sel" {
						continue // compared with its own row path below
					}
					if lastBails > 0 {
						bailed++
					} else {
						clean++
					}
					if got != wantOut {
						t.Fatalf("%s:\n%s\nrow path:\n%s", path, diffLines(got, wantOut), wantOut)
					}
					checkCalls(t, path, "cnt", cnt.calls, wantCalls[0])
					checkCalls(t, path, "cnt2", cnt2.calls, wantCalls[1])
				}
				// Columns under a selection: the row path on the selected rows.
				var sel []changelog.Row
				for i := 0; i < len(rows); i += 2 {
					sel = append(sel, rows[i])
				}
				cnt.calls, cnt2.calls = map[int64]int{}, map[int64]int{}
				want, _ := runUDFCalcPath(sh.projects, sh.filter, sel, "rows")
				selCalls, selCalls2 := cnt.calls, cnt2.calls
				cnt.calls, cnt2.calls = map[int64]int{}, map[int64]int{}
				got, err := runUDFCalcPath(sh.projects, sh.filter, rows, "vec-cols-sel")
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("vec-cols-sel:\n%s\nrow path:\n%s", diffLines(got, want), want)
				}
				checkCalls(t, "vec-cols-sel", "cnt", cnt.calls, selCalls)
				checkCalls(t, "vec-cols-sel", "cnt2", cnt2.calls, selCalls2)
			}
			if !rowsOnly && (bailed == 0 && sh.name != "no bail" || clean == 0) {
				t.Fatalf("batches bailed %d, did not %d: both kinds must be exercised", bailed, clean)
			}
		})
	}
}

// checkCalls asserts each row's id was passed exactly as often as on the row path (once per call site the
// row path evaluates it on).
func checkCalls(t *testing.T, path, fn string, got, want map[int64]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %s called for %d rows, row path %d", path, fn, len(got), len(want))
	}
	for id, n := range want {
		if got[id] != n {
			t.Fatalf("%s: %s called %d times for row %d, row path %d", path, fn, got[id], id, n)
		}
	}
}

// runUDFCalcPath is runCalcPathTypes with "vec-cols-sel": columns under a selection of every other row.
func runUDFCalcPath(projects []expr.Expr, filter expr.Expr, rows []changelog.Row, path string) (string, error) {
	if path != "vec-cols-sel" {
		return runCalcPathTypes(udfTestTypes, projects, filter, rows, path)
	}
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
	var b vec.Batch
	if !vec.FromRows(&b, rows, udfTestTypes, nil) {
		return "", fmt.Errorf("rows do not convert to columns")
	}
	for i := 0; i < len(rows); i += 2 {
		b.Sel = append(b.Sel, int32(i))
	}
	err := c.PushColumns(&b)
	return sb.String(), err
}

// A function failing on a row fails the push with the row path's error, called once for that row, through
// kernels that run it before and after a kernel that bails; the next push succeeds.
func TestCalcVecUDFErrorKept(t *testing.T) {
	var cnt udfCounter
	env := expr.NewEnv(nil)
	env.Functions = map[string]*expr.UDF{"FLAKY": cnt.udf(t, "flaky")}
	e := fnTestEnv{t, env}
	col := func(i int) expr.Expr {
		return expr.Column(i, []string{"id", "arrd", "idx", "flag"}[i], udfTestTypes[i])
	}
	id, arrd, idx := col(0), col(1), col(2)
	rng := rand.New(rand.NewSource(9))
	var next int64
	for _, projects := range [][]expr.Expr{
		{e.call("FLAKY", id), e.call("ITEM", arrd, i32(2))},
		{e.call("ITEM", arrd, i32(2)), e.call("FLAKY", id)},
		{e.call("ITEM", arrd, i32(2)), e.call("+", e.call("FLAKY", id), idx)},
	} {
		failed := projects[0]
		if len(projects) > 1 && !expr.IsUDFCall(failed) {
			failed = projects[1]
		}
		rows := udfTestRows(rng, &next, 50)
		f := 20
		failing := rows[f].Vals[0].I
		var rowCalls map[int64]int
		for _, path := range []string{"rows", "vec-rows", "vec-cols"} {
			cnt.calls, cnt.fail = map[int64]int{}, map[int64]bool{failing: true}
			_, err := runCalcPathTypes(udfTestTypes, projects, nil, rows, path)
			want := "evaluate " + failed.String() + ": function FLAKY: refused" // the original expression, printed
			if err == nil || err.Error() != want {
				t.Fatalf("%s: error %v, want %s", path, err, want)
			}
			if cnt.calls[failing] != 1 {
				t.Fatalf("%s: the failing row's call ran %d times", path, cnt.calls[failing])
			}
			for _, r := range rows[:f] {
				if n := cnt.calls[r.Vals[0].I]; n > 1 {
					t.Fatalf("%s: a row before the failing one called %d times", path, n)
				}
			}
			if path == "rows" {
				rowCalls = cnt.calls
			} else {
				checkCalls(t, path, "flaky", cnt.calls, rowCalls)
			}
			cnt.calls, cnt.fail = map[int64]int{}, nil // the function recovers: the retried push succeeds
			if _, err := runCalcPathTypes(udfTestTypes, projects, nil, rows, path); err != nil {
				t.Fatalf("%s: retry: %v", path, err)
			}
		}
	}
}
