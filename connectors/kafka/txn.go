package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/options"
)

// Exactly-once ('sink.delivery-guarantee' = 'exactly-once'): the rows between two checkpoints go into one Kafka
// transaction, written by a producer of its own whose transactional id is '<prefix>-0-<n>' (0: the sink's
// only instance; n: a sequence number that grows by one for every transaction the sink opens). PreCommit
// flushes the open transaction (staged, not committed) and records its identity in the checkpoint; the next
// pushed row opens transaction n+1 with a new producer; Commit(id) commits the transactions that checkpoints up
// to id pre-committed. Restore commits the pre-committed transactions of the restored checkpoint (EndTxn with
// the stored producer id and epoch, as Flink does) and aborts the transactions that a crashed run opened after
// it, by initializing '<prefix>-0-<next>', '<prefix>-0-<next+1>', ... (which aborts a transaction left open
// under that id) until one that was never used (InitProducerID answers epoch 0).
//
// Transactions are numbered by the sink instead of by checkpoint id (Flink's '<prefix>-<subtask>-<checkpoint>')
// so that the numbers stay contiguous when checkpoints without rows open no transaction: the probe for
// lingering transactions stops at the first unused number and would miss one behind a gap.

// defaultTxnTimeout is the transaction timeout of an exactly-once sink without
// 'properties.transaction.timeout.ms': the largest that brokers accept by default (their
// transaction.max.timeout.ms). Flink's default of 1 h is refused by such brokers, and franz-go's 40 s would
// abort the transactions of any checkpoint interval above it.
const defaultTxnTimeout = 15 * time.Minute

// txnStateVersion is the version of the encoding of txnState.
const txnStateVersion = 1

// txnState is what PreCommit returns for a checkpoint: the pre-committed transactions not committed yet, and
// the number of the next transaction the sink would open.
type txnState struct {
	Version int        `json:"v"`
	Prefix  string     `json:"prefix"`
	Next    int64      `json:"next"`
	Pending []txnEntry `json:"pending,omitempty"`
}

// txnEntry identifies a pre-committed transaction.
type txnEntry struct {
	Checkpoint int64  `json:"checkpoint"`
	ID         string `json:"id"`
	ProducerID int64  `json:"pid"`
	Epoch      int16  `json:"epoch"`
}

// pendingTxn is a pre-committed transaction and the producer that wrote it.
type pendingTxn struct {
	txnEntry
	cl *kgo.Client
}

// txns is the exactly-once part of an output. next and seq belong to the pushing goroutine (Push, PreCommit,
// Restore, End: never concurrent); pending is shared with Commit.
type txns struct {
	prefix  string
	timeout time.Duration
	next    int64 // number of the next transaction to open; 0 before Restore
	seq     int64 // number of the open transaction (output.cl), when there is one
	task    int   // the sink task whose transactions these are: 0 but in a batch sink stage's tasks (sink_tasks.go)

	mu      sync.Mutex
	pending []pendingTxn
}

func txnID(prefix string, seq int64) string { return taskTxnID(prefix, 0, seq) }

// taskTxnID is the transactional id of transaction seq of sink task (subtask) task: '<prefix>-<task>-<seq>'.
func taskTxnID(prefix string, task int, seq int64) string {
	return prefix + "-" + strconv.Itoa(task) + "-" + strconv.FormatInt(seq, 10)
}

// id is the transactional id of this sink's transaction seq.
func (t *txns) id(seq int64) string { return taskTxnID(t.prefix, t.task, seq) }

func decodeTxnState(b []byte) (txnState, error) {
	var st txnState
	if len(b) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("the sink's checkpoint state is not readable: %w", err)
	}
	if st.Version != txnStateVersion {
		return st, fmt.Errorf("the sink's checkpoint state has version %d; this Sluice reads version %d", st.Version, txnStateVersion)
	}
	return st, nil
}

