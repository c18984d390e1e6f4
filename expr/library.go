package expr

import (
	"math"
	"strings"

	"github.com/sluicesql/sluice/types"
)

// ErrDivisionByZero is the run-time error of an integer or DECIMAL division (or modulo) by zero.
var ErrDivisionByZero error = types.ErrDivideByZero

const (
	numeric   = "<NUMERIC>"
	character = "<CHARACTER>"
	integer   = "<INTEGER>"
	boolean   = "<BOOLEAN>"
	anyT      = "<ANY>"
)

// buildLibrary returns the function and operator table, keyed by upper-case name.
func buildLibrary() map[string]*funcDef {
	lib := map[string]*funcDef{}
	add := func(name string, minArgs, maxArgs int, forms []string, bind func(c *callSite) (Expr, error)) *funcDef {
		d := &funcDef{min: minArgs, max: maxArgs, forms: forms, bind: bind}
		lib[name] = d
		return d
	}
	infix := func(name string, forms []string, bind func(c *callSite) (Expr, error)) {
		d := add(name, 2, 2, forms, bind)
		d.syn, d.isOp = synInfix, true
	}
	// Arithmetic.
	for _, o := range []string{"+", "-", "*", "/"} {
		forms := []string{numeric + " " + o + " " + numeric}
		switch o {
		case "+":
			forms = append(forms, "<DATETIME_INTERVAL> + <DATETIME_INTERVAL>", "<DATETIME> + <DATETIME_INTERVAL>",
				"<DATETIME_INTERVAL> + <DATETIME>")
		case "-":
			forms = append(forms, "<DATETIME_INTERVAL> - <DATETIME_INTERVAL>", "<DATETIME> - <DATETIME_INTERVAL>")
		case "*":
			forms = append(forms, "<DATETIME_INTERVAL> * <NUMERIC>", "<NUMERIC> * <DATETIME_INTERVAL>")
		case "/":
			forms = append(forms, "<DATETIME_INTERVAL> / <NUMERIC>")
		}
		infix(o, forms, bindArith(o))
	}
	infix("%", []string{"<EXACT_NUMERIC> % <EXACT_NUMERIC>"}, bindArith("%"))
	add("MOD", 2, 2, []string{"MOD(<EXACT_NUMERIC>, <EXACT_NUMERIC>)"}, bindArith("%"))
	neg := add("NEG", 1, 1, []string{"-<NUMERIC>", "-<DATETIME_INTERVAL>"}, bindNeg)
	neg.syn, neg.display, neg.isOp = synPrefix, "-", true

	// Logic and comparison.
	infix("AND", []string{"<BOOLEAN> AND <BOOLEAN>"}, bindAndOr(true))
	lib["AND"].max = -1
	infix("OR", []string{"<BOOLEAN> OR <BOOLEAN>"}, bindAndOr(false))
	lib["OR"].max = -1
	not := add("NOT", 1, 1, []string{"NOT<BOOLEAN>"}, bindNot)
	not.syn, not.isOp = synPrefix, true
	for _, o := range []string{"=", "<>"} {
		infix(o, []string{"<COMPARABLE_TYPE> " + o + " <COMPARABLE_TYPE>"}, bindCompare)
	}
	for _, o := range []string{"<", "<=", ">", ">="} {
		infix(o, []string{"<COMPARABLE_TYPE> " + o + " <COMPARABLE_TYPE>"}, bindCompare)
	}
	infix("IS DISTINCT FROM", []string{"<COMPARABLE_TYPE> IS DISTINCT FROM <COMPARABLE_TYPE>"}, bindDistinct(false))
	infix("IS NOT DISTINCT FROM", []string{"<COMPARABLE_TYPE> IS NOT DISTINCT FROM <COMPARABLE_TYPE>"}, bindDistinct(true))
	for _, w := range []string{"NULL", "TRUE", "FALSE", "UNKNOWN"} {
		for _, not := range []bool{false, true} {
			name := "IS " + w
			if not {
				name = "IS NOT " + w
			}
			arg := boolean
			if w == "NULL" {
				arg = anyT
			}
			what := w
			if w == "UNKNOWN" {
				what = "NULL"
			}
			d := add(name, 1, 1, []string{arg + " " + name}, bindIs(what, not))
			d.syn, d.isOp = synPostfix, true
		}
	}
	infix("||", []string{"<STRING> || <STRING>"}, bindConcatOp)
	like := add("LIKE", 2, 3, []string{"<STRING> LIKE <STRING>", "<STRING> LIKE <STRING> ESCAPE <STRING>"}, bindLike)
	like.syn, like.isOp = synInfix, true
	sim := add("SIMILAR TO", 2, 3, []string{"<STRING> SIMILAR TO <STRING>", "<STRING> SIMILAR TO <STRING> ESCAPE <STRING>"}, bindSimilar)
	sim.syn, sim.isOp = synInfix, true
	item := add("ITEM", 2, 2, []string{"<ARRAY>[<INTEGER>]", "<MAP>[<ANY>]"}, bindItem)
	item.isOp = true
	field := add("FIELD", 2, 2, []string{"<ROW>.<FIELD>"}, bindField)
	field.isOp = true
	for _, k := range []string{"ARRAY", "MAP", "ROW"} {
		var b func(c *callSite) (Expr, error)
		switch k {
		case "ARRAY":
			b = bindArray
		case "MAP":
			b = bindMap
		default:
			b = bindRow
		}
		d := add(k, 1, -1, []string{k + "[...]"}, b)
		d.isOp = true
	}
	add("CARDINALITY", 1, 1, []string{"CARDINALITY(<MULTISET>)", "CARDINALITY(<ARRAY>)", "CARDINALITY(<MAP>)"}, bindCardinality)

	// Conditional.
	add("COALESCE", 1, -1, []string{"COALESCE(<ANY>, ...)"}, bindCoalesce)
	add("IF", 3, 3, []string{"IF(<BOOLEAN>, <ANY>, <ANY>)"}, bindIf)
	add("IFNULL", 2, 2, []string{"IFNULL(<ANY>, <ANY>)"}, bindIfNull)
	add("NULLIF", 2, 2, []string{"NULLIF(<COMPARABLE_TYPE>, <COMPARABLE_TYPE>)"}, bindNullIf)
	add("GREATEST", 1, -1, []string{"GREATEST(<COMPARABLE_TYPE>, ...)"}, bindGreatest(true))
	add("LEAST", 1, -1, []string{"LEAST(<COMPARABLE_TYPE>, ...)"}, bindGreatest(false))

	// Math.
	add("ABS", 1, 1, []string{"ABS(<NUMERIC>)"}, bindAbs)
	add("SIGN", 1, 1, []string{"SIGN(<NUMERIC>)"}, bindSign)
	d1 := func(name string, f func(float64) float64) {
		add(name, 1, 1, []string{name + "(<NUMERIC>)"}, bindDoubleFn(func(x ...float64) float64 { return f(x[0]) }))
	}
	d1("SQRT", math.Sqrt)
	d1("EXP", math.Exp)
	d1("LN", math.Log)
	d1("LOG10", math.Log10)
	d1("LOG2", math.Log2)
	d1("SIN", math.Sin)
	d1("COS", math.Cos)
	d1("TAN", math.Tan)
	d1("COT", func(x float64) float64 { return 1 / math.Tan(x) })
	d1("ASIN", math.Asin)
	d1("ACOS", math.Acos)
	d1("ATAN", math.Atan)
	d1("SINH", math.Sinh)
	d1("COSH", math.Cosh)
	d1("TANH", math.Tanh)
	d1("DEGREES", func(x float64) float64 { return x * 180 / math.Pi })
	d1("RADIANS", func(x float64) float64 { return x * math.Pi / 180 })
	add("ATAN2", 2, 2, []string{"ATAN2(<NUMERIC>, <NUMERIC>)"}, bindDoubleFn(func(x ...float64) float64 { return math.Atan2(x[0], x[1]) }))
	add("POWER", 2, 2, []string{"POWER(<NUMERIC>, <NUMERIC>)"}, bindDoubleFn(func(x ...float64) float64 { return math.Pow(x[0], x[1]) }))
	lib["POW"] = lib["POWER"]
	add("LOG", 1, 2, []string{"LOG(<NUMERIC>)", "LOG(<NUMERIC>, <NUMERIC>)"}, bindLog)
	add("FLOOR", 1, 2, []string{"FLOOR(<NUMERIC>)", "FLOOR(<DATETIME> TO <TIME UNIT>)"}, bindFloorCeilAny(false))
	add("CEIL", 1, 2, []string{"CEIL(<NUMERIC>)", "CEIL(<DATETIME> TO <TIME UNIT>)"}, bindFloorCeilAny(true))
	add("CEILING", 1, 1, []string{"CEILING(<NUMERIC>)"}, bindFloorCeil(true))
	add("ROUND", 1, 2, []string{"ROUND(<NUMERIC>)", "ROUND(<NUMERIC>, <INTEGER>)"}, bindRound(true))
	add("TRUNCATE", 1, 2, []string{"TRUNCATE(<NUMERIC>)", "TRUNCATE(<NUMERIC>, <INTEGER>)"}, bindRound(false))
	add("RAND", 0, 1, []string{"RAND()", "RAND(<INTEGER>)"}, bindRand)
	add("RAND_INTEGER", 1, 2, []string{"RAND_INTEGER(<INTEGER>)", "RAND_INTEGER(<INTEGER>, <INTEGER>)"}, bindRandInteger)
	add("PI", 0, 0, []string{"PI()"}, bindConstDouble(math.Pi))
	add("E", 0, 0, []string{"E()"}, bindConstDouble(math.E))

	// Strings.
	add("UPPER", 1, 1, []string{"UPPER(<CHARACTER>)"}, bindStrMap(strings.ToUpper, true))
	add("LOWER", 1, 1, []string{"LOWER(<CHARACTER>)"}, bindStrMap(strings.ToLower, true))
	add("INITCAP", 1, 1, []string{"INITCAP(<CHARACTER>)"}, bindStrMap(initcap, true))
	add("REVERSE", 1, 1, []string{"REVERSE(<CHARACTER>)"}, bindStrMap(reverseRunes, false))
	sub := []string{"SUBSTRING(<CHARACTER> FROM <INTEGER>)", "SUBSTRING(<CHARACTER> FROM <INTEGER> FOR <INTEGER>)"}
	add("SUBSTRING", 2, 3, sub, bindSubstring)
	add("SUBSTR", 2, 3, []string{"SUBSTR(<CHARACTER>, <INTEGER>)", "SUBSTR(<CHARACTER>, <INTEGER>, <INTEGER>)"}, bindSubstring)
	add("CONCAT", 1, -1, []string{"CONCAT(<CHARACTER>, ...)"}, bindConcat)
	add("CONCAT_WS", 2, -1, []string{"CONCAT_WS(<CHARACTER>, <CHARACTER>, ...)"}, bindConcatWs)
	add("TRIM", 1, 3, []string{"TRIM(<CHARACTER>)", "TRIM([BOTH|LEADING|TRAILING] <CHARACTER> FROM <CHARACTER>)"}, bindTrim)
	add("LTRIM", 1, 2, []string{"LTRIM(<CHARACTER>)", "LTRIM(<CHARACTER>, <CHARACTER>)"}, bindSideTrim(true))
	add("RTRIM", 1, 2, []string{"RTRIM(<CHARACTER>)", "RTRIM(<CHARACTER>, <CHARACTER>)"}, bindSideTrim(false))
	add("CHAR_LENGTH", 1, 1, []string{"CHAR_LENGTH(<CHARACTER>)"}, bindCharLength)
	add("CHARACTER_LENGTH", 1, 1, []string{"CHARACTER_LENGTH(<CHARACTER>)"}, bindCharLength)
	add("POSITION", 2, 2, []string{"POSITION(<CHARACTER> IN <CHARACTER>)"}, bindPosition)
	add("LOCATE", 2, 3, []string{"LOCATE(<CHARACTER>, <CHARACTER>)", "LOCATE(<CHARACTER>, <CHARACTER>, <INTEGER>)"}, bindLocate)
	add("REPLACE", 3, 3, []string{"REPLACE(<CHARACTER>, <CHARACTER>, <CHARACTER>)"}, bindReplace)
	add("REPEAT", 2, 2, []string{"REPEAT(<CHARACTER>, <INTEGER>)"}, bindRepeat)
	add("LPAD", 3, 3, []string{"LPAD(<CHARACTER>, <INTEGER>, <CHARACTER>)"}, bindPad(true))
	add("RPAD", 3, 3, []string{"RPAD(<CHARACTER>, <INTEGER>, <CHARACTER>)"}, bindPad(false))
	add("SPLIT_INDEX", 3, 3, []string{"SPLIT_INDEX(<CHARACTER>, <CHARACTER>, <INTEGER>)"}, bindSplitIndex)
	add("LEFT", 2, 2, []string{"LEFT(<CHARACTER>, <INTEGER>)"}, bindLeftRight(true))
	add("RIGHT", 2, 2, []string{"RIGHT(<CHARACTER>, <INTEGER>)"}, bindLeftRight(false))
	add("ASCII", 1, 1, []string{"ASCII(<CHARACTER>)"}, bindASCII)
	add("CHR", 1, 1, []string{"CHR(<INTEGER>)"}, bindChr)
	add("MD5", 1, 1, []string{"MD5(<STRING>)"}, bindHash("MD5", 32))
	add("SHA1", 1, 1, []string{"SHA1(<STRING>)"}, bindHash("SHA1", 40))
	add("SHA256", 1, 1, []string{"SHA256(<STRING>)"}, bindHash("SHA256", 64))
	add("TO_BASE64", 1, 1, []string{"TO_BASE64(<STRING>)"}, bindToBase64)
	add("FROM_BASE64", 1, 1, []string{"FROM_BASE64(<STRING>)"}, bindFromBase64)
	add("UUID", 0, 0, []string{"UUID()"}, bindUUID)
	add("REGEXP", 2, 2, []string{"REGEXP(<CHARACTER>, <CHARACTER>)"}, bindRegexp)
	add("REGEXP_REPLACE", 3, 3, []string{"REGEXP_REPLACE(<CHARACTER>, <CHARACTER>, <CHARACTER>)"}, bindRegexpReplace)
	add("REGEXP_EXTRACT", 2, 3, []string{"REGEXP_EXTRACT(<CHARACTER>, <CHARACTER>)", "REGEXP_EXTRACT(<CHARACTER>, <CHARACTER>, <INTEGER>)"}, bindRegexpExtract)

	// Date and time.
	add("CURRENT_TIMESTAMP", 0, 0, []string{"CURRENT_TIMESTAMP"}, bindCurrentTimestamp)
	add("NOW", 0, 0, []string{"NOW()"}, bindCurrentTimestamp)
	add("CURRENT_ROW_TIMESTAMP", 0, 0, []string{"CURRENT_ROW_TIMESTAMP()"}, bindCurrentTimestamp)
	// PROCTIME() is the processing-time attribute of computed columns (proc AS PROCTIME()): the wall clock.
	add("PROCTIME", 0, 0, []string{"PROCTIME()"}, bindCurrentTimestamp)
	add("LOCALTIMESTAMP", 0, 0, []string{"LOCALTIMESTAMP"}, bindLocalTimestamp)
	add("CURRENT_DATE", 0, 0, []string{"CURRENT_DATE"}, bindCurrentDate)
	add("CURRENT_TIME", 0, 0, []string{"CURRENT_TIME"}, bindCurrentTime)
	add("LOCALTIME", 0, 0, []string{"LOCALTIME"}, bindCurrentTime)
	add("DATE_FORMAT", 2, 2, []string{"DATE_FORMAT(<TIMESTAMP>, <CHARACTER>)", "DATE_FORMAT(<CHARACTER>, <CHARACTER>)"}, bindDateFormat)
	add("TO_TIMESTAMP", 1, 2, []string{"TO_TIMESTAMP(<CHARACTER>)", "TO_TIMESTAMP(<CHARACTER>, <CHARACTER>)"}, bindParseTemporal(false))
	add("TO_DATE", 1, 2, []string{"TO_DATE(<CHARACTER>)", "TO_DATE(<CHARACTER>, <CHARACTER>)"}, bindParseTemporal(true))
	add("TO_TIMESTAMP_LTZ", 1, 2, []string{"TO_TIMESTAMP_LTZ(<NUMERIC>, <INTEGER>)"}, bindToTimestampLTZ)
	add("UNIX_TIMESTAMP", 0, 2, []string{"UNIX_TIMESTAMP()", "UNIX_TIMESTAMP(<CHARACTER>)", "UNIX_TIMESTAMP(<CHARACTER>, <CHARACTER>)"}, bindUnixTimestamp)
	add("FROM_UNIXTIME", 1, 2, []string{"FROM_UNIXTIME(<NUMERIC>)", "FROM_UNIXTIME(<NUMERIC>, <CHARACTER>)"}, bindFromUnixtime)
	add("EXTRACT", 2, 2, []string{"EXTRACT(<DATETIME_INTERVAL> FROM <DATETIME_INTERVAL>)", "EXTRACT(<DATETIME_INTERVAL> FROM <DATETIME>)"}, bindExtract)
	for name, unit := range datePartUnits {
		add(name, 1, 1, []string{name + "(<DATETIME>)"}, bindDatePart(unit))
	}
	add("TIMESTAMPADD", 3, 3, []string{"TIMESTAMPADD(<ANY>, <INTEGER>, <DATETIME>)"}, bindTimestampAdd)
	add("TIMESTAMPDIFF", 3, 3, []string{"TIMESTAMPDIFF(<ANY>, <DATETIME>, <DATETIME>)"}, bindTimestampDiff)
	return lib
}

// datePartUnits maps the date-part functions (YEAR(x), ...) to their EXTRACT units.
var datePartUnits = map[string]string{"YEAR": "YEAR", "QUARTER": "QUARTER", "MONTH": "MONTH",
	"WEEK": "WEEK", "DAYOFYEAR": "DOY", "DAYOFMONTH": "DAY", "DAYOFWEEK": "DOW", "HOUR": "HOUR",
	"MINUTE": "MINUTE", "SECOND": "SECOND"}
