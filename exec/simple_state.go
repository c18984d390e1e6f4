package exec

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
)

// The small operators keep operator-wide values only, in their meta entry: the watermark assigner its
// highest row time and the watermark it emitted, LIMIT the number of rows it counted, UNION every input's
// watermark and end and the watermark it emitted.

func (w *watermarkAssigner) signature() string {
	return fmt.Sprintf("WatermarkAssigner(%s)", w.rowtime.String())
}

// An assigner with splits (watermark_split.go) also writes the watermark of each named split (Kafka: topic
// and partition), so that restored every split starts from its own (SplitWatermarks.NameSplit). Checkpoints
// written before have none: their splits start from the lowest watermark.

func (w *watermarkAssigner) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.max)
	meta = binary.AppendVarint(meta, w.emitted)
	if w.splits != nil {
		meta = w.splits.appendNamed(meta)
	}
	return wr.Put(nsMeta, nil, meta)
}

func (w *watermarkAssigner) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreMetaOnly(r, op, w.signature(), func(d *stateDec) {
		w.max, w.emitted = d.varint(), d.varint()
		named := d.namedWatermarks()
		if w.splits != nil {
			w.splits.restore(named)
		}
	})
}

// namedWatermarks reads the split watermarks that SplitWatermarks.appendNamed wrote, when the value has them.
func (d *stateDec) namedWatermarks() map[string]int64 {
	if d.err != nil || len(d.b) == 0 {
		return nil
	}
	n := d.count()
	named := make(map[string]int64, n)
	for range n {
		name := d.str()
		named[name] = d.varint()
	}
	return named
}

// SubtaskWatermarkState returns the checkpointed state of the watermark assigners chained into the subtasks
// of one source (one per subtask, feeding the union inputs ins): one operator's state, the same as the single
// assigner's at parallelism 1, so that a checkpoint restores at any parallelism. It holds the watermark the
// union sent downstream (as the highest row time too: assigners with splits do not use theirs); restored,
// every assigner starts from it and sends no watermark downstream already saw. It reads the union, which is
// called under the graph lock as checkpoints are, and of the assigners, which run in their subtasks'
// goroutines, only their split watermarks (under their lock), copied at the gate (CutSplits); restored,
// each named split (Kafka partition) starts from its own in whichever subtask reads it. Register it as the WatermarkAssigner's operator (StateOf).
func SubtaskWatermarkState(assigners []changelog.Output, ins []changelog.Output) changelog.Output {
	st := &subtaskAssigners{u: ins[0].(*unionInput).u}
	for _, a := range assigners {
		st.ws = append(st.ws, a.(*watermarkAssigner))
	}
	return st
}

// subtaskAssigners is SubtaskWatermarkState's operator. It is never pushed to.
type subtaskAssigners struct {
	ws []*watermarkAssigner
	u  *union

	// cut: the split watermarks of every assigner copied at the checkpoint's gate (CutSplits), written by
	// the next SnapshotState instead of the live ones
	mu  sync.Mutex
	cut []byte
}

// CutSplits copies the split watermarks of the assigners for the checkpoint being cut. Call it with the
// checkpoint gate closed (no source subtask between routing rows and advancing its position), where the
// source positions are recorded: the assigners run on after it, and the watermarks written must be those of
// the rows before the positions. A checkpoint without it (the quiesce: the sources wait at the closed gate
// until the snapshot) writes the live ones.
func (s *subtaskAssigners) CutSplits() {
	cut := s.appendSplits(nil)
	s.mu.Lock()
	s.cut = cut
	s.mu.Unlock()
}

// appendSplits appends the count, names and watermarks of the named splits of every assigner.
func (s *subtaskAssigners) appendSplits(dst []byte) []byte {
	var all []byte
	n := 0
	for _, w := range s.ws {
		if w.splits != nil {
			var c int
			all, c = w.splits.appendNamedEntries(all)
			n += c
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	return append(dst, all...)
}

func (s *subtaskAssigners) Push(*changelog.Batch) error { return nil }
func (s *subtaskAssigners) Watermark(int64) error       { return nil }
func (s *subtaskAssigners) End() error                  { return nil }

func (s *subtaskAssigners) SnapshotState(wr state.Writer) error {
	wm, ok := int64(0), false
	if s.u.cut != nil {
		// the keyed subtask forwarded its barrier and runs on: the watermark at its barrier (exchange_barrier.go);
		// its union's live value is written by the subtask's goroutine and must not be read then
		wm, ok = s.u.cut.at()
	}
	if !ok {
		wm = s.u.emitted
	}
	meta := appendMeta(nil, s.ws[0].signature())
	meta = binary.AppendVarint(meta, wm)
	meta = binary.AppendVarint(meta, wm)
	s.mu.Lock()
	cut := s.cut
	s.cut = nil
	s.mu.Unlock()
	if cut != nil {
		meta = append(meta, cut...)
	} else {
		meta = s.appendSplits(meta)
	}
	return wr.Put(nsMeta, nil, meta)
}

func (s *subtaskAssigners) RestoreState(r state.Reader) error {
	sig := s.ws[0].signature()
	return restoreMetaOnly(r, sig, sig, func(d *stateDec) {
		hi, emitted := d.varint(), d.varint()
		named := d.namedWatermarks() // by split name: each partition finds its own in whichever subtask reads it
		for _, w := range s.ws {
			if w.splits != nil {
				w.splits.restore(named)
			}
			w.max, w.emitted = max(hi, emitted), emitted
		}
	})
}

func (l *limitOp) signature() string {
	return fmt.Sprintf("Limit(limit=%d, offset=%d)", l.limit, l.offset)
}

func (l *limitOp) SnapshotState(w state.Writer) error {
	return w.Put(nsMeta, nil, binary.AppendVarint(appendMeta(nil, l.signature()), l.seen))
}

func (l *limitOp) RestoreState(r state.Reader) error {
	return restoreMetaOnly(r, l.signature(), l.signature(), func(d *stateDec) {
		l.seen = d.varint()
	})
}

func (u *union) signature() string { return fmt.Sprintf("Union(inputs=%d)", len(u.wms)) }

func (u *union) SnapshotState(w state.Writer) error {
	meta := appendMeta(nil, u.signature())
	for i, wm := range u.wms {
		meta = binary.AppendVarint(meta, wm)
		meta = appendBool(meta, u.ended[i])
	}
	meta = binary.AppendVarint(meta, u.emitted)
	return w.Put(nsMeta, nil, meta)
}

func (u *union) RestoreState(r state.Reader) error {
	return restoreMetaOnly(r, u.signature(), u.signature(), func(d *stateDec) {
		u.nEnded = 0
		for i := range u.wms {
			u.wms[i] = d.varint()
			u.ended[i] = d.bool()
			if u.ended[i] {
				u.nEnded++
			}
		}
		u.emitted = d.varint()
	})
}

// restoreMetaOnly restores an operator whose only entry is the meta entry; load reads its values.
func restoreMetaOnly(r state.Reader, op, sig string, load func(d *stateDec)) error {
	return restoreLoop(r, op, sig, load, func(ns uint8, key, _ []byte) error {
		return corrupt(op, "unexpected entry (namespace %d, key %x): the operator keeps operator-wide values only", ns, key)
	})
}
