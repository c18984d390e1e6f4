package client

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that the test reads while the client writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sql-client --web serves the dashboard of the embedded session: its jobs are in the dashboard's API, which
// the token protects.
func TestWebDashboardOfEmbeddedSession(t *testing.T) {
	file := filepath.Join(t.TempDir(), "script.sql")
	script := `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '500');
CREATE TABLE out_t (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO out_t SELECT id FROM src;
`
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	var out, errb lockedBuffer
	done := make(chan int)
	go func() {
		done <- Main(Config{Args: []string{"--web", "127.0.0.1:0", "--token", "t0k", "-f", file}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Signals: sigs})
	}()
	defer func() {
		sigs <- os.Interrupt
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the client did not stop within 10s of the interrupt")
		}
	}()
	addrRE := regexp.MustCompile(`\[INFO\] Web dashboard: (http://127\.0\.0\.1:[0-9]+)/ui/`)
	get := func(path, token string, v any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if v != nil {
			json.NewDecoder(resp.Body).Decode(v)
		}
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("no running job with rows in the dashboard within 15s\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
		m := addrRE.FindStringSubmatch(errb.String())
		if m == nil {
			continue
		}
		if code := get(m[1]+"/api/jobs", "", nil); code != http.StatusUnauthorized {
			t.Fatalf("GET /api/jobs without the token: %d", code)
		}
		var list struct {
			Jobs []struct {
				ID, Name, Status string
				RowsIn           int64
			}
		}
		if code := get(m[1]+"/api/jobs", "t0k", &list); code != 200 {
			t.Fatalf("GET /api/jobs: %d", code)
		}
		if len(list.Jobs) != 1 || list.Jobs[0].RowsIn == 0 {
			continue
		}
		j := list.Jobs[0]
		if j.Name != "insert-into_out_t" || j.Status != "RUNNING" || !strings.Contains(out.String(), "Job ID: "+j.ID) {
			t.Fatalf("dashboard job %+v; stdout:\n%s", j, out.String())
		}
		var detail struct{ Operators []struct{ Name string } }
		if code := get(m[1]+"/api/jobs/"+j.ID, "t0k", &detail); code != 200 || len(detail.Operators) < 2 || detail.Operators[0].Name != "TableSourceScan[1]" {
			t.Fatalf("GET /api/jobs/%s: %d %+v", j.ID, code, detail)
		}
		return
	}
}

func TestWebFlagRefusedInGatewayMode(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(Config{Args: []string{"gateway", "--endpoint", "127.0.0.1:1", "--web", "127.0.0.1:0"}, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	if code != 2 || !strings.Contains(errb.String(), "--web is for embedded sessions") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
}
