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

// Property test of the session-zone casts (TIMESTAMP_LTZ ↔ TIMESTAMP/DATE/TIME/strings), timestamp
// precision casts, casts to CHAR(n), the DATE_FORMAT variants, EXTRACT and the date-part functions, FLOOR/CEIL(x TO unit),
// TO_TIMESTAMP_LTZ, REPLACE, CONCAT_WS and
// COALESCE/IFNULL/IF/NULLIF against the row path, in zones with DST
// gaps and overlaps (whole hours, Lord Howe's half hour, Apia's skipped day, historical offsets with
// seconds): random batches with NULLs, instants and wall clocks within hours of every transition of the
// zone from 1900 to 2040, years 1 to 9999 and nanoseconds give the same rows and the same errors on the row
// path, the kernels over rows and the kernels over columns.

var zoneTestTypes = []types.Type{
	types.TimestampLTZType(3), // 0 ltz
	types.TimestampLTZType(9), // 1 ltz9
	types.TimestampType(3),    // 2 ts
	types.TimestampType(9),    // 3 ts9
	types.DateType(),          // 4 d
	types.StringType(),        // 5 s: timestamps as text, and text that does not parse
	types.StringType(),        // 6 pat: DATE_FORMAT patterns
	types.BooleanType(),       // 7 flag
	types.IntType(),           // 8 i
	types.DoubleType(),        // 9 dbl
	types.DecimalType(10, 2),  // 10 dec
	types.TimeType(3),         // 11 tm
}

var zoneTestNames = []string{"ltz", "ltz9", "ts", "ts9", "d", "s", "pat", "flag", "i", "dbl", "dec", "tm"}

// zoneTransitions lists the unix seconds at which loc's offset changes from 1900 to 2040.
func zoneTransitions(loc *time.Location) []int64 {
	var out []int64
	t := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).In(loc)
	for {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.Year() > 2040 {
			return out
		}
		if !end.After(t) { // Go cuts a zone extended by the POSIX rule at the year's end, and may return t
			end = t.Add(time.Hour)
		}
		_, before := end.Add(-time.Second).Zone()
		if _, after := end.Zone(); after != before {
			out = append(out, end.Unix())
		}
		t = end
	}
}

var zonePatterns = []string{"yyyy-MM-dd", "HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "EEE, d MMM yy h:mm a", "D k K n"}

func zoneTestRows(rng *rand.Rand, n int, loc *time.Location, trans []int64, valid bool) []changelog.Row {
	null := func() bool { return rng.Intn(8) == 0 }
	instant := func() int64 {
		switch rng.Intn(4) {
		case 0:
			return rng.Int63n(253_402_300_799_999+62_135_596_800_000) - 62_135_596_800_000 // years 1 to 9999
		case 1:
			return rng.Int63n(4_000_000_000_000) - 1_000_000_000_000
		}
		if len(trans) == 0 {
			return rng.Int63n(4_000_000_000_000)
		}
		tr := trans[rng.Intn(len(trans))] * 1000
		switch rng.Intn(4) {
		case 0:
			return tr + int64(rng.Intn(3)) - 1
		case 1: // as a wall clock: around the transition's local times before and after
			_, before := time.UnixMilli(tr - 1).In(loc).Zone()
			_, after := time.UnixMilli(tr).In(loc).Zone()
			o := []int{before, after}[rng.Intn(2)]
			return tr + int64(o)*1000 + rng.Int63n(7_200_000) - 3_600_000
		}
		return tr + rng.Int63n(6*3_600_000) - 3*3_600_000
	}
	rows := make([]changelog.Row, n)
	for i := range rows {
		v := make([]types.Value, len(zoneTestTypes))
		if !null() {
			v[0] = types.TimestampValue(instant(), 0)
		}
		if !null() {
			v[1] = types.TimestampValue(instant(), int32(rng.Intn(1_000_000)))
		}
		if !null() {
			v[2] = types.TimestampValue(instant(), 0)
		}
		if !null() {
			v[3] = types.TimestampValue(instant(), int32(rng.Intn(1_000_000)))
		}
		if !null() {
			v[4] = types.DateValue(floorDiv(instant(), msPerDay))
		}
		if !null() {
			switch k := rng.Intn(5); {
			case k == 0 && !valid: // text that does not parse
				v[5] = types.StringValue([]string{"", "abc", "2024-02-30 00:00:00", "12:34", " 2021-03-28 02:30:00 ", "2021-13-01"}[rng.Intn(6)])
			case k == 1:
				v[5] = types.StringValue(string(types.FormatDate(nil, types.DateValue(floorDiv(instant(), msPerDay)))))
			default:
				v[5] = types.StringValue(string(types.FormatTimestamp(nil, types.TimestampValue(instant(), int32(rng.Intn(1_000_000))), rng.Intn(10))))
			}
		}
		if !null() {
			p := zonePatterns[rng.Intn(len(zonePatterns))]
			if !valid && rng.Intn(10) == 0 {
				p = []string{"yyyy-ww", "'open", "bb", "z"}[rng.Intn(4)] // no writer, or the row path's error
			}
			v[6] = types.StringValue(p)
		}
		if !null() {
			v[7] = types.BoolValue(rng.Intn(2) == 0)
		}
		if !null() {
			v[8] = types.IntValue(rng.Int63n(1<<32) - 1<<31)
		}
		if !null() {
			v[9] = types.FloatValue([]float64{0, -1.5, 1e-9, 123456.789, 1e300, -0.0}[rng.Intn(6)] * float64(rng.Intn(3)))
		}
		if !null() {
			v[10] = types.DecimalValue(rng.Int63n(20_000_000_000)-10_000_000_000, 2)
		}
		if !null() {
			v[11] = types.TimeValue(rng.Int63n(86_400_000) * 1_000_000)
		}
		rows[i].Vals = v
	}
	return rows
}

func TestCalcVecZonesMatchRowPath(t *testing.T) {
	zones := []string{"Australia/Lord_Howe", "Pacific/Apia", "UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "America/Sao_Paulo"}
	for _, zone := range zones[:propertyRounds(len(zones))] {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatalf("zone %s: %v", zone, err)
		}
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) { testZoneKernels(t, loc) })
	}
}

