package exec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestSortPrefixOrder: the in-memory sort (key prefixes, then whole keys, then arrival; rows put in order in
// place) gives a stable sort's order by the key encodings: keys of one BIGINT, of two (18 bytes: longer than
// the prefix), strings that share their first 16 bytes or are zero-padded prefixes of one another, NULLs,
// and many equal keys (arrival order kept).
func TestSortPrefixOrder(t *testing.T) {
	strs := []string{"", "a", "a\x00", "a\x00\x00", "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnoq", "abcdefghijklmnopqrstu",
		"abcdefghijklmnopqrstv", "\x00", "b"}
	keySets := [][]SortKey{{{Col: 1}}, {{Col: 1, Desc: true}, {Col: 2}}, {{Col: 3}}, {{Col: 3, Desc: true, NullsFirst: true}, {Col: 1}},
		{{Col: 2}, {Col: 3}, {Col: 1}}}
	for seed := range uint64(80) {
		rng := rand.New(rand.NewPCG(seed, 5))
		keys := keySets[seed%uint64(len(keySets))]
		var rows [][]types.Value
		for i := range rng.IntN(3000) {
			r := []types.Value{types.IntValue(int64(i)), types.IntValue(rng.Int64N(40) - 20), types.IntValue(rng.Int64N(5) << rng.IntN(60)),
				types.StringValue(strs[rng.IntN(len(strs))])}
			if rng.IntN(9) == 0 {
				r[1+rng.IntN(3)] = types.NullValue
			}
			rows = append(rows, r)
		}
		var got [][]types.Value
		op := NewSort(keys, -1, 0, 0, t.TempDir(), NewCollect(func(r changelog.Row) error {
			got = append(got, changelog.CopyVals(r.Vals))
			return nil
		}))
		var b changelog.Batch
		for _, r := range rows {
			b.Append(changelog.Insert, r)
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(rows)
		slices.SortStableFunc(want, func(x, y []types.Value) int {
			return bytes.Compare(appendSortKey(nil, x, keys), appendSortKey(nil, y, keys))
		})
		if g, w := rowsText(got), rowsText(want); g != w {
			t.Fatalf("seed %d (keys %+v): %s", seed, keys, firstDiff(g, w))
		}
	}
}

// firstDiff describes where two texts first differ.
func firstDiff(got, want string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			lo := max(i-200, 0)
			return fmt.Sprintf("at byte %d: got ...%q..., want ...%q...", i, got[lo:min(i+200, len(got))], want[lo:min(i+200, len(want))])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}
