package types

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// splitTop splits s at ", " outside brackets.
func splitTop(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{', '(', '<':
			depth++
		case ']', '}', ')', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// parseLiteral builds a value of type t from test text: NULL; x'0aff' for binary; [a, b] for arrays;
// {k=v} for maps; (a, b) for rows; 'text' quoted strings keep spaces; anything else is
// CAST('text' AS t) in UTC.
func parseLiteral(s string, t Type) (Value, error) {
	if s == "NULL" {
		return NullValue, nil
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	switch t.Kind {
	case Array, Multiset:
		if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
			return NullValue, fmt.Errorf("array literal %q", s)
		}
		var out []Value
		for _, e := range splitTop(s[1 : len(s)-1]) {
			v, err := parseLiteral(e, *t.Elem)
			if err != nil {
				return NullValue, err
			}
			out = append(out, v)
		}
		return ArrayValue(out), nil
	case Map:
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
			return NullValue, fmt.Errorf("map literal %q", s)
		}
		m := &MapValue{}
		for _, e := range splitTop(s[1 : len(s)-1]) {
			k, v, ok := strings.Cut(e, "=")
			if !ok {
				return NullValue, fmt.Errorf("map entry %q", e)
			}
			kv, err := parseLiteral(k, *t.Key)
			if err != nil {
				return NullValue, err
			}
			vv, err := parseLiteral(v, *t.Elem)
			if err != nil {
				return NullValue, err
			}
			m.Keys = append(m.Keys, kv)
			m.Vals = append(m.Vals, vv)
		}
		return MapOf(m), nil
	case Row:
		if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
			return NullValue, fmt.Errorf("row literal %q", s)
		}
		parts := splitTop(s[1 : len(s)-1])
		if len(parts) != len(t.Fields) {
			return NullValue, fmt.Errorf("row literal %q: %d fields, want %d", s, len(parts), len(t.Fields))
		}
		out := make([]Value, len(parts))
		for i, p := range parts {
			v, err := parseLiteral(p, t.Fields[i].Type)
			if err != nil {
				return NullValue, err
			}
			out[i] = v
		}
		return RowValue(out), nil
	case Binary, VarBinary:
		if strings.HasPrefix(s, "x'") && strings.HasSuffix(s, "'") {
			b, err := hex.DecodeString(s[2 : len(s)-1])
			if err != nil {
				return NullValue, err
			}
			return BytesValue(b), nil
		}
	case IntervalYearMonth, IntervalDayTime:
		v, err := Cast(StringValue(s), StringType(), BigIntType(), time.UTC)
		return v, err
	}
	return Cast(StringValue(s), StringType(), t, time.UTC)
}

// TestDataDriven runs testdata/{format,cast,typerules}. Rewrite with -rewrite.
//
//	print [tz=Zone]           first input line is a type, then one literal per line;
//	                          output: literal => AppendSQL text [| AppendPrint text when it differs]
//	cast [tz=Zone]            first line "FROM -> TO", then literals; output: literal => result or error
//	common                    each line a list of types; output: CommonType
//	arith                     each line "T1 op T2"; output: ArithmeticType
//	implicit / explicit       each line "FROM -> TO"; output: ImplicitCastSupported / CastSupported
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			loc := time.UTC
			for _, a := range d.CmdArgs {
				if a.Key == "tz" {
					loc = mustLoc(t, a.Vals[0])
				}
			}
			lines := strings.Split(strings.TrimSpace(d.Input), "\n")
			var b strings.Builder
			switch d.Cmd {
			case "print":
				ty := mustType(t, lines[0])
				for _, l := range lines[1:] {
					v, err := parseLiteral(l, ty)
					if err != nil {
						fmt.Fprintf(&b, "%s => error: %v\n", l, err)
						continue
					}
					sql := string(AppendSQL(nil, v, ty, loc))
					pr := string(AppendPrint(nil, v, ty, loc))
					if sql == pr {
						fmt.Fprintf(&b, "%s => %s\n", l, sql)
					} else {
						fmt.Fprintf(&b, "%s => %s | print %s\n", l, sql, pr)
					}
				}
			case "cast":
				from, to, ok := strings.Cut(lines[0], "->")
				if !ok {
					d.Fatalf(t, "want FROM -> TO")
				}
				ft, tt := mustType(t, strings.TrimSpace(from)), mustType(t, strings.TrimSpace(to))
				if !CastSupported(ft, tt) {
					b.WriteString("(CastSupported = false)\n")
				}
				for _, l := range lines[1:] {
					v, err := parseLiteral(l, ft)
					if err != nil {
						fmt.Fprintf(&b, "%s => bad literal: %v\n", l, err)
						continue
					}
					r, err := Cast(v, ft, tt, loc)
					if err != nil {
						fmt.Fprintf(&b, "%s => error: %v\n", l, err)
						continue
					}
					fmt.Fprintf(&b, "%s => %s\n", l, AppendPrint(nil, r, tt, loc))
				}
			case "common":
				for _, l := range lines {
					var ts []Type
					for _, p := range strings.Split(l, ";") {
						ts = append(ts, mustType(t, strings.TrimSpace(p)))
					}
					r, ok := CommonType(ts...)
					if !ok {
						fmt.Fprintf(&b, "%s => incompatible\n", l)
					} else {
						fmt.Fprintf(&b, "%s => %s\n", l, r)
					}
				}
			case "arith":
				for _, l := range lines {
					// the operator is the first of + - * / % surrounded by spaces
					var left, op, right string
					for _, o := range []string{" + ", " - ", " * ", " / ", " % "} {
						if i := strings.Index(l, o); i >= 0 {
							left, op, right = l[:i], strings.TrimSpace(o), l[i+len(o):]
							break
						}
					}
					r, err := ArithmeticType(op, mustType(t, left), mustType(t, right))
					if err != nil {
						fmt.Fprintf(&b, "%s => error: %v\n", l, err)
					} else {
						fmt.Fprintf(&b, "%s => %s\n", l, r)
					}
				}
			case "implicit", "explicit":
				for _, l := range lines {
					from, to, _ := strings.Cut(l, "->")
					ft, tt := mustType(t, strings.TrimSpace(from)), mustType(t, strings.TrimSpace(to))
					ok := ImplicitCastSupported(ft, tt)
					if d.Cmd == "explicit" {
						ok = CastSupported(ft, tt)
					}
					fmt.Fprintf(&b, "%s => %v\n", l, ok)
				}
			case "agg":
				for _, l := range lines {
					ty := mustType(t, l)
					fmt.Fprintf(&b, "%s => SUM %s, AVG %s\n", l, SumResultType(ty), AvgResultType(ty))
				}
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			return b.String()
		})
	})
}
