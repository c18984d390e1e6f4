package exec

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// valRecorder records rows as text, strings included.
type valRecorder struct{ rows []string }

func (r *valRecorder) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		var sb strings.Builder
		for _, v := range row.Vals {
			if v.T == types.TagString {
				sb.WriteString(v.S + " ")
			} else {
				fmt.Fprintf(&sb, "%d ", v.I)
			}
		}
		r.rows = append(r.rows, sb.String())
	}
	return nil
}
func (r *valRecorder) Watermark(int64) error { return nil }
func (r *valRecorder) End() error            { return nil }

// overSpillInput: k BIGINT (4 partitions, one of them holding most rows), o BIGINT (the order key: peer
// groups of about peers rows), v BIGINT, s STRING; rows in a scrambled order.
func overSpillInput(n, peers int) [][]types.Value {
	var rows [][]types.Value
	for i := range n {
		j := (i * 7919) % n
		k := int64(0)
		if j%10 == 0 {
			k = int64(1 + j%3)
		}
		rows = append(rows, []types.Value{types.IntValue(k), types.IntValue(int64(j / peers)), types.IntValue(int64(j)),
			types.StringValue(fmt.Sprintf("s%05d", (j*31)%n))})
	}
	return rows
}

func runSortedOver(t *testing.T, frame OverFrame, budget int64, dir string, rows [][]types.Value) ([]string, *sortedOver, error) {
	t.Helper()
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	rec := &valRecorder{}
	op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, NullsFirst: true}}, Frame: frame,
		Aggs: aggCalls(t, ts, "SUM($2)", "COUNT(*)", "MAX($3)"), InTypes: ts, MemBudget: budget, SpillDir: dir}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(rows); i += 100 {
		var b changelog.Batch
		for _, r := range rows[i:min(i+100, len(rows))] {
			b.Append(changelog.Insert, r)
		}
		if err := op.Push(&b); err != nil {
			return nil, op.(*sortedOver), err
		}
	}
	return rec.rows, op.(*sortedOver), op.End()
}

// TestSortedOverSpill: a partition far larger than the memory budget gives the same rows as in memory, for
// ROWS and RANGE frames, unbounded and bounded (frames and peer groups larger than the budget too); the
// operator spilled sorted runs and frame rows, and leaves no file behind. The SUMs are also checked against
// a computation from the frames' definitions.
func TestSortedOverSpill(t *testing.T) {
	cases := []struct {
		fr         OverFrame
		peers      int
		frameSpill bool // the frame or a peer group is larger than the budget
	}{
		{OverFrame{Rows: true, Unbounded: true}, 3, false},
		{OverFrame{Rows: true, Preceding: 5000}, 3, true},
		{OverFrame{Rows: true, Preceding: 2}, 3, false},
		{OverFrame{Unbounded: true}, 3, false},
		{OverFrame{Unbounded: true}, 4000, true},
		{OverFrame{Preceding: 2000}, 3, true},
		{OverFrame{Preceding: 0}, 3, false},
		{OverFrame{Preceding: 1}, 4000, true},
	}
	for _, c := range cases {
		fr, rows := c.fr, overSpillInput(20000, c.peers)
		t.Run(fmt.Sprintf("%+v/peers=%d", fr, c.peers), func(t *testing.T) {
			want, _, err := runSortedOver(t, fr, 0, "", rows)
			if err != nil {
				t.Fatal(err)
			}
			checkOverSums(t, fr, rows, want)
			dir := t.TempDir()
			got, op, err := runSortedOver(t, fr, 64<<10, dir, rows)
			if err != nil {
				t.Fatal(err)
			}
			if op.SortSpills == 0 {
				t.Errorf("no sorted run was spilled with a 64 KiB budget")
			}
			if c.frameSpill && op.FrameSpills == 0 {
				t.Errorf("a frame or peer group of thousands of rows did not spill with a 64 KiB budget")
			}
			if len(got) != len(want) {
				t.Fatalf("spilled: %d rows, in memory %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d: spilled %q, in memory %q", i, got[i], want[i])
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("the spill directory holds %d entries after the end", len(ents))
			}
		})
	}
}

