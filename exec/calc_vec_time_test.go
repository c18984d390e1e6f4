package exec

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Property test of the DATE_FORMAT, CAST-from-string and non-constant pattern kernels against the row
// path: random batches (NULLs, empty strings, multi-byte code points, text that does not parse, numbers out
// of range, timestamps from year 1 to 9999 and before 1970) through the row path, the kernels over row
// input and the kernels over columnar input give the same rows and the same errors.

var patTestTypes = []types.Type{
	types.StringType(),     // 0 s: text to cast and to match
	types.StringType(),     // 1 p: LIKE patterns
	types.StringType(),     // 2 r: regular expressions
	types.TimestampType(3), // 3 ts
	types.DateType(),       // 4 d
	types.TimestampType(9), // 5 ts9
	types.BooleanType(),    // 6 flag
	types.StringType(),     // 7 n: integers only
}

var patTestNames = []string{"s", "p", "r", "ts", "d", "ts9", "flag", "n"}

var castWords = []string{"", "0", "-5", "123", " 42 ", "1.9", "abc", "99999999999999999999", "127", "128", "-129", "3.14",
	"1e3", "NaN", "-Infinity", "true", "FALSE", "yes", "2024-02-29", "2023-02-29", "2024-01-01 12:34:56.789",
	"1970-01-01T00:00:00", "héllo", "+7", "007", "9223372036854775807", "-9223372036854775808", "12345678.987",
	"32768", "-2147483648", "2147483648", "0.005", "-0.005", "1 2", "日本", "ab", "abc%", "a_c", "12:00:00"}

var likeWords = []string{"", "%", "a%", "%c", "_b%", "%!%%", "a!", "ab!_c", "héllo", "%é%", "1%", "_", "__", "abc", "!!"}

var regexWords = []string{"", "a+", "(b)(c)?", "[", "^h", "é", "[0-9]+", "x|(y)", "(a*)", "\\d", "(?i)ABC"}

func patTestRows(rng *rand.Rand, n int, onlyValid bool) []changelog.Row {
	null := func() bool { return rng.Intn(7) == 0 }
	rows := make([]changelog.Row, n)
	for i := range rows {
		v := make([]types.Value, len(patTestTypes))
		if !null() {
			w := castWords[rng.Intn(len(castWords))]
			if onlyValid {
				w = fmt.Sprint(rng.Intn(2000) - 1000)
			}
			v[0] = types.StringValue(w)
		}
		if !null() {
			v[1] = types.StringValue(likeWords[rng.Intn(len(likeWords))])
			if rng.Intn(3) == 0 { // runs of the same pattern, as columns often have
				v[1] = types.StringValue("a%")
			}
		}
		if !null() {
			v[2] = types.StringValue(regexWords[rng.Intn(len(regexWords))])
		}
		if !null() {
			ms := rng.Int63n(253_402_300_799_999+62_135_596_800_000) - 62_135_596_800_000 // years 1 to 9999
			if rng.Intn(3) == 0 {
				ms = rng.Int63n(4_000_000_000_000) - 1_000_000_000_000
			}
			v[3] = types.TimestampValue(ms, 0)
		}
		if !null() {
			v[4] = types.DateValue(rng.Int63n(3_000_000) - 1_000_000)
		}
		if !null() {
			v[5] = types.TimestampValue(rng.Int63n(4_000_000_000_000)-2_000_000_000_000, int32(rng.Intn(1_000_000)))
		}
		if !null() {
			v[6] = types.BoolValue(rng.Intn(2) == 0)
		}
		if !null() {
			v[7] = types.StringValue(fmt.Sprint(rng.Int63n(2_000_000_000) - 1_000_000_000))
		}
		rows[i].Vals = v
	}
	return rows
}