func testZoneKernels(t *testing.T, loc *time.Location) {
	env := expr.NewEnv(loc)
	col := func(i int) expr.Expr { return expr.Column(i, zoneTestNames[i], zoneTestTypes[i]) }
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
	cast := func(x expr.Expr, to types.Type, try bool) expr.Expr {
		c, err := expr.Cast(env, x, to, try)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	exprs := map[string]expr.Expr{
		"ltz-ts":    cast(col(0), types.TimestampType(3), false),
		"ltz9-ts6":  cast(col(1), types.TimestampType(6), false),
		"ltz9-ts0":  cast(col(1), types.TimestampType(0), false),
		"ts-ltz":    cast(col(2), types.TimestampLTZType(3), false),
		"ts9-ltz9":  cast(col(3), types.TimestampLTZType(9), false),
		"ts9-ltz1":  cast(col(3), types.TimestampLTZType(1), false),
		"d-ltz":     cast(col(4), types.TimestampLTZType(3), false),
		"d-ltz0":    cast(col(4), types.TimestampLTZType(0), false),
		"ltz-d":     cast(col(0), types.DateType(), false),
		"ltz9-t9":   cast(col(1), types.TimeType(9), false),
		"ltz-t0":    cast(col(0), types.TimeType(0), false),
		"ltz-str":   cast(col(0), types.StringType(), false),
		"ltz9-v10":  cast(col(1), types.VarCharType(10), false),
		"ltz9-c32":  cast(col(1), types.CharType(32), false),
		"ts9-ts3":   cast(col(3), types.TimestampType(3), false),
		"ts9-ts0":   cast(col(3), types.TimestampType(0), false),
		"ts-ts1":    cast(col(2), types.TimestampType(1), false),
		"ltz9-ltz4": cast(col(1), types.TimestampLTZType(4), false),
		"ltz-ltz2":  cast(col(0), types.TimestampLTZType(2), false),
		"s-ltz-try": cast(col(5), types.TimestampLTZType(3), true),
		"s-ltz":     cast(col(5), types.TimestampLTZType(6), false),
		"s-time":    cast(col(5), types.TimeType(0), true),
		"i-c5":      cast(col(8), types.CharType(5), false),
		"i-c12":     cast(col(8), types.CharType(12), false),
		"dbl-c3":    cast(col(9), types.CharType(3), false),
		"dec-c14":   cast(col(10), types.CharType(14), false),
		"flag-c6":   cast(col(7), types.CharType(6), false),
		"d-c12":     cast(col(4), types.CharType(12), false),
		"ts9-c40":   cast(col(3), types.CharType(40), false),
		"tm-c4":     cast(col(11), types.CharType(4), false),
		"df-ltz":    call("DATE_FORMAT", col(0), str("yyyy-MM-dd HH:mm:ss.SSS")),
		"df-ltz9":   call("DATE_FORMAT", col(1), str("EEE D k a n h K")),
		"df-str":    call("DATE_FORMAT", col(5), str("yyyy/MM/dd HH:mm:ss.SSSSSS")),
		"df-pat":    call("DATE_FORMAT", col(2), col(6)),
		"df-ltzpat": call("DATE_FORMAT", col(1), col(6)),
		"df-strpat": call("DATE_FORMAT", col(5), col(6)),
		"flag":      col(7),
		"ltz-after": call(">", cast(col(0), types.TimestampType(3), false), col(2)),
	}
	i32 := func(v int64) expr.Expr { return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false)) }
	exprs["coalesce-ltz"] = call("COALESCE", col(0), cast(col(2), types.TimestampLTZType(3), false), cast(col(4), types.TimestampLTZType(3), false))
	exprs["coalesce-i"] = call("COALESCE", cast(col(5), types.IntType(), true), col(8), i32(-1))
	exprs["ifnull-dec"] = call("IFNULL", col(10), cast(col(8), types.DecimalType(12, 2), false))
	exprs["ifnull-str"] = call("IFNULL", col(5), col(6))
	exprs["if"] = call("IF", col(7), call("UPPER", col(5)), str("x"))
	exprs["if-ts"] = call("IF", call(">", col(8), i32(0)), cast(col(0), types.TimestampType(3), false), col(2))
	exprs["nullif-flag"] = call("NULLIF", col(7), expr.Literal(types.BoolValue(true), types.BooleanType().WithNullable(false)))
	exprs["nullif-d"] = call("NULLIF", col(4), cast(col(2), types.DateType(), false))
	exprs["nullif-s"] = call("NULLIF", col(6), str("HH:mm:ss"))
	var extracts []string
	for _, u := range []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOY", "DOW", "ISODOW", "ISOYEAR", "HOUR", "MINUTE",
		"SECOND", "MILLISECOND", "MICROSECOND", "NANOSECOND", "EPOCH", "DECADE", "CENTURY", "MILLENNIUM"} {
		for _, ci := range []int{1, 3, 4, 11} {
			if zoneTestTypes[ci].Kind == types.Time && !strings.Contains("HOUR MINUTE SECOND MILLISECOND MICROSECOND NANOSECOND", u) {
				continue
			}
			name := "extract-" + u + "-" + zoneTestNames[ci]
			exprs[name] = call("EXTRACT", str(u), col(ci))
			extracts = append(extracts, name)
		}
	}
	for _, f := range []string{"YEAR", "QUARTER", "MONTH", "WEEK", "DAYOFYEAR", "DAYOFMONTH", "DAYOFWEEK", "HOUR", "MINUTE", "SECOND"} {
		exprs[f] = call(f, col(0))
		extracts = append(extracts, f)
	}
	exprs["replace"] = call("REPLACE", col(5), str("0"), str("é_"))
	exprs["replace-empty"] = call("REPLACE", col(6), str(""), str("|"))
	exprs["replace-cols"] = call("REPLACE", col(6), col(5), col(5))
	exprs["concat-ws"] = call("CONCAT_WS", str(", "), col(5), col(6), cast(col(8), types.StringType(), false))
	exprs["concat-ws-col"] = call("CONCAT_WS", col(6), col(5), col(5))
	var rounds []string
	for _, u := range []string{"MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"} {
		for _, fn := range []string{"FLOOR", "CEIL"} {
			for _, ci := range []int{0, 1, 3, 4} {
				name := fn + "-" + u + "-" + zoneTestNames[ci]
				exprs[name] = call(fn, col(ci), str(u))
				rounds = append(rounds, name)
			}
		}
	}
	exprs["to-ltz"] = call("TO_TIMESTAMP_LTZ", col(8))
	exprs["to-ltz0"] = call("TO_TIMESTAMP_LTZ", col(8), i32(0))
	exprs["to-ltz3"] = call("TO_TIMESTAMP_LTZ", col(8), i32(3))
	exprs["to-ltz-str"] = cast(call("TO_TIMESTAMP_LTZ", col(8), i32(0)), types.StringType(), false)
	// A string that does not parse as a timestamp (CAST), and a pattern column's pattern without a writer
	// or rejected by the row path make the kernels bail: the row path gives the result or the error.
	mayBail := map[string]bool{"s-ltz": true, "df-pat": true, "df-ltzpat": true, "df-strpat": true}
	cases := []vecCase{
		{projects: []string{"ltz-ts", "ltz9-ts6", "ltz9-ts0", "ts-ltz", "ts9-ltz9", "ts9-ltz1", "d-ltz", "d-ltz0"}},
		{projects: []string{"ltz-d", "ltz9-t9", "ltz-t0", "ltz-str", "ltz9-v10", "ltz9-c32"}},
		{projects: []string{"ts9-ts3", "ts9-ts0", "ts-ts1", "ltz9-ltz4", "ltz-ltz2"}},
		{projects: []string{"s-ltz-try", "s-time"}},
		{projects: []string{"s-ltz"}},
		{projects: []string{"i-c5", "i-c12", "dbl-c3", "dec-c14", "flag-c6", "d-c12", "ts9-c40", "tm-c4"}},
		{projects: []string{"df-ltz", "df-ltz9", "df-str"}},
		{projects: []string{"df-pat", "df-ltzpat", "df-strpat"}},
		{filter: "flag", projects: []string{"ltz-ts", "ts-ltz", "ltz-str", "df-ltz", "df-str"}},
		{filter: "ltz-after", projects: []string{"ltz9-c32", "df-ltz9", "ts9-ltz1"}},
		{projects: []string{"coalesce-ltz", "coalesce-i", "ifnull-dec", "ifnull-str", "if", "if-ts", "nullif-flag", "nullif-d", "nullif-s"}},
		{filter: "flag", projects: []string{"coalesce-i", "if", "nullif-d"}},
		{projects: extracts},
		{projects: rounds},
		{projects: []string{"replace", "replace-empty", "replace-cols", "concat-ws", "concat-ws-col"}},
		{filter: "flag", projects: []string{"replace", "concat-ws"}},
		{filter: "flag", projects: []string{"FLOOR-HOUR-ltz", "CEIL-DAY-ltz9", "FLOOR-WEEK-d", "to-ltz", "to-ltz0", "to-ltz3", "to-ltz-str"}},
		{filter: "ltz-after", projects: []string{"HOUR", "extract-DOW-ltz9", "extract-NANOSECOND-tm"}},
	}
	trans := zoneTransitions(loc)
	rng := rand.New(rand.NewSource(int64(len(trans)) + 17))
	var batches [][]changelog.Row
	for i := 0; i < 30; i++ {
		batches = append(batches, zoneTestRows(rng, 1+rng.Intn(300), loc, trans, i%3 == 0)) // every third batch: text and patterns that all convert
	}
	checkVecCases(t, zoneTestTypes, exprs, mayBail, cases, batches)
}

