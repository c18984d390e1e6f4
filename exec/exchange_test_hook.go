package exec

import (
	"fmt"
	"os"
	"time"
)

// testKeyedDelayEnv is an internal test hook, not a user option: the crash tests (package crashtest) run the
// sql-client with it (a Go duration) so that every keyed subtask of an exchange sleeps that long before it
// processes an item of rows or a watermark. The subtasks then stay behind their senders whatever the load of
// the machine, so their queues hold items at every checkpoint (an unaligned checkpoint's barriers overtake
// them: channel state), and a keyed subtask that forwards its barrier late sends rows in flight into the next
// exchange.
const testKeyedDelayEnv = "SLUICE_TEST_KEYED_DELAY"

// keyedDelay is testKeyedDelayEnv's duration (0: off).
var keyedDelay time.Duration

func init() {
	v := os.Getenv(testKeyedDelayEnv)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a positive Go duration (e.g. 2ms)\n", testKeyedDelayEnv, v)
		return
	}
	keyedDelay = d
}

// delayKeyed sleeps keyedDelay before an item of kind k (the test hook above).
func delayKeyed(k xKind) {
	if k == xRows || k == xCols || k == xWatermark {
		time.Sleep(keyedDelay)
	}
}
