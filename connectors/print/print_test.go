package print_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// lineWriter records what the print sinks write and checks every Write: whole lines only, and never two
// Writes at once.
type lineWriter struct {
	inflight atomic.Int32
	mu       sync.Mutex
	lines    []string
	problems []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	concurrent := w.inflight.Add(1) > 1
	defer w.inflight.Add(-1)
	time.Sleep(50 * time.Microsecond) // widen the window in which another Write would overlap
	w.mu.Lock()
	defer w.mu.Unlock()
	if concurrent {
		w.problems = append(w.problems, "two Writes at once")
	}
	if len(p) == 0 || p[len(p)-1] != '\n' {
		w.problems = append(w.problems, fmt.Sprintf("a Write of %d bytes that does not end a line", len(p)))
	}
	w.lines = append(w.lines, strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")...)
	return len(p), nil
}

// Several jobs printing at once (to one standard output) write whole lines: no line of one job is cut by
// another's, even when a batch's text is larger than the sink's buffer.
func TestConcurrentJobsWriteWholeLines(t *testing.T) {
	const jobs, rows, width = 4, 3000, 300
	w := &lineWriter{}
	s, err := engine.NewSession(engine.Config{Stdout: w, Stderr: w, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var script strings.Builder
	for j := 0; j < jobs; j++ {
		fmt.Fprintf(&script, `CREATE TABLE src%d (id INT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '%d',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d', 'fields.s.length' = '%d');
CREATE TABLE out%d (id INT, s STRING) WITH ('connector' = 'print', 'print-identifier' = 'job%d');
`, j, rows, rows, width, j, j)
	}
	for j := 0; j < jobs; j++ {
		fmt.Fprintf(&script, "INSERT INTO out%d SELECT id, s FROM src%d;\n", j, j)
	}
	stmts, err := sql.ParseScript(script.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WaitJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if len(w.problems) > 0 {
		t.Fatalf("%d bad writes, first: %s", len(w.problems), w.problems[0])
	}
	line := regexp.MustCompile(fmt.Sprintf(`^job(\d)> \+I\[(\d+), [0-9a-f]{%d}\]$`, width))
	count := map[string]int{}
	for _, l := range w.lines {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("mixed or cut line: %.120q", l)
		}
		count[m[1]]++
	}
	for j := 0; j < jobs; j++ {
		if n := count[fmt.Sprint(j)]; n != rows {
			t.Errorf("job%d printed %d lines, want %d", j, n, rows)
		}
	}
}
