package exec

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// aheadInput: k BIGINT (3 partitions, one holding most rows), o BIGINT (the order key: about n/peers
// distinct values, one row in 7 NULL), v BIGINT (one in 5 NULL), id BIGINT (unique); rows scrambled.
func aheadInput(n, peers int) [][]types.Value {
	var rows [][]types.Value
	for i := range n {
		j := (i * 7919) % n
		k := int64(0)
		if j%8 == 0 {
			k = int64(1 + j%2)
		}
		o := types.IntValue(int64((j * 13 % n) / peers))
		if j%7 == 3 {
			o = types.Value{}
		}
		v := types.IntValue(int64(j%50 - 20))
		if j%5 == 1 {
			v = types.Value{}
		}
		rows = append(rows, []types.Value{types.IntValue(k), o, v, types.IntValue(int64(i))})
	}
	return rows
}

// nullRecorder records rows as text, NULL as N.
type nullRecorder struct{ rows []string }

func (r *nullRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		var sb strings.Builder
		for _, v := range row.Vals {
			if v.IsNull() {
				sb.WriteString("N ")
			} else {
				fmt.Fprintf(&sb, "%d ", v.I)
			}
		}
		r.rows = append(r.rows, sb.String())
	}
	return nil
}
func (r *nullRecorder) Watermark(int64) error { return nil }
func (r *nullRecorder) End() error            { return nil }

