package kafka

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
)

// The all-or-nothing commit of an exactly-once kafka sink stage with several tasks in a batch job. A killed
// batch job keeps no state but its job directory in 'io.tmp.dirs' (which the next batch job sweeps), and its
// rerun is a fresh run of the statement; so the stage keeps a commit record of its own next to the job
// directories: '<io.tmp.dirs>/sluice-kafka-txn-<hash of the bootstrap servers and the transactional-id
// prefix>.json' (not a 'sluice-job-*' directory: the sweep leaves it). It holds the prefix, the number of
// tasks of the run, a hash of the statement text and, from the moment every task's transaction is flushed
// until all are committed, the commit intent: each transaction's id, producer id and epoch (Flink's
// committable). The record is written to a temporary file, synced and renamed over the old one.
//
//   - start of the run (PrepareBatchCommit, before any task opens a producer): a record with an intent is
//     rolled forward: EndTxn(commit) is sent for every recorded transaction with its producer id and epoch,
//     as Flink's two-phase commit sink recommits on recovery. The coordinator (kfake as a real broker, EndTxn
//     v5) answers a transaction that was committed already with success (the retry of a completed commit);
//     PRODUCER_FENCED (a newer epoch of the id: another producer initialized it since),
//     INVALID_TXN_STATE (it was aborted), INVALID_PRODUCER_ID_MAPPING / TRANSACTIONAL_ID_NOT_FOUND (the
//     brokers expired it after 'properties.transaction.timeout.ms') count as done with a warning: nothing
//     more can be committed. When the record's statement is this run's statement, the killed run's result is
//     now whole in the topic and this run is its completion: the stage writes nothing (its tasks' rows are
//     dropped, a warning says so) and removes the record when it ends, so that the next run of the statement
//     writes again. Another statement with the same prefix runs normally after the roll-forward.
//   - without an intent, the transactional ids '<prefix>-<i>-1' for i below the larger of this run's tasks
//     and the recorded run's are initialized, which aborts what a killed run left open there (a task
//     without rows never initializes its id, and a run at a higher parallelism had ids beyond today's
//     tasks). The bound is the recorded number of tasks: ids past it are not probed. Then the record of this
//     run (its tasks, no intent) is written.
//   - End: every transaction flushed, the intent is written, then each transaction is committed; when all
//     committed, the record is removed. A failed commit leaves the record: the rerun rolls it forward.
//   - Abort (the job failed before End): the transactions are aborted and the record stays (its ids are
//     probed by the next run).

// commitRecordVersion is the version of the encoding of commitRecord.
const commitRecordVersion = 1

// commitRecord is the file that an exactly-once batch sink stage keeps in 'io.tmp.dirs'.
type commitRecord struct {
	Version   int        `json:"v"`
	Table     string     `json:"table"`
	Prefix    string     `json:"prefix"`
	Tasks     int        `json:"tasks"`
	Statement string     `json:"statement"` // sha256 of the statement text
	Written   time.Time  `json:"written"`
	Commit    []txnEntry `json:"commit,omitempty"` // the intent: the flushed transactions to commit
}

// commitRecordPath is the file of the commit record of the sink's prefix under dir.
func (s *sink) commitRecordPath(dir string) string {
	h := sha256.Sum256([]byte(s.cfg.servers() + "\x00" + s.txnPrefix))
	return filepath.Join(dir, "sluice-kafka-txn-"+hex.EncodeToString(h[:8])+".json")
}

func readCommitRecord(path string) (*commitRecord, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r commitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("it is not readable (%v)", err)
	}
	if r.Version != commitRecordVersion {
		return nil, fmt.Errorf("it has version %d; this Sluice reads version %d", r.Version, commitRecordVersion)
	}
	return &r, nil
}

