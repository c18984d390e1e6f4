package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The writers' transactions (exactly-once, txn.go): each writer opens, stages and ends its own.

// txnClientsOpened and txnClientsClosed count the writers' transactional producers (tests check that every
// one is closed, and how many a run opens: one per transaction, see beginTxn).
var txnClientsOpened, txnClientsClosed atomic.Int64

// closeTxnClient closes a transactional producer.
func closeTxnClient(cl *kgo.Client) {
	cl.Close()
	txnClientsClosed.Add(1)
}

// txnIndices is how many transactional indices this run's writers use: every subtask writer has one
// (newWriter), writer 0 takes the first free one at its first transaction (index 0 when it writes alone).
func (o *output) txnIndices() int {
	o.txMu.Lock()
	defer o.txMu.Unlock()
	n := 1
	for _, w := range o.writers {
		n = max(n, w.idx+1)
	}
	return n
}

// claimIndexLocked gives w index i when no other writer has it, else the first free index (the engine may
// give two writers one subtask index: their transactional ids must still differ). Under txMu.
func (o *output) claimIndexLocked(w *subWriter, i int) {
	taken := func(i int) bool {
		for _, x := range o.writers {
			if x != w && x.idx == i {
				return true
			}
		}
		return false
	}
	if i < 0 || taken(i) {
		i = 0
		for taken(i) {
			i++
		}
	}
	w.idx = i
}

// txnID is the transactional id of the writer's transaction seq.
func (w *subWriter) txnID(seq int64) string { return taskTxnID(w.o.tx.prefix, w.idx, seq) }

// beginTxn opens the writer's next transaction with a producer of its own. Without a Restore before, the
// sink first aborts what an earlier run of the same prefix left open (a fresh start, restoreOnce).
//
// A producer serves one transaction, and so one transactional id: franz-go fixes a client's id, and a
// client kept across checkpoints would run every transaction of the writer under one id with one producer
// id and epoch (brokers before transactions v2 do not bump the epoch per transaction). Restore's recommit
// of a pre-committed transaction by (id, producer id, epoch) would then commit whatever later transaction
// of that id a crashed run left open, rows after the checkpoint included: duplicates. Hence a new client
// per transaction, as Flink's KafkaSink uses a new transactional id per checkpoint; its cost is one
// client and InitProducerID per writer and checkpoint with rows.
func (o *output) beginTxn(w *subWriter) error {
	t := o.tx
	if err := o.restoreOnce(); err != nil {
		return err
	}
	if w.idx < 0 {
		o.txMu.Lock()
		o.claimIndexLocked(w, 0)
		o.txMu.Unlock()
	}
	if w.next == 0 {
		next, ok := t.restoredNext(w.idx)
		if !ok {
			// An index that Restore did not know of: its first free number.
			var err error
			if next, err = o.abortLingering(o.ctx, t.prefix, w.idx, 1); err != nil {
				return err
			}
		}
		w.next = next
	}
	seq := w.next
	id := w.txnID(seq)
	cl, err := o.s.cfg.newClient(append(o.s.producerOpts(), kgo.TransactionalID(id), kgo.TransactionTimeout(t.timeout))...)
	if err != nil {
		return err
	}
	txnClientsOpened.Add(1)
	// Initialize the producer id now, so that a refused timeout is reported here and not as lost records.
	ictx, cancel := o.rctx(o.ctx)
	_, _, err = cl.ProducerID(ictx)
	cancel()
	if err == nil {
		err = cl.BeginTransaction()
	}
	if err != nil {
		closeTxnClient(cl)
		return o.txnInitError(id, "open a transaction", err)
	}
	w.next, w.seq, w.cl = seq+1, seq, cl
	return nil
}

// preCommitTxn stages every writer's open transaction: their records are flushed and acknowledged, and they
// wait in pending for Commit. Each writer's next pushed row opens a new transaction.
func (o *output) preCommitTxn(ctx context.Context, checkpointID int64) ([]byte, error) {
	t := o.tx
	if err := o.flush(ctx); err != nil {
		return nil, err
	}
	ws := o.writerList()
	for _, w := range ws {
		if w.cl == nil {
			continue
		}
		id := w.txnID(w.seq)
		pid, epoch, err := w.cl.ProducerID(ctx)
		if err != nil {
			return nil, fmt.Errorf("kafka table '%s': pre-commit transaction '%s' for checkpoint %d: %w", o.s.cfg.table.Name, id, checkpointID, err)
		}
		t.mu.Lock()
		t.pending = append(t.pending, pendingTxn{txnEntry{Checkpoint: checkpointID, ID: id, ProducerID: pid, Epoch: epoch}, w.cl})
		t.mu.Unlock()
		w.cl = nil
	}
	st := txnState{Version: txnStateVersion, Prefix: t.prefix, Writers: make([]int64, o.txnIndices())}
	for i := range st.Writers {
		st.Writers[i] = 1 // an index without a writer that knows better: probe it from the start
		if n, ok := t.restoredNext(i); ok {
			st.Writers[i] = n
		}
	}
	for _, w := range ws {
		if w.idx >= 0 && w.next > 0 {
			st.Writers[w.idx] = w.next
		}
	}
	st.Next = st.Writers[0]
	t.mu.Lock()
	for _, p := range t.pending {
		st.Pending = append(st.Pending, p.txnEntry)
	}
	t.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("kafka table '%s': encode the checkpoint state: %w", o.s.cfg.table.Name, err)
	}
	return b, nil
}

