package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
)

// kindRows collects what an operator emits as "kind key id".
type kindRows struct{ rows []string }

func (c *kindRows) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		c.rows = append(c.rows, fmt.Sprintf("%s %d %d", r.Kind, r.Vals[0].Int(), r.Vals[2].Int()))
	}
	return nil
}
func (c *kindRows) Watermark(int64) error { return nil }
func (c *kindRows) End() error            { return nil }

// TestProctimeFirstGuard: a keep-first deduplication on processing time is planned insert-only; rows of two
// channels whose processing times were taken out of arrival order (the later row has the earlier time, in
// one batch and across batches) must not replace a key's first row. Without the guard the Top-N emits -D
// for the first row and +I for the later one.
func TestProctimeFirstGuard(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.TimestampLTZType(3), types.BigIntType()}
	cfg := exec.RankConfig{Func: "ROW_NUMBER", Partition: []int{0}, Order: []exec.SortKey{{Col: 1}}, Limit: 1,
		RowNumber: true, Types: ts, InsertOnly: true}
	row := func(key, millis, id int64) []types.Value {
		return []types.Value{types.IntValue(key), types.TimestampValue(millis, 0), types.IntValue(id)}
	}
	for _, guarded := range []bool{true, false} {
		out := &kindRows{}
		var in changelog.Output = exec.NewRank(cfg, out)
		if guarded {
			in = newProctimeFirst(1, in)
		}
		var b changelog.Batch
		b.Append(changelog.Insert, row(1, 100, 10))
		b.Append(changelog.Insert, row(1, 90, 11)) // taken earlier on another channel, came later
		b.Append(changelog.Insert, row(2, 95, 20))
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		b.Append(changelog.Insert, row(2, 80, 21))
		b.Append(changelog.Insert, row(3, 120, 30))
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(out.rows, ", ")
		want := "+I 1 10, +I 2 20, +I 3 30"
		if guarded && got != want {
			t.Fatalf("guarded: %s, want %s", got, want)
		}
		if !guarded && got == want {
			t.Fatalf("without the guard the Top-N kept the first rows too (%s): the test does not test the guard", got)
		}
	}
}