// Restore commits what the restored checkpoint pre-committed and aborts what a crashed run left open after
// it. An at-least-once sink only does the latter two for the transactions of an earlier exactly-once run of
// the table (state written by one), and has nothing else to restore.
func (o *output) Restore(ctx context.Context, state []byte, checkpointID int64) error {
	st, err := decodeTxnState(state)
	if err != nil {
		return fmt.Errorf("kafka table '%s': restore checkpoint %d: %w", o.s.cfg.table.Name, checkpointID, err)
	}
	for _, e := range st.Pending {
		if err := o.recommit(ctx, e); err != nil {
			return err
		}
	}
	if st.Prefix != "" && (o.tx == nil || st.Prefix != o.tx.prefix) {
		// The prefix changed since the checkpoint: clean up after the old one too.
		if _, err := o.abortLingering(ctx, st.Prefix, max(st.Next, 1)); err != nil {
			return err
		}
	}
	if o.tx != nil {
		from := int64(1)
		if st.Prefix == o.tx.prefix && st.Next > 1 {
			from = st.Next
		}
		next, err := o.abortLingering(ctx, o.tx.prefix, from)
		if err != nil {
			return err
		}
		o.tx.next = next
	}
	return nil
}

// rctx bounds one restore step by 'properties.delivery.timeout.ms'.
func (o *output) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, o.s.cfg.client.deliveryTimeout)
}

