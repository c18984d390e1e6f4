package nexmark

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

// The split is GeneratorConfig.split(n): generator j of n has the event ids after j ranges of events.num / n
// (the last one the remainder), events n times further apart, and the same first event number.
func TestSplitConfigsCoverTheEventIds(t *testing.T) {
	for _, ooo := range []int64{1, 7} {
		s := defaultSettings()
		s.NumEvents = 10_001
		s.OutOfOrderGroupSize = ooo
		one := newConfig(s, testBase)
		var want []int64
		for c := int64(0); c < one.maxEvents; c++ {
			want = append(want, one.firstEventID+one.adjustedEventNumber(c))
		}
		for n := 1; n <= 4; n++ {
			var got []int64
			for j := 0; j < n; j++ {
				c := newSplitConfig(s, testBase, j, n)
				if c.firstEventID != 1+int64(j)*(10_001/int64(n)) || c.firstEventNum != 1 {
					t.Fatalf("n=%d j=%d: first event id %d, number %d", n, j, c.firstEventID, c.firstEventNum)
				}
				if d := c.timestampForEvent(1001) - c.timestampForEvent(1); d != int64(n)*100 {
					t.Fatalf("n=%d j=%d: 1000 events span %d ms, want %d (10,000 ev/s over %d generators)", n, j, d, n*100, n)
				}
				for k := int64(0); k < c.maxEvents; k++ {
					got = append(got, c.firstEventID+c.adjustedEventNumber(k))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("out-of-order %d, n=%d: the generators' event ids are not those of one generator", ooo, n)
			}
		}
	}
}

// subtaskRun is what one subtask pushed and the split events it reported.
type subtaskRun struct {
	c      *collector
	events []string
}

// splitLog records a subtask's split events.
type splitLog struct{ events *[]string }

func (l splitLog) AddSplit(id int)    { *l.events = append(*l.events, fmt.Sprint("add ", id)) }
func (l splitLog) SplitRows(id int)   { *l.events = append(*l.events, fmt.Sprint("rows ", id)) }
func (l splitLog) FinishSplit(id int) { *l.events = append(*l.events, fmt.Sprint("finish ", id)) }

// runSubtasks runs every subtask of n of src concurrently; subtask i stops after stopAfter[i] pushes (0:
// never). With listen, every subtask gets a split listener.
func runSubtasks(t *testing.T, src connectors.Source, n int, stopAfter []int, listen bool) []*subtaskRun {
	t.Helper()
	ps := src.(connectors.ParallelSource)
	runs := make([]*subtaskRun, n)
	var ls []connectors.SplitListener
	for i := range runs {
		runs[i] = &subtaskRun{}
		ls = append(ls, splitLog{&runs[i].events})
	}
	if listen {
		src.(connectors.SubtaskSplitSource).SetSubtaskSplitListeners(ls)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range runs {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := 0
		if stopAfter != nil {
			stop = stopAfter[i]
		}
		runs[i].c = &collector{stopAfter: stop, cancel: cancel}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ps.RunSubtask(ctx, runs[i].c, i, n)
			if errors.Is(errs[i], context.Canceled) && stop > 0 {
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
	return runs
}

// keyed returns the events of runs as sorted lines.
func keyed(runs ...[]*subtaskRun) []string {
	var all []string
	for _, rs := range runs {
		for _, r := range rs {
			all = append(all, r.c.lines...)
		}
	}
	sort.Strings(all)
	return all
}

// idsOf returns the person and auction ids (one per person and auction event, in order of their event ids)
// and the number of bids among sorted event lines.
func idsOf(lines []string) (persons, auctions []int64, bids int) {
	for _, l := range lines {
		var id int64
		switch l[0] {
		case 'P':
			fmt.Sscanf(l, "P|%d|", &id)
			persons = append(persons, id)
		case 'A':
			fmt.Sscanf(l, "A|%d|", &id)
			auctions = append(auctions, id)
		default:
			bids++
		}
	}
	slices.Sort(persons)
	slices.Sort(auctions)
	return persons, auctions, bids
}

// At parallelism n = 1..4 the source runs n generators, one per subtask: together they generate the events
// of one generator's ids (every person and auction id once, the same number of bids), and subtask i
// generates exactly generator i's events.
func TestSubtasksUnionIsTheOneGeneratorEvents(t *testing.T) {
	opts := map[string]string{"events.num": "20001", "seed": "5"}
	one, _ := run(t, opts, 0, nil)
	wantP, wantA, wantB := idsOf(keyed([]*subtaskRun{{c: one}}))
	if len(wantP) != 400 || len(wantA) != 1201 || wantB != 18400 {
		t.Fatalf("one generator: %d persons, %d auctions, %d bids", len(wantP), len(wantA), wantB)
	}
	for n := 1; n <= 4; n++ {
		src, err := create(t, opts)
		if err != nil {
			t.Fatal(err)
		}
		runs := runSubtasks(t, src, n, nil, false)
		p, a, b := idsOf(keyed(runs))
		if !slices.Equal(p, wantP) || !slices.Equal(a, wantA) || b != wantB {
			t.Fatalf("n=%d: %d persons, %d auctions, %d bids; the ids differ from one generator's", n, len(p), len(a), b)
		}
		for i, r := range runs {
			// Subtask i's events are generator i's, in order.
			s, _ := create(t, opts)
			g := &generator{cfg: newSplitConfig(s.(*source).settings, testBase, i, n), tab: newTables(5), rng: splitMix{seed: splitSeed(5, i)}}
			var want []string
			row := make([]types.Value, 4)
			for g.hasNext() {
				g.next(row)
				want = append(want, eventLine(row))
			}
			if !slices.Equal(r.c.lines, want) {
				t.Fatalf("n=%d: subtask %d generated %d events, not generator %d's %d", n, i, len(r.c.lines), i, len(want))
			}
		}
	}
}

// A checkpoint taken at one parallelism restores at another: the events generated before it and after it
// are exactly those of an uninterrupted run (as multisets of whole events: nothing lost, nothing repeated).
func TestRestoreAtAnotherParallelism(t *testing.T) {
	opts := map[string]string{"events.num": "30000", "seed": "9"}
	full, _ := create(t, opts)
	want := keyed(runSubtasks(t, full, 2, nil, false))
	for _, tc := range []struct {
		from, to int
		stop     []int
	}{
		{2, 3, []int{3, 5}},
		{2, 1, []int{1, 9}},
		{2, 4, []int{2, 2}},
	} {
		src, _ := create(t, opts)
		first := runSubtasks(t, src, tc.from, tc.stop, false)
		pos, err := src.(connectors.Checkpointed).SnapshotPosition()
		if err != nil {
			t.Fatal(err)
		}
		// Another seed in the new table: the position carries the generators' state.
		src2, _ := create(t, map[string]string{"events.num": "30000", "seed": "77"})
		if err := src2.(connectors.Checkpointed).RestorePosition(pos); err != nil {
			t.Fatal(err)
		}
		rest := runSubtasks(t, src2, tc.to, nil, false)
		got := keyed(first, rest)
		if len(keyed(first)) >= len(want) || !slices.Equal(got, want) {
			t.Fatalf("%d → %d subtasks: %d + %d events, want the %d of an uninterrupted run", tc.from, tc.to,
				len(keyed(first)), len(keyed(rest)), len(want))
		}
	}
	// A version 1 position (one generator) still restores.
	src, _ := create(t, opts)
	if err := src.(connectors.Checkpointed).RestorePosition([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 5, 10, 0, 1}); err != nil {
		t.Fatalf("version 1 position: %v", err)
	}
	for _, bad := range [][]byte{{2, 10, 0, 1, 0}, {2, 10, 0, 1, 2, 0}, {3}} {
		if err := src.(connectors.Checkpointed).RestorePosition(bad); err == nil {
			t.Errorf("corrupt position %v accepted", bad)
		}
	}
}

// With 'num-event-generators' = 3 and two subtasks, subtask 0 reads generators 0 and 2 and subtask 1
// generator 1; each reports its generators as splits, the rows of every push of one split, earliest first,
// and finishes them.
func TestSubtaskSplitsAndListeners(t *testing.T) {
	opts := map[string]string{"events.num": "6144", "seed": "2", "num-event-generators": "3"}
	src, err := create(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := src.(connectors.ParallelSource).Subtasks(2); n != 2 {
		t.Fatalf("Subtasks(2) = %d", n)
	}
	runs := runSubtasks(t, src, 2, nil, true)
	want0 := "[add 0 add 2 rows 0 rows 2 rows 0 finish 0 rows 2 finish 2]"
	want1 := "[add 1 rows 1 rows 1 finish 1]"
	if got := fmt.Sprint(runs[0].events); got != want0 {
		t.Errorf("subtask 0 split events %s, want %s", got, want0)
	}
	if got := fmt.Sprint(runs[1].events); got != want1 {
		t.Errorf("subtask 1 split events %s, want %s", got, want1)
	}
	if len(runs[0].c.lines) != 4096 || len(runs[1].c.lines) != 2048 {
		t.Errorf("%d and %d events", len(runs[0].c.lines), len(runs[1].c.lines))
	}
	// Generators without events (events.num below the generators) finish at once.
	src3, _ := create(t, map[string]string{"events.num": "2", "seed": "2", "num-event-generators": "3"})
	runs = runSubtasks(t, src3, 1, nil, true)
	if got, want := fmt.Sprint(runs[0].events), "[add 0 add 1 add 2 finish 0 finish 1 rows 2 finish 2]"; got != want || len(runs[0].c.lines) != 2 {
		t.Errorf("2 events over 3 generators: split events %s, want %s; %d events", got, want, len(runs[0].c.lines))
	}
	// One listener for the whole source (a table read by several branches) makes it one subtask.
	src2, _ := create(t, opts)
	src2.(connectors.SplitSource).SetSplitListener(splitLog{new([]string)})
	if n := src2.(connectors.ParallelSource).Subtasks(4); n != 1 {
		t.Errorf("with one split listener Subtasks(4) = %d, want 1", n)
	}
	for _, v := range []string{"0", "-1", "70000"} {
		if _, err := create(t, map[string]string{"num-event-generators": v}); err == nil {
			t.Errorf("num-event-generators %s accepted", v)
		}
	}
}
