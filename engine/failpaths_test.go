package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// collectFactory is a test sink that keeps the first column of the rows it is given. failAfter > 0 makes
// the write that passes that many rows fail with failErr. With concurrent set its Output is a
// connectors.ConcurrentOutput: subtasks write it through writers of their own.
type collectFactory struct {
	concurrent bool
	failAfter  int
	failErr    error

	mu   sync.Mutex
	rows []int64
}

func (f *collectFactory) Identifier() string      { return "collect" }
func (f *collectFactory) Options() []options.Decl { return nil }
func (f *collectFactory) CreateSink(connectors.Context) (connectors.Sink, error) {
	return collectSink{f}, nil
}

type collectSink struct{ f *collectFactory }

func (s collectSink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }
func (s collectSink) Open(context.Context) (changelog.Output, error) {
	if s.f.concurrent {
		return &concurrentCollectOut{collectOut{s.f}}, nil
	}
	return &collectOut{s.f}, nil
}

type collectOut struct{ f *collectFactory }

func (o *collectOut) Push(b *changelog.Batch) error {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	for _, r := range b.Rows {
		if o.f.failAfter > 0 && len(o.f.rows) >= o.f.failAfter {
			return o.f.failErr
		}
		o.f.rows = append(o.f.rows, r.Vals[0].Int())
	}
	return nil
}
func (o *collectOut) Watermark(int64) error { return nil }
func (o *collectOut) End() error            { return nil }

type concurrentCollectOut struct{ collectOut }

func (o *concurrentCollectOut) NewSubtaskWriter(int) (connectors.SubtaskWriter, error) {
	return &collectOut{o.f}, nil
}

func (f *collectFactory) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rows)
}

// failpathsJob starts insert (with tables src, a kafka topic of rows {"id", "ts"}, and out_t, the sink of f)
// at parallelism par, with checkpoints every 50 ms, restart strategy none.
func failpathsJob(t *testing.T, kf *kafkaFixture, f *collectFactory, par int, insert string) (*Job, *syncBuffer) {
	t.Helper()
	note := &syncBuffer{}
	s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
		Connectors: connbuiltin.Registry().With(f),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par),
			"execution.checkpointing.interval": "50 ms", "execution.checkpointing.dir": t.TempDir(), "restart-strategy": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	execScript(t, s, kf.expand(`
CREATE TABLE src (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'fp', 'properties.bootstrap.servers' = '$BROKER', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, n BIGINT) WITH ('connector' = 'collect');`))
	st, err := sql.ParseStatement(insert)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	return res.Job, note
}

// produceFP writes the records of ids [from, to) to topic fp (two partitions), one second of event time apart.
func produceFP(t *testing.T, kf *kafkaFixture, from, to int) {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "{\"id\": %d, \"ts\": \"2024-01-01 00:%02d:%02d\"}\n", i, i/60%60, i%60)
	}
	if got, want := kf.produceTo("fp", 2, "", b.String()), fmt.Sprintf("produced %d records\n", to-from); got != want {
		t.Fatalf("produce: %q, want %q", got, want)
	}
}

func waitJobEnd(t *testing.T, j *Job, note *syncBuffer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := j.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) && j.Status() == JobRunning {
		t.Fatalf("the job did not end\n%s", note)
	}
	return err
}