func TestCalcVecPatternsCastsDatesMatchRowPath(t *testing.T) {
	env := expr.NewEnv(nil)
	col := func(i int) expr.Expr { return expr.Column(i, patTestNames[i], patTestTypes[i]) }
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	i32 := func(v int64) expr.Expr { return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false)) }
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return x
	}
	cast := func(x expr.Expr, to types.Type, try bool) expr.Expr {
		c, err := expr.Cast(env, x, to, try)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	exprs := map[string]expr.Expr{
		"df-date":     call("DATE_FORMAT", col(3), str("yyyy-MM-dd")),
		"df-hm":       call("DATE_FORMAT", col(3), str("HH:mm")),
		"df-full":     call("DATE_FORMAT", col(3), str("yyyy-MM-dd HH:mm:ss.SSS")),
		"df-text":     call("DATE_FORMAT", col(3), str("EEE, d MMM yy h:mm a 'at' ''")),
		"df-misc":     call("DATE_FORMAT", col(5), str("D k K SSSSSSSSSSS n uuuu EEEE MMMM y M d H m s S")),
		"df-d":        call("DATE_FORMAT", col(4), str("yyyyy/MM/dd[ HH]")),
		"df-ts9":      call("DATE_FORMAT", col(5), str("yyyy-MM-dd HH:mm:ss.SSSSSSSSS")),
		"try-int":     cast(col(0), types.IntType(), true),
		"try-bigint":  cast(col(0), types.BigIntType(), true),
		"try-tiny":    cast(col(0), types.TinyIntType(), true),
		"try-small":   cast(col(0), types.SmallIntType(), true),
		"try-double":  cast(col(0), types.DoubleType(), true),
		"try-float":   cast(col(0), types.FloatType(), true),
		"try-dec":     cast(col(0), types.DecimalType(10, 2), true),
		"try-date":    cast(col(0), types.DateType(), true),
		"try-ts":      cast(col(0), types.TimestampType(3), true),
		"try-bool":    cast(col(0), types.BooleanType(), true),
		"cast-dec":    cast(col(0), types.DecimalType(5, 2), false),
		"cast-int":    cast(col(0), types.IntType(), false),
		"cast-double": cast(col(0), types.DoubleType(), false),
		"n-bigint":    cast(col(7), types.BigIntType(), false),
		"n-int":       cast(col(7), types.IntType(), false),
		"n-dec":       cast(col(7), types.DecimalType(18, 3), false),
		"like-col":    call("LIKE", col(0), col(1)),
		"like-esc":    call("LIKE", col(0), col(1), str("!")),
		"like-rev":    call("LIKE", col(1), col(0)),
		"regexp":      call("REGEXP", col(0), col(2)),
		"regexp-lit":  call("REGEXP", col(0), str("[0-9]")),
		"rx-col":      call("REGEXP_EXTRACT", col(0), col(2)),
		"rx-col-g":    call("REGEXP_EXTRACT", col(0), col(2), i32(1)),
		"fit-v3":      cast(col(0), types.VarCharType(3), false),
		"fit-v1":      cast(col(1), types.VarCharType(1), false),
		"fit-c4":      cast(col(0), types.CharType(4), false),
		"fit-sub":     cast(call("SUBSTRING", col(0), i32(1), i32(2)), types.VarCharType(1), false),
		"flag":        col(6),
		"n-pos":       call(">", cast(col(7), types.BigIntType(), false), i32(0)),
	}
	// Errors (a string that does not parse, a LIKE pattern with a dangling escape) make the kernels bail:
	// the row path reports them.
	mayBail := map[string]bool{"cast-dec": true, "cast-int": true, "cast-double": true, "like-esc": true}
	cases := []vecCase{
		{projects: []string{"df-date", "df-hm", "df-full", "df-text"}},
		{projects: []string{"df-misc", "df-d", "df-ts9"}},
		{filter: "flag", projects: []string{"df-hm", "df-d"}},
		{projects: []string{"try-int", "try-bigint", "try-tiny", "try-small", "try-double", "try-float"}},
		{projects: []string{"try-dec", "try-date", "try-ts", "try-bool"}},
		{projects: []string{"cast-dec"}},
		{projects: []string{"cast-int"}},
		{projects: []string{"cast-double"}},
		{projects: []string{"n-bigint", "n-int", "n-dec"}},
		{filter: "n-pos", projects: []string{"n-int", "try-ts"}},
		{projects: []string{"like-col", "like-rev", "regexp", "regexp-lit", "rx-col", "rx-col-g"}},
		{projects: []string{"like-esc"}},
		{projects: []string{"fit-v3", "fit-v1", "fit-c4", "fit-sub"}},
		{filter: "flag", projects: []string{"fit-v1", "fit-c4"}},
		{filter: "like-col", projects: []string{"rx-col", "try-int"}},
	}
	rng := rand.New(rand.NewSource(17))
	var batches [][]changelog.Row
	for i := 0; i < 40; i++ {
		batches = append(batches, patTestRows(rng, 1+rng.Intn(300), i%5 == 0))
	}
	for _, tc := range cases {
		name := tc.filter + ":" + strings.Join(tc.projects, ",")
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
			outRows, errs, bailed := 0, 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPathTypes(patTestTypes, projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				if werr != nil {
					errs++
				}
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPathTypes(patTestTypes, projects, filter, rows, path)
					if lastBails > 0 {
						bailed++
						if !bailOK {
							t.Fatalf("batch %d, %s: the kernels bailed", bi, path)
						}
					}
					if fmt.Sprint(werr) != fmt.Sprint(gerr) {
						t.Fatalf("batch %d, %s: error %v, row path %v", bi, path, gerr, werr)
					}
					if got != want {
						t.Fatalf("batch %d, %s:\n%s\nrow path:\n%s", bi, path, diffLines(got, want), want)
					}
				}
			}
			if outRows == 0 {
				t.Fatalf("no output rows: the comparison is vacuous")
			}
			if bailed == 2*len(batches) {
				t.Fatalf("every batch bailed: the kernels were not exercised")
			}
			t.Logf("%d rows out, %d batches failed, %d runs bailed (the same results on every path)", outRows, errs, bailed)
		})
	}
}

