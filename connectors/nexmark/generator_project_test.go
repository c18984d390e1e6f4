package nexmark

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// projections are the projections of the table's columns the tests try: q1/q2's (bid members only), q0's
// (all of bid), members of every type, each member alone, and random member sets.
func projections() []*formats.Projection {
	widths := []int{8, 10, 7} // person, auction, bid members
	ps := []*formats.Projection{
		{Need: []bool{true, false, false, true}, Sub: []*formats.Projection{nil, nil, nil, {Need: []bool{true, false, true, false, false, true, false}}}},
		{Need: []bool{true, false, false, true}},
		{Need: []bool{true, true, true, false}, Sub: []*formats.Projection{nil,
			{Need: []bool{true, true, false, false, true, true, false, false}},
			{Need: []bool{true, false, false, false, false, false, false, true, true, true}}}},
		{Need: []bool{false, true, false, false}, Sub: []*formats.Projection{nil, {Need: []bool{false, false, true, true, false, false, false, true}}}},
		{Need: []bool{true, false, true, false}, Sub: []*formats.Projection{nil, nil, {Need: []bool{false, true, true, false, false, false, false, false, false, false}}}},
	}
	for c, w := range widths {
		for m := 0; m < w; m++ {
			p := &formats.Projection{Need: []bool{true, true, true, true}, Sub: make([]*formats.Projection, 4)}
			p.Sub[c+1] = &formats.Projection{Need: make([]bool, w)}
			p.Sub[c+1].Need[m] = true
			ps = append(ps, p)
		}
	}
	r := rand.New(rand.NewSource(3))
	for k := 0; k < 10; k++ {
		p := &formats.Projection{Need: []bool{r.Intn(2) == 0, true, true, true}, Sub: make([]*formats.Projection, 4)}
		for c, w := range widths {
			switch r.Intn(3) {
			case 0:
				p.Need[c+1] = false
			case 1:
				sub := &formats.Projection{Need: make([]bool, w)}
				for m := range sub.Need {
					sub.Need[m] = r.Intn(2) == 0
				}
				sub.Need[r.Intn(w)] = true
				p.Sub[c+1] = sub
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// projectRow is the full event row as the projection p reads it: the columns and members p does not need
// NULL (event_type is always kept: the generator fills it whatever the projection).
func projectRow(full []types.Value, p *formats.Projection) []types.Value {
	out := slices.Clone(full)
	for c := 1; c < 4; c++ {
		if !p.Needs(c) {
			out[c] = types.NullValue
			continue
		}
		if sub := p.Of(c); sub != nil && !out[c].IsNull() {
			vs := slices.Clone(out[c].Fields())
			for m := range vs {
				if !sub.Needs(m) {
					vs[m] = types.NullValue
				}
			}
			out[c] = types.RowValue(vs)
		}
	}
	return out
}

func projectedGenerator(s settings, seed int64, j, n int, p *formats.Projection) *generator {
	src := &source{}
	if p != nil {
		src.ApplyProjection(p)
	}
	return &generator{cfg: newSplitConfig(s, testBase, j, n), tab: newTables(seed), rng: splitMix{seed: splitSeed(seed, j)}, proj: src.proj}
}

// A projected generator (rows and columns) gives every event the values of the full generator's event for
// what the projection reads and NULL for the rest, and draws the same random numbers (its state after each
// event is the full one's): for every event type, nested members alone and together, several seeds, splits
// and sizes (huge average sizes make 'extra' strings that are built afresh, not cut from the shared one).
func TestProjectedEventsEqualFullEvents(t *testing.T) {
	big := defaultSettings()
	big.NumEvents = 12
	big.AvgPersonSize, big.AvgAuctionSize, big.AvgBidSize = 700_000, 800_000, 650_000
	small := defaultSettings()
	small.NumEvents = 1000
	all := projections()
	kinds := map[int64]int{}
	for _, tc := range []struct {
		s     settings
		seed  int64
		split [2]int
		ps    []*formats.Projection
	}{
		{small, 42, [2]int{0, 1}, all},
		{small, 1, [2]int{1, 3}, all},
		{small, 7777, [2]int{2, 3}, all[:5]},
		{big, 5, [2]int{0, 1}, all[1:4]},
	} {
		s, seed, split := tc.s, tc.seed, tc.split
		for pi, p := range tc.ps {
			name := fmt.Sprintf("events=%d seed=%d split=%d/%d projection %d", s.NumEvents, seed, split[0], split[1], pi)
			full := projectedGenerator(s, seed, split[0], split[1], nil)
			rows := projectedGenerator(s, seed, split[0], split[1], p)
			cols := projectedGenerator(s, seed, split[0], split[1], p)
			var conv vec.RowConv
			batch := newEventCols()
			for full.hasNext() {
				batch.reset(97)
				var want [][]types.Value
				for i := 0; i < 97 && full.hasNext(); i++ {
					f := make([]types.Value, 4)
					full.next(f)
					kinds[f[0].I]++
					want = append(want, projectRow(f, p))
					got := make([]types.Value, 4)
					rows.next(got)
					if !reflect.DeepEqual(got, want[i]) {
						t.Fatalf("%s: event %d: projected rows give %v, want %v", name, full.count, got, want[i])
					}
					if rows.rng != full.rng {
						t.Fatalf("%s: event %d: the projected generator drew other random numbers", name, full.count)
					}
					cols.nextCols(batch)
				}
				batch.finish()
				for i, r := range conv.Rows(&batch.b).Rows {
					if !reflect.DeepEqual(r.Vals, want[i]) {
						t.Fatalf("%s: projected columns give %v, want %v", name, r.Vals, want[i])
					}
				}
				if cols.rng != full.rng {
					t.Fatalf("%s: the projected columnar generator drew other random numbers", name)
				}
			}
		}
	}
	if kinds[typePerson] == 0 || kinds[typeAuction] == 0 || kinds[typeBid] == 0 {
		t.Fatalf("event types: %v", kinds)
	}
}

// The source hands its projection to the generators of every subtask: at parallelism 1 to 3 the projected
// events of each subtask are the full events projected.
func TestSourceAppliesProjection(t *testing.T) {
	opts := map[string]string{"events.num": "5000", "seed": "9"}
	p := projections()[2]
	for n := 1; n <= 3; n++ {
		full, _ := create(t, opts)
		proj, _ := create(t, opts)
		proj.(*source).ApplyProjection(p)
		fr, pr := runSubtasks(t, full, n, nil, false), runSubtasks(t, proj, n, nil, false)
		for i := range fr {
			if len(fr[i].c.lines) == 0 || len(fr[i].c.lines) != len(pr[i].c.lines) {
				t.Fatalf("n=%d subtask %d: %d events, projected %d", n, i, len(fr[i].c.lines), len(pr[i].c.lines))
			}
		}
		s, _ := create(t, opts)
		for i := 0; i < n; i++ {
			g := &generator{cfg: newSplitConfig(s.(*source).settings, testBase, i, n), tab: newTables(9), rng: splitMix{seed: splitSeed(9, i)}}
			row := make([]types.Value, 4)
			for k := 0; g.hasNext(); k++ {
				g.next(row)
				if want := eventLine(projectRow(row, p)); pr[i].c.lines[k] != want {
					t.Fatalf("n=%d subtask %d event %d: projected %s, want %s", n, i, k, pr[i].c.lines[k], want)
				}
			}
		}
	}
}