// A streaming sink whose write fails with an error wrapping context.Canceled (its client gave up on a context
// of its own; nobody cancelled the job) fails the job: FAILED, its error names the sink and keeps the sink's
// message. Plain sinks (written under the graph lock), sinks that source subtasks write through writers of
// their own, and sinks that keyed subtasks (a GROUP BY at parallelism 2) write through writers. Before, the
// job ended CANCELLED with no error, and the writers' failures did not name the sink.
func TestSinkErrorWrappingCanceledFailsJob(t *testing.T) {
	for _, tc := range []struct {
		name       string
		concurrent bool
		par        int
		insert     string
	}{
		{"plain", false, 1, `INSERT INTO out_t SELECT id, 1 FROM src`},
		{"source-subtask-writers", true, 2, `INSERT INTO out_t SELECT id, 1 FROM src`},
		{"keyed-subtask-writers", true, 2, `INSERT INTO out_t SELECT id, COUNT(*) FROM src GROUP BY id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kf := &kafkaFixture{t: t}
			defer kf.close()
			produceFP(t, kf, 0, 100)
			f := &collectFactory{concurrent: tc.concurrent, failAfter: 20,
				failErr: fmt.Errorf("write to the store: %w", context.Canceled)}
			built := concurrentSinksBuilt.Load()
			j, note := failpathsJob(t, kf, f, tc.par, tc.insert)
			defer j.Cancel()
			if got := concurrentSinksBuilt.Load() - built; (got > 0) != tc.concurrent {
				t.Fatalf("%d sinks written by subtasks, want concurrent=%v", got, tc.concurrent)
			}
			err := waitJobEnd(t, j, note)
			if st := j.Status(); st != JobFailed {
				t.Fatalf("job %v (error %v), want FAILED\n%s", st, err, note)
			}
			if err == nil || !strings.Contains(err.Error(), "sink out_t: write to the store: context canceled") {
				t.Fatalf("job error %v: want the sink's name and its error\n%s", err, note)
			}
		})
	}
}

// unwritableDir returns a directory path that no one can create, root included (under a regular file).
func unwritableDir(t *testing.T) string {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(file, "savepoints")
}

// stopCases are the jobs the STOP WITH SAVEPOINT tests stop: parallelism 1 (no exchange), and a GROUP BY
// at parallelism 2 cut with barriers and with the quiesce (noBarriers).
var stopCases = []struct {
	name    string
	par     int
	quiesce bool
	insert  string
}{
	{"p1", 1, false, `INSERT INTO out_t SELECT id, 1 FROM src`},
	{"p2-barriers", 2, false, `INSERT INTO out_t SELECT id, COUNT(*) FROM src GROUP BY id`},
	{"p2-quiesce", 2, true, `INSERT INTO out_t SELECT id, COUNT(*) FROM src GROUP BY id`},
}

// STOP JOB ... WITH SAVEPOINT whose savepoint cannot be written (its directory cannot be created) returns the
// write's error and leaves the job running as if the STOP had not been asked (Flink: a failed
// stop-with-savepoint leaves the job running): rows read after it reach the sink, and a STOP into a writable
// directory then stops it. Parallelism 1 (cut with barriers, no exchange), and a GROUP BY at parallelism 2
// cut with barriers and with the quiesce (noBarriers). Before, the graph stopped before the write: the job
// read nothing more and was never cancelled.
func TestStopSavepointWriteFailsJobRunsOn(t *testing.T) {
	for _, tc := range stopCases {
		t.Run(tc.name, func(t *testing.T) {
			noBarriers = tc.quiesce
			defer func() { noBarriers = false }()
			kf := &kafkaFixture{t: t}
			defer kf.close()
			produceFP(t, kf, 0, 50)
			f := &collectFactory{}
			j, note := failpathsJob(t, kf, f, tc.par, tc.insert)
			defer j.Cancel()
			if !waitUntil(20*time.Second, func() bool { return f.count() == 50 }) {
				t.Fatalf("%d rows in the sink, want 50\n%s", f.count(), note)
			}
			bad := unwritableDir(t)
			barriers := barrierSavepoints.Load()
			_, err := j.Stop(context.Background(), bad, false)
			if got := barrierSavepoints.Load() > barriers; got == tc.quiesce {
				t.Fatalf("savepoint cut with barriers: %v, want %v", got, !tc.quiesce)
			}
			if err == nil || !strings.Contains(err.Error(), "write to '"+bad+"'") || !strings.Contains(err.Error(), "the job keeps running") {
				t.Fatalf("stop into %s: %v, want the write's error", bad, err)
			}
			if st := j.Status(); st != JobRunning {
				t.Fatalf("job %v after the failed stop, want RUNNING\n%s", st, note)
			}
			produceFP(t, kf, 50, 100)
			if !waitUntil(20*time.Second, func() bool { return f.count() == 100 }) {
				t.Fatalf("%d rows in the sink after the failed stop, want 100 (the job runs on)\n%s", f.count(), note)
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

// STOP JOB ... WITH SAVEPOINT WITH DRAIN that fails once the maximum watermark may have gone through the
// operators (a TUMBLE window aggregate: under the graph lock at parallelism 1, at the keyed subtasks'
// barriers or in the quiesce's drain at parallelism 2) fails the job with the drain's error (Flink fails a stop-with-savepoint --drain
// over to its last checkpoint): with restart strategy none it ends FAILED. Failed by the savepoint's write
// (its directory cannot be created) and after its part under the lock (failStopAfterLock). Before, the job ran
// on after the maximum watermark (every later row late), or stopped reading without ending.
func TestStopDrainFailsJob(t *testing.T) {
	injected := errors.New("injected failure of the STOP after its part under the lock")
	for _, tc := range []struct {
		name    string
		par     int
		quiesce bool
		inject  bool
		wantErr string
	}{
		{"p1-write", 1, false, false, "write to '"},
		{"p2-barriers-write", 2, false, false, "write to '"},
		{"p2-quiesce-write", 2, true, false, "write to '"},
		{"p1-after-lock", 1, false, true, injected.Error()},
		{"p2-barriers-after-lock", 2, false, true, injected.Error()},
		{"p2-quiesce-after-lock", 2, true, true, injected.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noBarriers = tc.quiesce
			defer func() { noBarriers = false }()
			kf := &kafkaFixture{t: t}
			defer kf.close()
			produceFP(t, kf, 0, 50)
			f := &collectFactory{}
			j, note := failpathsJob(t, kf, f, tc.par, `INSERT INTO out_t SELECT MIN(id), COUNT(*)
  FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`)
			defer j.Cancel()
			if !waitUntil(20*time.Second, func() bool { return f.count() >= 3 }) {
				t.Fatalf("%d windows in the sink, want at least 3\n%s", f.count(), note)
			}
			dir := t.TempDir()
			if tc.inject {
				failStopAfterLock = func() error { return injected }
				defer func() { failStopAfterLock = nil }()
			} else {
				dir = unwritableDir(t)
			}
			barriers := barrierSavepoints.Load()
			_, err := j.Stop(context.Background(), dir, true)
			if got := barrierSavepoints.Load() > barriers; got == tc.quiesce {
				t.Fatalf("savepoint cut with barriers: %v, want %v", got, !tc.quiesce)
			}
			jerr := waitJobEnd(t, j, note)
			if st := j.Status(); st != JobFailed || !errors.Is(jerr, errDrainFailed) || !strings.Contains(jerr.Error(), tc.wantErr) {
				t.Fatalf("job %v with error %v after the failed drain (%v), want FAILED with the drain's error\n%s", st, jerr, err, note)
			}
			if !errors.Is(err, errDrainFailed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("stop with drain: %v, want the drain's failure with %q", err, tc.wantErr)
			}
		})
	}
}
