package exec

import (
	"fmt"
	"math"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// BenchmarkCalcVecFns compares the row path and the kernels (over columnar input) for ROUND, FLOOR, LPAD,
// GREATEST, TIMESTAMPADD / TIMESTAMPDIFF and the kernels of session 19 (places column, epoch floats, IN
// lists, pattern and escape columns, UNIX_TIMESTAMP(), EXTRACT of an interval) and of session 20 (IN over
// constant DOUBLE, DECIMAL and TIMESTAMP lists, DATE_FORMAT's week, quarter and zone letters) and of session 21 (lazy COALESCE, IF, CASE), 65,536 rows in batches of
// 1024. Reported as ns/row; a case without a kernel is skipped on the vector path (the Calc then runs on
// rows).
func BenchmarkCalcVecFns(b *testing.B) {
	const rows, batch = 65536, 1024
	env := expr.NewEnv(nil)
	price := expr.Column(0, "price", types.DecimalType(10, 2))
	bid := expr.Column(1, "bid", types.DoubleType())
	channel := expr.Column(2, "channel", types.StringType())
	auction := expr.Column(3, "auction", types.BigIntType())
	dt := expr.Column(4, "dt", types.TimestampType(3))
	call := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			b.Fatal(err)
		}
		return x
	}
	i32 := func(v int64) expr.Expr { return expr.Literal(types.IntValue(v), types.IntType().WithNullable(false)) }
	str := func(s string) expr.Expr {
		return expr.Literal(types.StringValue(s), types.StringType().WithNullable(false))
	}
	dbl := func(f float64) expr.Expr {
		return expr.Literal(types.FloatValue(f), types.DoubleType().WithNullable(false))
	}
	dec := func(v int64) expr.Expr {
		return expr.Literal(types.DecimalValue(v, 0), types.DecimalType(10, 0).WithNullable(false))
	}
	inList := func(x expr.Expr, list ...expr.Expr) expr.Expr {
		r, err := expr.In(x, list, false)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	ivl := func(ms int64) expr.Expr {
		return expr.Literal(types.IntValue(ms), types.Type{Kind: types.IntervalDayTime})
	}
	caseWhen := func(conds, results []expr.Expr, els expr.Expr) expr.Expr {
		x, err := expr.CaseWhen(conds, results, els)
		if err != nil {
			b.Fatal(err)
		}
		return x
	}
	ts := []types.Type{types.DecimalType(10, 2), types.DoubleType(), types.StringType(), types.BigIntType(), types.TimestampType(3)}
	channels := []string{"Google", "Facebook", "Baidu", "Apple", "channel-1234"}
	in := make([]changelog.Row, rows)
	for i := range in {
		in[i] = changelog.Row{Vals: []types.Value{
			types.DecimalValue(int64(100+i*37%1_000_000), 2),
			types.FloatValue(float64(i*7919%100_000) / 7),
			types.StringValue(channels[i%len(channels)]),
			types.IntValue(int64(1000 + i*7)),
			types.TimestampValue(1_700_000_000_000+int64(i)*3_600_123, 0),
		}}
	}
	cols := benchColumns(in, ts, batch)
	cases := []struct {
		name     string
		projects []expr.Expr
	}{
		{"round-decimal", []expr.Expr{call("ROUND", price, i32(1))}},
		{"round-double", []expr.Expr{call("ROUND", bid, i32(2))}},
		{"round-places", []expr.Expr{call("ROUND", bid, call("MOD", auction, i32(4)))}},
		{"floor-decimal", []expr.Expr{call("FLOOR", price)}},
		{"lpad", []expr.Expr{call("LPAD", channel, i32(10), str("*"))}},
		{"greatest", []expr.Expr{call("GREATEST", auction, i32(5000))}},
		{"to_timestamp_ltz-double", []expr.Expr{call("TO_TIMESTAMP_LTZ", call("+", bid, dbl(1.7e9)), i32(0))}},
		{"from_unixtime-decimal", []expr.Expr{call("FROM_UNIXTIME", call("+", price, dec(1_700_000_000)))}},
		{"from_unixtime-bigint", []expr.Expr{call("FROM_UNIXTIME", call("+", auction, i32(1_700_000_000)))}},
		{"in-list", []expr.Expr{inList(auction, call("+", auction, i32(1)), call("*", call("MOD", auction, i32(7)), i32(1000)))}},
		{"to_timestamp-pattern-column", []expr.Expr{call("TO_TIMESTAMP", call("DATE_FORMAT", dt, str("yyyy-MM-dd HH:mm:ss")), call("IF", call("=", channel, str("Google")), str("yyyy-MM-dd HH:mm:ss"), str("yyyy-MM-dd HH:mm:ss")))}},
		{"unix_timestamp-now", []expr.Expr{call("UNIX_TIMESTAMP")}},
		{"extract-interval", []expr.Expr{call("EXTRACT", str("HOUR"), call("IF", call("=", channel, str("Google")), ivl(93_600_000), ivl(-7_200_000)))}},
		{"like-escape-column", []expr.Expr{call("LIKE", channel, call("IF", call("=", auction, i32(1007)), str("G%!%"), str("%e")), call("IF", call("=", auction, i32(1007)), str("!"), str("\\")))}},
		{"timestampadd", []expr.Expr{call("TIMESTAMPADD", str("MONTH"), i32(1), dt)}},
		{"in-doubles", []expr.Expr{inList(bid, dbl(0), dbl(1), dbl(1.5), dbl(3), dbl(7), dbl(100), dbl(math.NaN()), expr.Literal(types.NullValue, types.DoubleType()))}},
		{"in-decimals", []expr.Expr{inList(price, dec(1), expr.Literal(types.DecimalValue(150, 2), types.DecimalType(3, 2).WithNullable(false)), expr.Literal(types.DecimalValue(25, 1), types.DecimalType(2, 1).WithNullable(false)), dec(7))}},
		{"in-timestamps", []expr.Expr{inList(dt, expr.Literal(types.TimestampValue(1_700_000_000_000, 0), types.TimestampType(3).WithNullable(false)), expr.Literal(types.TimestampValue(1_700_003_600_123, 0), types.TimestampType(3).WithNullable(false)))}},
		{"date_format-week-zone", []expr.Expr{call("DATE_FORMAT", dt, str("YYYY-'W'ww-e QQQ G xxx"))}},
		{"coalesce-int", []expr.Expr{call("COALESCE", call("NULLIF", call("MOD", auction, i32(3)), i32(0)), auction)}},
		{"if-guarded-div", []expr.Expr{call("IF", call("<>", call("MOD", auction, i32(5)), i32(0)), call("/", auction, call("MOD", auction, i32(5))), i32(0))}},
		{"case-strings", []expr.Expr{caseWhen([]expr.Expr{call("=", channel, str("Google")), call("=", channel, str("Baidu"))}, []expr.Expr{call("UPPER", channel), call("LOWER", channel)}, channel)}},
		{"timestampdiff", []expr.Expr{call("TIMESTAMPDIFF", str("HOUR"), dt, call("TIMESTAMPADD", str("DAY"), auction, dt))}},
	}
	for _, tc := range cases {
		for _, path := range []string{"rows", "vec-cols"} {
			b.Run(fmt.Sprintf("%s/%s", tc.name, path), func(b *testing.B) {
				c := NewCalc(tc.projects, nil, blackholeOut{}).(*calc)
				if path == "rows" {
					c.vx = nil
				} else if c.vx == nil {
					b.Skip("no kernel: the Calc runs on rows")
				}
				benchCalcPush(b, c, path, in, cols, batch)
			})
		}
	}
}