// checkVecCases runs each case over every batch on the row path, the kernels over rows and the kernels
// over columns, and fails unless all three give the same rows and errors (bailing only where mayBail).
func checkVecCases(t *testing.T, ts []types.Type, exprs map[string]expr.Expr, mayBail map[string]bool, cases []vecCase, batches [][]changelog.Row) {
	t.Helper()
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
			outRows, bailed := 0, 0
			for bi, rows := range batches {
				want, werr := runCalcPathTypes(ts, projects, filter, rows, "rows")
				outRows += strings.Count(want, "\n")
				for _, path := range []string{"vec-rows", "vec-cols"} {
					got, gerr := runCalcPathTypes(ts, projects, filter, rows, path)
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
		})
	}
}

// TestZoneOffsetsMatchTypes checks the cached offset lookups against types.TimestampToLocal and
// types.TimestampFromLocal at every second within two hours of each transition of a few zones (gaps and
// overlaps included), visited in order and then in a shuffled order (the cache's span changes each time).
func TestZoneOffsetsMatchTypes(t *testing.T) {
	for _, zone := range []string{"Europe/London", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata", "America/St_Johns"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		z := newZoneOffsets(loc)
		trans := zoneTransitions(loc)
		if len(trans) < 3 {
			t.Fatalf("%s: %d transitions", zone, len(trans))
		}
		var secs []int64
		for _, tr := range trans[max(0, len(trans)-40):] {
			for s := tr - 7200; s <= tr+7200; s += 7 {
				secs = append(secs, s)
			}
		}
		for _, tr := range trans[:3] {
			for s := tr - 7200; s <= tr+7200; s += 13 {
				secs = append(secs, s)
			}
		}
		rng := rand.New(rand.NewSource(1))
		for pass := 0; pass < 2; pass++ {
			for _, s := range secs {
				ms := s*1000 + int64(rng.Intn(1000))
				v := types.TimestampValue(ms, 0)
				if got, want := z.toLocal(ms), types.TimestampToLocal(v, loc).I; got != want {
					t.Fatalf("%s: toLocal(%d) = %d, types %d", zone, ms, got, want)
				}
				if got, want := z.fromLocal(ms), types.TimestampFromLocal(v, loc).I; got != want {
					t.Fatalf("%s: fromLocal(%d) = %d, types %d", zone, ms, got, want)
				}
			}
			rng.Shuffle(len(secs), func(i, j int) { secs[i], secs[j] = secs[j], secs[i] })
		}
	}
}

