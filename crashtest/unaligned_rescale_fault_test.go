package crashtest

import (
	"strings"
	"testing"
	"time"
)

// The kill tests of unaligned checkpoints restored at another parallelism (TestUnalignedKillRescale,
// TestUnalignedKillRescaleWindow) catch a broken redistribution of the in-flight rows: their scenarios run with
// a test hook of package exec (SLUICE_TEST_REDISTRIBUTE_FAULT, exec/exchange_test_hook.go) that breaks the
// first redistribution of every run (one row dropped, sent twice, or sent to a subtask that does not own its
// key), and the scenario's verdict (runSlowSinkVerdict) must report the output as wrong. A fault counts once
// a run that made it completed a checkpoint of its own (its state holds the fault from then on; the runs
// killed before one leave no trace). Each fault is one scenario run of few kills (the runs go on while no
// kept run made the fault, up to 3 × as many); when none did (in-flight rows at a checkpoint that a run
// restores are chance: 3 subtests at once on a loaded 2-core machine made 1 of 3 faults in 4 to 12 runs each;
// one at a time, each was made by the second run), the scenario runs again on new brokers, up to
// faultAttempts times, and the test fails (never skips) when no attempt made the fault. The verdict on drop and
// dup: one user's totals (one window) are off by the row; misroute: the next restore refuses the checkpoint
// (a key stored by a subtask that does not own its key group), and the run ends by itself, or the window
// fires in two subtasks.

// faultAttempts is the number of scenario runs of a fault at most.
const faultAttempts = 4

// faultEnv is the environment setting of the hook, without its value; faultNotice is the beginning of its
// report on stderr of a fault it made.
const (
	faultEnv    = "SLUICE_TEST_REDISTRIBUTE_FAULT="
	faultNotice = "test hook " + faultEnv
)

// faultsMade counts the faults the runs' outputs report.
func faultsMade(outs []string) int {
	n := 0
	for _, out := range outs {
		n += strings.Count(out, faultNotice)
	}
	return n
}

// TestUnalignedKillRescaleFaults: TestUnalignedKillRescale (groupby) and the TUMBLE windows of
// TestUnalignedKillRescaleWindow (window) with each fault of the hook, 4 kills (up to 12 while no kept run made
// the fault); the verdict fails on the output, which is wrong in at most a few rows per fault (the last run,
// without the hook, catches up on every other user).
func TestUnalignedKillRescaleFaults(t *testing.T) {
	if *noRestore {
		t.Skip("-crash.norestore: the runs restore nothing to redistribute")
	}
	t.Parallel()
	scenarios := []struct {
		name string
		s    func() scenario
	}{{"groupby", rescaleScenario}, {"window", windowFaultScenario}}
	for i, sc := range scenarios {
		for k, fault := range []string{"drop", "dup", "misroute"} {
			t.Run(sc.name+"/"+fault, func(t *testing.T) { // one after the other: 3 at once made 1 of 3 faults in 4 to 12 runs each
				seed := 186 + uint64(3*i+k)
				for attempt := 1; ; attempt++ {
					outs, bad := faultRun(t, sc.s(), fault, seed+uint64(100*attempt))
					made := faultsMade(outs)
					if made == 0 {
						if bad != nil {
							t.Fatalf("no fault made, and the verdict rejected the output: %s", bad.msg)
						}
						// Whether a run restores rows in flight is chance: a new scenario run, on new brokers.
						t.Logf("attempt %d: no run that completed a checkpoint made the fault (in-flight rows redistributed: %d, in %d runs)",
							attempt, redistributed(outs), len(outs))
						if attempt == faultAttempts {
							t.Fatalf("no run of %d attempts that completed a checkpoint made the fault %q: the redistribution was not broken, nothing checked", attempt, fault)
						}
						continue
					}
					if bad == nil {
						t.Fatalf("the verdict accepted the output of runs that made %d faults %q in the redistribution of in-flight rows (%d redistributed)",
							made, fault, redistributed(outs))
					}
					msg, _, _ := strings.Cut(bad.msg, "\n")
					if bad.topic == "" { // a restore refused the state the fault left (misroute: a key in a key group the subtask does not own)
						msg = bad.msg
					}
					t.Logf("attempt %d: %d faults %q made, %d in-flight rows redistributed; the verdict: %s", attempt, made, fault, redistributed(outs), msg)
					return
				}
			})
		}
	}
}

// faultRun runs scenario s with the hook's fault: 4 kills (up to 12 while no kept run made it), the keyed
// subtasks slower than TestUnalignedKillRescale's (30 ms an item: fewer items a second than the feed's sources
// send them), so that every checkpoint holds rows in flight: with its 3 ms they often keep up once a run
// caught up, and 18 runs of 3 faults at once under CPU load restored none.
func faultRun(t *testing.T, s scenario, fault string, seed uint64) ([]string, *badOutput) {
	s.env = []string{keyedDelay(30 * time.Millisecond), faultEnv + fault}
	s.kills = 4
	// The output is final once only a few rows are wrong (while the last run catches up, about every user's
	// are) and that stayed so for 2 s: each kept run made one fault, in a few rows.
	var since time.Time
	var last tally
	s.final = func(got tally, _ bool) bool {
		bad := got.lost + got.dups + got.wrong
		if bad == 0 || bad > 3*s.kills {
			since = time.Time{}
			return false
		}
		if since.IsZero() || got != last {
			since, last = time.Now(), got
		}
		return time.Since(since) >= 2*time.Second
	}
	more := func(outs []string) bool { return faultsMade(outs) == 0 }
	return s.runSlowSinkVerdict(t, seed, 300*time.Millisecond, more)
}

// windowFaultScenario is the window scenario of TestUnalignedKillRescaleWindow alone (TUMBLE windows of 1 s
// per user over event time → exactly-once kafka), the parallelism 2, 3, 4, 3 in turn.
func windowFaultScenario() scenario {
	const users = 50
	tsOf := func(id int) int64 { return int64(id) }
	return scenario{
		users:    users,
		preload:  100000,
		settings: unalignedSets,
		tables: []string{groupOffsets(eventOrders("events", "id")),
			sinkOn(eoSink("wins", "user_id BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT"))},
		insert: `INSERT INTO wins SELECT user_id, window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id)
  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end;`,
		parallelism: []int{2, 3, 4, 3},
		settle:      true,
		topic:       "wins",
		key:         []string{"user_id", "ws", "we"},
		val:         []string{"cnt", "total", "first_id", "last_id"},
		want:        ordersWindowsWant(users, tsOf, tumbleOf1s),
	}
}