func runAhead(t *testing.T, fr OverFrame, key SortKey, budget int64, dir string, rows [][]types.Value) ([]string, *sortedOver) {
	t.Helper()
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.BigIntType()}
	rec := &nullRecorder{}
	op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{key}, Frame: fr,
		Aggs: aggCalls(t, ts, "SUM($2)", "COUNT(*)", "COUNT($2)", "MIN($2)", "MAX($2)"), InTypes: ts, MemBudget: budget, SpillDir: dir}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rows); i += 100 {
		var b changelog.Batch
		for _, r := range rows[i:min(i+100, len(rows))] {
			b.Append(changelog.Insert, r)
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.End(); err != nil {
		t.Fatal(err)
	}
	return rec.rows, op.(*sortedOver)
}

// aheadReference computes each row's aggregates (k o v id: SUM(v) COUNT(*) COUNT(v) MIN(v) MAX(v)) from
// its frame's definition, row by row over the partition sorted by key (peers in arrival order): the
// expected output rows by id.
func aheadReference(fr OverFrame, key SortKey, rows [][]types.Value) map[int64]string {
	// sortCmp orders keys as the operator sorts them: NULLs first or last, then by value in the direction.
	sortCmp := func(a, b types.Value) int {
		if a.IsNull() || b.IsNull() {
			r := 0
			switch {
			case a.IsNull() && !b.IsNull():
				r = 1 // NULL after the values
			case !a.IsNull():
				r = -1
			}
			if key.NullsFirst {
				r = -r
			}
			return r
		}
		if key.Desc {
			return cmp.Compare(b.I, a.I)
		}
		return cmp.Compare(a.I, b.I)
	}
	// rangeIn: j's key x against the bound of i's key c moved by off (toward later rows in the sort order
	// for off > 0): where x is relative to the bound, in sort order.
	rangeRel := func(x, c types.Value, off int64) int {
		if x.IsNull() || c.IsNull() {
			return sortCmp(x, c)
		}
		if key.Desc {
			return cmp.Compare(c.I-off, x.I)
		}
		return cmp.Compare(x.I, c.I+off)
	}
	byPart := map[int64][][]types.Value{}
	for _, r := range rows {
		byPart[r[0].I] = append(byPart[r[0].I], r)
	}
	want := map[int64]string{}
	for _, p := range byPart {
		s := slices.Clone(p)
		slices.SortStableFunc(s, func(a, b []types.Value) int { return sortCmp(a[1], b[1]) })
		for i, r := range s {
			var sum, cnt, cntV int64
			lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
			for j, x := range s {
				in := true
				if fr.Rows {
					d := int64(j - i)
					switch {
					case fr.Unbounded:
					case fr.StartFollowing:
						in = d >= fr.Preceding
					default:
						in = d >= -fr.Preceding
					}
					switch {
					case fr.EndPreceding && d > -fr.Following:
						in = false
					case !fr.EndPreceding && !fr.UnboundedFollowing && d > fr.Following:
						in = false
					}
				} else {
					switch {
					case fr.Unbounded:
					case fr.StartFollowing:
						in = rangeRel(x[1], r[1], fr.Preceding) >= 0
					case fr.Preceding == 0:
						in = sortCmp(x[1], r[1]) >= 0
					default:
						in = rangeRel(x[1], r[1], -fr.Preceding) >= 0
					}
					switch {
					case fr.UnboundedFollowing:
					case fr.Following == 0:
						in = in && sortCmp(x[1], r[1]) <= 0
					case fr.EndPreceding:
						in = in && rangeRel(x[1], r[1], -fr.Following) <= 0
					default:
						in = in && rangeRel(x[1], r[1], fr.Following) <= 0
					}
				}
				if !in {
					continue
				}
				cnt++
				if v := x[2]; !v.IsNull() {
					cntV++
					sum += v.I
					lo, hi = min(lo, v.I), max(hi, v.I)
				}
			}
			f := func(v int64) string {
				if cntV == 0 {
					return "N"
				}
				return fmt.Sprint(v)
			}
			o := "N"
			if !r[1].IsNull() {
				o = fmt.Sprint(r[1].I)
			}
			v := "N"
			if !r[2].IsNull() {
				v = fmt.Sprint(r[2].I)
			}
			want[r[3].I] = fmt.Sprintf("%d %s %s %d %s %d %d %s %s ", r[0].I, o, v, r[3].I, f(sum), cnt, cntV, f(lo), f(hi))
		}
	}
	return want
}

var aheadFrames = []OverFrame{
	{Rows: true, Ahead: true, Preceding: 2, Following: 3},                                   // 2 PRECEDING AND 3 FOLLOWING
	{Rows: true, Ahead: true, UnboundedFollowing: true},                                     // CURRENT ROW AND UNBOUNDED FOLLOWING
	{Rows: true, Ahead: true, Unbounded: true, UnboundedFollowing: true},                    // the whole partition
	{Rows: true, Ahead: true, Unbounded: true, Following: 2},                                // UNBOUNDED PRECEDING AND 2 FOLLOWING
	{Rows: true, Ahead: true, StartFollowing: true, Preceding: 1, Following: 3},             // 1 FOLLOWING AND 3 FOLLOWING
	{Rows: true, Ahead: true, StartFollowing: true, Preceding: 2, UnboundedFollowing: true}, // 2 FOLLOWING AND UNBOUNDED FOLLOWING
	{Rows: true, Ahead: true, Preceding: 4, Following: 0},                                   // 4 PRECEDING AND 0 FOLLOWING
	{Ahead: true, Preceding: 2, Following: 3},                                               // RANGE 2 PRECEDING AND 3 FOLLOWING
	{Ahead: true, UnboundedFollowing: true},                                                 // RANGE CURRENT ROW AND UNBOUNDED FOLLOWING
	{Ahead: true, Unbounded: true, UnboundedFollowing: true},                                // RANGE over the whole partition
	{Ahead: true, Unbounded: true, Following: 1},                                            // RANGE UNBOUNDED PRECEDING AND 1 FOLLOWING
	{Ahead: true, StartFollowing: true, Preceding: 1, Following: 3},                         // RANGE 1 FOLLOWING AND 3 FOLLOWING
	{Ahead: true, StartFollowing: true, Preceding: 2, UnboundedFollowing: true},             // RANGE 2 FOLLOWING AND UNBOUNDED FOLLOWING
	{Ahead: true, Following: 2},                                                             // RANGE CURRENT ROW AND 2 FOLLOWING
	{Ahead: true, Preceding: 3},                                                             // RANGE 3 PRECEDING AND CURRENT ROW (by the look-ahead path)
	{Rows: true, Ahead: true, EndPreceding: true, Preceding: 3, Following: 1},               // 3 PRECEDING AND 1 PRECEDING
	{Rows: true, Ahead: true, EndPreceding: true, Unbounded: true, Following: 2},            // UNBOUNDED PRECEDING AND 2 PRECEDING
	{Rows: true, Ahead: true, EndPreceding: true, Preceding: 1, Following: 1},               // 1 PRECEDING AND 1 PRECEDING (LAG's)
	{Rows: true, Ahead: true, EndPreceding: true, Preceding: 1, Following: 3},               // 1 PRECEDING AND 3 PRECEDING (always empty)
	{Ahead: true, EndPreceding: true, Preceding: 3, Following: 1},                           // RANGE 3 PRECEDING AND 1 PRECEDING
	{Ahead: true, EndPreceding: true, Unbounded: true, Following: 2},                        // RANGE UNBOUNDED PRECEDING AND 2 PRECEDING
}

// TestOverAheadFrames: frames reaching past the current row, ROWS and RANGE, every shape, ASC and DESC and
// NULLs first or last, with NULL keys, peers and NULL values: each row's SUM, COUNT(*), COUNT(v), MIN and
// MAX equal those computed from its frame's definition (empty frames: NULL, 0 for the COUNTs); and with a
// tiny memory budget (sorted runs and look-ahead queues spilled) the output is the same, no file left.
func TestOverAheadFrames(t *testing.T) {
	keys := []SortKey{{Col: 1, NullsFirst: true}, {Col: 1, Desc: true}, {Col: 1, NullsFirst: false}}
	for _, fr := range aheadFrames {
		for _, key := range keys {
			for _, peers := range []int{1, 3} {
				t.Run(fmt.Sprintf("%+v/desc=%t/nullsFirst=%t/peers=%d", fr, key.Desc, key.NullsFirst, peers), func(t *testing.T) {
					rows := aheadInput(400, peers)
					want := aheadReference(fr, key, rows)
					got, _ := runAhead(t, fr, key, 0, "", rows)
					if len(got) != len(rows) {
						t.Fatalf("%d rows out, %d in", len(got), len(rows))
					}
					for _, g := range got {
						var id int64
						fmt.Sscan(strings.Fields(g)[3], &id)
						if want[id] != g {
							t.Fatalf("row id %d:\ngot  %q\nwant %q", id, g, want[id])
						}
					}
				})
			}
		}
	}
}

// TestOverAheadSpill: a partition far larger than a 16 KiB budget gives the same rows spilled as in
// memory, for look-ahead frames of thousands of rows (frame rows spilled) and short ones; the SUMs etc.
// are also checked against the frames' definitions; no file remains.
func TestOverAheadSpill(t *testing.T) {
	cases := []struct {
		fr         OverFrame
		frameSpill bool
	}{
		{OverFrame{Rows: true, Ahead: true, Preceding: 2, Following: 3}, false},
		{OverFrame{Rows: true, Ahead: true, UnboundedFollowing: true}, true},
		{OverFrame{Rows: true, Ahead: true, Preceding: 1500, Following: 1500}, true},
		{OverFrame{Rows: true, Ahead: true, StartFollowing: true, Preceding: 1000, Following: 3000}, true},
		{OverFrame{Ahead: true, Unbounded: true, UnboundedFollowing: true}, true},
		{OverFrame{Ahead: true, Preceding: 200, Following: 300}, true},
		{OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 3000, Following: 1000}, true},
		{OverFrame{Ahead: true, StartFollowing: true, Preceding: 1, Following: 2}, false},
	}
	key := SortKey{Col: 1, NullsFirst: true}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%+v", c.fr), func(t *testing.T) {
			rows := aheadInput(8000, 3)
			mem, _ := runAhead(t, c.fr, key, 0, "", rows)
			dir := t.TempDir()
			got, op := runAhead(t, c.fr, key, 16<<10, dir, rows)
			if op.SortSpills == 0 {
				t.Errorf("no sorted run was spilled with a 16 KiB budget")
			}
			if c.frameSpill && op.FrameSpills == 0 {
				t.Errorf("a look-ahead of thousands of rows did not spill with a 16 KiB budget")
			}
			if !slices.Equal(got, mem) {
				t.Fatalf("spilled output differs from the in-memory output (%d and %d rows)", len(got), len(mem))
			}
			want := aheadReference(c.fr, key, rows)
			for _, g := range got {
				var id int64
				fmt.Sscan(strings.Fields(g)[3], &id)
				if want[id] != g {
					t.Fatalf("row id %d:\ngot  %q\nwant %q", id, g, want[id])
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("the spill directory holds %d entries after the end", len(ents))
			}
		})
	}
}

