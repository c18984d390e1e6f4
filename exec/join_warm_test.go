package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestJoinWarmProperty runs random streams in pushes of up to 40 rows — inserts, retractions of stored rows,
// NULL keys, every join type, counted and insert-only sides, with and without TTL — through a join that
// warms every push (join_warm.go: keys and hashes computed up front, whatever the tables' sizes) and one that
// never does: the output must be the same push for push. Rows of a push share keys, and the pushes change
// the tables (inserts, deletions, resizes, big buckets) after their keys were computed.
func TestJoinWarmProperty(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	warmed := 0
	for seed := range uint64(propertyRounds(80)) {
		rng := rand.New(rand.NewPCG(seed, 0x70a1))
		cfg := JoinConfig{Type: []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin}[seed%4], LeftKeys: []int{0}, RightKeys: []int{0},
			LeftTypes: ts, RightTypes: ts}
		insertOnly := seed/4%2 == 1
		cfg.LeftInsertOnly, cfg.RightInsertOnly = insertOnly, insertOnly && seed%3 != 0
		if seed%5 == 0 {
			now := time.Unix(0, 0)
			cfg.TTL, cfg.Now = time.Hour, func() time.Time { return now }
		}
		got, want := &recorder{}, &recorder{}
		gl, gr := NewJoin(cfg, got)
		wl, wr := NewJoin(cfg, want)
		gl.(*joinInput).j.warmSlots = 0
		wl.(*joinInput).j.warmSlots = math.MaxInt
		keys := 1 + rng.IntN(200)
		var live [2][][]types.Value
		for i := range 120 {
			side := rng.IntN(2)
			b := &changelog.Batch{}
			for range 1 + rng.IntN(40) {
				if !(insertOnly && (side == 0 || cfg.RightInsertOnly)) && len(live[side]) > 0 && rng.IntN(4) == 0 {
					k := rng.IntN(len(live[side]))
					b.Append(changelog.Delete, live[side][k])
					live[side] = append(live[side][:k], live[side][k+1:]...)
					continue
				}
				key := types.IntValue(int64(rng.IntN(keys)))
				if rng.IntN(20) == 0 {
					key = types.NullValue
				}
				row := []types.Value{key, types.StringValue(strings.Repeat("v", rng.IntN(90)) + fmt.Sprint(rng.IntN(5)))}
				live[side] = append(live[side], row)
				b.Append(changelog.Insert, row)
			}
			if err := []changelog.Output{gl, gr}[side].Push(b); err != nil {
				t.Fatalf("seed %d push %d: %v", seed, i, err)
			}
			if err := []changelog.Output{wl, wr}[side].Push(b); err != nil {
				t.Fatalf("seed %d push %d (not warmed): %v", seed, i, err)
			}
			if len(b.Rows) >= 2 {
				warmed++
			}
		}
		if got.b.String() != want.b.String() || got.pushes != want.pushes {
			t.Fatalf("seed %d (%s, insert-only %t/%t, TTL %v): output differs\n got:\n%s\nwant:\n%s", seed, cfg.Type,
				cfg.LeftInsertOnly, cfg.RightInsertOnly, cfg.TTL, got.b.String(), want.b.String())
		}
	}
	if warmed == 0 {
		t.Fatal("no push was warmed")
	}
}

