package exec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestCompactSetModesMatchGroups: compact groups' DISTINCT sets over an insert-only input, in each of
// compactSet's states — narrow (small ids), moved to a sharedDistinct mid-stream (a value with another high
// half), a string argument (bytes mode), a family of 40 FILTER variants (mask bits past the 32nd) — write
// the changes and snapshots of the map of *group, and restore from them (checkCompactRun). The sets of small
// ids stay in their 48-byte headers, the others move, and a group's headers are 48 bytes per family.
func TestCompactSetModesMatchGroups(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType(), types.BooleanType(), types.BooleanType()}
	calls := []string{"COUNT(*)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1) FILTER $3", "COUNT(DISTINCT $1) FILTER $4",
		"COUNT(DISTINCT $2)", "COUNT(DISTINCT $2) FILTER $3"}
	for range 40 {
		calls = append(calls, "COUNT(DISTINCT $0) FILTER $3")
	}
	aggs := aggCalls(t, in, calls...)
	for seed := range uint64(4) { // seeds 1 and 2: a few values of another high half
		name := fmt.Sprintf("seed=%d", seed)
		gen := func(rng *rand.Rand, _ bool) []types.Value {
			x := rng.Int64N(500)
			switch {
			case seed == 1 && rng.IntN(40) == 0:
				x += 1 << 40 // another high half
			case seed == 2 && rng.IntN(40) == 0:
				x = -x - 1 // another high half (the encoding flips the sign bit)
			}
			var xv types.Value = types.IntValue(x)
			if rng.IntN(30) == 0 {
				xv = types.NullValue
			}
			return []types.Value{types.IntValue(rng.Int64N(5)), xv, types.StringValue(fmt.Sprint("s", rng.IntN(20))),
				types.BoolValue(rng.IntN(2) == 0), types.BoolValue(rng.IntN(3) == 0)}
		}
		cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: seed%2 == 0}
		if !checkCompactRun(t, name, cfg, rand.New(rand.NewPCG(seed, 29)), false, gen) {
			t.Fatalf("%s: no compact groups at the end", name)
		}

		// the sets' states after the same rows
		rec := &recorder{}
		op, err := NewGroupAgg(cfg, rec)
		if err != nil {
			t.Fatal(err)
		}
		g := op.(*groupAgg)
		rng := rand.New(rand.NewPCG(seed, 31))
		for range 50 {
			var b changelog.Batch
			for range 20 {
				b.Append(changelog.Insert, gen(rng, false))
			}
			if err := g.Push(&b); err != nil {
				t.Fatal(err)
			}
		}
		x := g.compact.x
		if len(x.famNV) != 3 {
			t.Fatalf("%s: %d families, want 3", name, len(x.famNV))
		}
		if n := unsafe.Sizeof(x.fams[0][0]); n > 48 {
			t.Fatalf("%s: a set header is %d bytes, want at most 48", name, n)
		}
		var wide [3]int
		for i := range g.compact.n {
			for f := range 3 {
				if x.famAt(i, f).wide != nil {
					wide[f]++
				}
			}
		}
		// family 0: $1 (wide once a value has another high half), 1: the strings, 2: 40 variants
		highHalf := seed == 1 || seed == 2
		if want := [3]int{0, 5, 5}; !highHalf && wide != want || highHalf && (wide[0] == 0 || wide[1] != 5 || wide[2] != 5) {
			t.Fatalf("%s: sets moved to a sharedDistinct per family %v (groups %d)", name, wide, g.compact.n)
		}
	}
}

// TestCompactSetNoAllocs: once its groups and set values exist, a columnar push of compact groups with
// DISTINCT sets in narrow mode allocates nothing, row by row and by blocks (a view of a set header that
// escaped to the heap cost one allocation per row and family).
func TestCompactSetNoAllocs(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BooleanType()}
	aggs := aggCalls(t, in, "COUNT(*)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1) FILTER $3", "COUNT(DISTINCT $2)")
	rng := rand.New(rand.NewPCG(3, 5))
	rows := make([]changelog.Row, 512)
	for r := range rows {
		rows[r] = changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(rng.Int64N(2000)),
			types.IntValue(rng.Int64N(100)), types.IntValue(rng.Int64N(100)), types.BoolValue(rng.IntN(2) == 0)}}
	}
	var b vec.Batch
	vec.FromRows(&b, rows, in, nil)
	for _, blocks := range []bool{false, true} {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, InsertOnly: true}, &discard{})
		if err != nil {
			t.Fatal(err)
		}
		g := op.(*groupAgg)
		if g.compact == nil || g.compact.x == nil {
			t.Fatal("no compact groups with sets")
		}
		g.compact.blockGroups = math.MaxInt32
		if blocks {
			g.compact.blockGroups = 0
		}
		for range 3 {
			if err := g.PushColumns(&b); err != nil {
				t.Fatal(err)
			}
		}
		if g.compact.blockable() != blocks {
			t.Fatalf("blocks %t: blockable %t", blocks, g.compact.blockable())
		}
		if n := testing.AllocsPerRun(5, func() {
			if err := g.PushColumns(&b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("blocks %t: %.1f allocations per push of %d rows", blocks, n, len(rows))
		}
	}
}
