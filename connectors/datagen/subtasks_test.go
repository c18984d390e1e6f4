package datagen_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/datagen"
)

func createSource(t testing.TB, input string, opts ...datagen.Option) connectors.Source {
	t.Helper()
	tbl := table(t, input)
	src, err := datagen.NewFactory(append([]datagen.Option{datagen.WithSeed(7)}, opts...)...).
		CreateSource(connectors.Context{Table: tbl, Options: tbl.Options})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// runAll runs the n subtasks of src concurrently; subtask i stops after stop[i] rows (0: never).
func runAll(t *testing.T, src connectors.Source, n int, stop []int) []*collector {
	t.Helper()
	ps := src.(connectors.ParallelSource)
	outs := make([]*collector, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range outs {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		outs[i] = &collector{cancel: cancel}
		if stop != nil {
			outs[i].stopAt = stop[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ps.RunSubtask(ctx, outs[i], i, n)
			if errors.Is(errs[i], context.Canceled) && outs[i].stopAt > 0 {
				errs[i] = nil
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("subtask %d of %d: %v", i, n, err)
		}
	}
	return outs
}

// ids returns column 0 (BIGINT) of the rows of outs, sorted.
func ids(outs ...[]*collector) []int64 {
	var all []int64
	for _, os := range outs {
		for _, o := range os {
			for _, r := range o.rows {
				all = append(all, r[0].I)
			}
		}
	}
	slices.Sort(all)
	return all
}

// As Flink's datagen: at parallelism n each subtask emits a contiguous sub-range of the sequence (the first
// ones one row longer when n does not divide it) and together they emit every value once; random rows
// (number-of-rows) are split the same way.
func TestSubtasksSplitSequencesAndRows(t *testing.T) {
	var want []int64
	for v := int64(10); v <= 10010; v++ {
		want = append(want, v)
	}
	for n := 1; n <= 4; n++ {
		src := createSource(t, "id BIGINT, r INT\nfields.id.kind=sequence\nfields.id.start=10\nfields.id.end=10010\nrows-per-second=1000000000")
		outs := runAll(t, src, n, nil)
		if got := ids(outs); !slices.Equal(got, want) {
			t.Fatalf("n=%d: %d values, not 10..10010 once each", n, len(got))
		}
		from := int64(10)
		for i, o := range outs {
			size := 10001 / n
			if i < 10001%n {
				size++
			}
			if len(o.rows) != size || o.rows[0][0].I != from || o.rows[len(o.rows)-1][0].I != from+int64(size)-1 {
				t.Fatalf("n=%d: subtask %d emitted %d rows from %v, want %d from %d", n, i, len(o.rows), o.rows[0][0], size, from)
			}
			from += int64(size)
		}
		src = createSource(t, "r INT\nnumber-of-rows=1001\nrows-per-second=1000000000")
		outs = runAll(t, src, n, nil)
		var sizes []int
		total := 0
		for _, o := range outs {
			sizes = append(sizes, len(o.rows))
			total += len(o.rows)
		}
		if total != 1001 || sizes[0] != 1001/n+min(1, 1001%n) || sizes[n-1] != 1001/n {
			t.Fatalf("n=%d: random rows per subtask %v", n, sizes)
		}
	}
	// Random fields: each range draws from a stream of its own (two subtasks do not repeat each other).
	outs := runAll(t, createSource(t, "r BIGINT\nnumber-of-rows=100\nrows-per-second=1000000000"), 2, nil)
	if fmt.Sprint(outs[0].rows[:5]) == fmt.Sprint(outs[1].rows[:5]) {
		t.Fatalf("both subtasks generated the same random rows %v", outs[0].rows[:5])
	}
}

// Each of n subtasks emits rows-per-second / n rows per second: at 100 rows/s over two subtasks, subtask 0
// emits its 20 rows in batches of 5, 100 ms apart.
func TestSubtaskRate(t *testing.T) {
	clock := &fakeClock{now: clockStart}
	src := createSource(t, "id INT\nrows-per-second=100\nnumber-of-rows=40", datagen.WithClock(clock.Now, clock.Sleep))
	out := &collector{}
	if err := src.(connectors.ParallelSource).RunSubtask(context.Background(), out, 0, 2); err != nil {
		t.Fatal(err)
	}
	if len(out.rows) != 20 || out.pushes != 4 || out.maxSize != 5 || clock.slept != 300*time.Millisecond {
		t.Fatalf("%d rows in %d pushes of at most %d, slept %v", len(out.rows), out.pushes, out.maxSize, clock.slept)
	}
}

// A checkpoint taken at one parallelism restores at another: every sequence value is emitted once in all.
func TestRestoreAtAnotherParallelism(t *testing.T) {
	const input = "id BIGINT\nfields.id.kind=sequence\nfields.id.start=1\nfields.id.end=20000\nrows-per-second=1000000000"
	want := ids(runAll(t, createSource(t, input), 1, nil))
	for _, tc := range []struct {
		from, to int
		stop     []int
	}{{2, 3, []int{1500, 3000}}, {3, 1, []int{1, 2000, 5000}}, {1, 4, []int{7000}}} {
		src := createSource(t, input)
		first := runAll(t, src, tc.from, tc.stop)
		pos, err := src.(connectors.Checkpointed).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		src2 := createSource(t, input)
		if err := src2.(connectors.Checkpointed).RestorePosition(pos); err != nil {
			t.Fatal(err)
		}
		rest := runAll(t, src2, tc.to, nil)
		if got := ids(first, rest); len(ids(first)) >= len(want) || !slices.Equal(got, want) {
			t.Fatalf("%d → %d subtasks: %d + %d values, want 1..20000 once each", tc.from, tc.to, len(ids(first)), len(ids(rest)))
		}
	}
	src := createSource(t, input)
	for _, bad := range [][]byte{[]byte("dg2:"), []byte("dg2:\x01\x04\x02\x00x"), {0x81}} {
		if err := src.(connectors.Checkpointed).RestorePosition(bad); err == nil {
			t.Errorf("corrupt position %q accepted", bad)
		}
	}
}

func TestScanParallelism(t *testing.T) {
	src := createSource(t, "id INT\nscan.parallelism=3")
	if n := src.(connectors.ParallelSource).Subtasks(8); n != 3 {
		t.Errorf("scan.parallelism 3: Subtasks(8) = %d", n)
	}
	if n := createSource(t, "id INT").(connectors.ParallelSource).Subtasks(8); n != 8 {
		t.Errorf("default: Subtasks(8) = %d", n)
	}
	tbl := table(t, "id INT\nscan.parallelism=0")
	if _, err := datagen.NewFactory().CreateSource(connectors.Context{Table: tbl, Options: tbl.Options}); err == nil ||
		err.Error() != "Invalid value for option 'scan.parallelism': '0' must be at least 1" {
		t.Errorf("scan.parallelism 0: %v", err)
	}
}
