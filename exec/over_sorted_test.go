package exec

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestSortedOverRangeExtremes: a RANGE frame of 1 PRECEDING over BIGINT keys at both ends of the range
// (whose differences overflow int64) holds only the keys within 1 of the current one, ascending and
// descending; more than one batch of output (sortedOverBatch) keeps the rows' values.
func TestSortedOverRangeExtremes(t *testing.T) {
	ts := []types.Type{{Kind: types.BigInt}, {Kind: types.BigInt}}
	keys := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64}
	for _, desc := range []bool{false, true} {
		rec := &intRowRecorder{}
		op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, Desc: desc, NullsFirst: !desc}}, Frame: OverFrame{Preceding: 1},
			Aggs: aggCalls(t, ts, "COUNT(*)"), InTypes: ts}, rec)
		if err != nil {
			t.Fatal(err)
		}
		var b changelog.Batch
		for i := len(keys) - 1; i >= 0; i-- {
			b.Append(changelog.Insert, []types.Value{types.IntValue(keys[i]), types.IntValue(1)})
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		want := "+I[-9223372036854775808 1 1] +I[-9223372036854775807 1 2] +I[-1 1 1] +I[0 1 2] +I[9223372036854775806 1 1] +I[9223372036854775807 1 2]"
		if desc {
			want = "+I[9223372036854775807 1 1] +I[9223372036854775806 1 2] +I[0 1 1] +I[-1 1 2] +I[-9223372036854775807 1 1] +I[-9223372036854775808 1 2]"
		}
		if got := strings.Join(rec.rows, " "); got != want {
			t.Errorf("desc=%t:\ngot  %s\nwant %s", desc, got, want)
		}
	}
	// More rows than one output batch: ROWS 1 PRECEDING sums of a sequence.
	rec := &intRowRecorder{}
	op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, NullsFirst: true}}, Frame: OverFrame{Rows: true, Preceding: 1},
		Aggs: aggCalls(t, ts, "SUM($1)"), InTypes: ts}, rec)
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	n := 3*sortedOverBatch + 7
	for i := n - 1; i >= 0; i-- {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), types.IntValue(int64(i))})
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	if len(rec.rows) != n || rec.rows[n-1] != "+I[3078 3078 6155]" || rec.rows[1500] != "+I[1500 1500 2999]" {
		t.Errorf("got %d rows, row 1500 %s, last %s", len(rec.rows), rec.rows[1500], rec.rows[n-1])
	}
}

// intRowRecorder records rows of integers as text: +I[1 2 3].
type intRowRecorder struct{ rows []string }

func (r *intRowRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		var vs []string
		for _, v := range row.Vals {
			vs = append(vs, fmt.Sprint(v.I))
		}
		r.rows = append(r.rows, fmt.Sprintf("%s[%s]", row.Kind, strings.Join(vs, " ")))
	}
	return nil
}
func (r *intRowRecorder) Watermark(int64) error { return nil }
func (r *intRowRecorder) End() error            { return nil }

