package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// flakyFactory is a test sink whose first `failures` opened outputs fail after accepting one batch; later
// ones record what they get.
type flakyFactory struct {
	failures int
	opened   int
	got      []string
}

func (f *flakyFactory) Identifier() string      { return "flaky" }
func (f *flakyFactory) Options() []options.Decl { return nil }
func (f *flakyFactory) CreateSink(connectors.Context) (connectors.Sink, error) {
	return flakySink{f}, nil
}

type flakySink struct{ f *flakyFactory }

func (s flakySink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }
func (s flakySink) Open(context.Context) (changelog.Output, error) {
	s.f.opened++
	return &flakyOut{f: s.f, fail: s.f.opened <= s.f.failures}, nil
}

type flakyOut struct {
	f      *flakyFactory
	fail   bool
	pushes int
	rows   []string
}

func (o *flakyOut) Push(b *changelog.Batch) error {
	o.pushes++
	if o.fail && o.pushes > 1 {
		return errors.New("connection reset by peer")
	}
	for _, r := range b.Rows {
		o.rows = append(o.rows, fmt.Sprint(r.Vals[0].Int(), ":", r.Vals[1].Int()))
	}
	return nil
}
func (o *flakyOut) Watermark(int64) error { return nil }
func (o *flakyOut) End() error {
	if o.fail {
		return errors.New("connection reset by peer")
	}
	o.f.got = o.rows
	return nil
}

// A batch job whose sink fails restarts only the sink stage, from its materialized input: the sources are
// read once, the final attempt writes every row, and each restart is announced.
func TestBatchSinkStageRestarts(t *testing.T) {
	for _, tc := range []struct {
		failures, attempts int
		wantErr            bool
	}{{2, 3, false}, {3, 2, true}} {
		f := &flakyFactory{failures: tc.failures}
		var notice bytes.Buffer
		s, err := NewSession(Config{Stdout: &notice, Stderr: &notice, Notice: &notice, TempDir: t.TempDir(),
			Connectors: connbuiltin.Registry().With(f),
			Options: map[string]string{"execution.runtime-mode": "batch", "restart-strategy.fixed-delay.delay": "0 ms",
				"restart-strategy.fixed-delay.attempts": fmt.Sprint(tc.attempts)}})
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.ParseScript(`
CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3000', 'rows-per-second' = '1000000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '3000');
CREATE TABLE out_t (k BIGINT, n BIGINT) WITH ('connector' = 'flaky');
INSERT INTO out_t SELECT MOD(id, 2000), COUNT(*) FROM src GROUP BY MOD(id, 2000);`)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
		err = job.Wait(ctx)
		cancel()
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "connection reset by peer") {
				t.Fatalf("failures %d, attempts %d: want the sink's error, got %v", tc.failures, tc.attempts, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("job failed: %v\n%s", err, notice.String())
		}
		if m := job.Metrics(); m.RowsIn != 3000 || m.RowsOut != 2000 {
			t.Fatalf("sources read %d rows, want 3000 (read once); rows out %d, want 2000 (the successful attempt's)", m.RowsIn, m.RowsOut)
		}
		a := attemptsOf(job)
		if strings.Count(a, "SortAggregate") != 1 || strings.Count(a, "Sink: out_t: attempt") != 3 || !strings.Contains(a, "Sink: out_t: attempt 3 read 2000\n") {
			t.Fatalf("want the aggregate stage once and the sink stage three times, reading 2000 rows:\n%s", a)
		}
		if len(f.got) != 2000 {
			t.Fatalf("the last attempt wrote %d rows, want 2000", len(f.got))
		}
		if n := strings.Count(notice.String(), "Restarting stage 3 alone, from the intermediate results of its inputs (2000 rows)"); n != 2 {
			t.Fatalf("want 2 restart notices, got %d:\n%s", n, notice.String())
		}
	}
}
