package exec

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The snapshot of a partitioned Rank over an insert-only input with a limit (a Top-N per partition, or a
// deduplication) holds only each partition's top rows; since December 2026 its signature says so
// (rank_state.go), so that it is refused by the Rank of an updating input, which would miss the rows past
// them. testdata/rank-savepoint/insertonly-top3 holds a savepoint of such a Rank written by the version
// before (commit 399aabe, with RANK_TRIMMED_SAVEPOINT_GEN=1: <name>.snapshot) and what it emitted after it
// (<name>.after).

const rankTrimmedSavepoint = "insertonly-top3"

// rankTrimmedRanks are Ranks of an insert-only input with a limit, by name; rankUpdating(cfg) is the same
// Rank over an updating input.
func rankTrimmedRanks() map[string]RankConfig {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.DoubleType(), types.StringType(), types.TimestampType(3)}
	return map[string]RankConfig{
		"top3":        {Partition: []int{0}, Order: []SortKey{{Col: 1, Desc: true, NullsFirst: true}}, Limit: 3, RowNumber: true, Types: ts, InsertOnly: true},
		"rank2":       {Func: "RANK", Partition: []int{0}, Order: []SortKey{{Col: 2}, {Col: 1, Desc: true}}, Limit: 2, RowNumber: true, Types: ts, InsertOnly: true},
		"dedup-last":  {Partition: []int{0, 1}, Order: []SortKey{{Col: 4, Desc: true}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true},
		"dedup-first": {Partition: []int{3}, Order: []SortKey{{Col: 4}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true, KeepFirst: true},
	}
}

// rankUpdating is cfg over an updating input (the planner sets KeepFirst only over an insert-only one).
func rankUpdating(cfg RankConfig) RankConfig {
	cfg.InsertOnly, cfg.KeepFirst = false, false
	return cfg
}

func pushAll(t *testing.T, op changelog.Output, bs []*changelog.Batch) {
	t.Helper()
	for _, b := range bs {
		if err := op.Push(b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRankInsertOnlySavepointBefore: the version before's savepoint of a trimmed Rank restores into the
// Rank of an insert-only input, which goes on emitting what that version emitted, and (as before: it
// cannot be told from a snapshot that kept every row) into the Rank of an updating input; the current
// version writes the same rows, under the signature that marks them trimmed.
func TestRankInsertOnlySavepointBefore(t *testing.T) {
	cfg := rankTrimmedRanks()["top3"]
	before, after := savepointSteps(cfg)
	rec := &recorder{}
	op := NewRank(cfg, rec)
	pushAll(t, op, before)
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	snap := snapshotText(t, m)
	rec.b.Reset()
	pushAll(t, op, after)
	golden, wantAfter, gen := savepointBefore(t, filepath.Join("testdata", "rank-savepoint"), rankTrimmedSavepoint, "RANK_TRIMMED_SAVEPOINT_GEN", snap, rec.b.String())
	if gen {
		return
	}
	if n := strings.Count(golden, "\n"); n != 6 {
		t.Fatalf("the savepoint has %d partitions, want 6", n)
	}
	if strings.Count(wantAfter, "-D") < 5 {
		t.Fatalf("the savepoint's Rank emitted %q after it: too few changes to test", wantAfter)
	}
	if got := rec.b.String(); got != wantAfter {
		t.Errorf("the current version without a restore emitted\n%s\nwant\n%s", got, wantAfter)
	}
	// the same rows; the meta entry's signature (length-prefixed) is the one thing that differs
	oldSig := `Rank(func="", partition=1, order=1, limit=3, rowNumber=true)`
	newSig := `Rank(func="", partition=1, order=1, limit=3, rowNumber=true, insertOnly=true)`
	if !strings.Contains(snap, fmt.Sprintf("%x", newSig)) || !strings.Contains(golden, fmt.Sprintf("%x", oldSig)) {
		t.Fatalf("the signatures %q (now) and %q (before) are not in the snapshots:\n%s\n%s", newSig, oldSig, snap, golden)
	}
	if want := markTrimmed(t, golden); snap != want {
		t.Errorf("the current version's snapshot differs from the version before's but for the signature:\n%s\nwant\n%s", snap, want)
	}

	rec = &recorder{}
	op = NewRank(cfg, rec)
	if err := StateOf(op).RestoreState(memoryOf(t, golden).Reader()); err != nil {
		t.Fatalf("restoring the savepoint: %v", err)
	}
	pushAll(t, op, after)
	if got := rec.b.String(); got != wantAfter {
		t.Errorf("after the restore emitted\n%s\nwant\n%s", got, wantAfter)
	}
	// as before, the version before's savepoints of trimmed Ranks (this one, the deduplications' and the
	// RANK Top-2's of rank_savepoint_golden_test.go, the keep-first flags' of rank_keepfirst_golden_test.go)
	// restore into the Rank of an updating input: they cannot be told from snapshots that kept every row
	olds := map[string]struct {
		cfg  RankConfig
		snap string
	}{"top3": {cfg, golden}}
	for _, name := range []string{"dedup-last", "dedup-first", "rank2"} {
		olds[name] = struct {
			cfg  RankConfig
			snap string
		}{savepointRanks()[name], rankSavepoints[name].snapshot}
	}
	for name, g := range keepFirstSavepoints {
		olds[name] = struct {
			cfg  RankConfig
			snap string
		}{keepFirstRanks()[name], g.snapshot}
	}
	for name, o := range olds {
		if !o.cfg.InsertOnly || o.cfg.Limit < 0 || strings.Contains(o.snap, fmt.Sprintf("%x", ", insertOnly=true")) {
			t.Fatalf("%s: not a version before's savepoint of a trimmed Rank", name)
		}
		if err := StateOf(NewRank(rankUpdating(o.cfg), &discard{})).RestoreState(memoryOf(t, o.snap).Reader()); err != nil {
			// the keep-first flags restore only into a keep-first deduplication, by their entries
			if !o.cfg.KeepFirst || !strings.Contains(err.Error(), "a partition without rows") {
				t.Errorf("%s: restoring the version before's savepoint into an updating input's Rank: %v", name, err)
			}
		}
	}
}

// markTrimmed returns snapshot (snapshotText) with the signature of its meta entry marked trimmed, as a Rank
// over an insert-only input with a limit writes it since December 2026.
func markTrimmed(t *testing.T, snapshot string) string {
	t.Helper()
	lines := strings.Split(snapshot, "\n")
	n := 0
	for i, l := range lines {
		if l == "" || l[0] == '0' {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		value, err := hex.DecodeString(v)
		if err != nil || len(value) < 2 || value[0] != stateVersion {
			t.Fatalf("bad meta entry %q", l)
		}
		sl, w := binary.Uvarint(value[1:])
		sig := string(value[1+w : 1+w+int(sl)])
		if !strings.HasPrefix(sig, "Rank(") || !strings.HasSuffix(sig, ")") || strings.Contains(sig, "insertOnly") {
			t.Fatalf("the meta entry's signature %q is not an unmarked Rank's", sig)
		}
		rest := value[1+w+int(sl):]
		sig = strings.TrimSuffix(sig, ")") + ", insertOnly=true)"
		lines[i] = k + "=" + hex.EncodeToString(append(appendMeta(nil, sig), rest...))
		n++
	}
	if n != 1 {
		t.Fatalf("%d meta entries in the snapshot", n)
	}
	return strings.Join(lines, "\n")
}

// snapshotRank returns the Rank of cfg after the pushes bs, and its snapshot.
func snapshotRank(t *testing.T, cfg RankConfig, out changelog.Output, bs []*changelog.Batch) (changelog.Output, *state.Memory) {
	t.Helper()
	op := NewRank(cfg, out)
	pushAll(t, op, bs)
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	return op, m
}

// rankRows returns the lines of namespace 0 (the partitions, not the meta entry) of a snapshotText.
func rankRows(s string) (r []string) {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "0") {
			r = append(r, l)
		}
	}
	return r
}

// TestRankTrimmedSnapshotRefusedByUpdating: the snapshot of a trimmed Rank (a Top-N per partition with
// ROW_NUMBER or RANK, a keep-last and a keep-first deduplication, over an insert-only input) restored into
// the Rank of an updating input is refused with an error naming the operator, the cause and the fix; it
// restores into the insert-only one, which emits what the uninterrupted one emits; a Rank with another
// limit refuses it as any changed query.
func TestRankTrimmedSnapshotRefusedByUpdating(t *testing.T) {
	holds := map[string]string{
		"top3":        "only the first 3 rows of each partition",
		"rank2":       "only the rows of each partition ranked up to 2",
		"dedup-last":  "only the row it kept for each key",
		"dedup-first": "only the row it kept for each key",
	}
	for name, cfg := range rankTrimmedRanks() {
		before, after := savepointSteps(cfg)
		ref := &recorder{}
		full, m := snapshotRank(t, cfg, ref, before)
		if len(rankRows(snapshotText(t, m))) < 5 {
			t.Fatalf("%s: too few partitions in the snapshot to test", name)
		}
		err := StateOf(NewRank(rankUpdating(cfg), &discard{})).RestoreState(m.Reader())
		if err == nil {
			t.Fatalf("%s: a trimmed Rank's snapshot restored into an updating input's Rank", name)
		}
		op := fmt.Sprintf("restore Rank(func=%q, partition=%d, order=%d, limit=%d, rowNumber=%t): ", cfg.Func,
			len(cfg.Partition), len(cfg.Order), cfg.Limit, cfg.RowNumber)
		for _, want := range []string{op, "over an insert-only input", holds[name], "its input is updating",
			"restore the savepoint into the query whose", "input is insert-only", "or start this query without the savepoint"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the refusal %q does not say %q", name, err, want)
			}
		}
		ref.b.Reset()
		got := &recorder{}
		rop := NewRank(cfg, got)
		if err := StateOf(rop).RestoreState(m.Reader()); err != nil {
			t.Fatalf("%s: restoring into the insert-only Rank: %v", name, err)
		}
		pushAll(t, full, after)
		pushAll(t, rop, after)
		if g, w := got.b.String(), ref.b.String(); g != w || strings.Count(w, "+I") < 5 {
			t.Fatalf("%s: after the restore emitted\n%s\nwant\n%s", name, g, w)
		}
		other := rankUpdating(cfg)
		other.Limit++
		if err := StateOf(NewRank(other, &discard{})).RestoreState(m.Reader()); err == nil || !strings.Contains(err.Error(), "the query changed") {
			t.Fatalf("%s: restoring into a Rank with another limit: got %v, want a changed query's error", name, err)
		}
	}
}

// TestRankFullSnapshotRestoresTrimmed: the snapshot of an updating input's Rank (every row kept) restores
// into the Rank of an insert-only input, which drops the rows past its limit: it holds and snapshots the
// rows the uninterrupted insert-only Rank holds, and emits what it emits; and into the updating one. A Rank
// of an insert-only input without a limit keeps every row, and its snapshot restores into either.
func TestRankFullSnapshotRestoresTrimmed(t *testing.T) {
	for name, cfg := range rankTrimmedRanks() {
		before, after := savepointSteps(cfg) // insert-only: both Ranks take them
		_, mu := snapshotRank(t, rankUpdating(cfg), &discard{}, before)
		ref := &recorder{}
		trimmed, mt := snapshotRank(t, cfg, ref, before)
		fullRows, trimmedRows := rankRows(snapshotText(t, mu)), rankRows(snapshotText(t, mt))
		if slices.Equal(fullRows, trimmedRows) {
			t.Fatalf("%s: the updating input's Rank holds the insert-only one's rows: nothing to trim", name)
		}
		got := &recorder{}
		op := NewRank(cfg, got)
		if err := StateOf(op).RestoreState(mu.Reader()); err != nil {
			t.Fatalf("%s: restoring an updating input's snapshot into the insert-only Rank: %v", name, err)
		}
		m := state.NewMemory()
		if err := StateOf(op).SnapshotState(m); err != nil {
			t.Fatal(err)
		}
		if g := rankRows(snapshotText(t, m)); !slices.Equal(g, trimmedRows) {
			t.Fatalf("%s: restored from every row it holds\n%s\nwant\n%s", name, strings.Join(g, "\n"), strings.Join(trimmedRows, "\n"))
		}
		ref.b.Reset()
		pushAll(t, trimmed, after)
		pushAll(t, op, after)
		if g, w := got.b.String(), ref.b.String(); g != w {
			t.Fatalf("%s: after the restore emitted\n%s\nwant\n%s", name, g, w)
		}
		if err := StateOf(NewRank(rankUpdating(cfg), &discard{})).RestoreState(mu.Reader()); err != nil {
			t.Fatalf("%s: restoring into the updating input's Rank: %v", name, err)
		}
		unbounded := cfg
		unbounded.Limit, unbounded.KeepFirst = -1, false
		_, mn := snapshotRank(t, unbounded, &discard{}, before)
		for _, c := range []RankConfig{unbounded, rankUpdating(unbounded)} {
			if err := StateOf(NewRank(c, &discard{})).RestoreState(mn.Reader()); err != nil {
				t.Fatalf("%s: restoring an insert-only Rank without a limit into %+v: %v", name, c, err)
			}
		}
	}
}
