package engine

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// testHoldEnv is an internal test hook, not a user option: the crash tests (package crashtest) run the
// sql-client with it to lower the reused scans' hold budget (reusedHoldLimit, bytes) so that a kill test
// reaches it, and the process then reports on stderr how much its holds kept and how often a branch waited
// at the budget (the tests check that the path was taken).
const testHoldEnv = "SLUICE_TEST_REUSED_HOLD_BYTES"

func init() {
	v := os.Getenv(testHoldEnv)
	if v == "" {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a positive number of bytes\n", testHoldEnv, v)
		return
	}
	reusedHoldLimit = n
	go func() {
		var rows, waits int64
		for range time.Tick(50 * time.Millisecond) {
			r, w := reusedRowsHeld.Load(), reusedHoldWaits.Load()
			if r != rows || w != waits {
				rows, waits = r, w
				fmt.Fprintf(os.Stderr, "[TEST] reused scan holds: %d rows held, %d waits at the budget of %d bytes\n", rows, waits, n)
			}
		}
	}()
}
