package exec

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRadixSortKeys: radixSortKeys against a comparison sort, over sizes around its cut-over to the
// comparison sort and keys that share some, all or none of their bytes.
func TestRadixSortKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var tmp []ordKey
	for it := range 400 {
		n := rng.IntN(300)
		if it%10 == 0 {
			n = rng.IntN(20000)
		}
		keys := make([]ordKey, n)
		for i := range keys {
			var k uint64
			switch it % 4 {
			case 0:
				k = rng.Uint64()
			case 1:
				k = 1<<63 ^ uint64(rng.Int64N(1<<20)) // small non-negative integers, sign flipped (types.AppendKey)
			case 2:
				k = 1<<63 ^ uint64(rng.Int64N(2000)-1000) // negative and non-negative
			default:
				k = uint64(rng.IntN(3)) << 40 // duplicates, one varying byte
			}
			keys[i] = ordKey{key: k, i: int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b ordKey) int { return cmpUint64(a.key, b.key) })
		tmp = radixSortKeys(keys, tmp)
		if !slices.IsSortedFunc(keys, func(a, b ordKey) int { return cmpUint64(a.key, b.key) }) {
			t.Fatalf("case %d (%d keys): not sorted", it, n)
		}
		got := slices.Clone(keys)
		byI := func(a, b ordKey) int { return int(a.i) - int(b.i) }
		slices.SortFunc(got, byI)
		slices.SortFunc(want, byI)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d (%d keys): the keys changed", it, n)
		}
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestSliceHopMergeMatchesObjects: HOP windows of up to 18 slices over hundreds of keys per slice (integer
// keys, with NULLs in a third of the cases, which put some slices' index in bytes mode, or strings), late rows that add keys to slices
// whose windows have started firing: the k-way merge of sorted slices (and the hash merge past
// hopMergeMax slices) gives the object path's changelog.
func TestSliceHopMergeMatchesObjects(t *testing.T) {
	defer func(n int) { sliceEmitRows = n }(sliceEmitRows)
	merged, many := 0, 0
	for seed := range 40 {
		rng := rand.New(rand.NewPCG(uint64(seed), 77))
		sliceEmitRows = []int{1024, 7}[seed%2]
		c := randomCompactSliceCase(rng)
		slide := int64(1 + rng.IntN(4))
		c.spec = WindowSpec{Kind: Hop, Slide: slide, Size: slide * int64(1+rng.IntN(10)), Offset: int64(rng.IntN(3))}
		if seed%6 == 0 {
			c.spec.Size = (hopMergeMax + 2) * slide // more slices than hopMergeMax
		}
		c.keyRange, c.pushRows, c.noNullKeys = 50+rng.IntN(400), 40, seed%3 != 0
		steps := c.steps(rng, 60+rng.IntN(60))
		obj := &recorder{}
		ins, _ := c.build(func() bool { return false })(t, obj)
		runSteps(t, ins, steps)
		cmp := &recorder{}
		ins, snaps := c.build(func() bool { return true })(t, cmp)
		runSteps(t, ins, steps)
		if snaps[0].(*sliceWindowAgg).c == nil {
			t.Fatalf("seed %d: left compact slices", seed)
		}
		if obj.b.String() != cmp.b.String() || !sameRows(obj.rows, cmp.rows) {
			t.Fatalf("seed %d, size %d slide %d offset %d: the changelogs differ (%d vs %d rows)", seed,
				c.spec.Size, c.spec.Slide, c.spec.Offset, len(obj.rows), len(cmp.rows))
		}
		if len(obj.rows) > 300 {
			merged++
		}
		if c.spec.Size/c.spec.Slide > hopMergeMax {
			many++
		}
	}
	if merged < 25 || many < 5 {
		t.Fatalf("weak cases: %d seeds emit more than 300 rows, %d have more than %d slices", merged, many, hopMergeMax)
	}
}
