package filesystem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/types"
)

var (
	_ connectors.CheckpointedSink = (*output)(nil)
	_ connectors.Aborter          = (*output)(nil)
)

// sinkState is what a checkpoint stores for the sink.
type sinkState struct {
	Prefix string `json:"prefix"`
	// Counter is subtask 0's next part file number, Counters every subtask's (Counter alone: a checkpoint
	// written before the sink had subtasks).
	Counter  int64         `json:"counter"`
	Counters []int64       `json:"counters,omitempty"`
	Pending  []pendingFile `json:"pending"`
	Parts    []*partState  `json:"partitions,omitempty"`
}

// PreCommit rolls every open file: all rows pushed so far are in closed, hidden files, which the checkpoint
// lists; Commit renames them once the checkpoint is durable.
func (o *output) PreCommit(_ context.Context, id int64) ([]byte, error) {
	if err := o.rollAll(); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st := sinkState{Prefix: o.prefix, Counters: append([]int64(nil), o.counters...)}
	if len(o.counters) > 0 {
		st.Counter = o.counters[0]
	}
	for i := range o.pending {
		if o.pending[i].Checkpoint == 0 {
			o.pending[i].Checkpoint = id
		}
		st.Pending = append(st.Pending, o.pending[i])
	}
	for _, ps := range o.parts {
		if ps.Checkpoint == 0 {
			ps.Checkpoint = id
		}
		ps.Watermark = o.watermark
		st.Parts = append(st.Parts, ps)
	}
	return json.Marshal(st)
}

// Commit makes the files of checkpoint id visible and commits the partitions whose trigger fired.
func (o *output) Commit(_ context.Context, id int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.finish(id); err != nil {
		return err
	}
	return o.commitPartitions(id)
}

// commitPartitions applies the partition commit policy to the partitions whose rows are all in visible
// files (checkpoint ≤ id) and whose trigger fired (o.mu held).
func (o *output) commitPartitions(id int64) error {
	now := o.now().UnixMilli()
	for dir, ps := range o.parts {
		if ps.Checkpoint == 0 || ps.Checkpoint > id {
			continue
		}
		if o.s.partitionTime {
			pt, err := o.s.extractor.extract(o.s.partitionKeys, ps.Values)
			if err != nil {
				return fmt.Errorf("filesystem sink: partition '%s': %w", dir, err)
			}
			// The partition time is a wall clock in the watermark's time zone.
			instant := types.TimestampFromLocal(types.TimestampValue(pt, 0), o.s.wmZone).I
			if ps.Watermark == -1<<63 || instant+o.s.delay.Milliseconds() > ps.Watermark {
				continue
			}
		} else if ps.Created+o.s.delay.Milliseconds() > now {
			continue
		}
		if err := o.commitPartition(ps); err != nil {
			return err
		}
		delete(o.parts, dir)
	}
	return nil
}

// commitPartition runs the commit policies on one partition: 'success-file' writes the success file.
func (o *output) commitPartition(ps *partState) error {
	if !o.s.successFile {
		return nil
	}
	p := filepath.Join(o.s.path, ps.Dir, o.s.successName)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		return fmt.Errorf("filesystem sink: commit partition '%s': %w", ps.Dir, err)
	}
	return nil
}

// Restore finishes what checkpoint id pre-committed (renames its pending files; a file already renamed by
// the earlier run is fine) and removes the in-progress files that the crashed run wrote after it. A fresh
// start (nil state) starts a new file prefix and touches nothing.
func (o *output) Restore(_ context.Context, state []byte, id int64) error {
	if state == nil {
		return nil
	}
	var st sinkState
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("filesystem sink: the checkpoint's sink state is not readable: %w", err)
	}
	if st.Prefix == "" {
		return errors.New("filesystem sink: the checkpoint's sink state has no file prefix")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.prefix, o.counters = st.Prefix, append([]int64(nil), st.Counters...)
	if len(o.counters) == 0 {
		o.counters = []int64{st.Counter}
	}
	keep := map[string]bool{}
	for _, p := range st.Pending {
		keep[p.Tmp] = true
		if err := os.Rename(p.Tmp, p.Final); err != nil {
			if _, serr := os.Stat(p.Final); serr == nil {
				continue // committed before the crash
			}
			return fmt.Errorf("filesystem sink: checkpoint %d lists the file '%s', which is gone: %w", id, p.Tmp, err)
		}
	}
	// In-progress and pending files of this prefix that the checkpoint does not list hold rows after it.
	// New files continue the counter after every file of the prefix already there (a restore from an older
	// checkpoint must not overwrite files that later checkpoints committed).
	marker := ".part-" + st.Prefix + "-"
	err := filepath.WalkDir(o.s.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, marker) && strings.Contains(name, ".inprogress.") && !keep[p] {
			return os.Remove(p)
		}
		if sub, n, ok := partCounter(strings.TrimPrefix(name, "."), st.Prefix); ok {
			for len(o.counters) <= sub {
				o.counters = append(o.counters, 0)
			}
			if n >= o.counters[sub] {
				o.counters[sub] = n + 1
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("filesystem sink: clean up after checkpoint %d under '%s': %w", id, o.s.path, err)
	}
	for _, ps := range st.Parts {
		o.parts[ps.Dir] = ps
	}
	return o.commitPartitions(id)
}

// partCounter returns the subtask and n of a part file name 'part-<prefix>-<subtask>-<n>[.inprogress.<uuid>]'.
func partCounter(name, prefix string) (int, int64, bool) {
	rest, ok := strings.CutPrefix(name, "part-"+prefix+"-")
	if !ok {
		return 0, 0, false
	}
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		rest = rest[:i]
	}
	subText, nText, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	sub, err := strconv.Atoi(subText)
	if err != nil || sub < 0 || sub > 1<<16 {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(nText, 10, 64)
	return sub, n, err == nil
}