// TestJoinWarmLargeTable: a q7-shaped join (insert-only bids keyed by price, a few rows to thousands per
// key, so small records and big buckets; then maxima that probe them) with more keys than joinWarmSlots
// emits what the same join without warming emits; warm's keys and hashes are those push would compute; and
// a key of the wrong type within a warmed push is refused as without warming.
func TestJoinWarmLargeTable(t *testing.T) {
	bid := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()} // price, auction, extra
	max := []types.Type{types.BigIntType(), types.BigIntType()}                     // max price, window
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: bid, RightTypes: max, LeftInsertOnly: true}
	got, want := &recorder{}, &recorder{}
	gl, gr := NewJoin(cfg, got)
	wl, wr := NewJoin(cfg, want)
	wl.(*joinInput).j.warmSlots = math.MaxInt
	j := gl.(*joinInput).j
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range 80 {
		b := &changelog.Batch{}
		for k := range 1000 {
			price := rng.Int64N(60_000)
			if k%10 == 0 {
				price = rng.Int64N(20) // hot prices: big buckets
			}
			b.Append(changelog.Insert, []types.Value{types.IntValue(price), types.IntValue(int64(i*1000 + k)),
				types.StringValue(strings.Repeat("x", rng.IntN(60)))})
		}
		if i > 40 {
			if n := j.warm(0, b.Rows); n != len(b.Rows) {
				t.Fatalf("push %d: warm covered %d of %d rows", i, n, len(b.Rows))
			}
			for k, r := range b.Rows {
				key, has, h := j.warmKey(k)
				want, wantHas, err := j.keyBytes(0, r.Vals)
				if err != nil || string(key) != string(want) || has != wantHas || h != j.sides[0].st.hash(want) {
					t.Fatalf("push %d row %d: warm's key %x (%t, %x), push's %x (%t, %v)", i, k, key, has, h, want, wantHas, err)
				}
			}
		}
		for _, p := range [][2]changelog.Output{{gl, gr}, {wl, wr}} {
			if err := p[0].Push(b); err != nil {
				t.Fatal(err)
			}
		}
		m := &changelog.Batch{}
		for k := range 30 {
			m.Append(changelog.Insert, []types.Value{types.IntValue(rng.Int64N(60_000) / int64(1+k%2*3000)), types.IntValue(int64(i))})
		}
		for _, p := range [][2]changelog.Output{{gl, gr}, {wl, wr}} {
			if err := p[1].Push(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(j.sides[0].st.slots); n < joinWarmSlots {
		t.Fatalf("%d slots: the table was never large enough to be warmed", n)
	}
	if len(j.sides[0].st.bigs) == 0 {
		t.Fatal("no key has a big bucket")
	}
	if got.b.String() != want.b.String() || got.pushes != want.pushes {
		t.Fatalf("output differs from the join without warming (%d vs %d bytes)", got.b.Len(), want.b.Len())
	}
	if got.b.Len() == 0 {
		t.Fatal("no match was emitted")
	}
	b := &changelog.Batch{}
	b.Append(changelog.Insert, []types.Value{types.IntValue(1), types.IntValue(2), types.StringValue("")})
	b.Append(changelog.Insert, []types.Value{types.StringValue("1"), types.IntValue(2), types.StringValue("")})
	if err := gl.Push(b); err == nil || !strings.Contains(err.Error(), "key column 0") {
		t.Fatalf("a key of the wrong type in a warmed push: %v", err)
	}
}

// BenchmarkJoinWarm measures a q7-shaped join side (insert-only bids keyed by a price drawn from a range
// that grows with the rows, a tenth of them from 20 hot prices; pushes of 1000 rows) per stored row, with
// and without warm (join_warm.go), for 1M and 8M rows: process CPU per row (generating the rows included).
// Run with -benchtime 1x.
func BenchmarkJoinWarm(b *testing.B) {
	bid := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()}
	max := []types.Type{types.BigIntType(), types.BigIntType()}
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: bid, RightTypes: max, LeftInsertOnly: true}
	extra := strings.Repeat("x", 64)
	for _, n := range []int{1_000_000, 8_000_000} {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("rows=%d/warm=%t", n, warm), func(b *testing.B) {
				vals := make([]types.Value, 3*1000)
				batch := &changelog.Batch{}
				cpu := processCPU()
				for b.Loop() {
					l, _ := NewJoin(cfg, discardOut{})
					if !warm {
						l.(*joinInput).j.warmSlots = math.MaxInt
					}
					rng := rand.New(rand.NewPCG(1, 2))
					for i := 0; i < n; {
						batch.Reset()
						for k := 0; k < 1000; k, i = k+1, i+1 {
							price := rng.Int64N(int64(i)/4 + 1)
							if k%10 == 0 {
								price = rng.Int64N(20)
							}
							v := vals[3*k : 3*k+3 : 3*k+3]
							v[0], v[1], v[2] = types.IntValue(price), types.IntValue(int64(i)), types.StringValue(extra[:rng.IntN(64)])
							batch.Append(changelog.Insert, v)
						}
						if err := l.Push(batch); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/row")
			})
		}
	}
}
