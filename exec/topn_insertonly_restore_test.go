package exec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
)

// The snapshot of a global Top-N over an insert-only input with a limit holds only the first offset+limit
// rows; since December 2026 its signature says so (rank_state.go), so that it is refused by the Top-N of
// an updating input, which would miss the rows past them. testdata/topn-savepoint/insertonly-limit4-offset6
// holds a savepoint of such a Top-N written by the version before (commit 1db6051, with
// TOPN_SAVEPOINT_GEN=1: <name>.snapshot) and what it emitted after it (<name>.after).

const topNTrimmedSavepoint = "insertonly-limit4-offset6"

func topNTrimmedConfig(insertOnly bool) TopNConfig {
	return TopNConfig{Keys: []SortKey{{Col: 1, Desc: true, NullsFirst: true}, {Col: 2}}, Limit: 4, Offset: 6,
		InsertOnly: insertOnly}
}

// TestTopNInsertOnlySavepointBefore: the version before's savepoint of a trimmed Top-N restores into the
// Top-N of an insert-only input, which goes on emitting what that version emitted, and (as before: it
// cannot be told from a snapshot that kept every row) into the Top-N of an updating input; the current
// version writes the same rows, under the signature that marks them trimmed.
func TestTopNInsertOnlySavepointBefore(t *testing.T) {
	batches := topNInsertBatches(11, 100)
	before, after := batches[:50], batches[50:]
	run := func(op changelog.Output, bs []*changelog.Batch) {
		t.Helper()
		for _, b := range bs {
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := &recorder{}
	op := NewTopNOf(topNTrimmedConfig(true), rec)
	run(op, before)
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	snap := snapshotText(t, m)
	rec.b.Reset()
	run(op, after)
	golden, wantAfter, gen := savepointBefore(t, filepath.Join("testdata", "topn-savepoint"), topNTrimmedSavepoint, "TOPN_SAVEPOINT_GEN", snap, rec.b.String())
	if gen {
		return
	}
	if n := strings.Count(golden, "\n"); n != 10 {
		t.Fatalf("the savepoint has %d rows, want the 10 of the window (offset 6, limit 4)", n)
	}
	if strings.Count(wantAfter, "+I") < 5 {
		t.Fatalf("the savepoint's Top-N emitted %q after it: too few changes to test", wantAfter)
	}
	if got := rec.b.String(); got != wantAfter {
		t.Errorf("the current version without a restore emitted\n%s\nwant\n%s", got, wantAfter)
	}
	// the same rows; the meta entry's signature (length-prefixed) is the one thing that differs
	oldSig, newSig := "TopN(keys=2, offset=6, end=10)", "TopN(keys=2, offset=6, end=10, insertOnly=true)"
	if !strings.Contains(snap, fmt.Sprintf("%x", newSig)) || !strings.Contains(golden, fmt.Sprintf("%x", oldSig)) {
		t.Fatalf("the signatures %q (now) and %q (before) are not in the snapshots:\n%s\n%s", newSig, oldSig, snap, golden)
	}
	rows := func(s string) (r []string) { // namespace 0: the rows, not the meta entry
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "0") {
				r = append(r, l)
			}
		}
		return r
	}
	if !slices.Equal(rows(snap), rows(golden)) {
		t.Errorf("the current version's rows differ from the version before's:\n%s\nwant\n%s", snap, golden)
	}

	rec = &recorder{}
	op = NewTopNOf(topNTrimmedConfig(true), rec)
	if err := StateOf(op).RestoreState(memoryOf(t, golden).Reader()); err != nil {
		t.Fatalf("restoring the savepoint: %v", err)
	}
	run(op, after)
	if got := rec.b.String(); got != wantAfter {
		t.Errorf("after the restore emitted\n%s\nwant\n%s", got, wantAfter)
	}
	upd := NewTopNOf(topNTrimmedConfig(false), &discard{})
	if err := StateOf(upd).RestoreState(memoryOf(t, golden).Reader()); err != nil {
		t.Fatalf("restoring the version before's savepoint into an updating input's Top-N: %v", err)
	}
}

