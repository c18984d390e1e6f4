package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// The 'rocksdb' state backend ('state.backend.type' = 'rocksdb', an embedded Pebble LSM on disk): streaming
// GROUP BY aggregates keep their groups in it instead of Go maps, so their state may exceed memory. Other
// operators keep their state in memory and write it to checkpoint files as with 'hashmap'. A checkpoint
// holds the LSM's own checkpoint in the sub-directory rocksdb/ (SSTables unchanged since the previous
// checkpoint are hard links, so checkpoints are incremental on disk).

// backendDirName is the directory of the LSM's checkpoint inside chk-<n>.
const backendDirName = "rocksdb"

// openBackend opens the job's rocksdb backend in a private working directory: empty, or restored from the
// checkpoint cp when it was taken with the rocksdb backend.
func openBackend(tempDir, jobID string, cp *state.Checkpoint) (state.Backend, string, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	work := filepath.Join(tempDir, "sluice-rocksdb-"+jobID+"-"+hex.EncodeToString(rnd[:]))
	if cp != nil && cp.Metadata.Backend == state.KindRocksDB {
		b, err := state.Restore(state.KindRocksDB, filepath.Join(cp.Dir, backendDirName), work)
		if err != nil {
			return nil, "", fmt.Errorf("restore the rocksdb state of '%s': %w", cp.Dir, err)
		}
		return b, work, nil
	}
	b, err := state.OpenPebble(work, state.DefaultPebbleOptions())
	if err != nil {
		return nil, "", fmt.Errorf("open the rocksdb state backend in '%s': %w", work, err)
	}
	return b, work, nil
}

// storeFor returns the backend Store of an aggregate node and registers it as a part of the checkpoints.
func (g *graph) storeFor(n planner.Node) (exec.KeyValueStore, error) {
	id, legacy := g.planIDs("operator", n)
	if cp := g.restoreCP; cp != nil && cp.Metadata.Backend == state.KindRocksDB {
		if _, ok := cp.Part(id); !ok {
			if _, ok := cp.Part(legacy); ok {
				id = legacy // a checkpoint of an older Sluice: its groups live under the legacy id
			}
		}
	}
	st, err := g.backend.Store(id)
	if err != nil {
		return nil, err
	}
	g.parts = append(g.parts, &participant{id: id, legacyID: legacy, kind: "operator", name: n.Describe(), store: st})
	return st, nil
}

// backendCheckpoint checkpoints the backend into a fresh directory under parent (same file system as the
// checkpoint, so it can be moved into it). Called with the graph lock held.
func (g *graph) backendCheckpoint(parent string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	dir := filepath.Join(parent, ".rocksdb-"+hex.EncodeToString(rnd[:]))
	if _, err := g.backend.Checkpoint(dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// loadIntoStore copies a hashmap checkpoint's entries of an aggregate into its Store (switching a job from
// 'hashmap' to 'rocksdb' keeps its state).
func loadIntoStore(r state.Reader, st state.Store) error {
	for {
		ns, key, val, ok, err := r.Next()
		if err != nil || !ok {
			return err
		}
		if ns != 0 {
			continue // the operator-wide entry: the Store's groups need none
		}
		if err := st.Put(key, val); err != nil {
			return err
		}
	}
}
