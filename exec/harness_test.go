package exec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// This file holds the test harness: a tiny changelog text format, a recording output and parsers for
// datadriven arguments.
//
// Input lines:   +I[a, 1]   -D[a, NULL]   +I['two words', 1.50]   WM 1000   (a watermark)   |   (a push boundary)
// Values are parsed by the column types given with types=(...): BIGINT/INT, DOUBLE, DECIMAL(p, s),
// STRING, BOOLEAN, TIMESTAMP(3) (milliseconds). NULL is NULL in every type.

// recorder is an Output that prints what it receives: rows, watermarks, End, and push boundaries.
type recorder struct {
	b      strings.Builder
	pushes int
	ended  int
	rows   []changelog.Row // copies
}

func (r *recorder) Push(b *changelog.Batch) error {
	r.pushes++
	for _, row := range b.Rows {
		r.b.WriteString(formatRow(row))
		r.b.WriteByte('\n')
		r.rows = append(r.rows, changelog.Row{Kind: row.Kind, Vals: changelog.CopyVals(row.Vals)})
	}
	return nil
}

func (r *recorder) Watermark(ts int64) error {
	if ts == changelog.MaxWatermark {
		r.b.WriteString("WM MAX\n")
	} else {
		fmt.Fprintf(&r.b, "WM %d\n", ts)
	}
	return nil
}

func (r *recorder) End() error {
	r.ended++
	r.b.WriteString("END\n")
	return nil
}

// formatRow prints a row as +I[a, 1, NULL].
func formatRow(r changelog.Row) string {
	var b strings.Builder
	b.WriteString(r.Kind.String())
	b.WriteByte('[')
	for i, v := range r.Vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(formatValue(v))
	}
	b.WriteByte(']')
	return b.String()
}

func formatValue(v types.Value) string {
	switch v.T {
	case types.TagNull:
		return "NULL"
	case types.TagBool:
		if v.I != 0 {
			return "TRUE"
		}
		return "FALSE"
	case types.TagInt, types.TagDate, types.TagTime:
		return strconv.FormatInt(v.I, 10)
	case types.TagFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case types.TagDecimal:
		return types.DecimalString(v)
	case types.TagTimestamp:
		return "ts" + strconv.FormatInt(v.I, 10)
	case types.TagString:
		return v.S
	}
	return fmt.Sprintf("%v", v)
}

var kindsByText = map[string]changelog.Kind{
	"+I": changelog.Insert, "-U": changelog.UpdateBefore, "+U": changelog.UpdateAfter, "-D": changelog.Delete,
}

