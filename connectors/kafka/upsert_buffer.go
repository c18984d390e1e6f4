package kafka

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// keyBuffer is the buffer of a buffered upsert-kafka sink ('sink.buffer-flush.max-rows' / '.interval'): the
// last change of each key, written on flush in the order the keys were first buffered. The sink's own Push
// has one, and so has every subtask writer (sink_concurrent.go; as every Flink sink subtask reduces its own
// keys): a key's changes all come from the one subtask owning its key group, so they meet in one buffer.
// mu guards the buffer against the sink's interval flusher (and, for a writer, its held tombstone).
type keyBuffer struct {
	mu    sync.Mutex
	max   int
	index map[string]int
	buf   []*kgo.Record
}

func newKeyBuffer(maxRows int) *keyBuffer {
	hint := min(maxRows, 1024) // grown as needed: every writer has one
	return &keyBuffer{max: maxRows, index: make(map[string]int, hint), buf: make([]*kgo.Record, 0, hint)}
}

// addLocked buffers rec as the last change of its key (returning the record it replaces to o's pool), and
// flushes the buffer when it holds max keys.
func (b *keyBuffer) addLocked(w *subWriter, rec *kgo.Record) {
	if j, ok := b.index[string(rec.Key)]; ok {
		old := b.buf[j]
		b.buf[j] = rec
		w.o.recycle(old)
		return
	}
	b.index[string(rec.Key)] = len(b.buf)
	b.buf = append(b.buf, rec)
	if len(b.buf) >= b.max {
		b.flushLocked(w)
	}
}

// flushLocked hands the buffered records to the writer's producer, in the order their keys were first
// buffered. A buffer holds records only while its writer's producer is open (the writer's Push opened it;
// PreCommit and End empty the buffer before a transaction ends).
func (b *keyBuffer) flushLocked(w *subWriter) {
	if len(b.buf) == 0 {
		return
	}
	o := w.o
	for i, rec := range b.buf {
		w.cl.Produce(o.ctx, rec, o.promise)
		b.buf[i] = nil
	}
	b.buf = b.buf[:0]
	clear(b.index)
}

// flush is flushLocked under mu.
func (b *keyBuffer) flush(w *subWriter) {
	b.mu.Lock()
	b.flushLocked(w)
	b.mu.Unlock()
}

// dropLocked returns the buffered records to o's pool unwritten (Abort).
func (b *keyBuffer) dropLocked(o *output) {
	for i, rec := range b.buf {
		o.recycle(rec)
		b.buf[i] = nil
	}
	b.buf = b.buf[:0]
	clear(b.index)
}

// len is the number of keys buffered.
func (b *keyBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}
