package expr

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/sluicesql/sluice/types"
)

// The golden tests build expressions in a small s-expression syntax (the SQL parser lives elsewhere):
//
//	(+ (int 1) (decimal 2.50))          a call; the head is the function or operator name
//	("IS NOT NULL" (col a INT NULL))    names with spaces are double-quoted
//	(col a INT 5)                       an input column named a of type INT holding 5 (NULL for none;
//	                                    "NOT NULL" types are written INT! )
//	(cast x DECIMAL(10,2)) (try_cast x INT)
//	(case c1 r1 c2 r2 [else])  (in x a b ...)  (notin x a b ...)
//
// Literals: (int 1) (bigint 1) (tinyint 1) (smallint 1) (double 1.5) (float 1.5) (decimal 12.30)
// (str 'abc') as CHAR(n) like the planner's string literals, (string 'abc') as STRING, (bool true),
// (null) untyped, (null INT) typed, (date 2020-01-01) (time 12:00:00) (ts '2020-01-01 10:00:00.123')
// TIMESTAMP(3), (ltz '2020-01-01 10:00:00') TIMESTAMP_LTZ(3) given in UTC, (ym 14) months,
// (dt 5000) milliseconds, (bytes 'ab').
//
// Commands:
//
//	eval [tz=Zone]   one expression per line → value : type (strings quoted, errors as "error: ...")
//	explain          one expression per line → String() : type
//	const            one expression per line → IsConstant
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			loc := time.UTC
			for _, a := range d.CmdArgs {
				if a.Key == "tz" {
					l, err := time.LoadLocation(a.Vals[0])
					if err != nil {
						t.Fatal(err)
					}
					loc = l
				}
			}
			env := NewEnv(loc)
			env.Now = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 678_000_000, time.UTC) }
			var out strings.Builder
			for _, line := range strings.Split(d.Input, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				b := &builder{env: env}
				x, err := b.parse(line)
				if err != nil {
					fmt.Fprintf(&out, "error: %s\n", err)
					continue
				}
				switch d.Cmd {
				case "eval":
					v, err := x.Eval(b.row)
					if err != nil {
						fmt.Fprintf(&out, "eval error: %s\n", err)
						continue
					}
					fmt.Fprintf(&out, "%s : %s\n", showValue(v, x.Type(), loc), x.Type())
				case "explain":
					fmt.Fprintf(&out, "%s : %s\n", x, x.Type())
				case "const":
					fmt.Fprintf(&out, "%v\n", IsConstant(x))
				default:
					t.Fatalf("unknown command %s", d.Cmd)
				}
			}
			return out.String()
		})
	})
}

func showValue(v types.Value, t types.Type, loc *time.Location) string {
	s := string(types.AppendSQL(nil, v, t, loc))
	if !v.IsNull() && (t.IsString() || v.T == types.TagString) {
		return string(appendQuoted(nil, s))
	}
	return s
}