// txnRequest sends a transaction coordinator request, retrying while the coordinator is busy with the
// transaction (CONCURRENT_TRANSACTIONS: a real broker answers so while it writes the markers of an abort).
func txnRequest[R kmsg.Response](ctx context.Context, cl *kgo.Client, send func(context.Context, kmsg.Requestor) (R, error), code func(R) int16) (R, error) {
	wait := 20 * time.Millisecond
	for {
		resp, err := send(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(code(resp))
		}
		if err == nil || !(errors.Is(err, kerr.ConcurrentTransactions) || kerr.IsRetriable(err)) || ctx.Err() != nil {
			return resp, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return resp, err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// recommit commits a transaction that a checkpoint pre-committed, by its producer id and epoch. Committing
// it again after its commit succeeded is harmless (the coordinator recognizes the retry). A transaction
// that can no longer be committed (the brokers aborted it after 'properties.transaction.timeout.ms', or
// forgot its id) is reported as a warning and skipped, as Flink does: its rows are most likely lost, and
// failing would keep the job from ever restoring.
func (o *output) recommit(ctx context.Context, e txnEntry) error {
	name := o.s.cfg.table.Name
	rctx, cancel := o.rctx(ctx)
	defer cancel()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = e.ID, e.ProducerID, e.Epoch, true
	_, err := txnRequest(rctx, o.base, req.RequestWith, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.InvalidTxnState), errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.InvalidProducerIDMapping), errors.Is(err, kerr.TransactionalIDNotFound):
		fmt.Fprintf(o.s.stderr, "WARN kafka table '%s': cannot commit transaction '%s' of checkpoint %d on restore (%s): the brokers aborted or forgot it, most likely because it stayed open longer than 'properties.transaction.timeout.ms' (%s); its rows are probably lost\n",
			name, e.ID, e.Checkpoint, err.Error(), options.FormatDuration(o.s.txnTimeoutOrDefault()))
		return nil
	}
	return fmt.Errorf("kafka table '%s': commit transaction '%s' of checkpoint %d on restore: %w", name, e.ID, e.Checkpoint, err)
}

// abortLingering initializes the transactional ids '<prefix>-0-<from>', '<prefix>-0-<from+1>', ..., which
// aborts any transaction left open under them, until one answers epoch 0 (never used before), and returns
// that number: the first free one.
func (o *output) abortLingering(ctx context.Context, prefix string, from int64) (int64, error) {
	timeout := o.s.txnTimeoutOrDefault()
	for seq := from; ; seq++ {
		id := txnID(prefix, seq)
		rctx, cancel := o.rctx(ctx)
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = &id, int32(timeout.Milliseconds())
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := txnRequest(rctx, o.base, req.RequestWith, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
		cancel()
		if err != nil {
			return 0, o.txnInitError(id, "abort transactions left open by an earlier run", err)
		}
		if resp.ProducerEpoch == 0 {
			return seq, nil
		}
	}
}

func (o *output) txnInitError(id, what string, err error) error {
	name := o.s.cfg.table.Name
	if errors.Is(err, kerr.InvalidTransactionTimeout) {
		return fmt.Errorf("kafka table '%s': %s: the brokers refuse 'properties.transaction.timeout.ms' = '%d' (%s): it exceeds their transaction.max.timeout.ms (15 min by default); lower it or raise the brokers' limit: %w",
			name, what, o.s.txnTimeoutOrDefault().Milliseconds(), options.FormatDuration(o.s.txnTimeoutOrDefault()), err)
	}
	return fmt.Errorf("kafka table '%s': %s (transactional id '%s'): %w", name, what, id, err)
}

// beginTxn opens the next transaction with a producer of its own. Without a Restore before, it first aborts
// what an earlier run of the same prefix left open (a fresh start).
func (o *output) beginTxn() error {
	t := o.tx
	if t.next == 0 {
		if err := o.Restore(o.ctx, nil, 0); err != nil {
			return err
		}
	}
	seq := t.next
	id := t.id(seq)
	cl, err := o.s.cfg.newClient(append(o.s.producerOpts(), kgo.TransactionalID(id), kgo.TransactionTimeout(t.timeout))...)
	if err != nil {
		return err
	}
	// Initialize the producer id now, so that a refused timeout is reported here and not as lost records.
	ictx, cancel := o.rctx(o.ctx)
	_, _, err = cl.ProducerID(ictx)
	cancel()
	if err == nil {
		err = cl.BeginTransaction()
	}
	if err != nil {
		cl.Close()
		return o.txnInitError(id, "open a transaction", err)
	}
	t.next, t.seq, o.cl = seq+1, seq, cl
	return nil
}

// preCommitTxn stages the open transaction: its records are flushed and acknowledged, and it waits in
// pending for Commit. The next pushed row opens a new transaction.
func (o *output) preCommitTxn(ctx context.Context, checkpointID int64) ([]byte, error) {
	t := o.tx
	if o.cl != nil {
		if err := o.flush(ctx); err != nil {
			return nil, err
		}
		id := t.id(t.seq)
		pid, epoch, err := o.cl.ProducerID(ctx)
		if err != nil {
			return nil, fmt.Errorf("kafka table '%s': pre-commit transaction '%s' for checkpoint %d: %w", o.s.cfg.table.Name, id, checkpointID, err)
		}
		t.mu.Lock()
		t.pending = append(t.pending, pendingTxn{txnEntry{Checkpoint: checkpointID, ID: id, ProducerID: pid, Epoch: epoch}, o.cl})
		t.mu.Unlock()
		o.cl = nil
	}
	t.mu.Lock()
	st := txnState{Version: txnStateVersion, Prefix: t.prefix, Next: t.next}
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

// commitPending commits the transactions in order and closes their producers. After a failure the rest are
// closed without commit: the job fails, and Restore commits them from the checkpoint.
func (o *output) commitPending(ctx context.Context, due []pendingTxn) error {
	var first error
	for _, p := range due {
		if first == nil {
			cctx, cancel := o.rctx(ctx)
			if err := p.cl.EndTransaction(cctx, kgo.TryCommit); err != nil {
				first = fmt.Errorf("kafka table '%s': commit transaction '%s' of checkpoint %d: %w", o.s.cfg.table.Name, p.ID, p.Checkpoint, err)
			}
			cancel()
		}
		p.cl.Close()
	}
	return first
}

// endTxn ends an exactly-once output. A job that ended normally commits every pending transaction and then
// the open one (rows pushed after the last PreCommit): End is the last checkpoint of a bounded job without
// checkpointing. When the engine takes a final checkpoint before End (PreCommit and Commit), nothing is left
// open here. A cancelled job aborts the open transaction and leaves the pre-committed ones to Restore, since
// the checkpoint that holds them may complete; a later Restore (or a fresh start's probe) aborts those of
// checkpoints that never completed.
func (o *output) endTxn() error {
	t := o.tx
	due := t.takePending(1<<63 - 1)
	if o.jobCtx.Err() != nil {
		for _, p := range due {
			p.cl.Close()
		}
		if o.cl != nil {
			actx, cancel := o.rctx(context.WithoutCancel(o.jobCtx))
			_ = o.cl.AbortBufferedRecords(actx)
			_ = o.cl.EndTransaction(actx, kgo.TryAbort)
			cancel()
		}
		return nil
	}
	err := o.commitPending(o.ctx, due)
	if o.cl != nil && err == nil {
		if err = o.flush(o.ctx); err == nil {
			cctx, cancel := o.rctx(o.ctx)
			if cerr := o.cl.EndTransaction(cctx, kgo.TryCommit); cerr != nil {
				err = fmt.Errorf("kafka table '%s': commit transaction '%s' at the end of the job: %w", o.s.cfg.table.Name, t.id(t.seq), cerr)
			}
			cancel()
		}
	}
	return err
}
