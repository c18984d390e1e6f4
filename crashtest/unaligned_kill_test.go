package crashtest

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// Unaligned checkpoints ('execution.checkpointing.unaligned.enabled'; exec/exchange_unaligned.go) killed at
// random moments: the keyed subtasks of a P=2 exchange fed by the source subtasks of a 4-partition input are
// slowed by their sink (its broker answers produce requests late, and every checkpoint's pre-commit waits for
// the sink's acknowledgements while the keyed subtasks wait at their barriers), so the sources queue rows
// behind them and the next checkpoint's barriers overtake those: the rows are written into the checkpoint as
// channel state and replayed by a restore before any new input. The restored runs print how many in-flight
// rows they replay ('Restored N in-flight rows ...'); a scenario fails unless some restore replayed some.

// plainOrders is the DDL of a table over the orders topic without event time (a watermark in flight makes a
// subtask take its barrier aligned), read from the group's committed offsets (committed at every checkpoint):
// a run that is not restored from a checkpoint goes on from there with empty state, so a skipped restore
// fails the scenario.
func plainOrders(name string) string {
	return groupOffsets(`CREATE TABLE ` + name + ` (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-` + name + `', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`)
}

// unalignedSets are the settings of the unaligned scenarios.
var unalignedSets = []string{
	`SET 'execution.checkpointing.unaligned.enabled' = 'true';`,
	`SET 'execution.checkpointing.interval' = '100 ms';`,
}

// inFlightRE matches the notice of a restore that replays channel state.
var inFlightRE = regexp.MustCompile(`Restored (\d+) in-flight rows of `)

// noInFlight reports whether no run restored in-flight rows (the barriers overtake what is queued at the
// moment of a checkpoint: whether a run's latest checkpoint holds some is chance).
func noInFlight(outs []string) bool { return inFlightRows(outs) == 0 }

