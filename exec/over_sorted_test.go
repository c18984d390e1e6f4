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