// builder parses one s-expression into an Expr, collecting column values into row.
type builder struct {
	env  *Env
	row  []types.Value
	toks []string
	pos  int
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated string in %q", s)
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated name in %q", s)
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			depth := 0
			for j < len(s) && (s[j] != ' ' && s[j] != ')' || depth > 0) {
				// type names like DECIMAL(10,2) keep their parentheses
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
				}
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func (b *builder) parse(s string) (Expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	b.toks = toks
	x, err := b.expr()
	if err != nil {
		return nil, err
	}
	if b.pos != len(b.toks) {
		return nil, fmt.Errorf("trailing tokens %v", b.toks[b.pos:])
	}
	return x, nil
}

func (b *builder) next() string {
	if b.pos >= len(b.toks) {
		return ""
	}
	t := b.toks[b.pos]
	b.pos++
	return t
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

func (b *builder) expr() (Expr, error) {
	tok := b.next()
	if tok != "(" {
		return nil, fmt.Errorf("expected ( got %q", tok)
	}
	head := unquote(b.next())
	var words []string
	var args, ordered []Expr // ordered also holds bare words as string literals, in place
	for b.pos < len(b.toks) && b.toks[b.pos] != ")" {
		if b.toks[b.pos] == "(" {
			x, err := b.expr()
			if err != nil {
				return nil, err
			}
			args, ordered = append(args, x), append(ordered, x)
		} else {
			w := b.next()
			words = append(words, w)
			u := unquote(w)
			ordered = append(ordered, Literal(types.StringValue(u), types.CharType(max(1, len([]rune(u)))).WithNullable(false)))
		}
	}
	if b.next() != ")" {
		return nil, fmt.Errorf("missing )")
	}
	lit := func(v types.Value, t types.Type) (Expr, error) { return Literal(v, t.WithNullable(false)), nil }
	word := ""
	if len(words) > 0 {
		word = unquote(strings.Join(words, " "))
	}
	switch head {
	case "int", "bigint", "tinyint", "smallint":
		i, err := strconv.ParseInt(word, 10, 64)
		if err != nil {
			return nil, err
		}
		t := map[string]types.Type{"int": types.IntType(), "bigint": types.BigIntType(),
			"tinyint": types.TinyIntType(), "smallint": types.SmallIntType()}[head]
		return lit(types.IntValue(i), t)
	case "double", "float":
		f, err := strconv.ParseFloat(word, 64)
		if err != nil {
			return nil, err
		}
		if head == "float" {
			return lit(types.FloatValue(float64(float32(f))), types.FloatType())
		}
		return lit(types.FloatValue(f), types.DoubleType())
	case "decimal":
		v, err := types.ParseDecimal(word)
		if err != nil {
			return nil, err
		}
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(word), "0")
		p := max(len(digits), v.DecimalScale(), 1)
		return lit(v, types.DecimalType(p, v.DecimalScale()))
	case "str":
		if word == "" {
			return lit(types.StringValue(""), types.VarCharType(0))
		}
		return lit(types.StringValue(word), types.CharType(len([]rune(word))))
	case "string":
		return lit(types.StringValue(word), types.StringType())
	case "bytes":
		return lit(types.BytesValue([]byte(word)), types.Type{Kind: types.Binary, Length: max(1, len(word))})
	case "bool":
		return lit(types.BoolValue(strings.EqualFold(word, "true")), types.BooleanType())
	case "null":
		if word == "" {
			return Literal(types.NullValue, types.NullType()), nil
		}
		t, err := parseType(word)
		if err != nil {
			return nil, err
		}
		return Literal(types.NullValue, t), nil
	case "date":
		v, err := types.ParseDate(word)
		if err != nil {
			return nil, err
		}
		return lit(v, types.DateType())
	case "time":
		v, err := types.ParseTime(word)
		if err != nil {
			return nil, err
		}
		return lit(v, types.TimeType(0))
	case "ts", "ltz":
		v, err := types.ParseTimestamp(word, 9)
		if err != nil {
			return nil, err
		}
		p := 3
		if i := strings.LastIndexByte(word, '.'); i > 0 {
			p = max(3, len(word)-i-1)
		}
		if head == "ltz" {
			return lit(v, types.TimestampLTZType(p))
		}
		return lit(v, types.TimestampType(p))
	case "ym", "dt":
		i, err := strconv.ParseInt(word, 10, 64)
		if err != nil {
			return nil, err
		}
		k := types.IntervalYearMonth
		if head == "dt" {
			k = types.IntervalDayTime
		}
		return lit(types.IntValue(i), types.Type{Kind: k})
	case "col":
		if len(words) < 3 {
			return nil, fmt.Errorf("col needs name, type and value")
		}
		t, err := parseType(words[1])
		if err != nil {
			return nil, err
		}
		val := unquote(strings.Join(words[2:], " "))
		v := types.NullValue
		if strings.Join(words[2:], " ") != "NULL" {
			if v, err = types.Cast(types.StringValue(val), types.StringType(), t, b.env.Location); err != nil {
				return nil, err
			}
		}
		b.row = append(b.row, v)
		return Column(len(b.row)-1, unquote(words[0]), t), nil
	case "cast", "try_cast":
		if len(args) != 1 {
			return nil, fmt.Errorf("cast needs one operand")
		}
		t, err := parseType(word)
		if err != nil {
			return nil, err
		}
		return Cast(b.env, args[0], t, head == "try_cast")
	case "case":
		var conds, results []Expr
		var els Expr
		for i := 0; i+1 < len(args); i += 2 {
			conds, results = append(conds, args[i]), append(results, args[i+1])
		}
		if len(args)%2 == 1 {
			els = args[len(args)-1]
		}
		return CaseWhen(conds, results, els)
	case "in", "notin":
		if len(args) < 2 {
			return nil, fmt.Errorf("in needs a value and a list")
		}
		return In(args[0], args[1:], head == "notin")
	}
	// A call; bare words are string literals (units, TRIM modes, patterns).
	return Call(b.env, head, ordered...)
}

// parseType parses test type names: INT, STRING, VARCHAR(5), CHAR(3), DECIMAL(10,2), TIMESTAMP(3),
// TIMESTAMP_LTZ(3), TIME(0), DATE, BOOLEAN, DOUBLE, FLOAT, TINYINT, SMALLINT, BIGINT, BYTES, ARRAY<INT>,
// MAP<STRING,INT>; a trailing ! means NOT NULL.
func parseType(s string) (types.Type, error) {
	notNull := strings.HasSuffix(s, "!")
	s = strings.TrimSuffix(s, "!")
	t, err := parseType0(s)
	if err != nil {
		return t, err
	}
	return t.WithNullable(!notNull), nil
}

func parseType0(s string) (types.Type, error) {
	name, params := s, []int(nil)
	if strings.HasPrefix(s, "ARRAY<") && strings.HasSuffix(s, ">") {
		e, err := parseType(s[6 : len(s)-1])
		return types.ArrayType(e), err
	}
	if strings.HasPrefix(s, "MAP<") && strings.HasSuffix(s, ">") {
		parts := strings.SplitN(s[4:len(s)-1], ",", 2)
		k, err := parseType(parts[0])
		if err != nil {
			return k, err
		}
		v, err := parseType(parts[1])
		return types.MapType(k, v), err
	}
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		name = s[:i]
		for _, p := range strings.Split(s[i+1:len(s)-1], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return types.Type{}, err
			}
			params = append(params, n)
		}
	}
	param := func(i, def int) int {
		if i < len(params) {
			return params[i]
		}
		return def
	}
	switch name {
	case "BOOLEAN":
		return types.BooleanType(), nil
	case "TINYINT":
		return types.TinyIntType(), nil
	case "SMALLINT":
		return types.SmallIntType(), nil
	case "INT", "INTEGER":
		return types.IntType(), nil
	case "BIGINT":
		return types.BigIntType(), nil
	case "FLOAT":
		return types.FloatType(), nil
	case "DOUBLE":
		return types.DoubleType(), nil
	case "DECIMAL":
		return types.DecimalType(param(0, 10), param(1, 0)), nil
	case "STRING":
		return types.StringType(), nil
	case "VARCHAR":
		return types.VarCharType(param(0, 1)), nil
	case "CHAR":
		return types.CharType(param(0, 1)), nil
	case "BYTES":
		return types.BytesType(), nil
	case "DATE":
		return types.DateType(), nil
	case "TIME":
		return types.TimeType(param(0, 0)), nil
	case "TIMESTAMP":
		return types.TimestampType(param(0, 6)), nil
	case "TIMESTAMP_LTZ":
		return types.TimestampLTZType(param(0, 6)), nil
	case "INTERVAL_DAY_TIME":
		return types.Type{Kind: types.IntervalDayTime}, nil
	case "INTERVAL_YEAR_MONTH":
		return types.Type{Kind: types.IntervalYearMonth}, nil
	}
	return types.Type{}, fmt.Errorf("unknown type %q", s)
}
