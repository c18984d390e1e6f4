package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
)

// TestBarrierSavepointRestart: STOP JOB ... WITH SAVEPOINT at parallelism 2 while the input keeps arriving
// and the keyed subtasks are slow (rows queued at the cut, the sources reading on after it), cut with
// barriers (barrierSavepoints), then the job restored from the savepoint at parallelism 3 over the rest of
// the input. A regular join into an at-least-once kafka sink (a row after the cut written before the stop
// would be written again after the restore) and a GROUP BY into a GROUP BY (keyed → keyed over table o, whose
// WATERMARK is chained into the source subtasks) into upsert-kafka: every order exactly once. The sources
// were held back only while the gate was closed at the cut (CheckpointStats().Pause), not while the queued
// rows were processed.
func TestBarrierSavepointRestart(t *testing.T) {
	const n, chunk = 6000, 300
	for _, quiesce := range raceThin([]bool{false, true}) {
		for _, tc := range []struct{ name, insert string }{
			{"join-kafka", `INSERT INTO pairs_alo SELECT a.id, a.user_id, pace(b.amount) FROM p a JOIN p b ON a.id = b.id`},
			{"twolevel-wm-upsert", `INSERT INTO levels SELECT pace(cnt), COUNT(*) FROM (SELECT user_id, pace(COUNT(*)) AS cnt FROM o GROUP BY user_id) GROUP BY cnt`},
		} {
			t.Run(fmt.Sprintf("%s/quiesce=%v", tc.name, quiesce), func(t *testing.T) {
				noBarriers = quiesce // the old path, for the comparison of the time the sources were held
				defer func() { noBarriers = false }()
				addr := exchangeBroker(t)
				pace, err := expr.NewUDF("pace", func(v int64) int64 {
					time.Sleep(20 * time.Microsecond)
					return v
				})
				if err != nil {
					t.Fatal(err)
				}
				alo := fmt.Sprintf(`CREATE TABLE pairs_alo (id BIGINT, user_id BIGINT, amount BIGINT) WITH ('connector' = 'kafka',
  'topic' = 'pairs_alo', 'properties.bootstrap.servers' = '%s', 'format' = 'json');
`, addr)
				dir := t.TempDir()
				produceExchangeOrders(t, addr, "ord", 0, chunk)
				s, notice := barrierSession(t, addr, 2, "1 h", pace)
				execScript(t, s, alo)
				j := startInsert(t, s, tc.insert)
				// the input keeps arriving during and after the savepoint
				fed := feedOrders(t, addr, chunk, n, chunk, n/2)
				svs := barrierSavepoints.Load()
				path, err := j.Stop(context.Background(), dir, false)
				if err != nil {
					t.Fatalf("stop: %v\n%s", err, notice)
				}
				if err := j.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				if barrierSavepoints.Load() != svs+1 != quiesce {
					t.Fatalf("barrier savepoints %d, want %d", barrierSavepoints.Load()-svs, map[bool]int{false: 1, true: 0}[quiesce])
				}
				st := j.CheckpointStats()
				t.Logf("savepoint: sources held %s of %s", st.Pause, st.Total)
				fed()
				s2, notice2 := barrierSession(t, addr, 3, "1 h", pace)
				execScript(t, s2, alo+fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
				j2 := startInsert(t, s2, tc.insert)
				defer func() {
					j2.Cancel()
					_ = j2.Wait(context.Background())
				}()
				switch tc.name {
				case "join-kafka":
					waitAllOnce(t, addr, "pairs_alo", n)
				default:
					waitUpsert(t, addr, "levels", levelsWant(n))
				}
				_ = notice2
			})
		}
	}
}

// waitAllOnce waits until topic pairs_alo holds every order below n (while more are written: waitProgress),
// then checks that none is there twice.
func waitAllOnce(t *testing.T, addr, topic string, n int) {
	t.Helper()
	var ids map[int64]int
	read := func() int {
		ids = map[int64]int{}
		for _, r := range readCommitted(t, addr, topic) {
			var v struct {
				ID     int64 `json:"id"`
				UserID int64 `json:"user_id"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("unreadable record %q", r.Value)
			}
			ids[v.ID]++
		}
		return len(ids)
	}
	if ok, waited := waitProgress(func() (string, bool) { c := read(); return fmt.Sprint(c), c >= n }); !ok {
		t.Fatalf("%d of %d orders written after %v (none more for %v); %s", len(ids), n, waited.Round(time.Second), outputStall, missingOrders(ids, n))
	}
	// committed records stay: a read that finds fewer orders is the reader's (readCommitted gives up after 5 s
	// without a record, which its first fetch can take under -race on a loaded machine), so it reads again
	waitUntil(outputStall, func() bool { return read() >= n })
	for id, c := range ids {
		if id < 0 || id >= int64(n) || c != 1 {
			t.Fatalf("order %d written %d times (%d orders)", id, c, len(ids))
		}
	}
}

// TestBarrierForwardWatermarkLateRestart: an OVER aggregate per user over table o (its WATERMARK chained
// into the source subtasks; it counts the late rows it drops) feeds a GROUP BY keyed → keyed, at
// parallelism 2. A checkpoint starts while a subtask of the GROUP BY is blocked before its barrier; the
// OVER's subtasks forward their barriers and run on over rows that arrive after the cut: late ones (counted)
// and on-time ones far ahead (their watermark moves on). The checkpoint takes the barrier path
// (barrierCutsTaken) and writes the assigners' watermark and the late-row count as they were at the OVER
// subtasks' barriers. A job restored from it reads the rows after the cut again: the GROUP BY's output is
// exact and the late rows are counted once (a count read under the graph lock, after the OVER's subtasks
// ran on, counts the late rows after the cut twice), and the assigners' watermark in the checkpoint is not
// past the rows before the cut (read under the lock it is).
func TestBarrierForwardWatermarkLateRestart(t *testing.T) {
	const n0, late, n1 = 37 * 100, 50, 37 * 100
	addr := exchangeBroker(t)
	var armed atomic.Bool
	blocked, release := make(chan struct{}), make(chan struct{})
	hold, err := expr.NewUDF("hold", func(v int64) int64 {
		if armed.CompareAndSwap(true, false) {
			close(blocked)
			<-release
		}
		return v
	})
	if err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO levels SELECT hold(c), COUNT(*) FROM (SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c FROM o) GROUP BY c`
	produceExchangeOrders(t, addr, "ord", 0, n0)
	s, notice := barrierSession(t, addr, 2, "1 h", hold)
	execScript(t, s, "SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';\n")
	keyed := keyedExchangesBuilt.Load()
	j := startInsert(t, s, insert)
	released := false
	defer func() {
		if !released {
			close(release)
		}
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	if keyedExchangesBuilt.Load() == keyed {
		t.Fatal("no keyed → keyed exchange built")
	}
	counts := map[int64]int{}
	for i := range n0 {
		counts[int64(i%37)]++
	}
	// the OVER emits a row once the watermark passed it: not every row yet
	if !waitUntil(20*time.Second, func() bool { return len(upsertTable(t, addr, "levels")) >= 90 }) {
		t.Fatal("no output")
	}
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if !g.barrierCheckpoints() {
		t.Fatal("the graph does not take barrier checkpoints")
	}
	// before the cut: late rows (ids 0..49 again, far behind the watermark), then order n0 (user 0), whose
	// output blocks in a GROUP BY subtask
	produceExchangeOrders(t, addr, "ord", 0, late)
	if !waitUntil(20*time.Second, func() bool { return j.Metrics().RowsIn >= n0+late }) {
		t.Fatal("the late rows were not read")
	}
	// orders n0..n0+3, one per partition: the watermark moves, the OVER emits, a GROUP BY subtask blocks
	armed.Store(true)
	produceExchangeOrders(t, addr, "ord", n0, 4)
	for i := n0; i < n0+4; i++ {
		counts[int64(i%37)]++
	}
	select {
	case <-blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("hold was never called")
	}
	cuts := barrierCutsTaken.Load()
	done := make(chan error, 1)
	var path string
	go func() {
		var err error
		path, err = g.ckpt.cycle(context.Background(), true, false)
		done <- err
	}()
	if !waitUntil(20*time.Second, func() bool { return g.exchanges[0].x.InBarrier() }) {
		t.Fatal("the checkpoint did not start a barrier")
	}
	// after the cut: late rows again (ids 50..99) and on-time ones far ahead, read by the OVER's subtasks
	// past their barriers
	produceExchangeOrders(t, addr, "ord", late, late)
	produceExchangeOrders(t, addr, "ord", n0+4, n1)
	for i := n0 + 4; i < n0+4+n1; i++ {
		counts[int64(i%37)]++
	}
	// every row after the cut is read, unless the queues behind the blocked GROUP BY subtask filled first (on
	// a loaded machine the OVER emits smaller batches, each a queued item): then the reading stalls, and at
	// least some rows after the cut must have gone through the OVER's subtasks
	last, stalled := int64(-1), time.Now()
	waitUntil(60*time.Second, func() bool {
		in := j.Metrics().RowsIn
		if in != last {
			last, stalled = in, time.Now()
		}
		return in >= n0+2*late+4+n1 || time.Since(stalled) > 3*time.Second
	})
	if last <= n0+late+4 {
		t.Fatalf("no row after the cut was read (%d rows in)", last)
	}
	if last < n0+2*late+4+n1 {
		t.Logf("the reading stalled behind the blocked subtask after %d of %d rows", last, n0+2*late+4+n1)
	}
	over := g.exchanges[len(g.exchanges)-1].x
	waitUntil(5*time.Second, func() bool { return over.Pending() < 4 }) // the OVER's subtasks ran on (as far as the queues let them)
	close(release)
	released = true
	if err := <-done; err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, notice)
	}
	if barrierCutsTaken.Load() != cuts+1 {
		t.Fatal("the checkpoint was not cut with barriers")
	}
	j.Cancel()
	_ = j.Wait(context.Background())
	// the assigners' watermark in the checkpoint is the one at the cut: no row after order n0+3 is behind it
	wm, splits := assignerWatermark(t, path)
	if wm > (n0+3)*10-1000 {
		t.Fatalf("the checkpoint holds the watermark %d, past the rows before the cut (at most %d)", wm, (n0+3)*10-1000)
	}
	// so do its partitions' watermarks (copied at the gate, exec.SubtaskWatermarkState: the assigners read on)
	if len(splits) != 4 {
		t.Fatalf("the checkpoint holds the watermarks of partitions %v, want the 4 of ord", splits)
	}
	for name, swm := range splits {
		if swm > (n0+3)*10-1000 {
			t.Fatalf("the checkpoint holds the watermark %d for partition %s, past the rows before the cut (at most %d)", swm, name, (n0+3)*10-1000)
		}
	}
	// restored from the cut: the rows after it are read again
	s2, notice2 := barrierSession(t, addr, 2, "1 h", hold)
	execScript(t, s2, fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", path))
	j2 := startInsert(t, s2, insert)
	defer func() {
		j2.Cancel()
		_ = j2.Wait(context.Background())
	}()
	// the watermark moves over the rows after the cut as they are read again: rows up to order ~7300 (every
	// user's 190th among them) come out before any order further ahead is read
	if !waitUntil(20*time.Second, func() bool {
		return upsertTable(t, addr, "levels")[`{"cnt":190}`] == `{"cnt":190,"users":37}`
	}) {
		t.Fatalf("the restored job's watermark does not move over the rows after the cut\n%s", notice2)
	}
	// one order per partition far ahead: its watermark lets the OVER emit every row before it
	produceExchangeOrders(t, addr, "ord", 1000000, 4)
	waitUpsert(t, addr, "levels", overLevels(counts))
	j2.mu.Lock()
	g2 := j2.graph
	j2.mu.Unlock()
	g2.gate.Lock()
	err = g2.quiesce(false)
	var lateRows int64
	for _, p := range g2.parts {
		if out, ok := p.op.(changelog.Output); ok {
			lateRows += exec.LateRows(out)
		}
	}
	g2.gate.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if lateRows != 2*late {
		t.Fatalf("%d late rows counted, want %d\n%s", lateRows, 2*late, notice2)
	}
}

// overLevels is the number of users per running count c over the per-user counts (an OVER's COUNT(*)
// emits 1..count for each user).
func overLevels(counts map[int64]int) map[string]string {
	per := map[int]int{}
	for _, c := range counts {
		for i := 1; i <= c; i++ {
			per[i]++
		}
	}
	want := map[string]string{}
	for c, u := range per {
		want[fmt.Sprintf(`{"cnt":%d}`, c)] = fmt.Sprintf(`{"cnt":%d,"users":%d}`, c, u)
	}
	return want
}

// assignerWatermark reads the watermark of the WatermarkAssigner part of the checkpoint at path, and its
// split watermarks by partition name (its operator-wide entry: version, signature, the watermark written
// twice as varints, then the count of splits and each one's name and watermark).
func assignerWatermark(t *testing.T, path string) (int64, map[string]int64) {
	t.Helper()
	cp, err := state.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range cp.Metadata.Parts {
		if !strings.Contains(ps.Name, "WatermarkAssigner") {
			continue
		}
		r, err := cp.Reader(ps)
		if err != nil || r == nil {
			t.Fatalf("part %s: %v", ps.Name, err)
		}
		_, _, v, ok, err := r.Next()
		if err != nil || !ok || len(v) == 0 {
			t.Fatalf("part %s: no entry (%v)", ps.Name, err)
		}
		d, bad := v[1:], false
		uvarint := func() uint64 {
			x, n := binary.Uvarint(d)
			if n <= 0 {
				bad = true
				return 0
			}
			d = d[n:]
			return x
		}
		varint := func() int64 {
			x, n := binary.Varint(d)
			if n <= 0 {
				bad = true
				return 0
			}
			d = d[n:]
			return x
		}
		str := func() string {
			l := uvarint()
			if bad || l > uint64(len(d)) {
				bad = true
				return ""
			}
			s := string(d[:l])
			d = d[l:]
			return s
		}
		str() // signature
		hi, wm := varint(), varint()
		splits := map[string]int64{}
		for n := uvarint(); !bad && n > 0; n-- {
			name := str()
			splits[name] = varint()
		}
		if bad || hi != wm || len(d) != 0 {
			t.Fatalf("part %s: unreadable entry %x", ps.Name, v)
		}
		return wm, splits
	}
	t.Fatal("no WatermarkAssigner part in the checkpoint")
	return 0, nil
}

// TestBarrierSavepointDrain: STOP JOB ... WITH SAVEPOINT WITH DRAIN of a TUMBLE window aggregate per user
// over table o at parallelism 2, cut with barriers while the input keeps arriving: every keyed subtask sends
// the maximum watermark into its window aggregate at its barrier, so every window of the rows before the
// cut fires before the savepoint (the last ones only fire that way: the watermark is 1 s behind the rows)
// with exactly those rows, and no row after the cut is in a window (the job ends at the cut). The rows
// before the cut are those below the savepoint's kafka positions.
func TestBarrierSavepointDrain(t *testing.T) {
	const n, chunk = 6000, 400
	addr := exchangeBroker(t)
	produceExchangeOrders(t, addr, "ord", 0, chunk)
	s, notice := barrierSession(t, addr, 2, "1 h")
	execScript(t, s, strings.ReplaceAll(`CREATE TABLE wins (first_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (first_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'wins', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`, "ADDR", addr))
	j := startInsert(t, s, `INSERT INTO wins SELECT MIN(id), COUNT(*), SUM(amount) FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end`)
	fed := feedOrders(t, addr, chunk, n, chunk, n/2)
	svs := barrierSavepoints.Load()
	path, err := j.Stop(context.Background(), t.TempDir(), true)
	if err != nil {
		t.Fatalf("stop: %v\n%s", err, notice)
	}
	if err := j.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	fed()
	if barrierSavepoints.Load() != svs+1 {
		t.Fatal("the savepoint was not cut with barriers")
	}
	// the orders before the cut: offset o of partition p is order 4 o + p
	pos := kafkaPositions(t, path)
	type win struct{ first, cnt, total int }
	wins := map[[2]int]*win{}
	for i := range n {
		if int64(i/4) >= pos[int32(i%4)] {
			continue
		}
		k := [2]int{i / 100, i % 37}
		w := wins[k]
		if w == nil {
			w = &win{first: i}
			wins[k] = w
		}
		w.cnt++
		w.total += i % 7
	}
	want := map[string]string{}
	for _, w := range wins {
		want[fmt.Sprintf(`{"first_id":%d}`, w.first)] = fmt.Sprintf(`{"first_id":%d,"cnt":%d,"total":%d}`, w.first, w.cnt, w.total)
	}
	t.Logf("positions %v: %d windows", pos, len(want))
	waitUpsert(t, addr, "wins", want)
}

// kafkaPositions reads the kafka source's positions (per partition of topic ord) in the checkpoint at path.
func kafkaPositions(t *testing.T, path string) map[int32]int64 {
	t.Helper()
	cp, err := state.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range cp.Metadata.Parts {
		if ps.Kind != "source" {
			continue
		}
		b := ps.Inline
		n, k := binary.Uvarint(b)
		b = b[k:]
		pos := map[int32]int64{}
		for range n {
			l, k := binary.Uvarint(b)
			b = b[k+int(l):]
			p, k1 := binary.Varint(b)
			b = b[k1:]
			o, k2 := binary.Varint(b)
			b = b[k2:]
			if k <= 0 || k1 <= 0 || k2 <= 0 {
				t.Fatalf("unreadable position %x", ps.Inline)
			}
			pos[int32(p)] = o
		}
		return pos
	}
	t.Fatal("no source in the checkpoint")
	return nil
}

// TestBarrierGraphLocalRestart: a two-phase GROUP BY over a join (TWO_PHASE, mini-batches of 5000 rows or
// 1 s) at parallelism 2: the join runs in keyed subtasks, the local aggregate under the graph lock
// (graph.locals) takes their output and keeps pending partials across checkpoints. Checkpoints every 20 ms
// are cut with barriers while the input arrives; a function in the join's forward chain fails once, three
// quarters into the input, and the job restarts in-process from its latest checkpoint: every order counted
// once. The join's subtasks wait at their barriers, so the local's partials at the lock are those at the cut
// (released before the lock, the subtasks put rows after the cut into them, and the restart counts them
// twice).
func TestBarrierGraphLocalRestart(t *testing.T) {
	const n, chunk = 12000, 300
	addr := exchangeBroker(t)
	fail, pace := newFailOnce(t, 10*time.Microsecond, n*3/4)
	produceExchangeOrders(t, addr, "ord", 0, chunk)
	s, notice := barrierSession(t, addr, 2, "20 ms", pace)
	execScript(t, s, `SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.allow-latency' = '1 s';
SET 'table.exec.mini-batch.size' = '5000'; SET 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE';
`)
	j := startInsert(t, s, `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM (SELECT a.user_id, pace(b.amount) AS amount FROM p a JOIN p b ON a.id = b.id) GROUP BY user_id`)
	defer func() {
		j.Cancel()
		_ = j.Wait(context.Background())
	}()
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if len(g.locals) == 0 || len(g.exchanges) == 0 || !g.barrierCheckpoints() {
		t.Fatalf("%d graph locals, %d exchanges, barrier checkpoints %v; want a local under the graph lock behind an exchange, with barriers", len(g.locals), len(g.exchanges), g.barrierCheckpoints())
	}
	for c := chunk; c < n; c += chunk {
		time.Sleep(10 * time.Millisecond)
		produceExchangeOrders(t, addr, "ord", c, chunk)
	}
	waitUpsert(t, addr, "totals", totalsWant(n))
	fail.checkOneRestart(t, j, notice)
	if got := fail.cutsBefore.Load(); got < 1 {
		t.Fatalf("%d checkpoints cut with barriers before the failure, want at least 1", got)
	}
}
