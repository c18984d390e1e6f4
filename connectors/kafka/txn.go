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

// Exactly-once ('sink.delivery-guarantee' = 'exactly-once'), as Flink's KafkaSink: every writer (each sink
// subtask's, sink_concurrent.go, and writer 0, the sink's own Push) writes the rows between two checkpoints
// into a Kafka transaction of its own, with a producer of its own whose transactional id is
// '<prefix>-<i>-<n>' (i: the writer's transactional index, its subtask's index; n: a sequence number that
// grows by one for every transaction the writer opens). A writer opens its transaction at its first record
// after a checkpoint, so writers without rows open none. PreCommit flushes every writer's open transaction
// (staged, not committed) and records each one's identity in the checkpoint, with every index's next
// number; Commit(id) commits the transactions that checkpoints up to id pre-committed, every writer's.
// Restore commits the pre-committed transactions of the restored checkpoint (EndTxn with the stored producer
// id and epoch, as Flink does) and, for every index up to max(the checkpoint's writers, this run's
// writers), aborts the transactions that a crashed run opened after it, by initializing '<prefix>-<i>-<next>',
// '<prefix>-<i>-<next+1>', ... (which aborts a transaction left open under that id) until one that was never
// used (InitProducerID answers epoch 0): a rescale in either direction leaves nothing open.
//
// Transactions are numbered by the writer instead of by checkpoint id (Flink's '<prefix>-<subtask>-<checkpoint>')
// so that the numbers stay contiguous when checkpoints without rows open no transaction: the probe for
// lingering transactions stops at the first unused number and would miss one behind a gap.
//
// Limit: the indices probed are those of the restored checkpoint and of this run; a run that crashed before
// its first checkpoint with more writers than both leaves its transactions of the extra indices to the
// brokers, which abort them after 'properties.transaction.timeout.ms'.

// defaultTxnTimeout is the transaction timeout of an exactly-once sink without
// 'properties.transaction.timeout.ms': the largest that brokers accept by default (their
// transaction.max.timeout.ms). Flink's default of 1 h is refused by such brokers, and franz-go's 40 s would
// abort the transactions of any checkpoint interval above it.
const defaultTxnTimeout = 15 * time.Minute

// txnStateVersion is the version of the encoding of txnState. Version 1 (one writer: Next only) is read as
// the state of writer index 0.
const txnStateVersion = 2

// txnState is what PreCommit returns for a checkpoint: the pre-committed transactions not committed yet (of
// every writer), and for each transactional index the number of the next transaction its writer would open.
type txnState struct {
	Version int    `json:"v"`
	Prefix  string `json:"prefix"`
	// Next is index 0's next number (version 1: the only writer's).
	Next int64 `json:"next"`
	// Writers holds every index's next number (version 2), Writers[0] = Next.
	Writers []int64    `json:"writers,omitempty"`
	Pending []txnEntry `json:"pending,omitempty"`
}

// nexts is the next number of every index of the state: version 1 has one writer.
func (st *txnState) nexts() []int64 {
	if len(st.Writers) > 0 {
		return st.Writers
	}
	if st.Prefix == "" {
		return nil
	}
	return []int64{st.Next}
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

// txns is the exactly-once part of an output. The writers own their open transactions (subWriter.cl,
// idx, next, seq); pending is shared with Commit.
type txns struct {
	prefix  string
	timeout time.Duration

	// rmu guards restored: the first number of each index that Restore found free, nil before a Restore
	// (the first writer to open a transaction then runs a fresh start's, restoreOnce).
	rmu      sync.Mutex
	restored map[int]int64

	mu      sync.Mutex
	pending []pendingTxn

	// cmu serializes committing: Commit's (the engine's checkpoint goroutine) and End's, so that End returns
	// only after a Commit in flight has finished (commitPending).
	cmu sync.Mutex
}

// taskTxnID is the transactional id of transaction seq of sink writer (subtask, task) i: '<prefix>-<i>-<seq>'.
func taskTxnID(prefix string, i int, seq int64) string {
	return prefix + "-" + strconv.Itoa(i) + "-" + strconv.FormatInt(seq, 10)
}

func decodeTxnState(b []byte) (txnState, error) {
	var st txnState
	if len(b) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("the sink's checkpoint state is not readable: %w", err)
	}
	if st.Version < 1 || st.Version > txnStateVersion {
		return st, fmt.Errorf("the sink's checkpoint state has version %d; this Sluice reads versions 1 to %d", st.Version, txnStateVersion)
	}
	return st, nil
}

// Restore commits what the restored checkpoint pre-committed and aborts what a crashed run left open after
// it. An at-least-once sink only does the latter two for the transactions of an earlier exactly-once run of
// the table (state written by one), and has nothing else to restore.
func (o *output) Restore(ctx context.Context, state []byte, checkpointID int64) error {
	if o.tx != nil {
		o.tx.rmu.Lock()
		defer o.tx.rmu.Unlock()
	}
	return o.restore(ctx, state, checkpointID)
}

// restoreOnce runs a fresh start's Restore unless one ran (the first transaction of a sink without one).
func (o *output) restoreOnce() error {
	t := o.tx
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if t.restored != nil {
		return nil
	}
	return o.restore(o.ctx, nil, 0)
}

// restore is Restore under tx.rmu.
func (o *output) restore(ctx context.Context, state []byte, checkpointID int64) error {
	st, err := decodeTxnState(state)
	if err != nil {
		return fmt.Errorf("kafka table '%s': restore checkpoint %d: %w", o.s.cfg.table.Name, checkpointID, err)
	}
	for _, e := range st.Pending {
		if err := o.recommit(ctx, e); err != nil {
			return err
		}
	}
	old := st.nexts()
	if st.Prefix != "" && (o.tx == nil || st.Prefix != o.tx.prefix) {
		// The prefix changed since the checkpoint: clean up after the old one too.
		for i, next := range old {
			if _, err := o.abortLingering(ctx, st.Prefix, i, max(next, 1)); err != nil {
				return err
			}
		}
	}
	if o.tx == nil {
		return nil
	}
	same := st.Prefix == o.tx.prefix
	n := o.txnIndices()
	if same {
		n = max(n, len(old))
	}
	restored := make(map[int]int64, n)
	for i := range n {
		from := int64(1)
		if same && i < len(old) && old[i] > 1 {
			from = old[i]
		}
		next, err := o.abortLingering(ctx, o.tx.prefix, i, from)
		if err != nil {
			return err
		}
		restored[i] = next
	}
	o.tx.restored = restored
	return nil
}

// restoredNext is the first free number of index i that Restore found.
func (t *txns) restoredNext(i int) (int64, bool) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	n, ok := t.restored[i]
	return n, ok
}

// rctx bounds one wait on the brokers (a restore step, a transaction's commit or abort) by
// 'properties.delivery.timeout.ms', and by the grace after an Interrupt (sink_interrupt.go).
func (o *output) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	ictx, icancel := o.withInterrupt(ctx)
	tctx, cancel := context.WithTimeout(ictx, o.s.cfg.client.deliveryTimeout)
	return tctx, func() { cancel(); icancel() }
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

// abortLingering initializes the transactional ids '<prefix>-<i>-<from>', '<prefix>-<i>-<from+1>', ..., which
// aborts any transaction left open under them, until one answers epoch 0 (never used before), and returns
// that number: the first free one.
func (o *output) abortLingering(ctx context.Context, prefix string, i int, from int64) (int64, error) {
	timeout := o.s.txnTimeoutOrDefault()
	for seq := from; ; seq++ {
		id := taskTxnID(prefix, i, seq)
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
