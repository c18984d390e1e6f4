//go:build race

package crashtest

// clientFlags are the go build flags of the sql-client under test: in a test binary built with -race (CI's
// race phase), the client is built with -race too, so that the phase checks the engine's goroutines (source
// subtasks, exchanges, keyed subtasks, checkpoints) in the killed and restored jobs, not only this harness;
// proctest.Start fails a test whose client reported a race.
var clientFlags = []string{"-race"}