// TestTopNTrimmedSnapshotRefusedByUpdating: a trimmed Top-N's snapshot (an insert-only input with a limit)
// restored into the Top-N of an updating input is refused with an error naming the operator, the cause and
// the fix; it restores into the insert-only one, which emits what the uninterrupted one emits; the
// snapshot of an updating input's Top-N and of an insert-only one without a limit restore into either.
func TestTopNTrimmedSnapshotRefusedByUpdating(t *testing.T) {
	batches := topNInsertBatches(5, 80)
	snapshotAfter := func(cfg TopNConfig, out changelog.Output) (changelog.Output, *state.Memory) {
		op := NewTopNOf(cfg, out)
		for _, b := range batches[:40] {
			if err := op.Push(b); err != nil {
				t.Fatal(err)
			}
		}
		m := state.NewMemory()
		if err := StateOf(op).SnapshotState(m); err != nil {
			t.Fatal(err)
		}
		return op, m
	}
	ref := &recorder{}
	full, m := snapshotAfter(topNTrimmedConfig(true), ref)
	upd := NewTopNOf(topNTrimmedConfig(false), &discard{})
	err := StateOf(upd).RestoreState(m.Reader())
	if err == nil {
		t.Fatal("a trimmed Top-N's snapshot restored into an updating input's Top-N")
	}
	for _, want := range []string{"restore TopN(keys=2, offset=6, end=10)", "insert-only", "only the first 10 rows",
		"updating", "restore the savepoint into the query whose Top-N input is insert-only", "without the savepoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	ref.b.Reset()
	got := &recorder{}
	op := NewTopNOf(topNTrimmedConfig(true), got)
	if err := StateOf(op).RestoreState(m.Reader()); err != nil {
		t.Fatalf("restoring into the insert-only Top-N: %v", err)
	}
	for _, b := range batches[40:] {
		if err := full.Push(b); err != nil {
			t.Fatal(err)
		}
		if err := op.Push(b); err != nil {
			t.Fatal(err)
		}
	}
	if g, w := got.b.String(), ref.b.String(); g != w || strings.Count(w, "+I") < 5 {
		t.Fatalf("after the restore emitted\n%s\nwant\n%s", g, w)
	}
	// another Top-N (a different limit) is refused as any changed query is
	other := topNTrimmedConfig(false)
	other.Limit = 5
	if err := StateOf(NewTopNOf(other, &discard{})).RestoreState(m.Reader()); err == nil || !strings.Contains(err.Error(), "the query changed") {
		t.Fatalf("restoring into a Top-N with another limit: got %v, want a changed query's error", err)
	}
	// what keeps every row restores into either
	_, mu := snapshotAfter(topNTrimmedConfig(false), &discard{})
	_, mn := snapshotAfter(TopNConfig{Keys: topNTrimmedConfig(true).Keys, Limit: -1, InsertOnly: true}, &discard{})
	for _, c := range []struct {
		m   *state.Memory
		cfg TopNConfig
	}{{mu, topNTrimmedConfig(true)}, {mu, topNTrimmedConfig(false)}, {mn, TopNConfig{Keys: topNTrimmedConfig(true).Keys, Limit: -1}}} {
		if err := StateOf(NewTopNOf(c.cfg, &discard{})).RestoreState(c.m.Reader()); err != nil {
			t.Errorf("restoring a snapshot that keeps every row into %+v: %v", c.cfg, err)
		}
	}
}

// savepointBefore returns the snapshot text and the output after it that the version before wrote into
// dir/name.snapshot and dir/name.after; with the environment variable gen set it writes snap and after there
// instead (run only on that version) and returns generated.
func savepointBefore(t *testing.T, dir, name, gen, snap, after string) (golden, wantAfter string, generated bool) {
	t.Helper()
	if os.Getenv(gen) != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".snapshot"), []byte(snap+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".after"), []byte(after), 0o644); err != nil {
			t.Fatal(err)
		}
		return "", "", true
	}
	wantSnap, err := os.ReadFile(filepath.Join(dir, name+".snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	wantAfterB, err := os.ReadFile(filepath.Join(dir, name+".after"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(wantSnap), "\n"), string(wantAfterB), false
}
