package gateway

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSessionIdleTimeout: a session that no request names for longer than 'sql-gateway.session.idle-timeout'
// is closed (later requests get 404 saying it may have expired, and the gateway logs it); a session kept alive
// by heartbeats stays, and so does an idle session with a running job (closing it would cancel the job).
func TestSessionIdleTimeout(t *testing.T) {
	var logw logBuf
	base := startGateway(t, Config{IdleTimeout: time.Second, CheckInterval: 20 * time.Millisecond, Stdout: &logw, Stderr: &logw})
	c := &client{t: t, base: base}
	idle, beating, withJob := c.open(nil), c.open(nil), c.open(nil)
	stmt, _ := json.Marshal(map[string]string{"statement": `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10');
CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT id FROM src;`})
	if code := c.do("POST", "/v1/sessions/"+withJob+"/statements", string(stmt), nil); code != 200 {
		t.Fatalf("submit: %d", code)
	}
	running := func() bool {
		var out struct{ Jobs []jobBody }
		c.do("GET", "/v1/sessions/"+withJob+"/jobs", "", &out)
		return len(out.Jobs) == 1 && out.Jobs[0].Status == "RUNNING"
	}
	for deadline := time.Now().Add(10 * time.Second); !running(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the job did not start")
		}
	}
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if code := c.do("POST", "/v1/sessions/"+beating+"/heartbeat", "", nil); code != 200 {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	var e errorBody
	if code := c.do("GET", "/v1/sessions/"+idle, "", &e); code != 404 || !strings.Contains(e.Errors[0], "idle-timeout") {
		t.Fatalf("the idle session: %d %v", code, e.Errors)
	}
	if code := c.do("GET", "/v1/sessions/"+beating, "", nil); code != 200 {
		t.Fatalf("the session with heartbeats expired: %d", code)
	}
	if code := c.do("GET", "/v1/sessions/"+withJob, "", nil); code != 200 || !running() {
		t.Fatalf("the session with a running job expired (%d) or its job stopped", code)
	}
	if !strings.Contains(logw.String(), "[INFO] Session "+idle+" was idle for more than 1 s") {
		t.Fatalf("no log line for the expired session:\n%s", logw.String())
	}
}

// TestParseGatewayOptions: the 'sql-gateway.*' -D keys configure the gateway and leave the session defaults;
// bad values and unknown keys are refused, naming the key.
func TestParseGatewayOptions(t *testing.T) {
	opts := map[string]string{"sql-gateway.session.idle-timeout": "30 s", "execution.runtime-mode": "batch"}
	var cfg Config
	if err := cfg.ParseOptions(opts); err != nil {
		t.Fatal(err)
	}
	if cfg.IdleTimeout != 30*time.Second || cfg.CheckInterval != DefaultCheckInterval || len(opts) != 1 || opts["execution.runtime-mode"] != "batch" {
		t.Fatalf("cfg %+v, opts %v", cfg, opts)
	}
	for in, want := range map[string]string{
		"sql-gateway.session.idle-timeout=soon":   "Invalid value for option 'sql-gateway.session.idle-timeout'",
		"sql-gateway.session.check-interval=0 s":  "Invalid value for option 'sql-gateway.session.check-interval'",
		"sql-gateway.endpoint.rest.port=8083":     "Unsupported gateway option 'sql-gateway.endpoint.rest.port'",
		"sql-gateway.session.idle-timeout=0 ms":   "",
		"sql-gateway.session.check-interval=10 s": "",
	} {
		k, v, _ := strings.Cut(in, "=")
		err := (&Config{}).ParseOptions(map[string]string{k: v})
		if (want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}