// takePending removes and returns the pending transactions of checkpoints up to id, in order.
func (t *txns) takePending(id int64) []pendingTxn {
	t.mu.Lock()
	defer t.mu.Unlock()
	var due []pendingTxn
	keep := t.pending[:0]
	for _, p := range t.pending {
		if p.Checkpoint <= id {
			due = append(due, p)
		} else {
			keep = append(keep, p)
		}
	}
	clear(t.pending[len(keep):])
	t.pending = keep
	return due
}

// commitPending commits the transactions (each writer's, at once) and closes their producers. It returns the
// first failure: the job fails, and Restore commits the ones left from the checkpoint.
//
// A commit is not abandoned when ctx is cancelled, only bounded by 'properties.delivery.timeout.ms' and by
// the grace after an Interrupt (a cancelled or failed job, sink_interrupt.go, which says why an interrupted
// commit leaves nothing half-visible): the transactions belong to a completed checkpoint, and the engine
// cancels its checkpoint goroutine's context when the job ends by itself too, possibly while that goroutine
// commits the last checkpoint (after End found nothing pending). An EndTxn abandoned there left the
// transaction open on the brokers until 'properties.transaction.timeout.ms' (15 min): read_committed
// consumers stalled at it, and the next job's fresh start could not tell it from a crashed run's and aborted
// it, losing its rows.
func (o *output) commitPending(ctx context.Context, due []pendingTxn) error {
	ctx = context.WithoutCancel(ctx)
	errs := make([]error, len(due))
	commit := func(i int) {
		p := due[i]
		cctx, cancel := o.rctx(ctx)
		if err := p.cl.EndTransaction(cctx, kgo.TryCommit); err != nil {
			if ierr := o.interrupted(fmt.Sprintf("commit of transaction '%s' of checkpoint %d", p.ID, p.Checkpoint)); ierr != nil {
				// left to the restore from the checkpoint, which commits it (sink_interrupt.go)
				err = fmt.Errorf("%w; a restore from checkpoint %d commits it: %w", ierr, p.Checkpoint, err)
			} else {
				err = fmt.Errorf("kafka table '%s': commit transaction '%s' of checkpoint %d: %w", o.s.cfg.table.Name, p.ID, p.Checkpoint, err)
			}
			errs[i] = err
		}
		cancel()
		closeTxnClient(p.cl)
	}
	if len(due) == 1 {
		commit(0)
	} else {
		var wg sync.WaitGroup
		for i := range due {
			wg.Add(1)
			go func() {
				defer wg.Done()
				commit(i)
			}()
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// endTxn ends an exactly-once output. A job that ended normally commits every pending transaction and then
// the writers' open ones (rows pushed after the last PreCommit): End is the last checkpoint of a bounded job
// without checkpointing. When the engine takes a final checkpoint before End (PreCommit and Commit), nothing
// is left open here. A cancelled job aborts the open transactions and leaves the pre-committed ones to
// Restore, since the checkpoint that holds them may complete; a later Restore (or a fresh start's probe)
// aborts those of checkpoints that never completed.
func (o *output) endTxn() error {
	if o.jobCtx.Err() != nil {
		for _, p := range o.tx.takePending(1<<63 - 1) {
			closeTxnClient(p.cl)
		}
		o.abortOpen(context.WithoutCancel(o.jobCtx))
		return nil
	}
	o.tx.cmu.Lock() // after a Commit in flight: the job's rows are all committed when End returns
	err := o.commitPending(o.ctx, o.tx.takePending(1<<63-1))
	o.tx.cmu.Unlock()
	if err != nil {
		return err
	}
	if err = o.flush(o.ctx); err != nil {
		return err
	}
	for _, w := range o.writerList() {
		if w.cl == nil {
			continue
		}
		// Not pre-committed: a commit is started only while the grace after an Interrupt lasts
		// (sink_interrupt.go); later it stays open, for the restore (or the brokers) to abort.
		if ierr := o.interrupted(fmt.Sprintf("commit of transaction '%s' at the end of the job", w.txnID(w.seq))); ierr != nil {
			if err == nil {
				err = fmt.Errorf("%w; it is left open, and aborted by a restore from the last checkpoint (or by the brokers after 'properties.transaction.timeout.ms')", ierr)
			}
			continue
		}
		cctx, cancel := o.rctx(o.ctx)
		if cerr := w.cl.EndTransaction(cctx, kgo.TryCommit); cerr != nil && err == nil {
			err = fmt.Errorf("kafka table '%s': commit transaction '%s' at the end of the job: %w", o.s.cfg.table.Name, w.txnID(w.seq), cerr)
		}
		cancel()
	}
	return err
}

// abortOpen aborts the writers' open transactions (their buffered records are dropped) and closes their
// producers.
func (o *output) abortOpen(ctx context.Context) {
	for _, w := range o.writerList() {
		if w.cl == nil || w.cl == o.base {
			continue
		}
		actx, cancel := o.rctx(ctx)
		_ = w.cl.AbortBufferedRecords(actx)
		_ = w.cl.EndTransaction(actx, kgo.TryAbort)
		cancel()
		closeTxnClient(w.cl)
		w.cl = nil
	}
}

// closeWriters closes the writers' own producers (not the sink's client).
func (o *output) closeWriters() {
	for _, w := range o.writerList() {
		if w.cl != nil && w.cl != o.base {
			closeTxnClient(w.cl)
			w.cl = nil
		}
	}
}
