package filesystem_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// Per-file watermarks (splits.go): a table with a WATERMARK reads as P subtasks, every file with a watermark
// of its own, so that a file whose rows lag behind the others' does not see them dropped as late.

// String is the output collected so far (lockedBuf: golden_test.go).
func (w *lockedBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

var windowRow = regexp.MustCompile(`\+I\[([^,]+), (\d+)\]`)

// windows parses the print sink's +I[window_start, n] lines; a window printed twice fails t.
func windows(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range windowRow.FindAllStringSubmatch(out, -1) {
		if _, dup := got[m[1]]; dup {
			t.Fatalf("window %s printed twice:\n%s", m[1], out)
		}
		var n int
		fmt.Sscan(m[2], &n)
		got[m[1]] = n
	}
	return got
}

func formatWindows(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d; ", k, m[k])
	}
	return b.String()
}

// wmFile is one CSV file of (id, ts) rows: n rows from minute base on, step apart (2 s when 0), each moved by
// up to ±2 s (out of order within the 5 s the WATERMARK allows).
type wmFile struct {
	name string
	base int // minute of 2024-01-01 00:00 the file's rows start at
	n    int
	step time.Duration
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// write writes f under dir (by rename, as the sink commits files, so a monitoring source never reads it in
// part) and adds its rows to the counts per window start.
func (f wmFile) write(t *testing.T, dir string, rng *rand.Rand, want map[string]int) {
	t.Helper()
	step := f.step
	if step == 0 {
		step = 2 * time.Second
	}
	var b strings.Builder
	for i := range f.n {
		ts := epoch.Add(time.Duration(f.base)*time.Minute + time.Duration(i)*step +
			time.Duration(rng.Intn(4001)-2000)*time.Millisecond)
		if ts.Before(epoch) {
			ts = epoch
		}
		fmt.Fprintf(&b, "%d,%s\n", i, ts.Format("2006-01-02 15:04:05.000"))
		if want != nil {
			want[ts.Truncate(time.Minute).Format("2006-01-02T15:04")]++
		}
	}
	tmp := filepath.Join(dir, ".tmp-"+f.name)
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
		t.Fatal(err)
	}
}

const wmScript = `SET 'parallelism.default' = 'PAR';
CREATE TABLE events (id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH ('connector' = 'filesystem', 'path' = 'DIR', 'format' = 'csv'EXTRA);
CREATE TABLE out (window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end;`

// startWindowJob runs wmScript over dir at parallelism par (extra: more table options; savepoint: the
// savepoint to restore, or "") and checks that the source runs as par subtasks.
func startWindowJob(ctx context.Context, t *testing.T, out *lockedBuf, dir string, par int, extra, savepoint string) *engine.Job {
	t.Helper()
	s, err := engine.NewSession(engine.Config{Stdout: out, Stderr: out, Notice: out, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer("PAR", fmt.Sprint(par), "DIR", dir, "EXTRA", extra).Replace(wmScript)
	if savepoint != "" {
		script = fmt.Sprintf("SET 'execution.savepoint.path' = '%s';\n", savepoint) + script
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
	got := job.SourceSubtasks()["events"]
	if par == 1 && got == 0 {
		got = 1
	}
	if got != par {
		t.Fatalf("table events runs as %d source subtasks, want %d (%v)", got, par, job.SourceSubtasks())
	}
	return job
}

// runWindows runs the job over dir to its end at parallelism par and returns the windows it printed.
func runWindows(t *testing.T, dir string, par int) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lockedBuf
	job := startWindowJob(ctx, t, &out, dir, par, "", "")
	if err := job.Wait(ctx); err != nil {
		t.Fatalf("parallelism %d: %v\n%s", par, err, out.String())
	}
	return windows(t, out.String())
}

// TestWatermarkPerFileProperty: directories of files whose rows lag each other by up to 40 minutes (the first
// file in name order leads), each in order within the watermark's delay, into a TUMBLE window count: at
// parallelism 1 and 3 every window has every row (none is dropped as late), so both print the same.
func TestWatermarkPerFileProperty(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewSource(seed))
		dir := t.TempDir()
		want := map[string]int{}
		nfiles := 4 + rng.Intn(7)
		for i := range nfiles {
			base := rng.Intn(40)
			if i == 0 {
				base = 45 // read first at parallelism 1: every other file lags behind it
			}
			wmFile{name: fmt.Sprintf("f%02d.csv", i), base: base, n: 20 + rng.Intn(150)}.write(t, dir, rng, want)
		}
		p1 := runWindows(t, dir, 1)
		p3 := runWindows(t, dir, 3)
		if formatWindows(p1) != formatWindows(want) {
			t.Fatalf("seed %d, parallelism 1:\n got  %s\n want %s", seed, formatWindows(p1), formatWindows(want))
		}
		if formatWindows(p3) != formatWindows(p1) {
			t.Fatalf("seed %d: parallelism 3 differs from parallelism 1:\n p3 %s\n p1 %s", seed, formatWindows(p3), formatWindows(p1))
		}
	}
}

// TestWatermarkLaggingFile: a.csv holds minutes 60-70, b.csv (read after it by the same subtask at
// parallelism 1, maybe by another at 2) minutes 0-10, an hour behind: no row of b.csv is late.
func TestWatermarkLaggingFile(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(7))
	want := map[string]int{}
	wmFile{name: "a.csv", base: 60, n: 300}.write(t, dir, rng, want)
	wmFile{name: "b.csv", base: 0, n: 300}.write(t, dir, rng, want)
	for _, par := range []int{1, 2} {
		if got := runWindows(t, dir, par); formatWindows(got) != formatWindows(want) {
			t.Fatalf("parallelism %d:\n got  %s\n want %s", par, formatWindows(got), formatWindows(want))
		}
	}
}

