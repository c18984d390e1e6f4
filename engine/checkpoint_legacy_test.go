package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/state"
)

// TestRestoreLegacyPartIDs: part ids no longer depend on changelog modes, and a savepoint whose parts carry
// the ids older Sluice versions wrote (hashed with the modes) still restores: the restored GROUP BY goes on
// from its counts (its first rows are -U/+U pairs, not +I[k, 1]).
func TestRestoreLegacyPartIDs(t *testing.T) {
	dir := t.TempDir()
	var out syncBuffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, j := range s.Jobs() {
			j.Cancel()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	execAll(ctx, t, s, `
CREATE TABLE gen (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'fields.k.min' = '1', 'fields.k.max' = '2');
CREATE TABLE out1 (k INT, n BIGINT) WITH ('connector' = 'print');
SET 'execution.checkpointing.interval' = '50 ms';
SET 'state.checkpoints.dir' = '`+filepath.Join(dir, "checkpoints")+`';
INSERT INTO out1 SELECT k, COUNT(*) FROM gen GROUP BY k;`)
	jobs := s.Jobs()
	j := jobs[len(jobs)-1]
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	legacy := map[string]string{}
	for _, p := range g.parts {
		if p.legacyID == "" || p.legacyID == p.id {
			t.Fatalf("part %s (%s): legacy id %q should differ from its id", p.name, p.id, p.legacyID)
		}
		legacy[p.id] = p.legacyID
	}
	deadline := time.Now().Add(20 * time.Second)
	for j.LastCheckpoint().ID == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	sp, err := j.Stop(ctx, filepath.Join(dir, "savepoints"), false)
	if err != nil {
		t.Fatal(err)
	}

	// Rewrite the savepoint as an older Sluice wrote it: the same state under the legacy ids.
	cp, err := state.Load(sp)
	if err != nil {
		t.Fatal(err)
	}
	var ops int
	for i, p := range cp.Metadata.Parts {
		old, ok := legacy[p.ID]
		if !ok {
			t.Fatalf("savepoint part %s (%s) is not a part of the job", p.Name, p.ID)
		}
		if p.Kind == "operator" {
			ops++
		}
		cp.Metadata.Parts[i].ID = old
	}
	if ops != 1 {
		t.Fatalf("savepoint has %d operator parts, want the GROUP BY's", ops)
	}
	data, err := json.Marshal(cp.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sp, state.MetadataFile), data, 0o644); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	res := execAll(ctx, t, s, "SET 'execution.savepoint.path' = '"+sp+"';\nINSERT INTO out1 SELECT k, COUNT(*) FROM gen GROUP BY k;")
	if strings.Contains(res, "Cannot map") || strings.Contains(res, "rror") {
		t.Fatalf("restore from legacy ids failed:\n%s", res)
	}
	jobs = s.Jobs()
	j2 := jobs[len(jobs)-1]
	deadline = time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "\n") < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	j2.Cancel()
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 4 {
		t.Fatalf("restored job printed too little:\n%s", out.String())
	}
	first := bytes.TrimSpace([]byte(lines[0]))
	if !bytes.HasPrefix(first, []byte("-U[")) {
		t.Fatalf("the restored GROUP BY starts afresh (its first row is %q, want -U[k, n] of a restored count):\n%s", first, out.String())
	}
}
