package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// bufferedFactory is a test sink that buffers rows and writes them at each checkpoint's PreCommit and at
// End (as at-least-once sinks with a write buffer do). Once down is set its writes fail: PreCommit fails
// (the checkpoint fails) and End loses the buffered rows.
type bufferedFactory struct {
	mu      sync.Mutex
	down    bool
	buf     []int64
	written []int64
}

func (f *bufferedFactory) Identifier() string      { return "buffered" }
func (f *bufferedFactory) Options() []options.Decl { return nil }
func (f *bufferedFactory) CreateSink(connectors.Context) (connectors.Sink, error) {
	return bufferedSink{f}, nil
}

type bufferedSink struct{ f *bufferedFactory }

func (s bufferedSink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }
func (s bufferedSink) Open(context.Context) (changelog.Output, error) {
	return &bufferedOut{f: s.f}, nil
}

type bufferedOut struct{ f *bufferedFactory }

func (o *bufferedOut) Push(b *changelog.Batch) error {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	for _, r := range b.Rows {
		o.f.buf = append(o.f.buf, r.Vals[0].Int())
	}
	return nil
}
func (o *bufferedOut) Watermark(int64) error { return nil }

// flush writes the buffer, or fails when the sink is down (the buffered rows are lost when dropped).
func (o *bufferedOut) flush(drop bool) error {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	if o.f.down {
		if drop {
			o.f.buf = nil
		}
		return errors.New("connection reset by peer")
	}
	o.f.written = append(o.f.written, o.f.buf...)
	o.f.buf = nil
	return nil
}
func (o *bufferedOut) End() error { return o.flush(true) }
func (o *bufferedOut) PreCommit(context.Context, int64) ([]byte, error) {
	return nil, o.flush(false)
}
func (o *bufferedOut) Commit(context.Context, int64) error          { return nil }
func (o *bufferedOut) Restore(context.Context, []byte, int64) error { return nil }

func (f *bufferedFactory) state() (buffered, written int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.buf), len(f.written)
}

// A streaming job reading Kafka with checkpoints into a sink that buffers rows: the first 50 records are
// written at a checkpoint and their offsets committed; then the sink goes down (its checkpoints fail,
// tolerated) while 50 more records arrive, and the job is cancelled: the sink's flush at the cancellation
// fails, so the rows of those records were never written. The group's committed offset must stay at the
// last checkpoint's (50): it used to be committed at 100 (final published the sources' positions whatever
// the flush returned), and a run from the group's offsets then never read those 50 records again. The rerun
// reads them.
func TestCancelAfterFailedFlushCommitsNoOffsets(t *testing.T) {
	kf := &kafkaFixture{t: t}
	defer kf.close()
	var recs strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&recs, "{\"id\": %d}\n", i)
	}
	if got := kf.produce("fin", recs.String()); got != "produced 50 records\n" {
		t.Fatal(got)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, "fin-g")
		if errors.Is(err, kerr.GroupIDNotFound) {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		o, ok := offs.Lookup("fin", 0)
		if !ok {
			return -1
		}
		return o.At
	}
	run := func(f *bufferedFactory, bounded string, note *syncBuffer) (*Job, context.CancelFunc) {
		s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
			Connectors: connbuiltin.Registry().With(f),
			Options: map[string]string{"execution.checkpointing.interval": "100 ms",
				"execution.checkpointing.tolerable-failed-checkpoints": "1000", "restart-strategy": "none"}})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(kf.expand(`
CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'fin', 'properties.bootstrap.servers' = '$BROKER',
  'properties.group.id' = 'fin-g', 'scan.startup.mode' = 'group-offsets', 'properties.auto.offset.reset' = 'earliest',
  'format' = 'json'` + bounded + `);
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'buffered');
INSERT INTO out_t SELECT id FROM src;`))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var job *Job
		for _, st := range stmts {
			res, err := s.Execute(ctx, st)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			if res.Job != nil {
				job = res.Job
			}
		}
		return job, cancel
	}

	f := &bufferedFactory{}
	note := &syncBuffer{}
	job, cancel := run(f, "", note)
	defer cancel()
	if !waitUntil(20*time.Second, func() bool { _, w := f.state(); return w == 50 && committed() == 50 }) {
		b, w := f.state()
		t.Fatalf("the first 50 records: %d rows written, %d buffered, committed offset %d\n%s", w, b, committed(), note.String())
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	recs.Reset()
	for i := 50; i < 100; i++ {
		fmt.Fprintf(&recs, "{\"id\": %d}\n", i)
	}
	if got := kf.produce("fin", recs.String()); got != "produced 50 records\n" {
		t.Fatal(got)
	}
	if !waitUntil(20*time.Second, func() bool { b, _ := f.state(); return b == 50 }) {
		b, w := f.state()
		t.Fatalf("the next 50 records: %d rows buffered, %d written\n%s", b, w, note.String())
	}
	job.Cancel()
	ctx, cancelWait := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelWait()
	_ = job.Wait(ctx)
	if st := job.Status(); st != JobCancelled {
		t.Fatalf("job status %v, want cancelled\n%s", st, note.String())
	}
	if c := committed(); c != 50 {
		t.Fatalf("committed offset %d after the cancelled job whose sink lost 50 rows, want the last checkpoint's 50\n%s", c, note.String())
	}
	if !strings.Contains(note.String(), "the sources' final positions are not published (Kafka offsets not committed): a sink may not have written every row it was given: sink out_t: connection reset by peer") {
		t.Fatalf("notice:\n%s", note.String())
	}

	// A rerun from the group's offsets reads the 50 records again.
	f2 := &bufferedFactory{}
	note2 := &syncBuffer{}
	job2, cancel2 := run(f2, ", 'scan.bounded.mode' = 'latest-offset'", note2)
	defer cancel2()
	ctx2, cancelWait2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelWait2()
	if err := job2.Wait(ctx2); err != nil {
		t.Fatalf("rerun: %v\n%s", err, note2.String())
	}
	f2.mu.Lock()
	got := fmt.Sprint(f2.written)
	f2.mu.Unlock()
	var want []int64
	for i := int64(50); i < 100; i++ {
		want = append(want, i)
	}
	if got != fmt.Sprint(want) {
		t.Fatalf("the rerun wrote %s, want records 50..99", got)
	}
	if c := committed(); c != 100 {
		t.Fatalf("committed offset %d after the rerun, want 100", c)
	}
}

