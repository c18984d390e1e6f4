package sql

import (
	"fmt"
	"strconv"

	"github.com/sluicesql/sluice/types"
)

// ParseDataType parses a Flink SQL data type, e.g. "DECIMAL(10, 2) NOT NULL" or "ROW<a INT, b STRING>".
func ParseDataType(text string) (t types.Type, err error) {
	defer recoverInto(&err, text)
	toks, lerr := lex(text)
	if lerr != nil {
		return types.Type{}, lerr
	}
	p := newParser(text, toks, nil)
	t = p.dataType()
	if p.tok().kind != tokEOF {
		p.unexpected()
	}
	if p.err != nil {
		return types.Type{}, p.err
	}
	return t, nil
}

// typeNames are the type keywords, for "did you mean" suggestions.
var typeNames = []string{"ARRAY", "BIGINT", "BINARY", "BOOLEAN", "BYTES", "CHAR", "DATE", "DECIMAL", "DOUBLE",
	"FLOAT", "INT", "INTEGER", "INTERVAL", "MAP", "MULTISET", "NUMERIC", "REAL", "ROW", "SMALLINT", "STRING",
	"TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "TINYINT", "VARBINARY", "VARCHAR"}

// dataType parses a type with its suffixes: T ARRAY, T MULTISET, NOT NULL, NULL.
func (p *parser) dataType() types.Type {
	if !p.enter() {
		return types.Type{Kind: types.Null}
	}
	defer p.leave()
	t := p.baseType()
	for p.err == nil {
		switch {
		case p.peekKw("NOT") && p.peekN(1).isKw("NULL"):
			p.advance()
			p.advance()
			t.NotNull = true
		case p.peekKw("NULL") && t.Kind != types.Null:
			p.advance()
			t.NotNull = false
		case p.peekKw("ARRAY"):
			p.advance()
			t = types.ArrayType(t)
		case p.peekKw("MULTISET"):
			p.advance()
			t = types.MultisetType(t)
		default:
			return t
		}
	}
	return t
}

// typeArgs parses an optional ( n ) or ( n, m ); it returns the numbers and their positions.
func (p *parser) typeArgs(max int) ([]int, []Pos) {
	if !p.peekOp("(") {
		return nil, nil
	}
	p.advance()
	var ns []int
	var ps []Pos
	for p.err == nil {
		t := p.tok()
		if t.kind != tokInt {
			p.want("<integer>")
			p.unexpected()
			break
		}
		p.advance()
		n, err := strconv.Atoi(t.text)
		if err != nil || n > types.MaxLength {
			n = -1 // out of range for every type
		}
		ns = append(ns, n)
		ps = append(ps, t.pos)
		if len(ns) == max || !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return ns, ps
}

func (p *parser) lengthArg(name string) int { return p.lengthArgOr(name, 1) }

// varLengthArg is lengthArg for VARCHAR and VARBINARY: without a length they are STRING and BYTES, as in
// Flink's SQL DDL (its type system's default precision for both is the maximum; only the Java API's
// DataTypes.VARCHAR() defaults to 1).
func (p *parser) varLengthArg(name string) int { return p.lengthArgOr(name, types.MaxLength) }

func (p *parser) lengthArgOr(name string, def int) int {
	ns, ps := p.typeArgs(1)
	if len(ns) == 0 {
		return def
	}
	if ns[0] < 1 {
		p.fail(ps[0], "%s length must be between 1 and %d (both inclusive).", name, types.MaxLength)
		return 1
	}
	return ns[0]
}

func (p *parser) precisionArg(name string, def, lo, hi int) int {
	ns, ps := p.typeArgs(1)
	if len(ns) == 0 {
		return def
	}
	if ns[0] < lo || ns[0] > hi {
		p.fail(ps[0], "%s precision must be between %d and %d (both inclusive).", name, lo, hi)
		return def
	}
	return ns[0]
}

func (p *parser) baseType() types.Type {
	t := p.tok()
	if t.kind == tokQuoted || t.kind != tokIdent {
		p.want("<data type>")
		p.unexpected()
		return types.Type{Kind: types.Null}
	}
	p.advance()
	switch t.upper {
	case "BOOLEAN":
		return types.BooleanType()
	case "TINYINT":
		return types.TinyIntType()
	case "SMALLINT":
		return types.SmallIntType()
	case "INT", "INTEGER":
		return types.IntType()
	case "BIGINT":
		return types.BigIntType()
	case "FLOAT", "REAL":
		return types.FloatType()
	case "DOUBLE":
		p.acceptKw("PRECISION")
		return types.DoubleType()
	case "DECIMAL", "DEC", "NUMERIC":
		ns, ps := p.typeArgs(2)
		prec, scale := 10, 0
		if len(ns) > 0 {
			prec = ns[0]
			if prec < 1 || prec > 38 {
				p.fail(ps[0], "Decimal precision must be between 1 and 38 (both inclusive).")
				return types.DecimalType(10, 0)
			}
		}
		if len(ns) > 1 {
			scale = ns[1]
			if scale < 0 || scale > prec {
				p.fail(ps[1], "Decimal scale must be between 0 and the precision %d (both inclusive).", prec)
				return types.DecimalType(prec, 0)
			}
		}
		return types.DecimalType(prec, scale)
	case "CHAR", "CHARACTER":
		if p.acceptKw("VARYING") {
			return types.VarCharType(p.varLengthArg("Variable character string"))
		}
		return types.CharType(p.lengthArg("Character string"))
	case "VARCHAR":
		return types.VarCharType(p.varLengthArg("Variable character string"))
	case "STRING":
		return types.StringType()
	case "BINARY":
		if p.acceptKw("VARYING") {
			return types.Type{Kind: types.VarBinary, Length: p.varLengthArg("Variable binary string")}
		}
		return types.Type{Kind: types.Binary, Length: p.lengthArg("Binary string")}
	case "VARBINARY":
		return types.Type{Kind: types.VarBinary, Length: p.varLengthArg("Variable binary string")}
	case "BYTES":
		return types.BytesType()
	case "DATE":
		return types.DateType()
	case "TIME":
		prec := p.precisionArg("Time", 0, 0, 9)
		if p.acceptKw("WITHOUT") {
			p.expectKw("TIME", "ZONE")
		}
		return types.TimeType(prec)
	case "TIMESTAMP":
		prec := p.precisionArg("Timestamp", 6, 0, 9)
		switch {
		case p.acceptKw("WITHOUT"):
			p.expectKw("TIME", "ZONE")
		case p.peekKw("WITH") && p.peekN(1).isKw("LOCAL"):
			p.advance()
			p.expectKw("LOCAL", "TIME", "ZONE")
			return types.TimestampLTZType(prec)
		case p.peekKw("WITH") && p.peekN(1).isKw("TIME"):
			p.fail(p.pos(), "TIMESTAMP WITH TIME ZONE is not supported; use TIMESTAMP_LTZ (TIMESTAMP WITH LOCAL TIME ZONE)")
		}
		return types.TimestampType(prec)
	case "TIMESTAMP_LTZ":
		return types.TimestampLTZType(p.precisionArg("Timestamp", 6, 0, 9))
	case "INTERVAL":
		return p.intervalType()
	case "ARRAY", "MULTISET":
		p.expectOp("<")
		elem := p.dataType()
		p.expectOp(">")
		if t.upper == "ARRAY" {
			return types.ArrayType(elem)
		}
		return types.MultisetType(elem)
	case "MAP":
		p.expectOp("<")
		k := p.dataType()
		p.expectOp(",")
		v := p.dataType()
		p.expectOp(">")
		return types.MapType(k, v)
	case "ROW":
		return p.rowType()
	case "NULL":
		return types.NullType()
	case "RAW", "STRUCTURED":
		p.fail(t.pos, "%s types are not supported", t.upper)
		return types.Type{Kind: types.Null}
	}
	msg := fmt.Sprintf("Unknown data type '%s'", t.text)
	if s := suggest(t.upper, typeNames); s != "" {
		msg += "; did you mean " + s + "?"
	}
	p.fail(t.pos, "%s", msg)
	return types.Type{Kind: types.Null}
}

func (p *parser) rowType() types.Type {
	closer := ")"
	switch {
	case p.peekOp("<>"): // ROW<> lexes as one token
		p.advance()
		return types.RowType()
	case p.peekOp("<"):
		closer = ">"
	case p.peekOp("("):
	default:
		p.want(`"<"`)
		p.want(`"("`)
		p.unexpected()
		return types.RowType()
	}
	p.advance()
	var fields []types.Field
	if !p.peekOp(closer) {
		for p.err == nil {
			name := p.ident()
			f := types.Field{Name: name.Name, Type: p.dataType()}
			if p.tok().kind == tokString {
				f.Description = p.advance().text
			}
			for _, g := range fields {
				if g.Name == f.Name && p.err == nil {
					p.fail(name.P, "Duplicate field name '%s' in ROW type", f.Name)
				}
			}
			fields = append(fields, f)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	p.expectOp(closer)
	return types.RowType(fields...)
}

// intervalType parses INTERVAL YEAR [TO MONTH], INTERVAL DAY [TO SECOND(p)] and the other qualifiers.
func (p *parser) intervalType() types.Type {
	from, _ := p.intervalUnit(true)
	to := ""
	frac := 6
	if p.peekKw("TO") {
		tt := p.advance()
		to, _ = p.intervalUnitFrac(&frac)
		if p.err == nil && !validIntervalRange(from, to) {
			p.fail(tt.pos, "Illegal interval qualifier %s TO %s", from, to)
		}
	}
	if from == "YEAR" || from == "MONTH" {
		return types.Type{Kind: types.IntervalYearMonth}
	}
	return types.Type{Kind: types.IntervalDayTime, Precision: frac}
}

// intervalUnitFrac parses the end unit of an interval type; SECOND(p) sets the fractional precision.
func (p *parser) intervalUnitFrac(frac *int) (string, int) {
	t := p.tok()
	u, ok := intervalUnits[t.upper]
	if t.kind != tokIdent || !ok {
		for _, w := range []string{"MONTH", "HOUR", "MINUTE", "SECOND"} {
			p.want(`"` + w + `"`)
		}
		p.unexpected()
		return "SECOND", 0
	}
	p.advance()
	if p.peekOp("(") {
		p.advance()
		*frac = p.smallInt(0, 9, "Interval fractional second precision")
		p.expectOp(")")
	}
	return u, 0
}

// suggest returns the candidate closest to word (edit distance at most 2), or "".
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
