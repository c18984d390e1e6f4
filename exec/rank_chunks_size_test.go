package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestRankChunksStartSmall: a partition whose entries just outgrow rsSmallBytes moves into a rankChunks of
// about its size (chunkBytes: the chunks' capacity), not into two 512-byte chunks, and its chunks grow as
// rows come, at most 1.3 times the entries on average while they take less than two chunks; the global Top-N's first rows take one small chunk.
// Rows are checked against the reference Rank (rank_ref_test.go) all along.
func TestRankChunksStartSmall(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.StringType()}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 10, RowNumber: true, Types: ts}
	allCap, allSize := 0, 0
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 51))
		got, want := &recorder{}, &recorder{}
		op, ref := NewRank(cfg, got).(*rankOp), newRefRank(cfg, want)
		converted := false
		sumCap, sumSize := 0, 0 // over the rows while the entries take less than two chunks
		for i := range 400 {
			b := &changelog.Batch{}
			b.Append(changelog.Insert, rankPropertyRow(rng, 1, 1_000_000, 20))
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatal(err)
			}
			var bb *rankChunks
			for _, x := range op.st.bigs {
				if x != nil {
					bb = x
				}
			}
			if bb == nil {
				if converted {
					t.Fatalf("seed %d row %d: the partition left its rankChunks while growing", seed, i)
				}
				continue
			}
			what := fmt.Sprintf("seed %d row %d: %d entries of %d bytes in %d chunks of %d bytes", seed, i, bb.total,
				bb.size, bb.chunks(), bb.chunkBytes())
			if !converted && bb.chunkBytes() > bb.size+bb.size/4+32 {
				t.Fatalf("%s: the chunks just made should be about the entries' size", what)
			}
			converted = true
			if bb.size < 2*rcChunkCap {
				sumCap, sumSize = sumCap+bb.chunkBytes(), sumSize+bb.size
			}
		}
		if !converted {
			t.Fatalf("seed %d: the partition never outgrew its record", seed)
		}
		allCap, allSize = allCap+sumCap, allSize+sumSize
		if got.b.String() != want.b.String() {
			t.Fatalf("seed %d: output differs from the reference", seed)
		}
	}

	// the version before: 1.34 to 1.43 (two 512-byte chunks for the first 520 bytes)
	if r := float64(allCap) / float64(allSize); r > 1.3 {
		t.Fatalf("while the entries take less than two chunks, the chunks are %.2f times their size, want at most 1.3", r)
	}

	op := NewTopN([]SortKey{{Col: 0}}, 3, 0, &discard{}).(*topN)
	b := &changelog.Batch{}
	for i := range 3 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), types.StringValue("x")})
	}
	if err := op.Push(b); err != nil {
		t.Fatal(err)
	}
	if n := op.list.chunkBytes(); n > rcChunkMin {
		t.Fatalf("3 rows of the global Top-N take %d bytes of chunks (entries: %d), want at most %d", n, op.list.size, rcChunkMin)
	}
}

// TestRankChunksMergeAcrossGroups: a rankChunks of many groups shrunk by retractions to one entry in 150
// (in order, so that whole groups nearly empty) leaves no two neighbouring chunks that fit in half a
// chunk together, within a group or across the boundary of two: the chunk an entry left merges with
// either neighbour (until December 2026 only within its group, so each group kept a nearly empty chunk).
func TestRankChunksMergeAcrossGroups(t *testing.T) {
	rs := &rankStore{}
	bb := &rankChunks{}
	rng := rand.New(rand.NewPCG(8, 3))
	var keys []string
	for i := range 40_000 {
		k := fmt.Appendf(nil, "k%07d", rng.IntN(10_000_000))
		ol := len(k)
		k = appendSeq(k, uint64(i+1))
		bb.insert(rs, rEnt{sk: k, row: append([]byte(nil), k...), ol: ol})
		keys = append(keys, string(k))
	}
	groups := len(bb.groups)
	if groups < 8 {
		t.Fatalf("%d groups: too few to test their boundaries", groups)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i%150 == 0 {
			continue
		}
		if _, _, ok := bb.removeEqual(rs, []byte(k[:8]), func(row []byte) bool { return string(row) == k }); !ok {
			t.Fatalf("%q not found", k)
		}
	}
	if err := rankChunksIndexCheck(bb); err != nil {
		t.Fatal(err)
	}
	var prev []byte
	pairs, across := 0, 0
	for g := range bb.groups {
		for ci, c := range bb.groups[g].chunks {
			if prev != nil && len(prev)+len(c) <= rcChunkCap/2 {
				pairs++
				if ci == 0 {
					across++
				}
			}
			prev = c
		}
	}
	if pairs > 0 {
		t.Fatalf("%d entries in %d chunks of %d groups (%d before): %d pairs of neighbours fit in half a chunk, %d of them across groups",
			bb.total, bb.chunks(), len(bb.groups), groups, pairs, across)
	}
	t.Logf("%d entries in %d chunks of %d groups (%d before)", bb.total, bb.chunks(), len(bb.groups), groups)
}
