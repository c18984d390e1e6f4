package exec

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestHashExchangeGroupAgg runs a retracting GROUP BY as 1, 2, 3 and 4 parallel subtasks behind a hash
// exchange, gathered into one output, and checks that the materialized result equals the single-threaded
// operator's, and that each key's changes stay in order (the materializer rejects a -U without its row).
func TestHashExchangeGroupAgg(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, KeyTypes: in[:1], InTypes: in, EmitUpdateBefore: true,
		Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType()}, {Func: "SUM", Args: []int{1}, ArgTypes: in[1:], Filter: -1, Type: types.BigIntType()}}}
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		var batches []*changelog.Batch
		var live [][]types.Value
		for range 50 {
			b := &changelog.Batch{}
			for range 1 + rng.IntN(40) {
				if len(live) > 0 && rng.IntN(4) == 0 {
					i := rng.IntN(len(live))
					b.Append(changelog.Delete, live[i])
					live = append(live[:i], live[i+1:]...)
					continue
				}
				row := []types.Value{types.IntValue(int64(rng.IntN(30))), types.IntValue(int64(rng.IntN(100)))}
				live = append(live, row)
				b.Append(changelog.Insert, row)
			}
			batches = append(batches, b)
		}
		want := changelog.NewMaterializer([]int{0})
		single, err := NewGroupAgg(cfg, NewCollect(want.Apply))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			if err := single.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		for n := 1; n <= 4; n++ {
			got := changelog.NewMaterializer([]int{0})
			var ends atomic.Int32
			sink := NewCollect(got.Apply)
			gs := Gather(n, &endCounter{Output: sink, n: &ends})
			subs := make([]changelog.Output, n)
			for i := range subs {
				if subs[i], err = NewGroupAgg(cfg, gs[i]); err != nil {
					t.Fatal(err)
				}
			}
			x := NewHashExchange([]int{0}, in[:1], 128, subs)
			for i, b := range batches {
				if err := x.Push(b); err != nil {
					t.Fatal(err)
				}
				if i%10 == 0 {
					if err := x.Drain(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := x.End(); err != nil {
				t.Fatalf("seed %d, %d subtasks: %v", seed, n, err)
			}
			if ends.Load() != 1 {
				t.Fatalf("seed %d, %d subtasks: downstream ended %d times, want once", seed, n, ends.Load())
			}
			if g, w := fmt.Sprint(got.Rows()), fmt.Sprint(want.Rows()); g != w {
				t.Fatalf("seed %d, %d subtasks:\ngot  %s\nwant %s", seed, n, g, w)
			}
		}
	}
}

type endCounter struct {
	changelog.Output
	n *atomic.Int32
}

func (e *endCounter) End() error { e.n.Add(1); return e.Output.End() }

// A failing subtask's error (whichever subtask key 7 goes to) comes back from the exchange.
func TestHashExchangeFailure(t *testing.T) {
	boom := errors.New("boom")
	fail := NewCollect(func(r changelog.Row) error {
		if r.Vals[0].I == 7 {
			return boom
		}
		return nil
	})
	fail2 := NewCollect(func(r changelog.Row) error {
		if r.Vals[0].I == 7 {
			return boom
		}
		return nil
	})
	x := NewHashExchange([]int{0}, []types.Type{types.BigIntType()}, 128, []changelog.Output{fail, fail2})
	b := &changelog.Batch{}
	for i := range 100 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i))})
	}
	_ = x.Push(b)
	if err := x.Drain(); !errors.Is(err, boom) {
		t.Fatalf("Drain: got %v, want boom", err)
	}
	if err := x.Push(b); !errors.Is(err, boom) {
		t.Fatalf("Push after a failure: got %v, want boom", err)
	}
	if err := x.End(); !errors.Is(err, boom) {
		t.Fatalf("End: got %v, want boom", err)
	}
}
