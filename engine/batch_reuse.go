package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/changelog"
)

// Keyed stages over a reused result (a result that several stages, or one stage twice, read: a scan read by
// a self-join or by two aggregates without a projection of their own). Each keyed consumer needs the result
// partitioned by its own key, so its producer writes one hash partitioning per distinct consumer key and
// task count (stage-<n>-<task>-h<k>-<subpartition>.arrow) besides its ordinary result (stage-<n>... as
// before), which it writes only when a stage reads it unpartitioned (a forward or one-task consumer, a sink).
// Consumers by the same key share one partitioning (a self-join on one column reads the same files on both
// sides). Each keyed consumer then runs as P tasks, task i reading subpartition i of its partitioning.
//
// Why one partitioning per key rather than one row-wise result that every consumer task filters: a consumer
// task reading the whole result would read every row P times (P tasks) to keep 1/P of them, where writing the
// rows once more per key costs one write and one read of each row. A consumer of the same stage reading the
// result twice by two different keys (a self-join a.x = b.y directly over the scan) takes the partitionings in
// the order its operators' inputs are built (the plan's input order, as planTasks walks it); the build checks
// each edge against the plan (batch_mixed.go).

// partitioning is one more hash partitioning of a stage's result, for keyed consumers of a reused result.
type partitioning struct {
	parts int
	keys  []int
}

// partitionBy returns the index (1-based) of st's extra partitioning into parts by keys, adding it if new.
func (st *batchStage) partitionBy(parts int, keys []int) int {
	for i, h := range st.hashed {
		if h.parts == parts && slices.Equal(h.keys, keys) {
			return i + 1
		}
	}
	st.hashed = append(st.hashed, partitioning{parts: parts, keys: keys})
	return len(st.hashed)
}

// readsPrimary reports whether consumer stage st reads in's ordinary result (not only extra partitionings).
func (st *batchStage) readsPrimary(in *batchStage) bool {
	ks, ok := st.inParts[in]
	return !ok || slices.Contains(ks, 0)
}

// primarySlots is the number of files of st's ordinary result per task (0 when nobody reads it).
func (st *batchStage) primarySlots() int {
	if st.noFile {
		return 0
	}
	return st.subpartitions()
}

// slots is the number of files each task of st writes: its ordinary result's and every extra partitioning's.
func (st *batchStage) slots() int {
	n := st.primarySlots()
	for _, h := range st.hashed {
		n += h.parts
	}
	return n
}

// slotOf is the slot (a task's file index) of subpartition p of partitioning k (0: the ordinary result).
func (st *batchStage) slotOf(k, p int) int {
	if k == 0 {
		return p
	}
	n := st.primarySlots()
	for _, h := range st.hashed[:k-1] {
		n += h.parts
	}
	return n + p
}

// slotFile is the file of task t's slot s.
func (st *batchStage) slotFile(t, s int) string {
	ps := st.primarySlots()
	if s < ps {
		return st.file(t, s)
	}
	s -= ps
	for k, h := range st.hashed {
		if s < h.parts {
			return fmt.Sprintf("%s-%d-h%d-%d.arrow", strings.TrimSuffix(st.path, ".arrow"), t, k+1, s)
		}
		s -= h.parts
	}
	return fmt.Sprintf("%s-%d-bad-slot.arrow", strings.TrimSuffix(st.path, ".arrow"), t) // not reached
}

// inputSlot is the slot of input in that task tk reads through partitioning k.
func inputSlot(in *batchStage, k int, tk *stageTask) int {
	if k == 0 {
		return in.slotOf(0, inputPart(in, tk))
	}
	return in.slotOf(k, tk.index)
}

// inputSlots are the slots of input in that task tk reads (one per partitioning its edges use).
func inputSlots(in *batchStage, tk *stageTask) []int {
	ks, ok := tk.st.inParts[in]
	if !ok {
		return []int{inputSlot(in, 0, tk)}
	}
	var ss []int
	for _, k := range ks {
		if s := inputSlot(in, k, tk); !slices.Contains(ss, s) {
			ss = append(ss, s)
		}
	}
	return ss
}

// teeOutput hands every batch to several outputs (a task's ordinary result and its extra partitionings).
type teeOutput []changelog.Output

func (t teeOutput) Push(b *changelog.Batch) error {
	for _, o := range t {
		if err := o.Push(b); err != nil {
			return err
		}
	}
	return nil
}

func (t teeOutput) Watermark(int64) error { return nil }

func (t teeOutput) End() error {
	var err error
	for _, o := range t {
		if e := o.End(); err == nil {
			err = e
		}
	}
	return err
}

// taskFileGone returns the first of task u's files of slots that no longer exists ("" when all do).
func (st *batchStage) taskFileGone(u *stageTask, slots []int) string {
	for _, s := range slots {
		if path := st.slotFile(u.index, s); fileGone(path) {
			return path
		}
	}
	return ""
}
