package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Rows of the tests: (pk BIGINT, partner BIGINT, version BIGINT).
var smTypes = []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType()}

func smRow(pk, partner, version int64) []types.Value {
	return []types.Value{types.IntValue(pk), types.IntValue(partner), types.IntValue(version)}
}

// upsertView applies an upsert changelog (+I/+U set the key's row, -D removes it, -U is ignored, as
// upsert-kafka's compaction) to view, keyed by column 0.
func upsertView(view map[int64][]types.Value, rows []changelog.Row) {
	for _, r := range rows {
		k := r.Vals[0].Int()
		switch r.Kind {
		case changelog.Insert, changelog.UpdateAfter:
			view[k] = r.Vals
		case changelog.Delete:
			delete(view, k)
		}
	}
}

func smPush(t *testing.T, op changelog.Output, rows ...changelog.Row) {
	t.Helper()
	if err := op.Push(&changelog.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
}

func TestSinkMaterializerExact(t *testing.T) {
	rec := &recorder{}
	op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes}, rec)
	I, UA, UB, D := changelog.Insert, changelog.UpdateAfter, changelog.UpdateBefore, changelog.Delete
	r := func(k changelog.Kind, pk, partner, v int64) changelog.Row {
		return changelog.Row{Kind: k, Vals: smRow(pk, partner, v)}
	}
	smPush(t, op, r(I, 1, 10, 1))  // first row: +I
	smPush(t, op, r(I, 1, 20, 2))  // the new row arrives before the old one's retraction: +U
	smPush(t, op, r(D, 1, 10, 1))  // a non-last row goes: nothing
	smPush(t, op, r(UB, 1, 20, 2)) // the last row goes: -D
	smPush(t, op, r(D, 1, 20, 2))  // unknown row: nothing
	smPush(t, op, r(I, 2, 1, 1), r(I, 2, 2, 2), r(UA, 2, 1, 1))
	smPush(t, op, r(D, 2, 1, 1))  // the first equal row goes (not last): nothing
	smPush(t, op, r(UB, 2, 1, 1)) // the last row goes: the new last row is +U
	smPush(t, op, r(D, 2, 2, 2))  // the list is empty: -D
	want := "+I[1, 10, 1]\n+U[1, 20, 2]\n-D[1, 20, 2]\n+I[2, 1, 1]\n+U[2, 2, 2]\n+U[2, 1, 1]\n+U[2, 2, 2]\n-D[2, 2, 2]\n"
	if got := rec.b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestSinkMaterializerReordered is the case the operator exists for: every primary key changes its row over
// time (each version with a partner), the -U/-D of a version and the +I/+U of the next are routed by the
// partner through different channels, and the channels interleave at random. Through the materializer, the
// upsert view at the end equals each key's last version (or no row when the last change deleted it); applied
// directly, the same interleavings leave keys wrong (the test checks that too, so it stays meaningful).
func TestSinkMaterializerReordered(t *testing.T) {
	const keys, channels = 20, 3
	naiveWrong := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		chans := make([][]changelog.Row, channels)
		truth := map[int64][]types.Value{}
		for k := range int64(keys) {
			var cur []types.Value
			curCh := 0
			for v := range int64(1 + rng.IntN(6)) {
				if cur != nil {
					kind := changelog.Delete
					if rng.IntN(2) == 0 {
						kind = changelog.UpdateBefore
					}
					chans[curCh] = append(chans[curCh], changelog.Row{Kind: kind, Vals: cur})
					cur = nil
				}
				if rng.IntN(5) == 0 { // the key stays deleted for this version
					continue
				}
				partner := rng.Int64N(channels * 4)
				cur, curCh = smRow(k, partner, v), int(partner%channels)
				kind := changelog.Insert
				if rng.IntN(2) == 0 {
					kind = changelog.UpdateAfter
				}
				chans[curCh] = append(chans[curCh], changelog.Row{Kind: kind, Vals: cur})
			}
			if cur != nil {
				truth[k] = cur
			}
		}
		// Interleave the channels at random, keeping each channel's order.
		var merged []changelog.Row
		for {
			var open []int
			for i, c := range chans {
				if len(c) > 0 {
					open = append(open, i)
				}
			}
			if len(open) == 0 {
				break
			}
			i := open[rng.IntN(len(open))]
			n := 1 + rng.IntN(min(3, len(chans[i])))
			merged = append(merged, chans[i][:n]...)
			chans[i] = chans[i][n:]
		}
		naive := map[int64][]types.Value{}
		upsertView(naive, merged)
		if fmt.Sprint(naive) != fmt.Sprint(truth) {
			naiveWrong++
		}
		rec := &recorder{}
		op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes}, rec)
		for len(merged) > 0 {
			n := min(len(merged), 1+rng.IntN(4))
			smPush(t, op, merged[:n]...)
			merged = merged[n:]
		}
		got := map[int64][]types.Value{}
		upsertView(got, rec.rows)
		if fmt.Sprint(got) != fmt.Sprint(truth) {
			t.Fatalf("seed %d: materialized view\n%v\nwant\n%v", seed, got, truth)
		}
		if n := len(op.(*sinkMaterializer).state); n != len(truth) {
			t.Fatalf("seed %d: %d keys in state, %d alive", seed, n, len(truth))
		}
	}
	if naiveWrong == 0 {
		t.Fatal("no interleaving broke the view without the materializer: the test tests nothing")
	}
	t.Logf("without the materializer %d of 200 interleavings end wrong", naiveWrong)
}

