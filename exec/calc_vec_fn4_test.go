package exec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Kernels of session 20 (issue 14 part 4) against the row path, as calc_vec_fn3_test.go: random batches
// with NULLs and edge values give the same rows and errors on the row path and both vector paths, and the
// kernels run without bailing (checkVecCases fails on a batch that bails or a Calc that is not compiled).

func dblLit(f float64) expr.Expr {
	return expr.Literal(types.FloatValue(f), types.DoubleType().WithNullable(false))
}

func fltLit(f float32) expr.Expr {
	return expr.Literal(types.FloatValue(float64(f)), types.FloatType().WithNullable(false))
}

func decLit(unscaled int64, p, s int) expr.Expr {
	return expr.Literal(types.DecimalValue(unscaled, s), types.DecimalType(p, s).WithNullable(false))
}

func bigDecLit(unscaled string, p, s int) expr.Expr {
	u, _ := new(big.Int).SetString(unscaled, 10)
	return expr.Literal(types.BigDecimalValue(u, s), types.DecimalType(p, s).WithNullable(false))
}

func tsLit(ms int64, nanos int32, t types.Type) expr.Expr {
	return expr.Literal(types.TimestampValue(ms, nanos), t.WithNullable(false))
}

// TestCalcVecInKeyedMatchRowPath: [NOT] IN over constant lists the row path keys in DOUBLE/FLOAT (NaN
// equal to NaN, -0.0 to 0.0, infinities, the largest doubles, integers and DECIMALs taken as their
// nearest double), in DECIMAL (scales that differ from the operand's, values not representable at its
// scale, values beyond int64 against a wide column) and timestamps (milliseconds, nanoseconds, LTZ, DATE
// cast to TIMESTAMP), with and without a NULL in the list.
func TestCalcVecInKeyedMatchRowPath(t *testing.T) {
	e := fnTestEnv{t, expr.NewEnv(nil)}
	exprs := map[string]expr.Expr{"flag": e.col(16)}
	in := func(not bool, x expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(x, list, not)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	nan, inf := math.NaN(), math.Inf(1)
	negZero := math.Copysign(0, -1)
	dnull := expr.Literal(types.NullValue, types.DoubleType())
	decNull := expr.Literal(types.NullValue, types.DecimalType(5, 1))
	ts3, ts9, ltz := types.TimestampType(3), types.TimestampType(9), types.TimestampLTZType(3)
	const day = 86_400_000
	base := int64(1_704_067_200_000) // 2024-01-01
	days := func(x expr.Expr) expr.Expr { return e.call("TIMESTAMPADD", strLit("DAY"), e.col(19), x) }
	// A wide DECIMAL(38, 0) around 10^20: k + 10^20.
	wideOp := e.call("+", e.col(19), bigDecLit("100000000000000000000", 38, 0))
	lists := map[string][]expr.Expr{
		// keyed in DOUBLE
		"db":        {e.col(5), dblLit(0), dblLit(nan), dblLit(inf), dblLit(-inf), dblLit(0.5), dblLit(-2.5), dblLit(math.MaxFloat64), dblLit(5e-324), dblLit(1.005)},
		"db-negz":   {e.col(5), dblLit(negZero), dblLit(1.5)},
		"db-null":   {e.col(5), dblLit(nan), dnull, dblLit(0.125)},
		"db-long":   {e.col(5), dblLit(0), dblLit(0.5), dblLit(1.5), dblLit(2.5), dblLit(-2.5), dblLit(0.125), dblLit(4.35), dblLit(99.995), dblLit(1e20), dblLit(math.Float64frombits(0xFFF8000000000001)), dblLit(-inf)},
		"fl":        {e.col(4), dblLit(0.5), dblLit(1.5), dblLit(nan), dblLit(float64(float32(0.1 + 0.2))), dblLit(0.1 + 0.2)},
		"fl-fl":     {e.col(4), fltLit(0.5), fltLit(float32(math.NaN())), fltLit(-2.5), fltLit(float32(math.Inf(-1)))},
		"int-db":    {e.col(2), dblLit(5), dblLit(1.5), dblLit(-25), dblLit(nan), dblLit(math.MaxInt32)},
		"big-db":    {e.col(3), dblLit(9.223372036854775807e18), dblLit(-9.223372036854775808e18), dblLit(5e18), dblLit(15)},
		"tiny-db":   {e.col(0), dblLit(127), dblLit(-128), dblLit(negZero), dnull},
		"dec-db":    {e.col(6), dblLit(0.15), dblLit(-0.05), dblLit(99.95), dblLit(nan), dblLit(0)},
		"wide-db":   {e.col(9), dblLit(1.5e-9), dblLit(0), dblLit(-5e-10)},
		"k-db-long": {e.col(19), dblLit(-2), dblLit(0), dblLit(1), dblLit(2), dblLit(3), dblLit(5), dblLit(8), dblLit(13), dblLit(21), dblLit(34), dnull},
		// keyed in DECIMAL
		"dec":      {e.col(6), decLit(15, 4, 2), decLit(150, 5, 3), decLit(-5, 3, 1), decLit(125, 5, 3), decLit(-9995, 6, 3), decLit(0, 1, 0)},
		"dec-null": {e.call("*", e.col(19), decLit(5, 2, 1)), decLit(15, 2, 1), decNull, decLit(-100, 4, 2), decLit(4500, 6, 3), decLit(25, 3, 2)},
		"n":        {e.col(8), decLit(15, 4, 4), decLit(-15, 5, 4), decLit(5, 6, 5), decLit(105, 3, 3), decLit(0, 1, 0)},
		"g":        {e.col(7), decLit(5, 2, 0), decLit(150, 4, 1), decLit(-25, 3, 1)},
		"int-dec":  {e.col(2), i32(5), decLit(15, 2, 1), decLit(150, 4, 1), decLit(-2500, 6, 2)},
		"k-dec":    {e.col(19), decLit(10, 3, 1), decLit(-20, 3, 1), decLit(35, 3, 1), decLit(12000, 6, 3)},
		"w":        {e.col(9), decLit(15, 11, 10), decLit(150, 12, 11), decLit(-5, 11, 10), decLit(1, 38, 37), decLit(0, 1, 0)},
		"z":        {e.col(10), decLit(5, 1, 0), decLit(-15, 3, 1), decLit(25, 3, 1), bigDecLit("99999999999999999999", 20, 0)},
		"m":        {e.col(11), decLit(15, 4, 2), decLit(-5, 3, 2), decLit(1250, 5, 3)},
		"wide-op":  {wideOp, bigDecLit("100000000000000000003", 21, 0), bigDecLit("1000000000000000000050", 22, 1), bigDecLit("1000000000000000000005", 22, 1), decNull},
		"wide-k":   {wideOp, bigDecLit("100000000000000000000", 21, 0), bigDecLit("100000000000000000001", 21, 0), bigDecLit("99999999999999999998", 20, 0), bigDecLit("100000000000000000012", 21, 0)},
		// keyed in a timestamp type
		"ts":      {days(tsLit(base, 0, ts3)), tsLit(base, 0, ts3), tsLit(base+3*day, 0, ts3), tsLit(base-2*day, 0, ts3), tsLit(base+day+1, 0, ts3)},
		"ts-null": {days(tsLit(base, 0, ts3)), tsLit(base+5*day, 0, ts3), expr.Literal(types.NullValue, ts3)},
		"ts9":     {days(tsLit(base, 123, ts9)), tsLit(base, 123, ts9), tsLit(base+2*day, 0, ts9), tsLit(base+4*day, 123, ts9), tsLit(base+6*day, 124, ts9)},
		"ts9-ms":  {days(tsLit(base, 123, ts9)), tsLit(base, 0, ts9), tsLit(base+day, 0, ts9)},
		"ts3-9":   {days(tsLit(base, 0, ts3)), tsLit(base+day, 0, ts9), tsLit(base+2*day, 1, ts9)},
		"u":       {e.col(15), tsLit(base, 0, ts9), tsLit(base, 999_999, ts9)},
		"ltz":     {days(tsLit(base, 0, ltz)), tsLit(base, 0, ltz), tsLit(base+7*day, 0, ltz)},
		"date-ts": {e.col(17), tsLit(0, 0, ts3), tsLit(day, 0, ts3), tsLit(day+1, 0, ts3)},
		"days-ts": {days(expr.Literal(types.DateValue(19_723), types.DateType().WithNullable(false))), tsLit(base, 0, ts3), tsLit(base+3*day, 0, ts3), tsLit(base+day, 5, ts9)},
	}
	var names []string
	for _, not := range []bool{false, true} {
		for name, args := range lists {
			key := fmt.Sprintf("%s-%v", name, not)
			exprs[key] = in(not, args[0], args[1:]...)
			names = append(names, key)
		}
	}
	batches := fnBatches(11)
	// Not vacuous: every IN finds its operand in the list on some row and misses it on another (but those
	// meant never to find it).
	missOnly := map[string]bool{"u": true, "ts9-ms": true, "date-ts": true}
	for name := range lists {
		x := exprs[name+"-false"]
		seen := map[string]bool{}
		for _, rows := range batches {
			for _, r := range rows {
				v, err := x.Eval(r.Vals)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				switch {
				case v.IsNull():
					seen["NULL"] = true
				case v.I != 0:
					seen["TRUE"] = true
				default:
					seen["FALSE"] = true
				}
			}
		}
		if seen["TRUE"] == missOnly[name] || !seen["FALSE"] && !seen["NULL"] {
			t.Errorf("%s: the row path gives only %v", name, seen)
		}
	}
	cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
	for _, name := range names {
		cases = append(cases, vecCase{projects: []string{name}})
	}
	checkVecCases(t, fnTestTypes, exprs, nil, cases, batches)
}

// dateLetters uses every DATE_FORMAT letter the kernel gained in session 20, in each count the row path
// distinguishes.
const dateLetters = "G GGGG|YYYY YY Y|w ww|Q QQ QQQ QQQQ q qq|e ee eee eeee|L LL LLL LLLL|z zzzz|Z ZZZZ|X XX XXX|x xx xxx|yyyy-MM-dd HH:mm"

// TestCalcVecDateFormatLettersMatchRowPath: DATE_FORMAT of TIMESTAMP(3), TIMESTAMP(9), TIMESTAMP_LTZ,
// DATE and string operands and FROM_UNIXTIME with the era, ISO week-based year and week, quarters,
// numeric weekdays, stand-alone months and zone names and offsets, in zones with half-hour offsets and
// daylight saving time, as constant patterns and pattern columns; and over years 1 to 9999 and dates
// before year 1 (eras, ISO weeks across year ends).
func TestCalcVecDateFormatLettersMatchRowPath(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York", "Asia/Kolkata", "America/St_Johns"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			e := fnTestEnv{t, expr.NewEnv(loc)}
			exprs := map[string]expr.Expr{"flag": e.col(16)}
			pick := e.call("IF", e.col(16), strLit(dateLetters), strLit("yyyy Q w e X z"))
			var names []string
			for name, ci := range map[string]int{"t": 14, "u": 15, "l": 18, "dt": 17, "s": 12} {
				exprs[name] = e.call("DATE_FORMAT", e.col(ci), strLit(dateLetters))
				exprs[name+"-col"] = e.call("DATE_FORMAT", e.col(ci), pick)
				names = append(names, name, name+"-col")
			}
			exprs["unix"] = e.call("FROM_UNIXTIME", e.col(2), strLit(dateLetters))
			exprs["unix-col"] = e.call("FROM_UNIXTIME", e.col(2), pick)
			names = append(names, "unix", "unix-col")
			// s: DATE_FORMAT of strings that mostly do not parse (NULL), kept for the string operand path.
			cases := []vecCase{{projects: names}, {filter: "flag", projects: names}}
			checkVecCases(t, fnTestTypes, exprs, nil, cases, fnBatches(12))
		})
	}
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, patTestNames[i], patTestTypes[i]) }
	e := fnTestEnv{t, env}
	exprs := map[string]expr.Expr{
		"flag": col(6),
		"ts":   e.call("DATE_FORMAT", col(3), strLit(dateLetters)),
		"d":    e.call("DATE_FORMAT", col(4), strLit(dateLetters)),
		"ts9":  e.call("DATE_FORMAT", col(5), strLit(dateLetters)),
	}
	rng := rand.New(rand.NewSource(13))
	var batches [][]changelog.Row
	for i := 0; i < 20; i++ {
		batches = append(batches, patTestRows(rng, 1+rng.Intn(300), false))
	}
	names := []string{"ts", "d", "ts9"}
	checkVecCases(t, patTestTypes, exprs, nil, []vecCase{{projects: names}, {filter: "flag", projects: names}}, batches)
}
