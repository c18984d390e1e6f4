package crashtest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/state"
)

// TestStopSavepointKill: STOP JOB ... WITH SAVEPOINT cut with barriers (engine/exchange_barrier.go), then
// SIGKILL. A statement set at parallelism 2 (a GROUP BY user_id into upsert-kafka and a regular join into
// exactly-once kafka, both behind hash exchanges over the 4 source subtasks of the orders topic) runs in a
// sql-client process fed statements on its standard input while orders keep arriving. Every round issues
// STOP JOB ... WITH SAVEPOINT after a random time, then kills the process with SIGKILL: right after the STOP
// returned (the savepoint written, the job stopping), as soon as the savepoint's directory is in progress
// (while it is written), or 0 to 40 ms after the STOP was sent (keyed subtasks reaching their barriers). The
// next round restores from the newest complete cut: the savepoint when it was written, else the latest
// checkpoint. A last run brings the output up to date: the totals are exact and every order is committed
// to the join's topic exactly once (read_committed).
func TestStopSavepointKill(t *testing.T) {
	t.Parallel()
	const users = 50
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts, svs := filepath.Join(dir, "checkpoints"), filepath.Join(dir, "savepoints")
	rng := rand.New(rand.NewPCG(70, uint64(time.Now().UnixNano())))
	body := script(addr,
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '`+fileURL(ckpts)+`';`,
		`SET 'state.savepoints.dir' = '`+fileURL(svs)+`';`,
		`SET 'table.local-time-zone' = 'UTC';`,
		`SET 'parallelism.default' = '2';`,
		`SET 'table.optimizer.reuse-source-enabled' = 'false';`,
		eventOrders("orders", "id * 10"), eventOrders("partners", "id * 10"),
		upsertSink("totals", "user_id BIGINT, cnt BIGINT, total BIGINT", "user_id"),
		eoSink("pairs", "id BIGINT, user_id BIGINT, amount BIGINT"),
		`EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;
INSERT INTO pairs SELECT o.id, o.user_id, p.amount FROM orders o JOIN partners p ON o.id = p.id;
END;`)
	f := feed(t, addr, "orders", 0, users)
	fromSavepoint, written, during, writing := 0, 0, 0, 0
	restore := ""
	for k := 0; k < *kills; k++ {
		c := startShell(t, dir, restore, body)
		if !waitFor(60*time.Second, func() bool { return c.jobID() != "" || c.exited() }) || c.exited() {
			t.Fatalf("round %d: no job submitted:\n%s", k, indent(c.output()))
		}
		time.Sleep(randomDelay(rng, 400*time.Millisecond, 1500*time.Millisecond))
		before := newestSavepoint(svs)
		c.send(fmt.Sprintf("STOP JOB '%s' WITH SAVEPOINT;\n", c.jobID()))
		switch k % 3 {
		case 0: // right after the STOP returned
			waitFor(60*time.Second, func() bool { return strings.Contains(c.output(), "savepoint-") || c.exited() })
		case 1: // while the savepoint is written: its directory is in progress
			deadline := time.Now().Add(60 * time.Second)
			for !inProgress(svs) && newestSavepoint(svs) == before && !c.exited() && time.Now().Before(deadline) {
				time.Sleep(200 * time.Microsecond)
			}
			if newestSavepoint(svs) == before {
				writing++
			}
		default: // at a random moment of the STOP
			time.Sleep(randomDelay(rng, 0, 40*time.Millisecond))
		}
		if c.exited() {
			t.Fatalf("round %d: sql-client ended by itself:\n%s", k, indent(c.output()))
		}
		c.kill()
		sp := newestSavepoint(svs)
		switch {
		case sp != before && sp != "":
			written++
			fromSavepoint++
			restore = sp
		default:
			if k%3 == 0 {
				t.Fatalf("round %d: STOP returned but wrote no savepoint:\n%s", k, indent(c.output()))
			}
			during++
			if p := latestCheckpoint(ckpts); p != "" && (restore == "" || newer(p, restore)) {
				restore = p
			}
		}
	}
	total := f.end()
	c := startShell(t, dir, restore, body)
	defer c.kill()
	totals := scenario{topic: "totals", upsert: true, key: []string{"user_id"}, val: []string{"cnt", "total"},
		want: func(total int) map[string]expect {
			cnt, sum := make([]int, users), make([]int, users)
			for i := range total {
				cnt[i%users]++
				sum[i%users] += i % 7
			}
			want := map[string]expect{}
			for u := range users {
				want[row(u)] = expect{row(cnt[u], sum[u]), true}
			}
			return want
		}}
	pairs := scenario{topic: "pairs", key: []string{"id"}, val: []string{"user_id", "amount"},
		want: func(total int) map[string]expect {
			want := map[string]expect{}
			for i := range total {
				want[row(i)] = expect{row(i%users, i%7), true}
			}
			return want
		}}
	for _, s := range []*scenario{&totals, &pairs} {
		want := s.want(total)
		var got tally
		waitFor(90*time.Second, func() bool {
			got = s.compare(t, addr, want)
			return got.lost == 0 && got.wrong == 0 && got.dups == 0
		})
		t.Logf("%s: %d rounds (%d savepoints written, %d kills while stopping, %d of them while the savepoint was written; %d restores from a savepoint), %d orders, %d rows read: %d lost, %d duplicated, %d wrong",
			s.topic, *kills, written, during, writing, fromSavepoint, total, got.rows, got.lost, got.dups, got.wrong)
		if got.lost > 0 || got.dups > 0 || got.wrong > 0 {
			t.Fatalf("%s: %d rows lost, %d duplicated, %d wrong (%s)\nlast client output:\n%s", s.topic, got.lost, got.dups, got.wrong, got.example, indent(c.output()))
		}
	}
	if written == 0 {
		t.Fatal("no STOP wrote its savepoint: the test restored from none")
	}
}

// newestSavepoint returns the newest complete savepoint directory under dir ("" when there is none).
func newestSavepoint(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	best, bestT := "", time.Time{}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "savepoint-") {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, e.Name(), state.MetadataFile))
		if err == nil && st.ModTime().After(bestT) {
			best, bestT = filepath.Join(dir, e.Name()), st.ModTime()
		}
	}
	return best
}

// inProgress reports whether a savepoint is being written under dir (state.WriteWithDirs' temporary
// directory).
func inProgress(dir string) bool {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "savepoint-") && strings.Contains(e.Name(), ".inprogress-") {
			return true
		}
	}
	return false
}

// newer reports whether checkpoint a was written after checkpoint b.
func newer(a, b string) bool {
	sa, err := os.Stat(filepath.Join(a, state.MetadataFile))
	if err != nil {
		return false
	}
	sb, err := os.Stat(filepath.Join(b, state.MetadataFile))
	return err != nil || sa.ModTime().After(sb.ModTime())
}

// shell is a sql-client process reading statements from its standard input (so that a test can send STOP
// JOB to the job its script submitted).
type shell struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

var jobIDLine = regexp.MustCompile(`Job ID: (\S+)`)

// startShell starts a sql-client (the shell, not -f) and sends it body, restored from restore when set.
func startShell(t *testing.T, dir, restore, body string) *shell {
	t.Helper()
	if *noRestore {
		restore = "" // the deliberate bug: every run starts over
	}
	c := &shell{cmd: exec.Command(clientBin), done: make(chan struct{})}
	c.cmd.Dir = dir
	c.cmd.Stdout, c.cmd.Stderr = (*shellOut)(c), (*shellOut)(c)
	in, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.in = in
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		// a client built with -crash.race prints its reports before it is killed
		if out := c.output(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("sql-client reported a data race:\n%s", out[strings.Index(out, "WARNING: DATA RACE"):])
		}
	})
	if restore != "" {
		body = "SET 'execution.savepoint.path' = '" + restore + "';\n" + body
	}
	c.send(body + "\n")
	return c
}

type shellOut shell

func (w *shellOut) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func (c *shell) send(s string) { _, _ = io.WriteString(c.in, s) }

func (c *shell) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *shell) jobID() string {
	if m := jobIDLine.FindStringSubmatch(c.output()); m != nil {
		return m[1]
	}
	return ""
}

func (c *shell) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (c *shell) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-c.done
}