// parseType parses BIGINT, INT, DOUBLE, STRING, BOOLEAN, DECIMAL(p, s), TIMESTAMP(3).
func parseType(t testing.TB, s string) types.Type {
	s = strings.ToUpper(strings.TrimSpace(s))
	if m := regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`).FindStringSubmatch(s); m != nil {
		p, _ := strconv.Atoi(m[1])
		sc, _ := strconv.Atoi(m[2])
		return types.DecimalType(p, sc)
	}
	switch s {
	case "BIGINT":
		return types.BigIntType()
	case "INT":
		return types.IntType()
	case "DOUBLE":
		return types.DoubleType()
	case "STRING":
		return types.StringType()
	case "BOOLEAN":
		return types.BooleanType()
	case "TIMESTAMP(3)", "TIMESTAMP":
		return types.TimestampType(3)
	}
	t.Fatalf("unknown type %q", s)
	return types.Type{}
}

func parseValue(t testing.TB, s string, ty types.Type) types.Value {
	s = strings.TrimSpace(s)
	if s == "NULL" {
		return types.NullValue
	}
	switch {
	case ty.IsIntegral():
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("bad integer %q", s)
		}
		return types.IntValue(i)
	case ty.Kind == types.Double || ty.Kind == types.Float:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("bad double %q", s)
		}
		return types.FloatValue(f)
	case ty.Kind == types.Decimal:
		d, err := types.ParseDecimal(s)
		if err != nil {
			t.Fatalf("bad decimal %q: %v", s, err)
		}
		return types.DecimalRescale(d, ty.Scale)
	case ty.Kind == types.Boolean:
		return types.BoolValue(strings.EqualFold(s, "true"))
	case ty.Kind == types.Timestamp:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("bad timestamp millis %q", s)
		}
		return types.TimestampValue(i, 0)
	}
	return types.StringValue(strings.Trim(s, "'"))
}

// parseRow parses "+I[a, 1]".
func parseRow(t testing.TB, line string, ts []types.Type) changelog.Row {
	line = strings.TrimSpace(line)
	k, ok := kindsByText[line[:2]]
	if !ok || line[2] != '[' || line[len(line)-1] != ']' {
		t.Fatalf("bad row %q", line)
	}
	body := line[3 : len(line)-1]
	var vals []types.Value
	if body != "" {
		parts := strings.Split(body, ",")
		if len(parts) != len(ts) {
			t.Fatalf("row %q has %d values, types has %d", line, len(parts), len(ts))
		}
		for i, p := range parts {
			vals = append(vals, parseValue(t, p, ts[i]))
		}
	}
	return changelog.Row{Kind: k, Vals: vals}
}

// feed drives out with the input lines: rows accumulate into a batch pushed at "|", before a watermark,
// and at the end (each row is its own push unless onebatch is set); then End unless noend is set.
func feed(t testing.TB, out changelog.Output, input string, ts []types.Type, onebatch, end bool) error {
	var b changelog.Batch
	flush := func() error {
		if len(b.Rows) == 0 {
			return nil
		}
		err := out.Push(&b)
		b = changelog.Batch{}
		return err
	}
	for _, line := range strings.Split(input, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case line == "|":
			if err := flush(); err != nil {
				return err
			}
		case line == "WM IDLE":
			if err := flush(); err != nil {
				return err
			}
			if err := out.Watermark(IdleWatermark); err != nil {
				return err
			}
		case strings.HasPrefix(line, "WM "):
			if err := flush(); err != nil {
				return err
			}
			ts, err := strconv.ParseInt(strings.TrimSpace(line[3:]), 10, 64)
			if err != nil {
				t.Fatalf("bad watermark %q", line)
			}
			if err := out.Watermark(ts); err != nil {
				return err
			}
		default:
			r := parseRow(t, line, ts)
			b.Rows = append(b.Rows, r)
			if !onebatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if end {
		return out.End()
	}
	return nil
}

func argTypes(t testing.TB, d *datadriven.TestData) []types.Type {
	var ts []types.Type
	if a, ok := d.Arg("types"); ok {
		for _, v := range a.Vals {
			ts = append(ts, parseType(t, v))
		}
	}
	return ts
}

func argInts(t testing.TB, d *datadriven.TestData, key string) []int {
	var out []int
	if a, ok := d.Arg(key); ok {
		for _, v := range a.Vals {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("%s: bad integer %q", key, v)
			}
			out = append(out, i)
		}
	}
	return out
}

func argInt64(t testing.TB, d *datadriven.TestData, key string, def int64) int64 {
	a, ok := d.Arg(key)
	if !ok {
		return def
	}
	i, err := strconv.ParseInt(a.SingleVal(t), 10, 64)
	if err != nil {
		t.Fatalf("%s: bad integer", key)
	}
	return i
}

// argSortKeys parses keys=(1 DESC NULLS FIRST, 0).
func argSortKeys(t testing.TB, d *datadriven.TestData) []SortKey {
	a, ok := d.Arg("keys")
	if !ok {
		return nil
	}
	var keys []SortKey
	for _, v := range a.Vals {
		f := strings.Fields(strings.ToUpper(v))
		c, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("bad sort key %q", v)
		}
		k := SortKey{Col: c, NullsFirst: true}
		rest := strings.Join(f[1:], " ")
		if strings.Contains(rest, "DESC") {
			k.Desc, k.NullsFirst = true, false
		}
		if strings.Contains(rest, "NULLS FIRST") {
			k.NullsFirst = true
		}
		if strings.Contains(rest, "NULLS LAST") {
			k.NullsFirst = false
		}
		keys = append(keys, k)
	}
	return keys
}

var aggRE = regexp.MustCompile(`^(\w+)\((DISTINCT )?([^)]*)\)(?: FILTER \$(\d+))?$`)

// argAggs parses aggs=(COUNT(*), SUM($1), COUNT(DISTINCT $1), MIN($1) FILTER $2, LISTAGG($0, $2)).
func argAggs(t testing.TB, d *datadriven.TestData, in []types.Type) []AggCall {
	a, ok := d.Arg("aggs")
	if !ok {
		return nil
	}
	var calls []AggCall
	for _, v := range a.Vals {
		m := aggRE.FindStringSubmatch(strings.TrimSpace(v))
		if m == nil {
			t.Fatalf("bad aggregate %q", v)
		}
		c := AggCall{Func: m[1], Distinct: m[2] != "", Filter: -1}
		if m[3] != "*" && m[3] != "" {
			for _, arg := range strings.Split(m[3], ",") {
				i, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(arg), "$"))
				if err != nil {
					t.Fatalf("bad aggregate argument %q", arg)
				}
				c.Args = append(c.Args, i)
				c.ArgTypes = append(c.ArgTypes, in[i])
			}
		}
		if m[4] != "" {
			c.Filter, _ = strconv.Atoi(m[4])
		}
		rt, err := AggResultType(c.Func, c.Distinct, c.ArgTypes)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		c.Type = rt
		calls = append(calls, c)
	}
	return calls
}
