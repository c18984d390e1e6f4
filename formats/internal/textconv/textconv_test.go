package textconv

import (
	"strconv"
	"testing"

	"github.com/sluicesql/sluice/types"
)

func TestParseDecimal(t *testing.T) {
	for _, c := range []struct {
		in   string
		p, s int
		want string
		res  Result
	}{
		{"12.345", 10, 2, "1235/2", OK},
		{"-12.345", 10, 2, "-1235/2", OK},
		{"12.344", 10, 2, "1234/2", OK},
		{"1e3", 10, 2, "100000/2", OK},
		{"1.5E-1", 10, 2, "15/2", OK},
		{"0.005", 10, 2, "1/2", OK},
		{"0.004", 10, 2, "0/2", OK},
		{"123456789", 5, 0, "", OutOfRange},
		{"99999.995", 7, 2, "", OutOfRange},
		{"12345678901234567890.5", 38, 1, "123456789012345678905/1", OK},
		{"1e30", 38, 2, "100000000000000000000000000000000/2", OK},
		{"1e-30", 38, 2, "0/2", OK},
		{"abc", 10, 2, "", Invalid},
		{"1.2.3", 10, 2, "", Invalid},
		{" 7 ", 10, 0, "7/0", OK},
	} {
		v, res := ParseDecimal([]byte(c.in), c.p, c.s, true)
		if res != c.res {
			t.Errorf("%s: result %v want %v", c.in, res, c.res)
			continue
		}
		if res == OK {
			if got := v.DecimalBig().String() + "/" + itoa(v.DecimalScale()); got != c.want {
				t.Errorf("%s: got %s want %s", c.in, got, c.want)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestParseInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		k    types.Kind
		str  bool
		want int64
		res  Result
	}{
		{"127", types.TinyInt, false, 127, OK},
		{"128", types.TinyInt, false, 0, OutOfRange},
		{"-9223372036854775808", types.BigInt, false, -9223372036854775808, OK},
		{"9223372036854775808", types.BigInt, false, 0, OutOfRange},
		{"1.9", types.Int, false, 1, OK},
		{"-1.9e1", types.Int, false, -19, OK},
		{"1.9", types.Int, true, 0, Invalid},
		{" 42 ", types.Int, true, 42, OK},
		{"", types.Int, true, 0, Invalid},
		{"99999999999999999999999", types.BigInt, false, 0, OutOfRange},
	} {
		v, res := ParseInt([]byte(c.in), c.k, c.str)
		if res != c.res || v != c.want {
			t.Errorf("%q: got %d %v want %d %v", c.in, v, res, c.want, c.res)
		}
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, c := range []struct {
		u     int64
		scale int
		sci   string
		plain string
	}{
		{12345, 2, "123.45", "123.45"},
		{-5, 3, "-0.005", "-0.005"},
		{27, 9, "2.7E-8", "0.000000027"},
		{1, 7, "1E-7", "0.0000001"},
		{0, 2, "0.00", "0.00"},
		{100, 0, "100", "100"},
	} {
		v := types.DecimalValue(c.u, c.scale)
		if got := string(AppendDecimal(nil, v, true)); got != c.sci {
			t.Errorf("%d/%d sci: %s want %s", c.u, c.scale, got, c.sci)
		}
		if got := string(AppendDecimal(nil, v, false)); got != c.plain {
			t.Errorf("%d/%d plain: %s want %s", c.u, c.scale, got, c.plain)
		}
	}
}