// A staged batch job reading Kafka (source stage → aggregate stage → sink stage) cancelled while its
// aggregate stage runs: the source stage read every record, but the sink stage never ran, so no row was
// written and the group's offsets must stay uncommitted (final used to publish the source's positions for
// any job that did not fail). The same job run to its end commits them.
func TestStagedCancelBeforeSinkCommitsNoOffsets(t *testing.T) {
	kf := &kafkaFixture{t: t}
	defer kf.close()
	var recs strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&recs, "{\"id\": %d}\n", i)
	}
	if got := kf.produce("fb", recs.String()); got != "produced 200 records\n" {
		t.Fatal(got)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kf.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed := func(group string) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			return -1
		}
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := offs.Lookup("fb", 0); ok {
			return o.At
		}
		return -1
	}
	run := func(group string, cancelInAgg bool) (*Job, string) {
		note := &syncBuffer{}
		s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
			Options: map[string]string{"execution.runtime-mode": "batch", "restart-strategy.fixed-delay.delay": "0 ms",
				"restart-strategy.fixed-delay.attempts": "2", "io.tmp.dirs": t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(kf.expand(`
CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'fb', 'properties.bootstrap.servers' = '$BROKER',
  'properties.group.id' = '` + group + `', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
  'format' = 'json');
CREATE TABLE out_t (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT MOD(id, 10), COUNT(*) FROM src GROUP BY MOD(id, 10);`))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var job *Job
		reached, release := make(chan struct{}), make(chan struct{})
		if cancelInAgg {
			var once sync.Once
			withStageFault(t, func(st *batchStage, task, attempt int, rows int64, end bool) error {
				hit := false
				if strings.Contains(st.name, "Aggregate") {
					once.Do(func() { hit = true; close(reached); <-release })
				}
				if hit {
					return context.Canceled // the attempt ends as the job's cancellation ends it
				}
				return nil
			})
		}
		for _, st := range stmts {
			res, err := s.Execute(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if res.Job != nil {
				job = res.Job
			}
		}
		if cancelInAgg {
			select {
			case <-reached:
			case <-ctx.Done():
				t.Fatal("the aggregate stage never ran")
			}
			cancelled := make(chan struct{})
			go func() { job.Cancel(); close(cancelled) }() // (Cancel waits for the job's end)
			time.Sleep(200 * time.Millisecond)
			close(release)
			<-cancelled
		}
		_ = job.Wait(ctx)
		stageFault = nil
		return job, note.String()
	}
	job, note := run("fb-a", false)
	if job.Status() != JobFinished || committed("fb-a") != 200 {
		t.Fatalf("the job run to its end: status %v, committed offset %d, want finished and 200 (the test tests nothing)\n%s", job.Status(), committed("fb-a"), note)
	}
	job, note = run("fb-b", true)
	if job.Status() != JobCancelled {
		t.Fatalf("status %v, want cancelled\n%s\n%s", job.Status(), note, attemptsOf(job))
	}
	if c := committed("fb-b"); c != -1 {
		t.Fatalf("committed offset %d for a job cancelled before its sink stage ran, want none\n%s\n%s", c, note, attemptsOf(job))
	}
	if !strings.Contains(note, "the sources' final positions are not published") || !strings.Contains(note, "did not write its rows before the job was cancelled") {
		t.Fatalf("notice:\n%s", note)
	}
}

// A job whose sources publish no position outside it (datagen) and whose sink's flush fails at the
// cancellation prints no "final positions are not published" warning: there is no Kafka offset to keep
// uncommitted (a cancelled batch script over datagen warned, on one side only of the remote-shell test).
func TestFailedFlushWithoutPublishingSourceDoesNotWarn(t *testing.T) {
	f := &bufferedFactory{}
	note := &syncBuffer{}
	s, err := NewSession(Config{Stdout: note, Stderr: note, Notice: note, TempDir: t.TempDir(),
		Connectors: connbuiltin.Registry().With(f), Options: map[string]string{"restart-strategy": "none"}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(`
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1000');
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'buffered');
INSERT INTO out_t SELECT id FROM src;`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var job *Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	if !waitUntil(20*time.Second, func() bool { b, _ := f.state(); return b > 0 }) {
		t.Fatalf("no row reached the sink\n%s", note.String())
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	job.Cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	_ = job.Wait(wctx)
	if st := job.Status(); st != JobCancelled {
		t.Fatalf("job status %v, want cancelled\n%s", st, note.String())
	}
	if strings.Contains(note.String(), "final positions are not published") {
		t.Fatalf("a job reading datagen warned about unpublished positions:\n%s", note.String())
	}
}