// TestSinkMaterializerReference checks the operator against a reference of the rows alive per key (a
// multiset) over random changelogs with duplicate rows: after every push the upsert view holds a row for
// exactly the keys with live rows, that row is one of them, +I comes only for keys the view lacks and -D
// only for keys it has.
func TestSinkMaterializerReference(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 11))
		rec := &recorder{}
		op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes}, rec)
		alive := map[int64][][]types.Value{}
		view := map[int64][]types.Value{}
		for range 300 {
			var rows []changelog.Row
			for range 1 + rng.IntN(4) {
				k := rng.Int64N(5)
				if live := alive[k]; len(live) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(live))
					kind := changelog.Delete
					if rng.IntN(2) == 0 {
						kind = changelog.UpdateBefore
					}
					rows = append(rows, changelog.Row{Kind: kind, Vals: live[i]})
					alive[k] = append(live[:i:i], live[i+1:]...)
					if len(alive[k]) == 0 {
						delete(alive, k)
					}
					continue
				}
				r := smRow(k, rng.Int64N(3), rng.Int64N(2)) // few values: duplicates happen
				alive[k] = append(alive[k], r)
				rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: r})
			}
			from := len(rec.rows)
			smPush(t, op, rows...)
			for _, r := range rec.rows[from:] {
				_, has := view[r.Vals[0].Int()]
				if r.Kind == changelog.Insert && has || r.Kind == changelog.Delete && !has || r.Kind == changelog.UpdateAfter && !has || r.Kind == changelog.UpdateBefore {
					t.Fatalf("seed %d: %s with the key %s in the view", seed, formatRow(r), map[bool]string{true: "already", false: "not"}[has])
				}
				upsertView(view, []changelog.Row{r})
			}
			if len(view) != len(alive) {
				t.Fatalf("seed %d: %d keys in the view, %d with live rows", seed, len(view), len(alive))
			}
			for k, row := range view {
				found := false
				for _, l := range alive[k] {
					found = found || smRowsEqual(smTypes, l, row)
				}
				if !found {
					t.Fatalf("seed %d: key %d shows %v, not one of its live rows %v", seed, k, row, alive[k])
				}
			}
		}
	}
}

func TestSinkMaterializerRestore(t *testing.T) {
	forEachCut(t, "sink upsert materializer", 60, func(rng *rand.Rand) (builder, []step) {
		build := func(t testing.TB, out changelog.Output) ([]changelog.Output, []state.Snapshotter) {
			op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes}, out)
			return []changelog.Output{op}, []state.Snapshotter{StateOf(op)}
		}
		c := &changes{rng: rng, retract: 0.4, update: true}
		var steps []step
		for range 30 {
			steps = append(steps, c.next(0, func() []types.Value { return smRow(rng.Int64N(6), rng.Int64N(3), rng.Int64N(3)) }))
		}
		return build, append(steps, step{end: true})
	})
}

func TestSinkMaterializerRestoreCorrupt(t *testing.T) {
	op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes}, &recorder{})
	smPush(t, op, changelog.Row{Kind: changelog.Insert, Vals: smRow(1, 2, 3)})
	mem := state.NewMemory()
	if err := StateOf(op).SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	other := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0, 1}, Types: smTypes}, &recorder{})
	if err := StateOf(other).RestoreState(mem.Reader()); err == nil {
		t.Fatal("a materializer with another key restored the state")
	}
}

func TestSinkMaterializerTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	rec := &recorder{}
	op := NewSinkMaterializer(SinkMaterializeConfig{Keys: []int{0}, Types: smTypes, TTL: time.Minute, Now: func() time.Time { return now }}, rec)
	smPush(t, op, changelog.Row{Kind: changelog.Insert, Vals: smRow(1, 1, 1)})
	now = now.Add(2 * time.Minute)
	smPush(t, op, changelog.Row{Kind: changelog.Delete, Vals: smRow(1, 1, 1)}) // expired: nothing
	smPush(t, op, changelog.Row{Kind: changelog.Insert, Vals: smRow(1, 2, 2)}) // a new start: +I
	if got, want := rec.b.String(), "+I[1, 1, 1]\n+I[1, 2, 2]\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if n := len(op.(*sinkMaterializer).state); n != 1 {
		t.Fatalf("%d keys in state, want 1", n)
	}
}