// TestOverAheadStreamingRefused: the streaming operator (no Order) refuses a frame reaching past the
// current row.
func TestOverAheadStreamingRefused(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	_, err := NewOverAgg(OverConfig{OrderCol: 0, Frame: OverFrame{Rows: true, Ahead: true, Following: 1},
		Aggs: aggCalls(t, ts, "SUM($1)"), InTypes: ts}, &nullRecorder{})
	if err == nil || !strings.Contains(err.Error(), "batch mode only") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

// BenchmarkOverAhead: SUM, COUNT, MAX over 20,000 rows (PARTITION BY k ORDER BY o), frames of about 2000
// rows: ending at the current row (2000 PRECEDING, the frame evaluator of over_frame.go) against centred on
// it (1000 PRECEDING AND 1000 FOLLOWING, over_ahead.go), ROWS and RANGE, in memory and against a 64 KiB
// budget. One op is one whole run; allocs/op over 20,000 is the allocations per row.
func BenchmarkOverAhead(b *testing.B) {
	rows := overSpillInput(20000, 3)
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	frames := []struct {
		name string
		fr   OverFrame
	}{
		{"rows-2000-preceding", OverFrame{Rows: true, Preceding: 2000}},
		{"rows-1000-preceding-1000-following", OverFrame{Rows: true, Ahead: true, Preceding: 1000, Following: 1000}},
		{"range-600-preceding", OverFrame{Preceding: 600}},
		{"range-300-preceding-300-following", OverFrame{Ahead: true, Preceding: 300, Following: 300}},
		{"rows-2000-preceding-1-preceding", OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 2000, Following: 1}},
	}
	for _, f := range frames {
		for _, budget := range []int64{0, 64 << 10} {
			b.Run(fmt.Sprintf("%s/budget=%d", f.name, budget), func(b *testing.B) {
				dir := b.TempDir()
				b.ReportAllocs()
				for b.Loop() {
					op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, NullsFirst: true}}, Frame: f.fr,
						Aggs: aggCalls(b, ts, "SUM($2)", "COUNT(*)", "MAX($3)"), InTypes: ts, MemBudget: budget, SpillDir: dir}, &discard{})
					if err != nil {
						b.Fatal(err)
					}
					var batch changelog.Batch
					for i, r := range rows {
						batch.Append(changelog.Insert, r)
						if len(batch.Rows) == 1024 || i == len(rows)-1 {
							if err := op.Push(&batch); err != nil {
								b.Fatal(err)
							}
							batch.Reset()
						}
					}
					if err := op.End(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestOverAheadRangeExtremes: RANGE BETWEEN CURRENT ROW AND 1 FOLLOWING over BIGINT keys at both ends of
// the range (where key + 1 overflows int64) holds the keys within 1 after the current one, ascending and
// descending; 1 FOLLOWING AND 1 FOLLOWING only the key exactly 1 after.
func TestOverAheadRangeExtremes(t *testing.T) {
	ts := []types.Type{{Kind: types.BigInt}, {Kind: types.BigInt}}
	keys := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, math.MaxInt64 - 1, math.MaxInt64}
	for _, desc := range []bool{false, true} {
		rec := &intRowRecorder{}
		op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, Desc: desc, NullsFirst: !desc}},
			Frame: OverFrame{Ahead: true, Following: 1},
			Aggs:  aggCalls(t, ts, "COUNT(*)"), InTypes: ts}, rec)
		if err != nil {
			t.Fatal(err)
		}
		op2, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, Desc: desc, NullsFirst: !desc}},
			Frame: OverFrame{Ahead: true, StartFollowing: true, Preceding: 1, Following: 1},
			Aggs:  aggCalls(t, ts, "COUNT(*)"), InTypes: ts}, rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []changelog.Output{op, op2} {
			var b changelog.Batch
			for i := len(keys) - 1; i >= 0; i-- {
				b.Append(changelog.Insert, []types.Value{types.IntValue(keys[i]), types.IntValue(1)})
			}
			if err := o.Push(&b); err != nil {
				t.Fatal(err)
			}
			if err := o.End(); err != nil {
				t.Fatal(err)
			}
		}
		want := "+I[-9223372036854775808 1 2] +I[-9223372036854775807 1 1] +I[-1 1 2] +I[0 1 1] +I[9223372036854775806 1 2] +I[9223372036854775807 1 1]" +
			" +I[-9223372036854775808 1 1] +I[-9223372036854775807 1 0] +I[-1 1 1] +I[0 1 0] +I[9223372036854775806 1 1] +I[9223372036854775807 1 0]"
		if desc {
			want = "+I[9223372036854775807 1 2] +I[9223372036854775806 1 1] +I[0 1 2] +I[-1 1 1] +I[-9223372036854775807 1 2] +I[-9223372036854775808 1 1]" +
				" +I[9223372036854775807 1 1] +I[9223372036854775806 1 0] +I[0 1 1] +I[-1 1 0] +I[-9223372036854775807 1 1] +I[-9223372036854775808 1 0]"
		}
		if got := strings.Join(rec.rows, " "); got != want {
			t.Errorf("desc=%t:\ngot  %s\nwant %s", desc, got, want)
		}
	}
}