// checkOverSums recomputes each partition's SUM(v) from the frame's definition (rows sorted by o, peers in
// arrival order) and compares it with the emitted rows (k o v s sum count max).
func checkOverSums(t *testing.T, fr OverFrame, rows [][]types.Value, got []string) {
	t.Helper()
	byPart := map[int64][][]types.Value{}
	for _, r := range rows {
		byPart[r[0].I] = append(byPart[r[0].I], r)
	}
	want := map[string]int{}
	for _, p := range byPart {
		// stable sort by o: peers keep arrival order
		sorted := slices.Clone(p)
		slices.SortStableFunc(sorted, func(a, b []types.Value) int { return cmp.Compare(a[1].I, b[1].I) })
		prefix := make([]int64, len(sorted)+1)
		for i, r := range sorted {
			prefix[i+1] = prefix[i] + r[2].I
		}
		for i, r := range sorted {
			var lo, hi int // the frame: sorted[lo:hi]
			switch {
			case fr.Rows:
				hi = i + 1
				if !fr.Unbounded {
					lo = max(0, i-int(fr.Preceding))
				}
			default:
				hi = i + 1
				for hi < len(sorted) && sorted[hi][1].I == r[1].I {
					hi++
				}
				if !fr.Unbounded {
					lo = i
					for lo > 0 && sorted[lo-1][1].I >= r[1].I-fr.Preceding {
						lo--
					}
				}
			}
			want[fmt.Sprintf("%d %d %d %d %d", r[0].I, r[1].I, r[2].I, prefix[hi]-prefix[lo], hi-lo)]++
		}
	}
	for _, g := range got {
		f := strings.Fields(g)
		k := strings.Join([]string{f[0], f[1], f[2], f[4], f[5]}, " ")
		if want[k] == 0 {
			t.Fatalf("frame %+v: row %q is not what the frame's definition gives", fr, g)
		}
		want[k]--
	}
}

// TestSortedOverSpillDirError: spilling into a directory that cannot take files fails with an error naming
// the directory and the option.
func TestSortedOverSpillDirError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(file, "spill")
	_, _, err := runSortedOver(t, OverFrame{Rows: true, Preceding: 5000}, 64<<10, dir, overSpillInput(20000, 3))
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "io.tmp.dirs") {
		t.Fatalf("want an error naming %s and 'io.tmp.dirs', got %v", dir, err)
	}
}

// BenchmarkOverBatchSpill: SUM, COUNT, MAX over a RANGE frame of 2000 PRECEDING (PARTITION BY k ORDER BY o)
// of 20,000 rows, in memory against a 64 KiB budget (sorted runs and frames spilled to a temporary
// directory). One op is one whole run.
func BenchmarkOverBatchSpill(b *testing.B) {
	rows := overSpillInput(20000, 3)
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	for _, budget := range []int64{0, 64 << 10} {
		b.Run(fmt.Sprintf("budget=%d", budget), func(b *testing.B) {
			dir := b.TempDir()
			b.ReportAllocs()
			for b.Loop() {
				op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, NullsFirst: true}}, Frame: OverFrame{Preceding: 2000},
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

// TestOverSpillAbandonedLeavesNoFiles: an OVER aggregate that spilled sorted runs and is then dropped
// without End (its job failed upstream) leaves no file in the spill directory: the sort unlinks each run
// as it writes it.
func TestOverSpillAbandonedLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType()}
	op, err := NewOverAgg(OverConfig{Partition: []int{0}, Order: []SortKey{{Col: 1, NullsFirst: true}},
		Frame: OverFrame{Rows: true, Ahead: true, EndPreceding: true, Preceding: 3, Following: 1},
		Aggs:  aggCalls(t, ts, "SUM($2)"), InTypes: ts, MemBudget: 16 << 10, SpillDir: dir}, &valRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	for _, r := range overSpillInput(5000, 3) {
		b.Append(changelog.Insert, r)
	}
	if err := op.Push(&b); err != nil {
		t.Fatal(err)
	}
	if n := op.(*sortedOver).SortSpills; n == 0 {
		t.Fatalf("no sorted run spilled: the test needs a smaller budget")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > 0 {
		t.Fatalf("%d files left in the spill directory by an OVER dropped before its end, e.g. %s", len(ents), ents[0].Name())
	}
	// Close, which the engine calls when the attempt ends, closes the unlinked runs at once (their space
	// is freed then, not when the garbage collector finalizes them).
	so := op.(*sortedOver)
	var files []*os.File
	for _, r := range so.spill.sort.runs {
		files = append(files, r.f)
	}
	so.Close()
	for i, f := range files {
		if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("run %d of %d is still open after Close (Stat: %v)", i, len(files), err)
		}
	}
	so.Close() // idempotent
}
