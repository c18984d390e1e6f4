package wasmudf

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// countCharGo is the example module's function (examples/wasm/count_char/count.go) as a Go UDF.
func countCharGo(s, c string) int32 {
	if c == "" {
		return 0
	}
	r := []rune(c)[0]
	if r < 0x80 {
		return int32(strings.Count(s, c[:1]))
	}
	return int32(strings.Count(s, string(r)))
}

// benchCall binds COUNT_CHAR(s, 'a') over a one-column row and evaluates it b.N times: the cost of a call
// from SQL, argument conversion included.
func benchCall(b *testing.B, u *expr.UDF, s string) {
	env := expr.NewEnv(nil)
	env.Functions = map[string]*expr.UDF{u.Name(): u}
	call, err := expr.Call(env, "COUNT_CHAR", expr.Column(0, "s", types.StringType()), expr.Literal(types.StringValue("a"), types.StringType()))
	if err != nil {
		b.Fatal(err)
	}
	row := []types.Value{types.StringValue(s)}
	want := int64(strings.Count(s, "a"))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		v, err := call.Eval(row)
		if err != nil || v.Int() != want {
			b.Fatalf("COUNT_CHAR = %v, %v; want %d", v, err, want)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// The auction URL-like strings of Nexmark q14 are some 30 to 100 characters long.
var benchInput = "https://www.nexmark.com/abc/item.htm?query=1&channel_id=aaabbb"

func BenchmarkCountCharWASM(b *testing.B) {
	b.Run("timeout=2s", func(b *testing.B) { benchWASM(b, testCfg) })
	cfg := testCfg
	cfg.CallTimeout = 0
	b.Run("timeout=0", func(b *testing.B) { benchWASM(b, cfg) })
}

func benchWASM(b *testing.B, cfg Config) {
	u, f, err := Load(context.Background(), "count_char", "count_char", buildModule(b, "../../examples/wasm/count_char"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	benchCall(b, u, benchInput)
}

func BenchmarkCountCharGo(b *testing.B) {
	u, err := expr.NewUDF("count_char", countCharGo)
	if err != nil {
		b.Fatal(err)
	}
	benchCall(b, u, benchInput)
}
