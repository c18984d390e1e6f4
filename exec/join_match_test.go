package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// A Nexmark q4-shaped regular join: auctions (id, category, dateTime, expires, extra) joined with bids
// (auction, price, dateTime, extra) on id = auction and bid.dateTime BETWEEN auction.dateTime AND expires.

var (
	matchAuctionTypes = []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	matchBidTypes     = []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
)

func matchJoinConfig(tb testing.TB) JoinConfig {
	env := expr.NewEnv(nil)
	mk := func(name string, args ...expr.Expr) expr.Expr {
		x, err := expr.Call(env, name, args...)
		if err != nil {
			tb.Fatal(err)
		}
		return x
	}
	bidTime := expr.Column(7, "bid_dateTime", types.BigIntType())
	residual := mk("AND", mk(">=", bidTime, expr.Column(2, "dateTime", types.BigIntType())),
		mk("<=", bidTime, expr.Column(3, "expires", types.BigIntType())))
	return JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: matchAuctionTypes,
		RightTypes: matchBidTypes, Residual: residual}
}

// matchAuctions returns n auctions in batches of 1024: auction i lives from time i to i+1000.
func matchAuctions(n int) []*changelog.Batch {
	extra := strings.Repeat("a", 60)
	var out []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		b := &changelog.Batch{}
		for k := i; k < min(i+1024, n); k++ {
			b.Append(changelog.Insert, []types.Value{types.IntValue(int64(k)), types.IntValue(int64(k % 10)),
				types.IntValue(int64(k)), types.IntValue(int64(k + 1000)), types.StringValue(extra)})
		}
		out = append(out, b)
	}
	return out
}

// matchBids returns n bids in batches of 1024 over auctions 0..auctions-1 (every other bid on one of 10 hot
// auctions); a bid's time is its auction's start + 500 (a match), or + 5000 for every eighth (no match).
func matchBids(n, auctions int) []*changelog.Batch {
	extra := strings.Repeat("b", 40)
	var out []*changelog.Batch
	for i := 0; i < n; i += 1024 {
		b := &changelog.Batch{}
		for k := i; k < min(i+1024, n); k++ {
			a := int64(scatter(int64(k), int64(auctions)))
			if k%2 == 0 {
				a %= 10
			}
			t := a + 500
			if k%8 == 7 {
				t = a + 5000
			}
			b.Append(changelog.Insert, []types.Value{types.IntValue(a), types.IntValue(int64(k)), types.IntValue(t),
				types.StringValue(extra)})
		}
		out = append(out, b)
	}
	return out
}

// TestJoinMatchOutput checks the q4-shaped join's output rows: one per bid inside its auction's lifetime,
// the auction's columns then the bid's.
func TestJoinMatchOutput(t *testing.T) {
	var got []changelog.Row
	left, right := NewJoin(matchJoinConfig(t), NewCollect(func(r changelog.Row) error {
		got = append(got, changelog.Row{Kind: r.Kind, Vals: changelog.CopyVals(r.Vals)})
		return nil
	}))
	for _, b := range matchAuctions(100) {
		if err := left.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	bids := matchBids(3000, 100)
	for _, b := range bids {
		if err := right.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	want := 0
	for _, b := range bids {
		for _, r := range b.Rows {
			a, ts := r.Vals[0].I, r.Vals[2].I
			if ts >= a && ts <= a+1000 {
				want++
			}
		}
	}
	if len(got) != want || want == 0 {
		t.Fatalf("%d rows, want %d", len(got), want)
	}
	for _, r := range got {
		if r.Kind != changelog.Insert || len(r.Vals) != 9 {
			t.Fatalf("row %v %v", r.Kind, r.Vals)
		}
		if r.Vals[0].I != r.Vals[5].I || r.Vals[7].I != r.Vals[0].I+500 || r.Vals[4].S != strings.Repeat("a", 60) ||
			r.Vals[8].S != strings.Repeat("b", 40) {
			t.Fatalf("row %v", r.Vals)
		}
	}
}

// TestJoinMatchNoAllocation: matching and storing rows that are already in state allocates nothing per row
// once the join is warm (the output rows are built in a reused arena; counts are updated in place).
func TestJoinMatchNoAllocation(t *testing.T) {
	out := &discard{}
	left, right := NewJoin(matchJoinConfig(t), out)
	for _, b := range matchAuctions(1000) {
		if err := left.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	bids := matchBids(1024, 1000)[0]
	if err := right.Push(bids); err != nil {
		t.Fatal(err)
	}
	before := out.rows
	allocs := testing.AllocsPerRun(20, func() {
		if err := right.Push(bids); err != nil {
			t.Fatal(err)
		}
	})
	if out.rows-before != 21*(1024-1024/8) {
		t.Fatalf("%d rows emitted, want %d", out.rows-before, 21*(1024-1024/8))
	}
	if allocs > 0 {
		t.Fatalf("%.1f allocations per push of 1024 rows, want 0", allocs)
	}
}

// BenchmarkJoinMatch runs the q4-shaped join: 10,000 auctions, then 200,000 bids that each match their
// auction (but every eighth) and stay in state. ns/bid is the time per bid pushed (store + match + emit).
func BenchmarkJoinMatch(b *testing.B) {
	const nAuctions, nBids = 10000, 200000
	cfg := matchJoinConfig(b)
	auctions, bids := matchAuctions(nAuctions), matchBids(nBids, nAuctions)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out := &discard{}
		left, right := NewJoin(cfg, out)
		for _, bt := range auctions {
			if err := left.Push(bt); err != nil {
				b.Fatal(err)
			}
		}
		for _, bt := range bids {
			if err := right.Push(bt); err != nil {
				b.Fatal(err)
			}
		}
		if out.rows != nBids-nBids/8 {
			b.Fatal(fmt.Sprintf("%d rows", out.rows))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nBids), "ns/bid")
}