// TestCalcVecZoneKernelsAllocate checks that the zone casts, CHAR(n) and DATE_FORMAT of a TIMESTAMP_LTZ
// allocate nothing per batch once their columns have grown.
func TestCalcVecZoneKernelsAllocate(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	env := expr.NewEnv(loc)
	ts := []types.Type{types.TimestampLTZType(9), types.TimestampType(3), types.IntType()}
	cast := func(x expr.Expr, to types.Type) expr.Expr {
		c, err := expr.Cast(env, x, to, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ltz, wall, i := expr.Column(0, "ltz", ts[0]), expr.Column(1, "ts", ts[1]), expr.Column(2, "i", ts[2])
	df, err := expr.Call(env, "DATE_FORMAT", ltz, expr.Literal(types.StringValue("yyyy-MM-dd HH:mm"), types.StringType().WithNullable(false)))
	if err != nil {
		t.Fatal(err)
	}
	projects := []expr.Expr{cast(ltz, types.TimestampType(3)), cast(wall, types.TimestampLTZType(3)), cast(ltz, types.DateType()),
		cast(ltz, types.StringType()), cast(i, types.CharType(12)), cast(ltz, types.TimestampLTZType(0)), df}
	v := compileCalc(projects, nil)
	if v == nil {
		t.Fatal("not compiled into kernels")
	}
	rows := make([]changelog.Row, 1024)
	for j := range rows {
		ms := int64(1_711_846_800_000) + int64(j)*60_000 // across the spring-forward of 2024-03-31
		rows[j].Vals = []types.Value{types.TimestampValue(ms, int32(j)), types.TimestampValue(ms, 0), types.IntValue(int64(j))}
	}
	var b vec.Batch
	if !vec.FromRows(&b, rows, ts, nil) {
		t.Fatal("rows do not convert")
	}
	if _, err := v.run(&b); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(20, func() {
		if _, err := v.run(&b); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

// BenchmarkCalcVecZoneCast measures CAST(ltz AS TIMESTAMP(3)), CAST(ts AS TIMESTAMP_LTZ(3)) and
// DATE_FORMAT(ltz, 'yyyy-MM-dd HH:mm') in Europe/Berlin over 1024 rows: the row path against the kernels.
func BenchmarkCalcVecZoneCast(b *testing.B) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	env := expr.NewEnv(loc)
	ts := []types.Type{types.TimestampLTZType(3), types.TimestampType(3)}
	ltz, wall := expr.Column(0, "ltz", ts[0]), expr.Column(1, "ts", ts[1])
	toWall, _ := expr.Cast(env, ltz, types.TimestampType(3), false)
	toLTZ, _ := expr.Cast(env, wall, types.TimestampLTZType(3), false)
	df, err := expr.Call(env, "DATE_FORMAT", ltz, expr.Literal(types.StringValue("yyyy-MM-dd HH:mm"), types.StringType().WithNullable(false)))
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]changelog.Row, 1024)
	for i := range rows {
		ms := 1_700_000_000_000 + int64(i)*60_000
		rows[i].Vals = []types.Value{types.TimestampValue(ms, 0), types.TimestampValue(ms, 0)}
	}
	var cb vec.Batch
	vec.FromRows(&cb, rows, ts, nil)
	for _, p := range []struct {
		name string
		x    expr.Expr
	}{{"ltz_to_timestamp", toWall}, {"timestamp_to_ltz", toLTZ}, {"date_format_ltz", df}} {
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
			if v == nil {
				b.Fatal("not compiled into kernels")
			}
			for i := 0; i < b.N; i++ {
				if _, err := v.run(&cb); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}
