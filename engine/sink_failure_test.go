package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// twoWriters is a sink that subtasks write through writers of their own (connectors.ConcurrentOutput):
// writer 0 fails its first write; writer 1's writes succeed, and one made after the engine noted writer 0's
// failure (failed is closed by the hook noteFailures sets, not by writer 0: before, writer 0 closed it before
// returning its error, and a write of writer 1 that began before the engine noted the error counted as late)
// counts as late. The first late write may have been in flight (writer 1 checked the sink's failure just
// before it was noted): it returns at once; every further one is a write the engine should not have made,
// and is slow (it would hold the job's end back).
type twoWriters struct {
	failOnce sync.Once
	failed   chan struct{}
	late     atomic.Int64
	rows     atomic.Int64
}

var errDiskFull = errors.New("disk full")

func (f *twoWriters) Identifier() string      { return "twowriters" }
func (f *twoWriters) Options() []options.Decl { return nil }
func (f *twoWriters) CreateSink(connectors.Context) (connectors.Sink, error) {
	return twoWritersSink{f}, nil
}

type twoWritersSink struct{ f *twoWriters }

func (s twoWritersSink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }
func (s twoWritersSink) Open(context.Context) (changelog.Output, error) {
	return &twoWritersOut{f: s.f}, nil
}

type twoWritersOut struct{ f *twoWriters }

func (o *twoWritersOut) Push(*changelog.Batch) error { return nil }
func (o *twoWritersOut) Watermark(int64) error       { return nil }
func (o *twoWritersOut) End() error                  { return nil }
func (o *twoWritersOut) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	return &twoWritersWriter{f: o.f, i: i}, nil
}

type twoWritersWriter struct {
	f *twoWriters
	i int
}

// noteFailures makes the engine close f.failed once it noted the failure of a sink named out_t (the hook in
// endOnce.note), for the rest of the test.
func (f *twoWriters) noteFailures(t *testing.T) {
	h := func(e *endOnce, err error) {
		if e.name == "out_t" && errors.Is(err, errDiskFull) {
			f.failOnce.Do(func() { close(f.failed) })
		}
	}
	sinkFailureNoted.Store(&h)
	t.Cleanup(func() { sinkFailureNoted.Store(nil) })
}

func (w *twoWritersWriter) Push(b *changelog.Batch) error {
	if w.i == 0 {
		return errDiskFull
	}
	select {
	case <-w.f.failed:
		if w.f.late.Add(1) > 1 {
			time.Sleep(5 * time.Second) // a write that would hold the job's end back
		}
	default:
	}
	w.f.rows.Add(int64(len(b.Rows)))
	return nil
}

// A sink's writers stop once one of them failed: a GROUP BY at parallelism 2 whose keyed subtasks write the
// sink through writers of their own; writer 0 fails its first write (after writer 1 wrote), and writer 1 is
// never called again — its writes return the failure at once — so the job ends FAILED promptly with the
// sink's error named after it (one write of writer 1 may have been in flight when the failure was noted).
// Checked by removing the failure check in notedWriter.Push: writer 1 is called after the failure. Before the
// hook (writer 0 closed failed itself, before the engine noted its error), 2 of 200 runs under CPU load
// counted a write of writer 1 begun before the failure was noted as late.
func TestSinkOtherWritersStopAfterFailure(t *testing.T) {
	kf := &kafkaFixture{t: t}
	defer kf.close()
	f := &twoWriters{failed: make(chan struct{})}
	f.noteFailures(t)
	note := &syncBuffer{}
	s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
		Connectors: connbuiltin.Registry().With(f),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": "2",
			"table.exec.mini-batch.enabled": "false", "restart-strategy": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	produceFP(t, kf, 0, 400)
	execScript(t, s, kf.expand(`
CREATE TABLE src (id BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'kafka',
  'topic' = 'fp', 'properties.bootstrap.servers' = '$BROKER', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE out_t (id BIGINT, n BIGINT) WITH ('connector' = 'twowriters');`))
	built := concurrentSinksBuilt.Load()
	st, err := sql.ParseStatement(`INSERT INTO out_t SELECT id, COUNT(*) FROM src GROUP BY id`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	j := res.Job
	defer j.Cancel()
	if concurrentSinksBuilt.Load() == built {
		t.Fatalf("the sink is not written by subtasks\n%s", note)
	}
	// keep rows coming for both subtasks until the job ends
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 400; ; i += 20 {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if j.Status() != JobRunning {
				return
			}
			var b strings.Builder
			for k := i; k < i+20; k++ {
				fmt.Fprintf(&b, "{\"id\": %d, \"ts\": \"2024-01-01 00:00:00\"}\n", k)
			}
			kf.produceTo("fp", 2, "", b.String())
		}
	}()
	start := time.Now()
	jerr := waitJobEnd(t, j, note)
	took := time.Since(start)
	if st := j.Status(); st != JobFailed || jerr == nil || !strings.Contains(jerr.Error(), "sink out_t: disk full") {
		t.Fatalf("job %v with error %v, want FAILED with the sink's error\n%s", st, jerr, note)
	}
	if n := f.late.Load(); n > 1 || took > 4*time.Second {
		t.Fatalf("writer 1 was called %d times after the failure of writer 0 was noted (1 may have been in flight); the job took %s to end", n, took)
	}
}

