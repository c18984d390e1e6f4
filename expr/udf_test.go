package expr_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

func TestRatToDecimal(t *testing.T) {
	for _, c := range []struct {
		r    *big.Rat
		p, s int
		want string
	}{
		{big.NewRat(1, 3), 10, 2, "0.33"},
		{big.NewRat(2, 3), 10, 2, "0.67"},
		{big.NewRat(-1, 8), 10, 2, "-0.13"},
		{big.NewRat(5, 1000), 10, 2, "0.01"},
		{big.NewRat(12345, 1), 10, 0, "12345"},
	} {
		v, err := expr.RatToDecimal(c.r, c.p, c.s)
		if err != nil || types.DecimalString(v) != c.want {
			t.Errorf("%s to DECIMAL(%d, %d): got %s, %v; want %s", c.r, c.p, c.s, types.DecimalString(v), err, c.want)
		}
	}
	if _, err := expr.RatToDecimal(big.NewRat(1000, 1), 3, 1); err == nil || !strings.Contains(err.Error(), "does not fit DECIMAL(3, 1)") {
		t.Errorf("overflow: %v", err)
	}
}

// A session function shadows a built-in of the same name; without Env.Functions the built-in is used.
func TestUDFShadowsBuiltin(t *testing.T) {
	u, err := expr.NewUDF("upper", func(s string) string { return "udf:" + s })
	if err != nil {
		t.Fatal(err)
	}
	arg := expr.Literal(types.StringValue("a"), types.StringType())
	env := expr.NewEnv(nil)
	env.Functions = map[string]*expr.UDF{u.Name(): u}
	for _, c := range []struct {
		env  *expr.Env
		want string
	}{{env, "udf:a"}, {expr.NewEnv(nil), "A"}} {
		x, err := expr.Call(c.env, "Upper", arg)
		if err != nil {
			t.Fatal(err)
		}
		v, err := x.Eval(nil)
		if err != nil || v.Str() != c.want {
			t.Errorf("got %q, %v; want %q", v.Str(), err, c.want)
		}
	}
}
