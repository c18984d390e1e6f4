package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// A cancelled or failed scale-out member does not wait on brokers that do not answer.
//
// The member's producer waits under its run's context (member.runCtx), done when the job is cancelled or
// stopped, or the member fails for good (a deleted internal topic, a failure the restart strategy does not
// restart): a Produce blocked because the member's producer buffer is full (50000 records), the
// transaction's flush and its commit (EndTxn) end at once then, and stage 1 stops in the middle of its
// poll (the rest of a 10000-record poll took 2-3 s under -race on a loaded machine). The abort of a
// transaction that failed waits at most the Kafka sinks' interrupt grace
// (connectors/kafka/sink_interrupt.go). Before, the blocked Produce
// and the abort waited until the brokers answered (the member's client has no delivery timeout), and the
// cancel or failure with them.
//
// The session's close at the run's end (it leaves the group) waits for the brokers at most the grace too:
// behind a request the brokers hold (a commit), it waited for the client's request timeout; the close goes
// on in the background.
//
// What an interrupted transaction leaves is never visible: the member commits a transaction only when
// every record of it was delivered and its commit succeeded, and a commit interrupted after it was sent
// either completed on the brokers (the offsets of its rows with it: nothing is read again) or did not. An
// interrupted abort leaves the transaction open: the brokers abort it after
// 'sluice.scale-out.transaction-timeout' (read_committed consumers of its partitions wait until then), and
// the member that gets its partitions reads its rows again from the committed offsets.

// abort aborts the member's open transaction after a failure, waiting for the brokers at most the
// interrupt grace (also when the job is cancelled meanwhile).
func (m *member) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kafka.InterruptGrace)
	defer cancel()
	_, _ = m.sess.End(actx, kgo.TryAbort)
}

// closeSession closes the member's session at the end of its run (the job was cancelled or the member
// failed), waiting for the close at most the interrupt grace (the close goes on in the background).
func (m *member) closeSession() {
	sess := m.sess
	done := make(chan struct{})
	go func() {
		defer close(done)
		sess.Close()
	}()
	t := time.NewTimer(kafka.InterruptGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// timedOut says, of err that failed the transaction begun at began, that the brokers aborted the transaction
// because it outlived 'sluice.scale-out.transaction-timeout' (they abort a transaction open longer than its
// timeout and fence its producer: the member's next write or commit fails with a fencing error), and how to
// avoid it. A transaction holds the rows of one poll, at most 'sluice.scale-out.max-poll-records' records:
// a slow member (many rows per source record, a slow sink, a loaded machine) can take longer than the timeout
// over them, on every attempt.
func (m *member) timedOut(err error, began time.Time) error {
	open := time.Since(began)
	if open < m.s.txnTimeout || !(errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, kerr.InvalidTxnState) || errors.Is(err, kerr.TransactionAbortable) || errors.Is(err, kerr.InvalidProducerIDMapping)) {
		return err
	}
	return fmt.Errorf("%w (the transaction was open %s, longer than 'sluice.scale-out.transaction-timeout' (%s): the brokers aborted it, nothing of it is committed. "+
		"A transaction holds the rows of one poll, at most 'sluice.scale-out.max-poll-records' (%d) records; lower it, or raise 'sluice.scale-out.transaction-timeout' (up to the brokers' transaction.max.timeout.ms), so that the member processes a poll in time)",
		err, open.Round(time.Millisecond), m.s.txnTimeout, m.s.maxPoll)
}
