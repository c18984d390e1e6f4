package exec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestProctimeClockFiresWindows: a processing-time tumbling window aggregation (clock → assigner → window
// aggregate) fires a window once the clock has passed its end, at the next batch or input watermark, not
// before, and ignores the event-time watermarks of its input.
func TestProctimeClockFiresWindows(t *testing.T) {
	now := time.UnixMilli(1_000)
	clock := func() time.Time { return now }
	aggs := []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType().WithNullable(false)}}
	// Input: id, pt (TIMESTAMP_LTZ); the assigner appends window_start (2), window_end (3), window_time (4).
	cfg := GroupAggConfig{Keys: []int{2, 3}, KeyTypes: []types.Type{types.TimestampType(3), types.TimestampType(3)}, Aggs: aggs}
	var out []string
	agg, err := NewWindowAgg(cfg, 1, NewCollect(func(r changelog.Row) error {
		out = append(out, fmt.Sprintf("[%d,%d) n=%d", r.Vals[0].I, r.Vals[1].I, r.Vals[2].I))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	loc := time.FixedZone("UTC+1", 3600)
	op := NewProctimeClock(clock, loc, NewWindowAssigner(WindowSpec{Kind: Tumble, Size: 10_000}, 1, true, loc, agg))
	push := func(ids ...int64) {
		var b changelog.Batch
		for _, id := range ids {
			b.Append(changelog.Insert, []types.Value{types.IntValue(id), types.TimestampValue(now.UnixMilli(), 0)})
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, want string) {
		t.Helper()
		if got := strings.Join(out, " "); got != want {
			t.Fatalf("%s: got %q, want %q", step, got, want)
		}
	}
	// Wall clock in UTC+1: 3_601_000 ms; the window is [3_600_000, 3_610_000).
	push(1, 2)
	check("in the window", "")
	if err := op.Watermark(1 << 50); err != nil { // an event-time watermark far ahead: ignored
		t.Fatal(err)
	}
	check("after an event-time watermark", "")
	now = time.UnixMilli(9_999)
	push(3)
	check("at the window's last millisecond", "")
	now = time.UnixMilli(10_000)
	check("before the next batch", "")
	if err := op.Watermark(0); err != nil { // an input watermark ticks the clock
		t.Fatal(err)
	}
	check("clock at the window's end", "[3600000,3610000) n=3")
	push(4)
	now = time.UnixMilli(5_000) // the clock goes back: the watermark does not, and the row is late
	push(5)
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	check("at the end", "[3600000,3610000) n=3 [3610000,3620000) n=1")
	if late := agg.(*windowAgg).Late; late != 1 {
		t.Fatalf("late rows: got %d, want 1", late)
	}
}

// TestProctimeStampNeverLate: in front of a keyed subtask's assigner (NewProctimeStamp), a row whose
// PROCTIME() was read before the clock passed its window's end (it waited in the exchange) gets the clock
// when it arrives, so it is counted in the open window instead of dropped as late; a clock that goes back
// does not make a row late either.
func TestProctimeStampNeverLate(t *testing.T) {
	now := time.UnixMilli(1_000)
	clock := func() time.Time { return now }
	aggs := []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType().WithNullable(false)}}
	cfg := GroupAggConfig{Keys: []int{0, 2, 3}, KeyTypes: []types.Type{types.BigIntType(), types.TimestampType(3), types.TimestampType(3)}, Aggs: aggs}
	var out []string
	agg, err := NewRoutedWindowAgg(cfg, 2, []int{0}, NewCollect(func(r changelog.Row) error {
		out = append(out, fmt.Sprintf("k%d [%d,%d) n=%d", r.Vals[0].I, r.Vals[1].I, r.Vals[2].I, r.Vals[3].I))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	op := NewProctimeStamp(clock, time.UTC, 1, NewWindowAssigner(WindowSpec{Kind: Tumble, Size: 10_000}, 1, true, time.UTC, agg))
	push := func(k, pt int64) {
		var b changelog.Batch
		b.Append(changelog.Insert, []types.Value{types.IntValue(k), types.TimestampValue(pt, 0)})
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	push(1, 1_000)
	now = time.UnixMilli(12_000)
	push(1, 9_000) // read at 9 s, arrives at 12 s: window [10 s, 20 s)
	now = time.UnixMilli(11_000)
	push(2, 5_000) // the clock went back: stamped 12 s
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(out, " "), "k1 [0,10000) n=1 k1 [10000,20000) n=1 k2 [10000,20000) n=1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if late := agg.(*windowAgg).Late; late != 0 {
		t.Fatalf("late rows: got %d, want 0", late)
	}
}
