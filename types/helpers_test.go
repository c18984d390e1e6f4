package types

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests use named zones
)

// parseTypeString parses the type syntax of Type.String() (and a few aliases) for test files:
// INT, DECIMAL(10, 2), VARCHAR(5), TIMESTAMP_LTZ(3), ARRAY<INT>, MAP<STRING, INT>, ROW<a INT, b STRING>,
// with an optional NOT NULL.
func parseTypeString(s string) (Type, error) {
	p := &typeParser{s: s}
	t, err := p.parse()
	if err != nil {
		return Type{}, err
	}
	p.skip()
	if p.i != len(p.s) {
		return Type{}, fmt.Errorf("type %q: trailing text %q", s, p.s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) skip() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *typeParser) word() string {
	p.skip()
	st := p.i
	for p.i < len(p.s) && (p.s[p.i] == '_' || p.s[p.i] == '`' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z' ||
		p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= '0' && p.s[p.i] <= '9') {
		p.i++
	}
	return strings.Trim(p.s[st:p.i], "`")
}

func (p *typeParser) peek(c byte) bool {
	p.skip()
	return p.i < len(p.s) && p.s[p.i] == c
}

func (p *typeParser) expect(c byte) error {
	if !p.peek(c) {
		return fmt.Errorf("type %q: expected %q at %d", p.s, c, p.i)
	}
	p.i++
	return nil
}

// params reads an optional (a[, b]).
func (p *typeParser) params() ([]int, error) {
	if !p.peek('(') {
		return nil, nil
	}
	p.i++
	var out []int
	for {
		n, err := strconv.Atoi(p.word())
		if err != nil {
			return nil, fmt.Errorf("type %q: %v", p.s, err)
		}
		out = append(out, n)
		if p.peek(',') {
			p.i++
			continue
		}
		return out, p.expect(')')
	}
}

func (p *typeParser) parse() (Type, error) {
	w := strings.ToUpper(p.word())
	ps, err := p.params()
	if err != nil {
		return Type{}, err
	}
	arg := func(i, def int) int {
		if i < len(ps) {
			return ps[i]
		}
		return def
	}
	var t Type
	switch w {
	case "NULL":
		t = NullType()
	case "BOOLEAN":
		t = BooleanType()
	case "TINYINT":
		t = TinyIntType()
	case "SMALLINT":
		t = SmallIntType()
	case "INT", "INTEGER":
		t = IntType()
	case "BIGINT":
		t = BigIntType()
	case "FLOAT":
		t = FloatType()
	case "DOUBLE":
		t = DoubleType()
	case "DECIMAL":
		t = DecimalType(arg(0, 10), arg(1, 0))
	case "CHAR":
		t = CharType(arg(0, 1))
	case "VARCHAR":
		t = VarCharType(arg(0, 1))
	case "STRING":
		t = StringType()
	case "BINARY":
		t = Type{Kind: Binary, Length: arg(0, 1)}
	case "VARBINARY":
		t = Type{Kind: VarBinary, Length: arg(0, 1)}
	case "BYTES":
		t = BytesType()
	case "DATE":
		t = DateType()
	case "TIME":
		t = TimeType(arg(0, 0))
	case "TIMESTAMP":
		t = TimestampType(arg(0, 6))
	case "TIMESTAMP_LTZ":
		t = TimestampLTZType(arg(0, 6))
	case "INTERVAL_YM":
		t = Type{Kind: IntervalYearMonth}
	case "INTERVAL_DT":
		t = Type{Kind: IntervalDayTime}
	case "ARRAY", "MULTISET":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		e, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		t = ArrayType(e)
		if w == "MULTISET" {
			t = MultisetType(e)
		}
	case "MAP":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		k, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect(','); err != nil {
			return Type{}, err
		}
		v, err := p.parse()
		if err != nil {
			return Type{}, err
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		t = MapType(k, v)
	case "ROW":
		if err := p.expect('<'); err != nil {
			return Type{}, err
		}
		var fs []Field
		for {
			name := p.word()
			ft, err := p.parse()
			if err != nil {
				return Type{}, err
			}
			fs = append(fs, Field{Name: name, Type: ft})
			if p.peek(',') {
				p.i++
				continue
			}
			break
		}
		if err := p.expect('>'); err != nil {
			return Type{}, err
		}
		t = RowType(fs...)
	default:
		return Type{}, fmt.Errorf("type %q: unknown type %q", p.s, w)
	}
	save := p.i
	if strings.ToUpper(p.word()) == "NOT" && strings.ToUpper(p.word()) == "NULL" {
		t.NotNull = true
	} else {
		p.i = save
	}
	return t, nil
}

func mustType(t testing.TB, s string) Type {
	t.Helper()
	ty, err := parseTypeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestParseTypeStringRoundTrip(t *testing.T) {
	for _, s := range []string{"INT", "DECIMAL(10, 2) NOT NULL", "STRING", "VARCHAR(5)", "TIMESTAMP_LTZ(3)",
		"ARRAY<INT NOT NULL>", "MAP<STRING, BYTES>", "ROW<`a` INT, `b` ARRAY<STRING>>", "MULTISET<DOUBLE>"} {
		if got := mustType(t, s).String(); got != s {
			t.Errorf("parse(%q).String() = %q", s, got)
		}
	}
}
