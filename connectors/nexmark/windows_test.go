package nexmark_test

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// runScript runs script's statements in a new streaming session with the given parallelism and returns the
// last job (waited for) and what its print sinks wrote.
func runScript(ctx context.Context, t *testing.T, par int, script string) (*engine.Job, string) {
	t.Helper()
	var out lockedBuf
	s, err := engine.NewSession(engine.Config{Stdout: &out, Stderr: &out, Notice: io.Discard, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "execution.runtime-mode": "streaming",
			"parallelism.default": strconv.Itoa(par)}})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	var job *engine.Job
	for _, st := range stmts {
		res, err := s.Execute(ctx, st)
		if err != nil {
			t.Fatalf("%v\nscript:\n%s", err, script)
		}
		if res.Job != nil {
			job = res.Job
		}
	}
	if err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return job, out.String()
}

const nexmarkDDL = `CREATE TABLE datagen (
    event_type int,
    person ROW<id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, ` + "`dateTime`" + ` TIMESTAMP(3), extra VARCHAR>,
    auction ROW<id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, ` + "`dateTime`" + ` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR>,
    bid ROW<auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, ` + "`dateTime`" + ` TIMESTAMP(3), extra VARCHAR>,
    ` + "`dateTime`" + ` AS CASE WHEN event_type = 0 THEN person.` + "`dateTime`" + ` WHEN event_type = 1 THEN auction.` + "`dateTime`" + ` ELSE bid.` + "`dateTime`" + ` END,
    WATERMARK FOR ` + "`dateTime`" + ` AS ` + "`dateTime`" + `
) WITH ('connector' = 'nexmark', 'events.num' = '40000', 'seed' = '3', 'base-time' = '1700000000000',
        'first-event.rate' = '1000', 'next-event.rate' = '1000', 'num-event-generators' = '2');
`

// Event-time windows over two generators with a watermark that does not lag at all: at parallelism 1 one
// subtask interleaves the two generators' timelines a batch (about 2 s of event time) at a time, at
// parallelism 2 each subtask runs one. Watermarks are tracked per generator, so no event is late in either
// case: the windows count all 40,000 events and are the same at both parallelisms (as the q7-like maximum
// bid price per window). A single watermark for the interleaved timelines would drop a batch in two as late.
func TestWindowsAtParallelism2EqualParallelism1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := nexmarkDDL + `CREATE TABLE out (ws TIMESTAMP(3), n BIGINT, bids BIGINT, mx BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT window_start, COUNT(*), COUNT(bid.price), MAX(bid.price)
FROM TABLE(TUMBLE(TABLE datagen, DESCRIPTOR(` + "`dateTime`" + `), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;`
	var want []string
	for _, par := range []int{1, 2} {
		job, out := runScript(ctx, t, par, script)
		if n := job.SourceSubtasks()["datagen"]; par == 2 && n != 2 {
			t.Fatalf("parallelism 2: the source ran as %d subtasks", n)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		slices.Sort(lines)
		total := 0
		for _, l := range lines {
			f := strings.Split(strings.TrimSuffix(strings.TrimPrefix(l, "+I["), "]"), ", ")
			if len(f) != 4 {
				t.Fatalf("parallelism %d: line %q", par, l)
			}
			n, _ := strconv.Atoi(f[1])
			total += n
		}
		if total != 40000 || len(lines) != 41 {
			t.Fatalf("parallelism %d: %d windows count %d events, want 41 windows and 40000:\n%s", par, len(lines), total, out)
		}
		if par == 1 {
			want = lines
		} else if !slices.Equal(lines, want) {
			t.Fatalf("parallelism 2 differs from parallelism 1:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
}