// TestSortedOverRangeTimestampPrecision: a RANGE frame of 1000 ms over TIMESTAMP(9) keys holds the rows within
// exactly 1 s of the current one, nanoseconds counted: 1.0005 s is out of the frame of 2.001 s (0.0005 s over),
// 1.001 s (exactly 1 s) in; descending alike.
func TestSortedOverRangeTimestampPrecision(t *testing.T) {
	ts := []types.Type{{Kind: types.Timestamp, Precision: 9}, {Kind: types.BigInt}}
	keys := []types.Value{types.TimestampValue(1000, 500000), types.TimestampValue(1001, 0), types.TimestampValue(2001, 0),
		types.TimestampValue(2001, 600000)}
	for _, desc := range []bool{false, true} {
		rec := &intRowRecorder{}
		op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, Desc: desc, NullsFirst: !desc}}, Frame: OverFrame{Preceding: 1000},
			Aggs: aggCalls(t, ts, "COUNT(*)"), InTypes: ts}, rec)
		if err != nil {
			t.Fatal(err)
		}
		var b changelog.Batch
		for _, k := range keys {
			b.Append(changelog.Insert, []types.Value{k, types.IntValue(1)})
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := op.End(); err != nil {
			t.Fatal(err)
		}
		// ASC: 1000.5 ms {itself}; 1001 {1000.5, 1001}; 2001 {1001, 2001}; 2001.6 {2001, 2001.6} (1001 is
		// 1000.6 ms before). DESC: 2001.6 {itself}; 2001 {2001.6, 2001}; 1001 {2001, 1001} (2001.6 is 1000.6 ms
		// after); 1000.5 {2001 is 1000.5 after: out; 1001, 1000.5}.
		want := "+I[1000 1 1] +I[1001 1 2] +I[2001 1 2] +I[2001 1 2]"
		if desc {
			want = "+I[2001 1 1] +I[2001 1 2] +I[1001 1 2] +I[1000 1 2]"
		}
		if got := strings.Join(rec.rows, " "); got != want {
			t.Errorf("desc=%t:\ngot  %s\nwant %s", desc, got, want)
		}
	}
}

// TestSortedOverRangeNaN: NaN DOUBLE keys under RANGE offsets, as Flink's RangeBoundComparator (comparisons
// with NaN are false): a NaN row is in no frame with an offset start, its own such frame is empty (COUNT
// 0), and an offset end moves over it. Keys 1, 2, NaN, 3, NaN (ids 0 to 4), ascending: NaN sorts last.
// Both evaluators (a frame ending at CURRENT ROW, and one ending 1 FOLLOWING or UNBOUNDED FOLLOWING), in
// memory and spilled.
func TestSortedOverRangeNaN(t *testing.T) {
	ts := []types.Type{{Kind: types.Double}, {Kind: types.BigInt}}
	keys := []float64{1, 2, math.NaN(), 3, math.NaN()}
	one := types.FloatValue(1)
	for _, c := range []struct {
		name string
		fr   OverFrame
		want string // COUNT(*) by id
	}{
		{"1 PRECEDING AND CURRENT ROW", OverFrame{Bound: one}, "1 2 0 2 0"},
		{"1 PRECEDING AND 1 FOLLOWING", OverFrame{Bound: one, Ahead: true, FollowBound: one}, "2 3 0 2 0"},
		{"UNBOUNDED PRECEDING AND 1 FOLLOWING", OverFrame{Unbounded: true, Ahead: true, FollowBound: one}, "2 5 5 5 5"},
		{"1 PRECEDING AND UNBOUNDED FOLLOWING", OverFrame{Bound: one, Ahead: true, UnboundedFollowing: true}, "5 5 0 4 0"},
	} {
		for _, budget := range []int64{0, 1} {
			got := make([]string, len(keys))
			rec := &funcRecorder{push: func(vals []types.Value) { got[vals[1].I] = fmt.Sprint(vals[2].I) }}
			op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, NullsFirst: true}}, Frame: c.fr,
				Aggs: aggCalls(t, ts, "COUNT(*)"), InTypes: ts, MemBudget: budget, SpillDir: t.TempDir()}, rec)
			if err != nil {
				t.Fatal(err)
			}
			var b changelog.Batch
			for i, k := range keys {
				b.Append(changelog.Insert, []types.Value{types.FloatValue(k), types.IntValue(int64(i))})
			}
			if err := op.Push(&b); err != nil {
				t.Fatal(err)
			}
			if err := op.End(); err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("RANGE BETWEEN %s (budget %d): counts by id %s, want %s", c.name, budget, g, c.want)
			}
		}
	}
}

// funcRecorder passes each output row's values to push.
type funcRecorder struct{ push func([]types.Value) }

func (r *funcRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		r.push(row.Vals)
	}
	return nil
}
func (r *funcRecorder) Watermark(int64) error { return nil }
func (r *funcRecorder) End() error            { return nil }
