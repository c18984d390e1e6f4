package exec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestRankTopNMovesInOnePush: a Top-10 with the row number over rows of rising prices in one push (every
// row enters at the top and moves the other nine down: a -D and a +I each, copied from the values decoded
// for the -D, across many full output arenas) emits what the reference Rank (rank_ref_test.go) emits.
func TestRankTopNMovesInOnePush(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()}
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true}}, Limit: 10, RowNumber: true, Types: ts, InsertOnly: true}
	got, want := &recorder{}, &recorder{}
	op, ref := NewRank(cfg, got), newRefRank(cfg, want)
	b := &changelog.Batch{}
	for i := range 3000 {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % 3)), types.IntValue(int64(i)),
			types.StringValue(strings.Repeat("v", i%17))})
	}
	for _, o := range []changelog.Output{op, ref} {
		if err := o.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(got.b.String(), "\n"); n < 50_000 {
		t.Fatalf("only %d rows emitted", n)
	}
	if got.b.String() != want.b.String() || !sameRows(got.rows, want.rows) {
		t.Fatal("the Top-10's output differs from the reference's")
	}
}
