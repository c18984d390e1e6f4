package exec

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/state"
)

// Asynchronous snapshots of the group aggregate (state.AsyncSnapshotter). Under the job's lock, SnapshotAsync
// only lists the groups (keys and pointers) and starts a new epoch; the returned function serializes them
// afterwards, while the operator runs on. A push that is about to change (or drop) a group not yet written in
// the current epoch first serializes it as it was at the cut (copy-on-write at the group level); groups
// created after the cut are not part of it. The writer and pushes exclude each other per chunk of groups.

var _ state.AsyncSnapshotter = (*groupAgg)(nil)

// snapChunk is how many groups the writer serializes per hold of the snapshot mutex.
const snapChunk = 512

type groupSnapshot struct {
	mu     sync.Mutex
	active atomic.Bool // a writer is running: pushes take mu and save groups before changing them
	epoch  uint32
	keys   []string
	groups []*group
	side   [][2][]byte // groups saved by pushes before they changed them: key, value
}

// SnapshotAsync lists the groups of the cut and returns the writer.
func (g *groupAgg) SnapshotAsync() (func(w state.Writer) error, error) {
	if g.cfg.Batch {
		return nil, fmt.Errorf("snapshot %s: %w", g.opName(), errBatchSnapshot)
	}
	if g.compact != nil {
		return g.snapshotAsyncCompact()
	}
	s := &g.snap
	if s.active.Load() {
		return nil, fmt.Errorf("snapshot %s: the previous snapshot is still being written", g.opName())
	}
	s.epoch++
	s.keys, s.groups, s.side = s.keys[:0], s.groups[:0], s.side[:0]
	for k, st := range g.groups {
		s.keys = append(s.keys, k)
		s.groups = append(s.groups, st)
	}
	s.active.Store(true)
	return g.writeSnapshot, nil
}

// writeSnapshot serializes the groups of the cut (run by the engine without the job's lock).
func (g *groupAgg) writeSnapshot(w state.Writer) error {
	s := &g.snap
	defer func() {
		s.mu.Lock()
		clear(s.keys)
		clear(s.groups)
		s.keys, s.groups = s.keys[:0], s.groups[:0]
		s.side = nil
		s.active.Store(false)
		s.mu.Unlock()
	}()
	if err := w.Put(nsMeta, nil, appendMeta(nil, g.signature("GroupAggregate"))); err != nil {
		return err
	}
	var kb, vb []byte
	for i := 0; i < len(s.groups); i += snapChunk {
		s.mu.Lock()
		for j := i; j < min(i+snapChunk, len(s.groups)); j++ {
			st := s.groups[j]
			if st.epoch == s.epoch {
				continue // a push saved it before changing it
			}
			st.epoch = s.epoch
			kb = append(kb[:0], s.keys[j]...)
			vb = g.appendGroupState(vb[:0], st)
			if err := w.Put(0, kb, vb); err != nil {
				s.mu.Unlock()
				return err
			}
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	side := s.side
	s.side = nil
	s.mu.Unlock()
	for _, e := range side {
		if err := w.Put(0, e[0], e[1]); err != nil {
			return err
		}
	}
	return nil
}

// beforeChange saves st (the group of key) as of the cut when a snapshot is being written and st is part of
// it but not written yet. Called with g.snap.mu held.
func (g *groupAgg) beforeChange(key []byte, st *group) {
	s := &g.snap
	if st.epoch == s.epoch {
		return
	}
	st.epoch = s.epoch
	s.side = append(s.side, [2][]byte{append([]byte(nil), key...), g.appendGroupState(nil, st)})
}
