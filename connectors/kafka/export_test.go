package kafka

import (
	"context"
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// Crash closes the clients of a sink output as a process killed right after the brokers received its records
// would: the records pushed so far are flushed (so an open transaction exists on the brokers), then nothing
// is committed or aborted. The output is unusable afterwards.
func Crash(t testing.TB, out changelog.Output) {
	t.Helper()
	var o *output
	switch v := out.(type) {
	case *output:
		o = v
	case *upsertOutput:
		o = v.output
	case *concurrentOutput:
		o = v.output
	case *concurrentUpsert:
		o = v.output
	default:
		t.Fatalf("kafka.Crash: %T is not a kafka sink output", out)
		return
	}
	for _, cl := range o.producers() {
		if err := cl.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	o.ended = true
	if o.tx != nil {
		for _, p := range o.tx.takePending(1<<63 - 1) {
			closeTxnClient(p.cl)
		}
	}
	o.closeWriters()
	o.base.Close()
	o.stopAfter()
	o.cancel()
}

// SplitOwner and JavaStringHash expose the partition assignment of source subtasks (subtasks.go).
func SplitOwner(topic string, p int32, n int) int { return splitOwner(topic, p, n) }
func JavaStringHash(s string) int32               { return javaStringHash(s) }

// SinkWritersOpened is the number of subtask writers that kafka sinks opened (sink_concurrent.go).
func SinkWritersOpened() int64 { return writersOpened.Load() }

// TxnClients is how many transactional producers the sinks' writers opened and closed so far (txn_writer.go).
func TxnClients() (opened, closed int64) { return txnClientsOpened.Load(), txnClientsClosed.Load() }

// FilteredEarlyTotal is the number of records pushed filters dropped before full decoding, over every source.
func FilteredEarlyTotal() int64 { return filteredEarlyAll.Load() }
