package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/sql"
)

// within runs f and reports whether it returned within d (f keeps running otherwise).
func within(d time.Duration, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// While STOP JOB ... WITH SAVEPOINT writes its savepoint (slowed by stopWriteHook), SHOW JOBS and the job's
// status answer, no row read after the cut reaches the sink, and a cancel of the job is honoured at once:
// the job ends CANCELLED, and the STOP fails saying the savepoint is discarded (nothing is left in the
// savepoint directory). Parallelism 1 (plain sink under the graph lock) and a GROUP BY at parallelism 2 (cut
// with barriers, and with the quiesce). Before, the cancel waited for the whole write: the sources were
// blocked on the graph lock the write held. WITH DRAIN too: a cancel during a STOP WITH DRAIN ends the job
// CANCELLED, not FAILED (the drain's failover is for a STOP that fails by itself), as in Flink, where a
// cancel during a stop-with-savepoint wins: the job ends CANCELED and the stop fails.
func TestStopSavepointSlowWriteCancel(t *testing.T) {
	for _, tc := range stopCases {
		for _, drain := range []bool{false, true} {
			name := tc.name
			if drain {
				name += "-drain"
			}
			t.Run(name, func(t *testing.T) { stopSlowWriteCancel(t, tc.par, tc.quiesce, tc.insert, drain) })
		}
	}
}

func stopSlowWriteCancel(t *testing.T, par int, quiesce bool, insert string, drain bool) {
	noBarriers = quiesce
	defer func() { noBarriers = false }()
	kf := &kafkaFixture{t: t}
	defer kf.close()
	produceFP(t, kf, 0, 50)
	f := &collectFactory{}
	note := &syncBuffer{}
	spDir := t.TempDir()
	s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
		Connectors: connbuiltin.Registry().With(f),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par),
			"execution.checkpointing.interval": "50 ms", "execution.checkpointing.dir": t.TempDir(),
			"restart-strategy": "none", "state.savepoints.dir": spDir}})
	if err != nil {
		t.Fatal(err)
	}
	execScript(t, s, kf.expand(`
CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'fp', 'properties.bootstrap.servers' = '$BROKER', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, n BIGINT) WITH ('connector' = 'collect');`))
	exec := func(text string) (*Result, error) {
		st, err := sql.ParseStatement(text)
		if err != nil {
			t.Fatal(err)
		}
		return s.Execute(context.Background(), st)
	}
	res, err := exec(insert)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
		j.Cancel()
	}()
	if !waitUntil(20*time.Second, func() bool { return f.count() == 50 }) {
		t.Fatalf("%d rows in the sink, want 50\n%s", f.count(), note)
	}
	writing := make(chan struct{})
	stopWriteHook = func() {
		close(writing)
		<-release
	}
	defer func() { stopWriteHook = nil }()
	stopped := make(chan error, 1)
	go func() {
		stmt := fmt.Sprintf("STOP JOB '%s' WITH SAVEPOINT", j.ID())
		if drain {
			stmt += " WITH DRAIN"
		}
		_, err := exec(stmt)
		stopped <- err
	}()
	select {
	case <-writing:
	case err := <-stopped:
		t.Fatalf("the stop returned before its write: %v\n%s", err, note)
	case <-time.After(20 * time.Second):
		t.Fatalf("the stop's savepoint write did not begin\n%s", note)
	}
	produceFP(t, kf, 50, 80) // read after the cut: must not reach the sink
	var shown *Result
	if !within(5*time.Second, func() { shown, err = exec("SHOW JOBS") }) {
		t.Fatalf("SHOW JOBS blocked by the savepoint write\n%s", note)
	}
	if err != nil || len(shown.Rows) != 1 || shown.Rows[0][2].Str() != string(JobRunning) {
		t.Fatalf("SHOW JOBS during the write: %v %v, want the job RUNNING", shown, err)
	}
	if !within(5*time.Second, j.Cancel) {
		t.Fatalf("the cancel waited for the savepoint write (the job is %s)\n%s", j.Status(), note)
	}
	if st, jerr := j.Status(), j.Err(); st != JobCancelled || jerr != nil {
		t.Fatalf("job %v (%v) after the cancel, want CANCELLED\n%s", st, jerr, note)
	}
	if n := f.count(); n != 50 {
		t.Fatalf("%d rows in the sink, want 50: rows read after the savepoint's cut were emitted", n)
	}
	close(release)
	released = true
	select {
	case err := <-stopped:
		if err == nil || !strings.Contains(err.Error(), "cancelled or failed while its savepoint was written, so the savepoint is discarded") {
			t.Fatalf("stop: %v, want the discarded savepoint's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the stop did not return after its write\n%s", note)
	}
	if left, err := os.ReadDir(spDir); err != nil || len(left) != 0 {
		t.Fatalf("savepoint directory after the discarded stop: %v %v, want it empty", left, err)
	}
	if shown, err := exec("SHOW JOBS"); err != nil || shown.Rows[0][2].Str() != string(JobCancelled) {
		t.Fatalf("SHOW JOBS after the cancel: %v %v", shown, err)
	}
	if n := f.count(); n != 50 {
		t.Fatalf("%d rows in the sink, want 50", n)
	}
}

