package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// TestSourceFetchesAheadOfItsPushes: franz-go asks a broker for more only once its buffered fetch was taken
// whole, so a source that polled max.poll.records at a time never fetched while it was handling a fetch.
// The source takes the whole fetch and handles it max.poll.records at a time: while its sink holds the
// first 10 rows back, the broker already receives the fetch for the records after the first fetch's.
func TestSourceFetchesAheadOfItsPushes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, addr := startBroker(t)
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprintf(`{"i":%d}`, i)
	}
	produceValues(ctx, t, addr, "ahead", vals)
	var ahead atomic.Int32 // fetches of the topic from an offset past its first record
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range kr.(*kmsg.FetchRequest).Topics {
			for _, p := range tp.Partitions {
				if p.FetchOffset > 0 {
					ahead.Add(1)
				}
			}
		}
		return nil, nil, false
	})
	pr, pw := io.Pipe() // the print sink blocks until the test reads its lines
	defer pr.Close()
	s, err := engine.NewSession(engine.Config{Stdout: pw, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stmts, err := sql.ParseScript(fmt.Sprintf(`
CREATE TABLE src (i INT) WITH ('connector' = 'kafka', 'topic' = 'ahead', 'properties.bootstrap.servers' = '%s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json', 'properties.max.poll.records' = '10');
CREATE TABLE out_t (i INT) WITH ('connector' = 'print');
INSERT INTO out_t SELECT i FROM src;`, addr))
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		job = res.Job
	}
	defer job.Cancel()
	lines := bufio.NewScanner(pr)
	for k := 0; k < 10; k++ {
		if !lines.Scan() {
			t.Fatalf("print sink ended after %d lines", k)
		}
	}
	// The sink now blocks the source in its second push, 990 records of the first fetch still to handle.
	deadline := time.Now().Add(10 * time.Second)
	for ahead.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n := ahead.Load()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if n == 0 {
		t.Fatal("no fetch past the first one while the source handled it: the source does not fetch ahead")
	}
	for time.Now().Before(deadline) {
		if m := job.Metrics(); m.RowsIn == 1000 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("rows in %d, want 1000", job.Metrics().RowsIn)
}
