package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// TestExchangeProctimeWindowParallelism runs processing-time window aggregates (Nexmark q12's shape: a
// PROCTIME() column of a view, grouped by a key) over datagen's source subtasks with a fixed clock at
// parallelism 1 and 3: the results are the same, and at 3 the aggregate ran behind a hash exchange
// (exchange_proctime.go), at 1 without.
func TestExchangeProctimeWindowParallelism(t *testing.T) {
	clock := time.Date(2024, 5, 15, 13, 47, 21, 123e6, time.UTC)
	s, err := NewSession(Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"},
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	setup := `CREATE TABLE clicks (id BIGINT, u BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '5000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.id.end' = '5000', 'fields.u.kind' = 'sequence', 'fields.u.start' = '1', 'fields.u.end' = '5000');
CREATE VIEW v AS SELECT id, MOD(u, 13) AS k, PROCTIME() AS p_time FROM clicks;`
	execAll(ctx, t, s, setup)
	for _, q := range []string{
		`SELECT k, COUNT(*) AS n, SUM(id) AS s, window_start, window_end
FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(p_time), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end`,
		`SELECT window_end, k, MAX(id), MIN(id), COUNT(DISTINCT id) FROM TABLE(HOP(TABLE v, DESCRIPTOR(p_time),
  INTERVAL '1' MINUTE, INTERVAL '2' MINUTES)) GROUP BY k, window_start, window_end`,
		`SELECT k, window_start, window_end, AVG(id) FROM TABLE(CUMULATE(TABLE v, DESCRIPTOR(p_time),
  INTERVAL '5' SECOND, INTERVAL '1' MINUTE)) GROUP BY window_start, k, window_end`,
	} {
		var want string
		for _, par := range []int{1, 3} {
			if err := s.Set("parallelism.default", fmt.Sprint(par)); err != nil {
				t.Fatal(err)
			}
			built := exchangesBuilt.Load()
			rows, _, err := queryRows(ctx, s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("parallelism %d: %d exchanges built for %s", par, n, q)
			}
			got := sortLines(formatRows(rows))
			if par == 1 {
				want = got
				if strings.Count(got, "\n") < 13 {
					t.Fatalf("%s: %d rows:\n%s", q, strings.Count(got, "\n"), got)
				}
			} else if got != want {
				t.Errorf("parallelism %d: %s:\ngot:\n%swant:\n%s", par, q, got, want)
			}
		}
	}
}

const proctimeJobTables = `
CREATE TABLE o (id BIGINT, user_id BIGINT, amount BIGINT, pt AS PROCTIME()) WITH ('connector' = 'kafka',
  'topic' = 'ord', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset'BOUNDED);
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
`

// TestExchangeProctimeWindowRescale runs a processing-time window aggregate behind an exchange with a fixed
// clock (every row in one window, which fires only at the end of input) at parallelism 2, stops it with a
// savepoint, restores at 1, then at 3 with more input each time, the last run bounded: the window's counts
// are exact, so the state was cut with the sources' positions and redistributed by group key (also from
// the one instance at parallelism 1 into the routed subtasks), also from the per-window aggregate's
// savepoint into the slice-shared aggregate.
func TestExchangeProctimeWindowRescale(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) { proctimeWindowRescale(t, legacy) })
	}
}

