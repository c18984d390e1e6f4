package exec

import (
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Keep-first deduplications (RankConfig.KeepFirst) keep a flag per key (rankStore.seenOnly) since December
// 2026; before, they kept the first row. rank_keepfirst_golden_test.go holds savepoints of that version
// (written with KEEPFIRST_SAVEPOINT_GEN=1 by commit db5b25b) and what it emitted after them.

// keepFirstRanks: over compact keys (BIGINT and STRING partition columns) and the grouping form (DOUBLE).
func keepFirstRanks() map[string]RankConfig {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.DoubleType(), types.StringType(), types.TimestampType(3)}
	return map[string]RankConfig{
		"first-compact": {Partition: []int{0, 3}, Order: []SortKey{{Col: 4}}, Limit: 1, Types: ts, InsertOnly: true, KeepFirst: true},
		"first-double":  {Partition: []int{2, 1}, Order: []SortKey{{Col: 4}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true, KeepFirst: true},
	}
}

func memoryOf(t *testing.T, text string) *state.Memory {
	m := state.NewMemory()
	for _, line := range strings.Split(text, "\n") {
		k, v, _ := strings.Cut(line[1:], "=")
		key, err1 := hex.DecodeString(k)
		value, err2 := hex.DecodeString(v)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad line %q", line)
		}
		if err := m.Put(line[0]-'0', key, value); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestRankKeepFirstSavepoint: a savepoint of the older version (rows) restores into flags and the Rank goes
// on emitting what that version emitted; the new snapshot has the same keys (so it routes to the same
// subtasks) and no rows, restores as it is, and restores split over two subtasks by key group (another
// parallelism) emitting the same rows. A Rank without KeepFirst refuses the flags.
func TestRankKeepFirstSavepoint(t *testing.T) {
	gen := os.Getenv("KEEPFIRST_SAVEPOINT_GEN") != ""
	for _, name := range []string{"first-compact", "first-double"} {
		cfg := keepFirstRanks()[name]
		before, after := savepointSteps(cfg)
		if gen {
			op := NewRank(cfg, &recorder{})
			for _, b := range before {
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			m := state.NewMemory()
			if err := StateOf(op).SnapshotState(m); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			op.(*rankOp).out = rec
			for _, b := range after {
				if err := op.Push(b); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Printf("\t%q: {\n\t\tsnapshot: %q,\n\t\tafter: %q,\n\t},\n", name, snapshotText(t, m), rec.b.String())
			continue
		}
		g, ok := keepFirstSavepoints[name]
		if !ok {
			t.Fatalf("%s: no savepoint", name)
		}
		rec := &recorder{}
		op := NewRank(cfg, rec)
		if err := StateOf(op).RestoreState(memoryOf(t, g.snapshot).Reader()); err != nil {
			t.Fatalf("%s: restoring the savepoint: %v", name, err)
		}
		m2 := state.NewMemory()
		if err := StateOf(op).SnapshotState(m2); err != nil {
			t.Fatal(err)
		}
		flags := snapshotText(t, m2)
		oldLines, newLines := strings.Split(g.snapshot, "\n"), strings.Split(flags, "\n")
		if len(oldLines) != len(newLines) || len(oldLines) < 10 {
			t.Fatalf("%s: %d entries restored from %d", name, len(newLines), len(oldLines))
		}
		for i, l := range oldLines {
			k, _, _ := strings.Cut(l, "=")
			if i == 0 { // the same but for the signature, which says the rows are trimmed since December 2026
				if want := markTrimmed(t, l); newLines[i] != want {
					t.Fatalf("%s: meta %s, want %s", name, newLines[i], want)
				}
				continue
			}
			if want := k + "=010000"; newLines[i] != want { // version, touched 0, no rows
				t.Fatalf("%s: entry %s, want %s", name, newLines[i], want)
			}
		}
		for _, b := range after {
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Count(g.after, "+I") < 5 {
			t.Fatalf("%s: the savepoint's Rank emitted %q after it: too few new keys to test", name, g.after)
		}
		if got := rec.b.String(); got != g.after {
			t.Fatalf("%s: after the restore:\n%s\nwant\n%s", name, got, g.after)
		}

		// the flags restore as they are, at parallelism 1 and split over 2 subtasks by key group
		for _, n := range []int{1, 2} {
			const maxPar = 128
			parts := make([]*state.Memory, n)
			ops := make([]changelog.Output, n)
			recs := make([]*recorder, n)
			for i := range parts {
				parts[i], recs[i] = state.NewMemory(), &recorder{}
				ops[i] = NewRank(cfg, recs[i])
			}
			for r := m2.Reader(); ; {
				ns, key, value, ok, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				for i := range parts {
					if ns == 0 && Subtask(state.KeyGroup(key, maxPar), maxPar, n) != i {
						continue
					}
					if err := parts[i].Put(ns, key, value); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range ops {
				if err := StateOf(ops[i]).RestoreState(parts[i].Reader()); err != nil {
					t.Fatalf("%s: restoring the flags in subtask %d of %d: %v", name, i, n, err)
				}
			}
			for _, b := range after {
				subs := make([]changelog.Batch, n)
				for _, row := range b.Rows {
					k := appendGroupKey(nil, row.Vals, cfg.Partition, partTypes(cfg))
					s := Subtask(state.KeyGroup(k, maxPar), maxPar, n)
					subs[s].Append(row.Kind, row.Vals)
				}
				for i := range ops {
					if err := ops[i].Push(&subs[i]); err != nil {
						t.Fatal(err)
					}
				}
			}
			var got []string
			for _, r := range recs {
				got = append(got, strings.Fields(r.b.String())...)
			}
			want := strings.Fields(g.after)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: restored flags at parallelism %d emitted\n%s\nwant\n%s", name, n, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		cfg.KeepFirst = false
		if err := StateOf(NewRank(cfg, &recorder{})).RestoreState(m2.Reader()); err == nil || !strings.Contains(err.Error(), "keep-first") {
			t.Fatalf("%s: a Rank without KeepFirst restored the flags (error %v)", name, err)
		}
	}
}