// TestOverAheadRangeTimestampPrecision: RANGE BETWEEN CURRENT ROW AND 1000 ms FOLLOWING over TIMESTAMP(9)
// keys counts the nanoseconds: 2001 ms is out of the frame of 1000.5 ms (0.5 ms over), in that of 1001 ms.
func TestOverAheadRangeTimestampPrecision(t *testing.T) {
	ts := []types.Type{{Kind: types.Timestamp, Precision: 9}, {Kind: types.BigInt}}
	keys := []types.Value{types.TimestampValue(1000, 500000), types.TimestampValue(1001, 0), types.TimestampValue(2001, 0),
		types.TimestampValue(2001, 600000)}
	for _, desc := range []bool{false, true} {
		rec := &intRowRecorder{}
		op, err := NewOverAgg(OverConfig{Order: []SortKey{{Col: 0, Desc: desc, NullsFirst: !desc}}, Frame: OverFrame{Ahead: true, Following: 1000},
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
		// ASC: 1000.5 ms {1000.5, 1001}; 1001 {1001, 2001}; 2001 {2001, 2001.6}; 2001.6 {itself}. DESC (the
		// frame goes down): 2001.6 {2001.6, 2001}; 2001 {2001, 1001}; 1001 {1001, 1000.5}; 1000.5 {itself}.
		want := "+I[1000 1 2] +I[1001 1 2] +I[2001 1 2] +I[2001 1 1]"
		if desc {
			want = "+I[2001 1 2] +I[2001 1 2] +I[1001 1 2] +I[1000 1 1]"
		}
		if got := strings.Join(rec.rows, " "); got != want {
			t.Errorf("desc=%t:\ngot  %s\nwant %s", desc, got, want)
		}
	}
}