// proctimeWindowRescale is TestExchangeProctimeWindowRescale; legacy: the first run's aggregate is the
// per-window one (perWindowTumble), whose savepoint the slice-shared aggregate restores (migrated, then
// routed by its keys without the window's) at parallelism 1 and 3.
func proctimeWindowRescale(t *testing.T, legacy bool) {
	addr := exchangeBroker(t)
	dir := t.TempDir()
	clock := time.Date(2024, 5, 15, 13, 47, 21, 0, time.UTC)
	n, savepoint := 0, ""
	for i, par := range []int{2, 1, 3} {
		produceExchangeOrders(t, addr, "ord", n, 1500)
		n += 1500
		last := i == 2
		var out strings.Builder
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Now: func() time.Time { return clock },
			Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
		if err != nil {
			t.Fatal(err)
		}
		bounded := ""
		if last {
			bounded = ", 'scan.bounded.mode' = 'latest-offset'"
		}
		script := strings.ReplaceAll(strings.ReplaceAll(proctimeJobTables, "ADDR", addr), "BOUNDED", bounded)
		if savepoint != "" {
			script += fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint)
		}
		execScript(t, s, script)
		st, err := sql.ParseStatement(`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount)
FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(pt), INTERVAL '10' SECOND)) GROUP BY user_id, window_start, window_end`)
		if err != nil {
			t.Fatal(err)
		}
		built := exchangesBuilt.Load()
		perWindowTumble = legacy && i == 0
		res, err := s.Execute(context.Background(), st)
		perWindowTumble = false
		if err != nil {
			t.Fatal(err)
		}
		if m := exchangesBuilt.Load() - built; (par > 1) != (m >= 1) {
			t.Fatalf("parallelism %d: %d exchanges built", par, m)
		}
		j := res.Job
		if last {
			if err := j.Wait(context.Background()); err != nil {
				t.Fatalf("parallelism %d: %v", par, err)
			}
			waitUpsert(t, addr, "totals", totalsWant(n))
			break
		}
		// wait until the run read its input (nothing is emitted: the window is open)
		for deadline := time.Now().Add(30 * time.Second); j.rowsInTotal() < 1500 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if got := j.rowsInTotal(); got != 1500 {
			t.Fatalf("parallelism %d: %d rows read, want 1500", par, got)
		}
		if got := upsertTable(t, addr, "totals"); len(got) != 0 {
			t.Fatalf("parallelism %d: the open window emitted %d rows", par, len(got))
		}
		if savepoint, err = j.Stop(context.Background(), dir, false); err != nil {
			t.Fatalf("parallelism %d: stop: %v", par, err)
		}
		if err := j.Wait(context.Background()); err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
	}
}

// TestProctimeWindowFiresWithoutInput: a processing-time TUMBLE window over an unbounded Kafka table fires
// once the clock passes its end although no row arrives after it (Flink's processing-time timers), at
// parallelism 1 (the clock under the graph lock) and 2 (the keyed subtasks' clocks behind the exchange).
// The clock is the session's: every row is read at 13:47:21 (one window, [13:47:20, 13:47:30)), the test
// checks that nothing was emitted, then moves the clock past the window's end and produces nothing more.
func TestProctimeWindowFiresWithoutInput(t *testing.T) {
	addr := exchangeBroker(t)
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("P%d", par), func(t *testing.T) {
			in, out := fmt.Sprintf("ord%d", par), fmt.Sprintf("totals%d", par)
			produceExchangeOrders(t, addr, in, 0, 1500)
			var clock atomic.Int64
			clock.Store(time.Date(2024, 5, 15, 13, 47, 21, 0, time.UTC).UnixMilli())
			var log strings.Builder
			s, err := NewSession(Config{Stdout: &log, Stderr: &log, Notice: &log, TempDir: t.TempDir(),
				Now:     func() time.Time { return time.UnixMilli(clock.Load()).UTC() },
				Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
			if err != nil {
				t.Fatal(err)
			}
			script := strings.NewReplacer("ADDR", addr, "BOUNDED", "", "'ord'", "'"+in+"'", "'totals'", "'"+out+"'").Replace(proctimeJobTables)
			execScript(t, s, script)
			st, err := sql.ParseStatement(`INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount)
FROM TABLE(TUMBLE(TABLE o, DESCRIPTOR(pt), INTERVAL '10' SECOND)) GROUP BY user_id, window_start, window_end`)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Execute(context.Background(), st)
			if err != nil {
				t.Fatal(err)
			}
			j := res.Job
			defer j.Cancel()
			for deadline := time.Now().Add(30 * time.Second); j.rowsInTotal() < 1500 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if got := j.rowsInTotal(); got != 1500 {
				t.Fatalf("%d rows read, want 1500\n%s", got, log.String())
			}
			time.Sleep(3 * exec.ProctimeTick) // ticks of the unchanged clock fire nothing
			if got := upsertTable(t, addr, out); len(got) != 0 {
				t.Fatalf("the open window emitted %d rows", len(got))
			}
			clock.Store(time.Date(2024, 5, 15, 13, 47, 45, 0, time.UTC).UnixMilli())
			waitUpsert(t, addr, out, totalsWant(1500))
		})
	}
}
