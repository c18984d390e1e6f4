package crashtest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Unaligned checkpoints restored at another parallelism after a SIGKILL (exec/exchange_unaligned_rescale*.go):
// a statement set of a TUMBLE window aggregate per user over event time (→ exactly-once kafka) and a GROUP BY
// user (→ upsert-kafka), both behind keyed exchanges fed by the source subtasks of a 4-partition input, on a
// slow sink broker (runSlowSink), every keyed subtask slowed by a test hook (keyedDelay): the keyed
// subtasks stay behind, and the checkpoints' barriers overtake the rows queued for them. Every run starts at
// another parallelism than the one before (2, 3, 1, 4, ...): the window exchange's channel state holds rows
// and watermarks taken by subtasks that had fired their windows up to different watermarks, restored over
// another number of subtasks (per key group floors); the GROUP BY's rows are routed to their new owners. A
// restore at parallelism 1 of a checkpoint with channel state is refused on purpose (the job would run the
// operators without an exchange to replay into): such a run ends with the refusal, and the next one
// restores the same checkpoint at parallelism 4.

// keyedDelay is the environment setting of an internal test hook of package exec that makes every keyed
// subtask sleep d before each item of rows or watermark it processes, so that its queue holds items at more
// checkpoints however loaded the machine is. The last run of runSlowSink runs without it.
func keyedDelay(d time.Duration) string { return "SLUICE_TEST_KEYED_DELAY=" + d.String() }

// p1Refusal is the text of the refusal of a parallelism-1 restore of channel state (exec.GuardChannelState).
const p1Refusal = "and at parallelism 1 this job runs the operator without an exchange to replay them into: restore it at a parallelism of 2 or more"

// TestUnalignedKillRescaleWindow: TUMBLE windows of 1 s per user (order i at event time i ms: 1000 orders a
// window, 20 per user) and the GROUP BY of TestUnalignedKillRescale, unaligned checkpoints every 100 ms, the
// parallelism 2, 3, 1, 4 in turn.
func TestUnalignedKillRescaleWindow(t *testing.T) {
	const users = 50
	tsOf := func(id int) int64 { return int64(id) }
	wins := scenario{
		users:    users,
		preload:  100000,
		settings: unalignedSets,
		tables: []string{groupOffsets(eventOrders("events", "id")), plainOrders("orders"),
			sinkOn(eoSink("wins", "user_id BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3), cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT")),
			sinkOn(upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT", "user_id"))},
		insert: `EXECUTE STATEMENT SET BEGIN
INSERT INTO wins SELECT user_id, window_start, window_end, COUNT(*), SUM(amount), MIN(id), MAX(id)
  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end;
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;
END;`,
		parallelism: []int{2, 3, 1, 4},
		refusal:     p1Refusal,
		env:         []string{keyedDelay(3 * time.Millisecond)},
		// A restore of in-flight rows counts (runSlowSink keeps its output) only when its run completed a
		// checkpoint of its own; the runs that a kill before it would leave out are the ones to count here.
		settle: true,
		topic:  "wins",
		key:    []string{"user_id", "ws", "we"},
		val:    []string{"cnt", "total", "first_id", "last_id"},
		want:   ordersWindowsWant(users, tsOf, tumbleOf1s),
	}
	totals := scenario{
		topic:  "totals",
		upsert: true,
		key:    []string{"user_id"},
		val:    []string{"cnt", "total"},
		want: func(total int) map[string]expect {
			cnt, sum := make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u]), true}
			}
			return want
		},
	}
	t.Parallel()
	more := func(outs []string) bool {
		return redistributedOf(outs, "WindowAggregate")+redistributedOf(outs, "GroupAggregate") == 0
	}
	outs := wins.runSlowSink(t, 185, 100*time.Millisecond, more, &totals)
	refused := 0
	for _, out := range outs {
		refused += strings.Count(out, p1Refusal)
	}
	w, g := redistributedOf(outs, "WindowAggregate"), redistributedOf(outs, "GroupAggregate")
	// Which exchange's subtasks are behind at the checkpoints that the runs restore is chance on a loaded
	// machine (each one had none in 24 kills, once in a few runs), so either counts; a restore at
	// parallelism 1 is refused only when the checkpoint holds channel state (one that holds none restores
	// at parallelism 1): logged, not required.
	t.Logf("in-flight rows restored at another parallelism: %d of the window aggregate, %d of the GROUP BY; %d restores at parallelism 1 refused",
		w, g, refused)
	if w+g == 0 && !*noRestore {
		t.Fatalf("no run restored in-flight rows taken at another parallelism: the scenario did not test their redistribution\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	}
}

// redistributedOf sums the in-flight rows of the exchange into operator op (its name's first word, e.g.
// WindowAggregate) that the runs' outputs say they restored at another parallelism.
func redistributedOf(outs []string, op string) int {
	re := regexp.MustCompile(`Restored (\d+) in-flight rows of ` + op + `\(.* taken at parallelism \d+ and redistributed over \d+ subtasks`)
	n := 0
	for _, out := range outs {
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}