// TestCalcVecProctime checks PROCTIME()'s kernel: one clock reading per batch, within the batch's evaluation.
func TestCalcVecProctime(t *testing.T) {
	x, err := expr.Call(expr.NewEnv(nil), "PROCTIME")
	if err != nil {
		t.Fatal(err)
	}
	c := &vcompiler{}
	k := c.compile(x)
	if k == nil {
		t.Fatalf("PROCTIME() has no kernel")
	}
	b := &vec.Batch{N: 100}
	before := time.Now().UnixMilli()
	col, err := k.eval(b)
	after := time.Now().UnixMilli()
	if err != nil {
		t.Fatal(err)
	}
	if col.Kind != vec.Int64 || col.Tag != types.TagTimestamp || len(col.I64) != 100 || col.Nulls.Any() {
		t.Fatalf("column %+v", col)
	}
	for i, v := range col.I64 {
		if v != col.I64[0] || v < before || v > after {
			t.Fatalf("row %d: %d, first %d, clock %d..%d", i, v, col.I64[0], before, after)
		}
	}
}

// BenchmarkCalcVecDateFormatCast measures DATE_FORMAT(ts, 'yyyy-MM-dd') and CAST(s AS BIGINT) over 1024
// rows: the row path against the kernels over columns.
func BenchmarkCalcVecDateFormatCast(b *testing.B) {
	env := expr.NewEnv(nil)
	ts := []types.Type{types.TimestampType(3), types.StringType()}
	df, err := expr.Call(env, "DATE_FORMAT", expr.Column(0, "ts", ts[0]), expr.Literal(types.StringValue("yyyy-MM-dd"), types.StringType().WithNullable(false)))
	if err != nil {
		b.Fatal(err)
	}
	cs, err := expr.Cast(env, expr.Column(1, "s", ts[1]), types.BigIntType(), false)
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]changelog.Row, 1024)
	for i := range rows {
		rows[i].Vals = []types.Value{types.TimestampValue(1_700_000_000_000+int64(i)*3_600_000, 0), types.StringValue(fmt.Sprint(i * 7919))}
	}
	var cb vec.Batch
	vec.FromRows(&cb, rows, ts, nil)
	for _, p := range []struct {
		name string
		x    expr.Expr
	}{{"date_format", df}, {"cast_bigint", cs}} {
		sink := NewCollect(func(changelog.Row) error { return nil })
		b.Run(p.name+"/rows", func(b *testing.B) {
			c := NewCalc([]expr.Expr{p.x}, nil, sink).(*calc)
			c.vx = nil
			for i := 0; i < b.N; i++ {
				if err := c.Push(&changelog.Batch{Rows: rows}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
		b.Run(p.name+"/kernel", func(b *testing.B) {
			v := compileCalc([]expr.Expr{p.x}, nil)
			for i := 0; i < b.N; i++ {
				if _, err := v.run(&cb); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}