// The writers of one sink share its failure: once one returned an error, the other's Push returns that
// error (named after the sink) without calling its connector's writer.
func TestNotedWritersShareFailure(t *testing.T) {
	e := &endOnce{name: "out_t"}
	f := &twoWriters{failed: make(chan struct{})}
	f.noteFailures(t)
	w0 := noteWriter(e, &twoWritersWriter{f: f, i: 0})
	w1 := noteWriter(e, &twoWritersWriter{f: f, i: 1})
	var b changelog.Batch
	if err := w1.Push(&b); err != nil {
		t.Fatalf("writer 1 before the failure: %v", err)
	}
	err0 := w0.Push(&b)
	if err0 == nil || err0.Error() != "sink out_t: disk full" || !errors.Is(err0, errDiskFull) {
		t.Fatalf("writer 0: %v, want the sink's error named after it", err0)
	}
	start := time.Now()
	if err := w1.Push(&b); !errors.Is(err, errDiskFull) || err.Error() != "sink out_t: disk full" {
		t.Fatalf("writer 1 after writer 0 failed: %v, want the sink's failure", err)
	}
	if n, took := f.late.Load(), time.Since(start); n != 0 || took > time.Second {
		t.Fatalf("writer 1's connector writer was called %d times after the failure (took %s)", n, took)
	}
}

// A batch job's sink error is named after the sink as a streaming one's is ("sink <table>: ..."): written
// under the graph lock (restart strategy none), replayed by the sink stage (fixed-delay: the stage
// materializes its input and the sink's write fails on every attempt: a stage of its own), or staged (a GROUP
// BY). A sink's stage is labelled after it: "stage 3 (Sink: out_t): disk full". Before, batch sink errors were not named
// ("source VALUES: disk full"), and a staged job's named the table twice and the stage's source as if it
// had failed ("stage 3 (Sink: out_t): source (the intermediate result of stage 2): sink out_t: disk full").
func TestBatchSinkErrorNamesSink(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       map[string]string
		concurrent bool
	}{
		{"plain", map[string]string{"restart-strategy": "none"}, false},
		{"sink-stage", map[string]string{"restart-strategy": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2",
			"restart-strategy.fixed-delay.delay": "0 ms"}, false},
		{"staged", map[string]string{"restart-strategy": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2",
			"restart-strategy.fixed-delay.delay": "0 ms"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &collectFactory{failAfter: 2, failErr: errDiskFull, concurrent: tc.concurrent}
			note := &syncBuffer{}
			opts := map[string]string{"table.local-time-zone": "UTC", "execution.runtime-mode": "batch"}
			for k, v := range tc.opts {
				opts[k] = v
			}
			s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
				Connectors: connbuiltin.Registry().With(f), Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			execScript(t, s, `CREATE TABLE out_t (id BIGINT, n BIGINT) WITH ('connector' = 'collect');`)
			q := `INSERT INTO out_t SELECT CAST(id AS BIGINT), CAST(1 AS BIGINT) FROM (VALUES (1), (2), (3), (4), (5)) AS t(id)`
			if tc.name == "staged" {
				// a GROUP BY cuts the job into stages; the sink's stage is labelled after it ("Sink: out_t")
				q = `INSERT INTO out_t SELECT CAST(id AS BIGINT), COUNT(*) FROM (VALUES (1), (2), (3), (4), (5)) AS t(id) GROUP BY id`
			}
			st, err := sql.ParseStatement(q)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Execute(context.Background(), st)
			if err == nil && res.Job != nil {
				err = res.Job.Wait(context.Background())
			}
			want := "sink out_t: disk full"
			switch tc.name {
			case "sink-stage": // the sink's stage is labelled after it: not named again, nor the stage's source
				want = "stage 2 (Sink: out_t): disk full"
			case "staged":
				want = "stage 3 (Sink: out_t): disk full"
			}
			if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "out_t") != 1 || strings.Contains(err.Error(), "source") {
				t.Fatalf("batch job error %v, want the sink's error named after it (once): %q\n%s", err, want, note)
			}
			if tc.name != "plain" && (!strings.Contains(note.String(), strings.Replace(want, "): ", ") failed: ", 1)) || !errors.Is(err, errDiskFull)) {
				t.Fatalf("the restart warning does not name the sink once:\n%s", note)
			}
		})
	}
}