// inFlightRows sums the in-flight rows that the runs' outputs say they restored.
func inFlightRows(outs []string) int {
	n := 0
	for _, out := range outs {
		for _, m := range inFlightRE.FindAllStringSubmatch(out, -1) {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

// runSlowSink runs the scenario as run does, with its output tables on a second broker that answers every
// produce request after sinkDelay (the output tables' DDL name it SINK), and keeps the runs' output; the
// caller makes the test parallel (or not). others are scenarios of the same job's other output topics
// (their tables, insert and settings unused): their output is checked too. Whether the runs took the path a
// scenario tests can be chance: while more(the outputs kept so far) holds, up to 3 × -crash.kills runs are
// killed. Only the outputs of the runs that completed a checkpoint of their own are kept (and returned, the
// last run's included): what a run killed before its first one did leaves no trace (the next run restores
// the same checkpoint, and the rows it wrote are overwritten or aborted).
func (s *scenario) runSlowSink(t *testing.T, seed uint64, sinkDelay time.Duration, more func(outs []string) bool, others ...*scenario) []string {
	outs, bad := s.runSlowSinkVerdict(t, seed, sinkDelay, more, others...)
	if bad != nil {
		t.Fatal(bad.msg)
	}
	return outs
}

// badOutput is the verdict of runSlowSinkVerdict on output that is not the expected one.
type badOutput struct {
	topic string // "" for a run that ended by itself
	got   tally
	msg   string // the failure's message
}

// runSlowSinkVerdict is runSlowSink returning its verdict on the output instead of failing the test on it:
// nil when every scenario's output is the expected one, or a run that ended by itself (not with s.refusal).
// The test fails at once on anything else (no restore).
func (s *scenario) runSlowSinkVerdict(t *testing.T, seed uint64, sinkDelay time.Duration, more func(outs []string) bool, others ...*scenario) ([]string, *badOutput) {
	addr := broker(t, 4)
	sinkAddr, sinkCluster := brokerCluster(t, 4)
	slowProduce(sinkCluster, sinkDelay)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	body := append([]string{
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`SET 'table.local-time-zone' = 'UTC';`,
	}, s.settings...)
	body = append(append(body, s.tables...), s.insert)
	for i := range body {
		body[i] = strings.ReplaceAll(body[i], "SINK", sinkAddr)
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: s.parallelism, env: s.env}
	for n := 0; n < s.preload; n += 50000 {
		produce(t, addr, "orders", orders(n, min(50000, s.preload-n), s.users))
	}
	f := feed(t, addr, "orders", s.preload, s.users)
	var outs []string
	// As restarts.kill, keeping each run's output: every other run is killed after a checkpoint of its own,
	// so that restores happen on a loaded machine too.
	kills := *kills
	if s.kills > 0 {
		kills = s.kills
	}
	n := 0
	for ; n < kills || n < 3*kills && !*noRestore && more(outs); n++ {
		before := latestCheckpoint(ckpts)
		c := r.start()
		d := randomDelay(rng, 500*time.Millisecond, 2500*time.Millisecond)
		if n%2 == 0 || s.settle {
			waitFor(30*time.Second, func() bool { return c.Exited() || latestCheckpoint(ckpts) != before })
			d -= 500 * time.Millisecond
		}
		time.Sleep(d)
		if c.Exited() {
			if !s.refused(c) {
				return append(outs, c.Output()), &badOutput{msg: "sql-client ended by itself:\n" + indent(c.Output())}
			}
			outs = append(outs, c.Output())
			continue
		}
		c.Kill()
		if latestCheckpoint(ckpts) != before {
			outs = append(outs, c.Output())
		}
	}
	total := f.end()
	if s.flush != nil {
		s.flush(t, addr)
	}
	r.env = nil // test hooks that slow the job down: the last run catches up without them
	c := r.start()
	defer func() { c.Kill() }()
	final := s.final
	if final == nil {
		final = func(got tally, upsert bool) bool { return got.lost == 0 && (got.wrong == 0 || !upsert) }
	}
	for _, sc := range append([]*scenario{s}, others...) {
		want := sc.want(total)
		required := 0
		for _, w := range want {
			if w.required {
				required++
			}
		}
		var got tally
		waitFor(90*time.Second, func() bool {
			if c.Exited() && s.refused(c) {
				outs = append(outs, c.Output())
				c = r.start()
			}
			got = sc.compare(t, sinkAddr, want)
			return final(got, sc.upsert)
		})
		t.Logf("%s: %d kills (%d runs restored from a checkpoint, the last included), %d orders, %d rows required, %d read: %d lost, %d duplicated, %d wrong",
			sc.topic, n, r.restored, total, required, got.rows, got.lost, got.dups, got.wrong)
		if required == 0 {
			t.Fatalf("%s: the expectation requires no row: the scenario tests nothing", sc.topic)
		}
		if got.lost > 0 || got.dups > 0 || got.wrong > 0 {
			r.checkRestored()
			return append(outs, c.Output()), &badOutput{topic: sc.topic, got: got,
				msg: fmt.Sprintf("%s after %d kills: %d rows lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s",
					sc.topic, n, got.lost, got.dups, got.wrong, got.example, indent(c.Output()))}
		}
	}
	r.checkRestored()
	return append(outs, c.Output()), nil
}

// refused reports whether the run that ended by itself ended with s.refusal (a restore refused on purpose).
func (s *scenario) refused(c *proctest.Client) bool {
	return s.refusal != "" && strings.Contains(c.Output(), s.refusal)
}

// checkInFlight fails the test unless some run restored in-flight rows of an unaligned checkpoint.
func checkInFlight(t *testing.T, outs []string) {
	t.Helper()
	if *noRestore {
		return
	}
	if inFlightRows(outs) == 0 {
		t.Fatalf("no run restored in-flight rows of an unaligned checkpoint (the barriers overtook nothing, or no checkpoint that did was restored): the scenario did not test channel state\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	}
}

// sinkOn points a sink table's DDL at the slow sink broker.
func sinkOn(ddl string) string {
	return strings.Replace(ddl, `'properties.bootstrap.servers' = 'ADDR'`, `'properties.bootstrap.servers' = 'SINK'`, 1)
}

// TestUnalignedKillGroupBy: the orders GROUP BY user_id (COUNT, SUM, MIN, MAX) at parallelism 2 →
// upsert-kafka, unaligned checkpoints every 100 ms.
func TestUnalignedKillGroupBy(t *testing.T) {
	const users = 300
	s := scenario{
		users:    users,
		preload:  200000,
		settings: unalignedSets,
		tables: []string{plainOrders("orders"),
			sinkOn(upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT, first_id BIGINT, last_id BIGINT", "user_id"))},
		insert:      `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount), MIN(id), MAX(id) FROM orders GROUP BY user_id;`,
		parallelism: []int{2},
		// The keyed subtasks stay behind their senders however loaded the machine is, and a run's restore
		// counts only once it checkpointed (a CI run with four such tests at once found no in-flight rows in
		// 24 kills without them).
		env:    []string{keyedDelay(3 * time.Millisecond)},
		settle: true,
		topic:  "totals",
		upsert: true,
		key:    []string{"user_id"},
		val:    []string{"cnt", "total", "first_id", "last_id"},
		want: func(total int) map[string]expect {
			cnt, sum, last := make([]int, users), make([]int, users), make([]int, users)
			for i := 0; i < total; i++ {
				cnt[i%users]++
				sum[i%users] += i % 7
				last[i%users] = i
			}
			want := map[string]expect{}
			for u := 0; u < users && u < total; u++ {
				want[row(u)] = expect{row(cnt[u], sum[u], u, last[u]), true}
			}
			return want
		},
	}
	t.Parallel()
	checkInFlight(t, s.runSlowSink(t, 181, 300*time.Millisecond, noInFlight))
}

// TestUnalignedKillJoin: the inner regular join of the join scenarios (join_test.go; two tables over the
// orders topic, both sides fed by source subtasks) at parallelism 2 → exactly-once kafka, read
// read_committed: every pair exactly once.
func TestUnalignedKillJoin(t *testing.T) {
	s := scenario{
		users:       30,
		preload:     60000,
		settings:    unalignedSets,
		tables:      []string{plainOrders("orders"), plainOrders("partners"), sinkOn(eoSink("pairs", "o_id BIGINT, p_id BIGINT, b BIGINT"))},
		insert:      `INSERT INTO pairs SELECT o.id, p.id, o.b FROM ` + joinLeft + ` o JOIN ` + joinRight + ` p ON o.b = p.b;`,
		parallelism: []int{2},
		// The keyed subtasks stay behind their senders however loaded the machine is, and a run's restore
		// counts only once it checkpointed (a CI run with four such tests at once found no in-flight rows in
		// 24 kills without them).
		env:    []string{keyedDelay(3 * time.Millisecond)},
		settle: true,
		topic:  "pairs",
		key:    []string{"o_id", "p_id"},
		val:    []string{"b"},
		want: func(total int) map[string]expect {
			left, right := joinBuckets(total)
			want := map[string]expect{}
			for b, ids := range left {
				for _, o := range ids {
					for _, p := range right[b] {
						want[row(o, p)] = expect{row(b), true}
					}
				}
			}
			return want
		},
	}
	t.Parallel()
	checkInFlight(t, s.runSlowSink(t, 182, 50*time.Millisecond, noInFlight))
}

// TestUnalignedKillRescale: the GROUP BY of TestUnalignedKillGroupBy, the parallelism changing between runs
// (2, 3, 4, 3, ...): a restore of in-flight rows taken at another parallelism routes each row to the subtask
// that owns its key now (exec/exchange_unaligned_rescale.go).
func TestUnalignedKillRescale(t *testing.T) {
	s := rescaleScenario()
	t.Parallel()
	outs := s.runSlowSink(t, 184, 300*time.Millisecond, noRedistributed)
	if n := redistributed(outs); n == 0 && !*noRestore {
		t.Fatalf("no run restored in-flight rows taken at another parallelism: the scenario did not test their redistribution\nlast client output:\n%s",
			indent(outs[len(outs)-1]))
	} else {
		t.Logf("%d in-flight rows redistributed", n)
	}
}

// rescaleScenario is the scenario of TestUnalignedKillRescale (and of TestUnalignedKillRescaleFaults).
func rescaleScenario() scenario {
	const users = 300
	return scenario{
		users:    users,
		preload:  200000,
		settings: unalignedSets,
		tables: []string{plainOrders("orders"),
			sinkOn(upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT", "user_id"))},
		insert:      `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;`,
		parallelism: []int{2, 3, 4, 3},
		// The keyed subtasks stay behind their senders however loaded the machine is, and a run's restore
		// counts only once it checkpointed (a CI run with four such tests at once found no in-flight rows in
		// 24 kills without them).
		env:    []string{keyedDelay(3 * time.Millisecond)},
		settle: true,
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
}

// redistributedRE matches the notice of a restore that redistributes channel state over a new parallelism.
var redistributedRE = regexp.MustCompile(`Restored (\d+) in-flight rows of .* taken at parallelism \d+ and redistributed`)

// redistributed sums the in-flight rows that the runs' outputs say they restored at another parallelism.
func redistributed(outs []string) int {
	n := 0
	for _, out := range outs {
		for _, m := range redistributedRE.FindAllStringSubmatch(out, -1) {
			k, _ := strconv.Atoi(m[1])
			n += k
		}
	}
	return n
}

func noRedistributed(outs []string) bool { return redistributed(outs) == 0 }