// writeCommitRecord replaces the file at path by r, durably: a synced temporary file renamed over it, then
// the directory synced.
func writeCommitRecord(path string, r *commitRecord) error {
	r.Version, r.Written = commitRecordVersion, time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// statementHash identifies a statement in the commit record.
func statementHash(stmt string) string {
	h := sha256.Sum256([]byte(stmt))
	return hex.EncodeToString(h[:])
}

// PrepareBatchCommit is called by the engine once the stage's Output is open and before its tasks run: dir
// is the job's first 'io.tmp.dirs', stmt the statement text, tasks the stage's number of tasks. It rolls a
// recorded intent forward or aborts what a killed run left open, and records this run (see above). Sinks
// that are not exactly-once do nothing.
func (t *taskOutput) PrepareBatchCommit(ctx context.Context, dir, stmt string, tasks int) error {
	if !t.exactlyOnce || dir == "" {
		return nil
	}
	s, name := t.s, t.name
	path := s.commitRecordPath(dir)
	rec, err := readCommitRecord(path)
	if err != nil {
		return fmt.Errorf("kafka table '%s': the commit record '%s' of an earlier batch run: %w; remove it to run without it (transactions that run left may stay open until 'properties.transaction.timeout.ms')", name, path, err)
	}
	cl, err := s.cfg.newClient(s.producerOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := s.cfg.waitReachable(ctx, cl); err != nil {
		return err
	}
	stmtHash := statementHash(stmt)
	t.stmt, t.tasks = stmtHash, tasks
	if rec != nil && len(rec.Commit) > 0 {
		lost := 0
		for _, e := range rec.Commit {
			done, err := s.rollForward(ctx, cl, e)
			if err != nil {
				return fmt.Errorf("%w (the commit record '%s' keeps the intent: run the statement again once the brokers answer)", err, path)
			}
			if !done {
				lost++
			}
		}
		if rec.Statement == stmtHash {
			t.skip, t.record = true, path
			what := "they are committed now"
			if lost > 0 {
				what = fmt.Sprintf("%d of them could not be committed (see above: their rows are lost), the others are committed now", lost)
			}
			fmt.Fprintf(s.stderr, "WARN kafka table '%s': a run of this statement was killed while it committed its %d transactions (commit record '%s', written %s); %s, which completes that run: this run writes nothing to the table. Run the statement again to write its rows once more.\n",
				name, len(rec.Commit), path, rec.Written.Format(time.RFC3339), what)
			return nil
		}
	}
	probe := tasks
	if rec != nil {
		probe = max(probe, rec.Tasks)
	}
	for i := 0; i < probe; i++ {
		if err := s.fenceTaskTxn(ctx, cl, i); err != nil {
			return err
		}
	}
	if err := writeCommitRecord(path, &commitRecord{Table: name, Prefix: s.txnPrefix, Tasks: tasks, Statement: stmtHash}); err != nil {
		return fmt.Errorf("kafka table '%s': write the commit record '%s' in 'io.tmp.dirs': %w", name, path, err)
	}
	t.record = path
	return nil
}

// rollForward commits a transaction of a commit intent by its producer id and epoch; done is false when
// the brokers can no longer commit it (warned).
func (s *sink) rollForward(ctx context.Context, cl *kgo.Client, e txnEntry) (done bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.client.deliveryTimeout)
	defer cancel()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = e.ID, e.ProducerID, e.Epoch, true
	_, err = txnRequest(rctx, cl, req.RequestWith, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode })
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.InvalidTxnState), errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.InvalidProducerIDMapping), errors.Is(err, kerr.TransactionalIDNotFound):
		fmt.Fprintf(s.stderr, "WARN kafka table '%s': the commit of transaction '%s' of a killed batch run cannot be completed (%s): the brokers aborted or forgot it (it stayed open longer than 'properties.transaction.timeout.ms', or another producer initialized the id); its rows are probably lost\n",
			s.cfg.table.Name, e.ID, err.Error())
		return false, nil
	}
	return false, fmt.Errorf("kafka table '%s': commit transaction '%s' that a killed batch run left prepared: %w", s.cfg.table.Name, e.ID, err)
}

// fenceTaskTxn initializes the transactional id of task i, which aborts a transaction left open under it.
func (s *sink) fenceTaskTxn(ctx context.Context, cl *kgo.Client, i int) error {
	id := taskTxnID(s.txnPrefix, i, 1)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.client.deliveryTimeout)
	defer cancel()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, int32(s.txnTimeoutOrDefault().Milliseconds())
	req.ProducerID, req.ProducerEpoch = -1, -1
	if _, err := txnRequest(rctx, cl, req.RequestWith, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode }); err != nil {
		o := &output{s: s}
		return o.txnInitError(id, "abort the transactions that an earlier batch run left open", err)
	}
	return nil
}

// recordIntent writes the commit intent of the flushed writers' transactions (those that opened one).
func (t *taskOutput) recordIntent(ws []*taskWriter) error {
	if t.record == "" {
		return nil
	}
	rec := &commitRecord{Table: t.name, Prefix: t.s.txnPrefix, Tasks: t.tasks, Statement: t.stmt}
	for _, w := range ws {
		w0 := w.o.w0
		if w.o.tx == nil || w0.cl == nil {
			continue
		}
		ctx, cancel := w.o.rctx(w.o.ctx)
		pid, epoch, err := w0.cl.ProducerID(ctx)
		cancel()
		id := w0.txnID(w0.seq)
		if err != nil {
			return fmt.Errorf("kafka table '%s': task %d: the producer id of transaction '%s': %w", t.name, w.task+1, id, err)
		}
		rec.Commit = append(rec.Commit, txnEntry{Checkpoint: 1, ID: id, ProducerID: pid, Epoch: epoch})
	}
	if len(rec.Commit) == 0 {
		return nil
	}
	if err := writeCommitRecord(t.record, rec); err != nil {
		return fmt.Errorf("kafka table '%s': write the commit intent to '%s' ('io.tmp.dirs'): %w", t.name, t.record, err)
	}
	return nil
}

// dropRecord removes the commit record once every transaction committed.
func (t *taskOutput) dropRecord() error {
	if t.record == "" {
		return nil
	}
	if err := os.Remove(t.record); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kafka table '%s': remove the commit record '%s': %w", t.name, t.record, err)
	}
	return nil
}

// droppedWriter is a task's writer when the stage writes nothing (the completion of a killed run).
type droppedWriter struct{}

func (droppedWriter) Push(*changelog.Batch) error { return nil }

var _ connectors.SubtaskWriter = droppedWriter{}