// TestWatermarkRestoreAtOtherParallelism: a monitored directory read at parallelism 2, stopped with a savepoint
// in the middle of large files, restored at 3 with more files (one of them lagging by minutes behind the
// others of its run), stopped again, restored at 1 with a file far ahead that closes every window: every
// window is printed once, by one of the runs, with every row. (Files of a later run start after the rows of
// the earlier runs: a file that appears behind the watermark already sent is late, as a new Kafka partition.)
func TestWatermarkRestoreAtOtherParallelism(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(3))
	want := map[string]int{}
	const fast = 10 * time.Millisecond // 20,000 rows in 200 s
	phases := []struct {
		par   int
		files []wmFile
	}{
		{2, []wmFile{{"p1-a.csv", 10, 20000, fast}, {"p1-b.csv", 5, 20000, fast}, {"p1-c.csv", 12, 20000, fast}}},
		{3, []wmFile{{"p2-a.csv", 20, 20000, fast}, {"p2-b.csv", 16, 20000, fast}, {"p2-c.csv", 25, 300, 0}, {"p2-d.csv", 22, 20000, fast}}},
		{1, []wmFile{{"p3-a.csv", 36, 600, 0}, {"p3-b.csv", 200, 1, 0}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	all := map[string]int{}
	savepoint := ""
	for i, ph := range phases {
		last := i == len(phases)-1
		for _, f := range ph.files {
			w := want
			if f.base == 200 {
				w = nil // its window stays open
			}
			f.write(t, dir, rng, w)
		}
		var out lockedBuf
		job := startWindowJob(ctx, t, &out, dir, ph.par, ", 'source.monitor-interval' = '20 ms'", savepoint)
		if last {
			// Every window before minute 200 closes once the file far ahead is read.
			for formatWindows(merged(t, all, windows(t, out.String()))) != formatWindows(want) {
				if ctx.Err() != nil {
					t.Fatalf("after the last run at parallelism %d:\n got  %s\n want %s", ph.par,
						formatWindows(merged(t, all, windows(t, out.String()))), formatWindows(want))
				}
				time.Sleep(20 * time.Millisecond)
			}
			job.Cancel()
			break
		}
		// Stop while the large files are being read (some rows in).
		for job.Metrics().RowsIn < 5000 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		sp, err := job.Stop(ctx, t.TempDir(), false)
		if err != nil {
			t.Fatalf("stop with savepoint at parallelism %d: %v\n%s", ph.par, err, out.String())
		}
		t.Logf("run %d (parallelism %d) stopped after %d rows in, %d windows printed", i+1, ph.par, job.Metrics().RowsIn, len(windows(t, out.String())))
		savepoint = sp
		all = merged(t, all, windows(t, out.String()))
	}
}

// merged is a and b together; a window in both fails t (printed by two runs).
func merged(t *testing.T, a, b map[string]int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, n := range a {
		out[k] = n
	}
	for k, n := range b {
		if _, dup := out[k]; dup {
			t.Fatalf("window %s printed by two runs", k)
		}
		out[k] = n
	}
	return out
}

// splitEvents records a source's split events and pushes, in order.
type splitEvents struct{ ev []string }

func (r *splitEvents) AddSplit(id int)    { r.ev = append(r.ev, fmt.Sprintf("add %d", id)) }
func (r *splitEvents) SplitRows(id int)   { r.ev = append(r.ev, fmt.Sprintf("rows %d", id)) }
func (r *splitEvents) FinishSplit(id int) { r.ev = append(r.ev, fmt.Sprintf("finish %d", id)) }
func (r *splitEvents) Push(b *changelog.Batch) error {
	r.ev = append(r.ev, fmt.Sprintf("push %d", b.Len()))
	return nil
}
func (r *splitEvents) Watermark(int64) error { return nil }
func (r *splitEvents) End() error            { return nil }

// TestWatermarkSplitEvents: the split events of one subtask reading three files in turn. Each file is
// announced as it opens, marks its batch, and is finished after its last row; while a file that is not the
// round's last (c) is read, a hold split without rows holds the watermark back, finished with the file;
// finished ids are taken again.
func TestWatermarkSplitEvents(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, f+".csv"), []byte("1,2024-01-01 00:00:01\n2,2024-01-01 00:00:02\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := filesystem.NewFactory().CreateSource(connCtx(table(t, fmt.Sprintf(`CREATE TABLE t (id BIGINT, ts TIMESTAMP(3),
		WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv')`, dir)), false))
	if err != nil {
		t.Fatal(err)
	}
	r := &splitEvents{}
	src.(connectors.SplitSource).SetSplitListener(r)
	if n := src.(connectors.ParallelSource).Subtasks(4); n != 1 {
		t.Fatalf("Subtasks(4) = %d with one split listener for the source, want 1", n)
	}
	if err := src.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// (The empty push after each file only advances the position: PushThen pushes nothing to an output
	// that is not a PositionedOutput.)
	want := []string{
		"add 0", "add 1", "rows 0", "push 2", "finish 0", "finish 1", // a (0), held (1)
		"add 1", "add 0", "rows 1", "push 2", "finish 1", "finish 0", // b (1), held (0)
		"add 0", "rows 0", "push 2", "finish 0", // c, the closing file: not held
	}
	if strings.Join(r.ev, "; ") != strings.Join(want, "; ") {
		t.Fatalf("events:\n got  %s\n want %s", strings.Join(r.ev, "; "), strings.Join(want, "; "))
	}
}
