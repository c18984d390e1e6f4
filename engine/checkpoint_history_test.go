package engine

import (
	"testing"
	"time"

	"github.com/sluicesql/sluice/state"
)

// A job remembers its last 10 completed checkpoints, oldest first; the copy it returns is the caller's.
func TestCheckpointHistoryIsBounded(t *testing.T) {
	j := &Job{}
	if h := j.CheckpointHistory(); len(h) != 0 {
		t.Fatalf("history before any checkpoint: %+v", h)
	}
	for id := int64(1); id <= 15; id++ {
		j.noteCheckpoint(id, "", time.Duration(id)*time.Millisecond, 0, &state.Metadata{Parts: []state.PartState{{Bytes: id}}})
	}
	h := j.CheckpointHistory()
	if len(h) != checkpointHistory || h[0].ID != 6 || h[9].ID != 15 || h[9].Bytes != 15 || h[9] != j.LastCheckpoint() {
		t.Fatalf("history: %+v", h)
	}
	h[0].ID = 99
	if j.CheckpointHistory()[0].ID != 6 {
		t.Fatal("CheckpointHistory returned the job's own slice")
	}
}
