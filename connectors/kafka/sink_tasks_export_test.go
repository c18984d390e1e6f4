package kafka

import (
	"testing"

	"github.com/sluicesql/sluice/connectors"
)

// CrashTasksInCommit ends a kafka sink stage's Output as a process killed in the middle of its End would:
// every task's transaction is flushed; with commits >= 0 the commit intent is recorded and the first commits
// tasks' transactions are committed (commits < 0: the kill came before the intent). Nothing else is committed
// or aborted; the Output is unusable afterwards.
func CrashTasksInCommit(t testing.TB, out connectors.TaskOutput, commits int) {
	t.Helper()
	to, ok := out.(*taskOutput)
	if !ok {
		t.Fatalf("kafka.CrashTasksInCommit: %T is not a kafka sink stage's Output", out)
	}
	ws := to.take()
	for _, w := range ws {
		if !w.o.ended {
			if err := w.o.writeHeld(); err != nil {
				t.Fatal(err)
			}
		}
		if len(w.o.producers()) > 0 {
			if err := w.o.flush(w.o.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if commits >= 0 {
		if err := to.recordIntent(ws); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range ws {
		if i < commits {
			if err := w.out.End(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		Crash(t, w.out)
	}
}