// The caller of STOP JOB ... WITH SAVEPOINT gives up (its context is cancelled: the client's statement
// cancelled or timed out) while the savepoint is written (held by stopWriteHook): the STOP returns at once
// as a failed one, the job keeps running (Flink: a failed stop-with-savepoint leaves the job running) and
// reads the rows after the cut, the write's savepoint is removed once the write is done, and a later STOP
// succeeds. Before, the STOP waited for the whole write whatever its caller did.
func TestStopSavepointCallerGivesUp(t *testing.T) {
	for _, tc := range stopCases {
		t.Run(tc.name, func(t *testing.T) {
			noBarriers = tc.quiesce
			defer func() { noBarriers = false }()
			kf := &kafkaFixture{t: t}
			defer kf.close()
			produceFP(t, kf, 0, 50)
			f := &collectFactory{}
			j, note := failpathsJob(t, kf, f, tc.par, tc.insert)
			release := make(chan struct{})
			released := false
			defer func() {
				if !released {
					close(release)
				}
				j.Cancel()
			}()
			if !waitUntil(20*time.Second, func() bool { return f.count() == 50 }) {
				t.Fatalf("%d rows in the sink, want 50\n%s", f.count(), note)
			}
			writing := make(chan struct{})
			stopWriteHook = func() {
				close(writing)
				<-release
			}
			defer func() { stopWriteHook = nil }()
			// the given-up write goes on after the stop returned: it may create its directory after any look
			discardedDone := make(chan struct{})
			stopDiscardedHook = func() { close(discardedDone) }
			defer func() { stopDiscardedHook = nil }()
			spDir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopped := make(chan error, 1)
			go func() {
				_, err := j.Stop(ctx, spDir, false)
				stopped <- err
			}()
			select {
			case <-writing:
			case err := <-stopped:
				t.Fatalf("the stop returned before its write: %v\n%s", err, note)
			case <-time.After(20 * time.Second):
				t.Fatalf("the stop's savepoint write did not begin\n%s", note)
			}
			cancel()
			select {
			case err := <-stopped:
				if err == nil || !strings.Contains(err.Error(), "given up by its caller while its savepoint was written, so the savepoint is discarded (context canceled); the job keeps running") {
					t.Fatalf("stop: %v, want the given-up stop's error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the stop waited for its savepoint write after its caller gave up\n%s", note)
			}
			if st := j.Status(); st != JobRunning {
				t.Fatalf("job %v after the given-up stop, want RUNNING\n%s", st, note)
			}
			produceFP(t, kf, 50, 100)
			if !waitUntil(20*time.Second, func() bool { return f.count() == 100 }) {
				t.Fatalf("%d rows in the sink after the given-up stop, want 100 (the job runs on)\n%s", f.count(), note)
			}
			stopWriteHook = nil
			close(release)
			released = true
			select {
			case <-discardedDone:
			case <-time.After(20 * time.Second):
				t.Fatalf("the given-up stop's write did not end\n%s", note)
			}
			if !waitUntil(20*time.Second, func() bool { left, err := os.ReadDir(spDir); return err == nil && len(left) == 0 }) {
				left, _ := os.ReadDir(spDir)
				t.Fatalf("savepoint directory after the given-up stop's write ended: %v, want it empty", left)
			}
			path, err := j.Stop(context.Background(), t.TempDir(), false)
			if err != nil || path == "" {
				t.Fatalf("second stop: %q %v\n%s", path, err, note)
			}
			if err := waitJobEnd(t, j, note); err != nil || j.Status() != JobCancelled {
				t.Fatalf("after the stop: %v %v\n%s", j.Status(), err, note)
			}
		})
	}
}
