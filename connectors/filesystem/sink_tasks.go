package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/sluicesql/sluice/connectors"
)

// A batch job writes the filesystem sink with several tasks (connectors.TaskSink), as Flink's batch
// FileSystemOutputFormat does: one Output for the sink stage, a writer per task attempt whose part files are
// 'part-<uuid>-<task>-<n>', every file hidden until End renames them all when every task succeeded. A failed
// attempt's writer is discarded: its in-progress and closed files are removed, so the attempt that replaces
// it writes its rows once.

var (
	_ connectors.TaskSink   = (*sink)(nil)
	_ connectors.TaskOutput = (*output)(nil)
)

// BatchSinkTasks reports that the sinks run as several tasks in batch jobs ('sink.parallelism').
func (*Factory) BatchSinkTasks() bool { return true }

// OpenTasks opens the sink for the tasks of a batch sink stage.
func (k *sink) OpenTasks(ctx context.Context) (connectors.TaskOutput, error) {
	o, err := k.Open(ctx)
	if err != nil {
		return nil, err
	}
	return o.(*output), nil
}

// DiscardSubtaskWriter removes the files of writer sw, whose attempt failed: its open files and the ones it
// closed (pending).
func (o *output) DiscardSubtaskWriter(sw connectors.SubtaskWriter) error {
	w, ok := sw.(*writer)
	if !ok || w.o != o {
		return fmt.Errorf("filesystem sink: discarding a writer of another sink")
	}
	var errs []error
	for _, bk := range w.buckets {
		if bk.w != nil {
			bk.f.Close()
			if err := os.Remove(bk.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("filesystem sink: discard '%s': %w", bk.tmp, err))
			}
			bk.w, bk.f = nil, nil
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.subs = slices.DeleteFunc(o.subs, func(x *writer) bool { return x == w })
	o.pending = slices.DeleteFunc(o.pending, func(p pendingFile) bool {
		if p.w != w {
			return false
		}
		if err := os.Remove(p.Tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("filesystem sink: discard '%s': %w", p.Tmp, err))
		}
		return true
	})
	return errors.Join(errs...)
}
