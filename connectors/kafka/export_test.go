package kafka

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// Crash closes the clients of a sink output as a killed process would: without flushing, committing or
// aborting anything. The output is unusable afterwards.
func Crash(t testing.TB, out changelog.Output) {
	t.Helper()
	var o *output
	switch v := out.(type) {
	case *output:
		o = v
	case *upsertOutput:
		o = v.output
	default:
		t.Fatalf("kafka.Crash: %T is not a kafka sink output", out)
		return
	}
	o.ended = true
	if o.tx != nil {
		for _, p := range o.tx.takePending(1<<63 - 1) {
			p.cl.Close()
		}
	}
	if o.cl != nil && o.cl != o.base {
		o.cl.Close()
	}
	o.base.Close()
	o.stopAfter()
	o.cancel()
}
