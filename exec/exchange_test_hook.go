package exec

import (
	"fmt"
	"os"
	"sync/atomic"
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

// testRedistributeFaultEnv is an internal test hook, not a user option: the crash tests run the sql-client
// with it to show that they catch a broken redistribution of an unaligned checkpoint's in-flight rows at
// another parallelism (redistribute, exchange_unaligned_rescale.go). Its value is the fault, made once per
// process, on the first item of rows redistributed: "drop" leaves out one row,
// "dup" sends one twice, "misroute" sends one to another subtask than its key group's owner. The fault is
// reported on stderr ("test hook SLUICE_TEST_REDISTRIBUTE_FAULT=...: ..."). Unset, redistribute tests one
// variable per item.
const testRedistributeFaultEnv = "SLUICE_TEST_REDISTRIBUTE_FAULT"

// redistributeFault is testRedistributeFaultEnv's value ("": off); redistributeFaulted is set once made.
var (
	redistributeFault   string
	redistributeFaulted atomic.Bool
)

func init() {
	switch v := os.Getenv(testRedistributeFaultEnv); v {
	case "":
	case "drop", "dup", "misroute":
		redistributeFault = v
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want drop, dup or misroute\n", testRedistributeFaultEnv, v)
	}
}

// faultRedistributed makes redistributeFault in per, one item's rows per new subtask (the test hook above),
// unless it was made already (or per has no row, or misroute has no other subtask).
func faultRedistributed(per []*xBatch) {
	from := -1
	for k, b := range per {
		if b != nil && len(b.batch.Rows) > 0 {
			from = k
			break
		}
	}
	if from < 0 || redistributeFault == "misroute" && len(per) < 2 || !redistributeFaulted.CompareAndSwap(false, true) {
		return
	}
	rows := &per[from].batch.Rows
	r := (*rows)[len(*rows)-1]
	what := fmt.Sprintf("dropped row %v of subtask %d", r, from)
	switch redistributeFault {
	case "dup":
		*rows = append(*rows, r)
		what = fmt.Sprintf("sent row %v to subtask %d twice", r, from)
	case "misroute":
		to := (from + 1) % len(per)
		if per[to] == nil {
			per[to] = &xBatch{}
		}
		per[to].batch.Rows = append(per[to].batch.Rows, r)
		what = fmt.Sprintf("sent row %v of subtask %d to subtask %d", r, from, to)
		fallthrough
	default:
		*rows = (*rows)[:len(*rows)-1]
		if len(*rows) == 0 {
			per[from] = nil
		}
	}
	fmt.Fprintf(os.Stderr, "test hook %s=%s: %s\n", testRedistributeFaultEnv, redistributeFault, what)
}
