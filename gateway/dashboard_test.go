package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The dashboard's running job: a keyed aggregate over an unbounded datagen source into a blackhole, with
// checkpoints every 200 ms.
const (
	dashSourceDDL = "CREATE TABLE src (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '400', 'fields.k.min' = '1', 'fields.k.max' = '4')"
	dashSinkDDL   = "CREATE TABLE sink (k INT, c BIGINT) WITH ('connector' = 'blackhole')"
	dashInsert    = "INSERT INTO sink SELECT k, COUNT(*) FROM src GROUP BY k"
	dashFailing   = "INSERT INTO sink SELECT CAST(9999999999 AS INT), 1"
)

// startJob runs the statements in session s and returns the job id of the last one (an INSERT).
func (c *client) startJob(s string, stmts ...string) string {
	c.t.Helper()
	for _, st := range stmts[:len(stmts)-1] {
		c.fetchAll(s, c.submit(s, st), 10)
	}
	op := c.submit(s, stmts[len(stmts)-1])
	var f fetched
	for i := 0; i < 50 && f.ResultType != "PAYLOAD"; i++ {
		if code := c.do("GET", "/v1/sessions/"+s+"/operations/"+op+"/result/0", "", &f); code != 200 {
			c.t.Fatalf("INSERT: %d %v", code, f.Errors)
		}
	}
	if f.JobID == "" {
		c.t.Fatalf("INSERT result %+v", f)
	}
	return f.JobID
}

type dashJobJSON struct {
	ID, Name, Status string
	RowsIn, RowsOut  int64
	Lag, Watermark   *int64
	LastCheckpoint   *struct{ ID int64 }
	Failure          *struct{ RootCause, Error, Origin string }
	Statement        string
	Checkpoints      []struct {
		ID         int64
		DurationMs float64
		Bytes      int64
	}
	CompletedCheckpoints int
	Operators            []struct {
		ID                      int
		Name, ChangelogMode     string
		RecordsIn, RecordsOut   int64
		Inputs                  []int
		InputWatermark, Lag     *int64
		RecordsOutPerSecond     float64
		Description             string
		OutputWatermark, LagMax *int64
		RecordsInPerSecond      float64
	}
	Errors []string
}

// waitJob polls GET /api/jobs/<id> until ok accepts it.
func (c *client) waitJob(id string, what string, ok func(j *dashJobJSON) bool) *dashJobJSON {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var j dashJobJSON
		if code := c.do("GET", "/api/jobs/"+id, "", &j); code != 200 {
			c.t.Fatalf("GET /api/jobs/%s: %d %v", id, code, j.Errors)
		}
		if ok(&j) {
			return &j
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s: no %s within 15s: %+v", id, what, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDashboardNoJobs(t *testing.T) {
	base := startGateway(t, Config{})
	c := &client{t: t, base: base}
	var list struct{ Jobs []dashJobJSON }
	if code := c.do("GET", "/api/jobs", "", &list); code != 200 || list.Jobs == nil || len(list.Jobs) != 0 {
		t.Fatalf("GET /api/jobs with no jobs: %d %+v", code, list)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]string{"/ui/": `<script src="app.js"`, "/ui/app.js": "function planGraph", "/ui/style.css": "svg .op rect"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, want %q in %.200s", path, resp.StatusCode, want, body)
		}
	}
}

func TestDashboardBadInput(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	var e fetched
	if code := c.do("GET", "/api/jobs/0123456789abcdef", "", &e); code != 404 || len(e.Errors) != 1 || !strings.Contains(e.Errors[0], "Job '0123456789abcdef' does not exist") {
		t.Fatalf("unknown job: %d %v", code, e.Errors)
	}
	if code := c.do("GET", "/api/nothing", "", &e); code != 404 || !strings.Contains(e.Errors[0], "GET /api/jobs") {
		t.Fatalf("unknown API path: %d %v", code, e.Errors)
	}
	if code := c.do("POST", "/api/jobs", "{}", &e); code != 404 && code != 405 {
		t.Fatalf("POST /api/jobs: %d %v", code, e.Errors)
	}
}

func TestDashboardToken(t *testing.T) {
	base := startGateway(t, Config{Token: "s3cret"})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, cookie, bearer string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: cookieName(req), Value: cookie})
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, p := range []string{"/ui/", "/ui/app.js", "/api/jobs", "/api/jobs/x", "/", "/ui/?token=wrong"} {
		if r := get(p, "", ""); r.StatusCode != 401 {
			t.Fatalf("GET %s without the token: %d", p, r.StatusCode)
		}
	}
	for _, ck := range []string{"wrong", "s3cret"} { // the raw token is not a login cookie either
		if r := get("/api/jobs", ck, ""); r.StatusCode != 401 {
			t.Fatalf("cookie %q: %d", ck, r.StatusCode)
		}
	}
	r := get("/ui/?token=s3cret", "", "")
	var cookie *http.Cookie
	for _, ck := range r.Cookies() {
		if strings.HasPrefix(ck.Name, cookiePrefix) {
			cookie = ck
		}
	}
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/ui/" || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode ||
		strings.Contains(cookie.Value, "s3cret") || cookie.Name != cookiePrefix+base[strings.LastIndex(base, ":")+1:] {
		t.Fatalf("login: %d Location %q cookie %+v", r.StatusCode, r.Header.Get("Location"), cookie)
	}
	for _, p := range []string{"/ui/", "/api/jobs", "/v1/info"} {
		if r := get(p, cookie.Value, ""); r.StatusCode != 200 {
			t.Fatalf("GET %s with the cookie: %d", p, r.StatusCode)
		}
	}
	if r := get("/api/jobs", "", "s3cret"); r.StatusCode != 200 {
		t.Fatalf("GET /api/jobs with the bearer token: %d", r.StatusCode)
	}
}

// TestDashboardJobAPI: a running job's plan, counters, changelog modes and checkpoint history; a failed job's
// root cause and statement position.
func TestDashboardJobAPI(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(map[string]string{"execution.checkpointing.interval": "200ms"})
	id := c.startJob(s, dashSourceDDL, dashSinkDDL, dashInsert)
	j := c.waitJob(id, "rows and two checkpoints", func(j *dashJobJSON) bool { return j.RowsIn > 0 && len(j.Checkpoints) >= 2 })
	if j.Status != "RUNNING" || j.Name != "insert-into_sink" || j.Failure != nil || j.LastCheckpoint == nil || j.Statement != dashInsert {
		t.Fatalf("job: %+v", j)
	}
	if j.CompletedCheckpoints < len(j.Checkpoints) || j.Checkpoints[len(j.Checkpoints)-1].ID != j.LastCheckpoint.ID || j.Checkpoints[0].ID >= j.Checkpoints[1].ID {
		t.Fatalf("checkpoint history: %+v, last %+v, completed %d", j.Checkpoints, j.LastCheckpoint, j.CompletedCheckpoints)
	}
	var names, modes []string
	for i, o := range j.Operators {
		names, modes = append(names, o.Name), append(modes, o.ChangelogMode)
		if i > 0 && (len(o.Inputs) != 1 || o.Inputs[0] != j.Operators[i-1].ID) {
			t.Fatalf("operator %s inputs %v", o.Name, o.Inputs)
		}
		if o.Description == "" {
			t.Fatalf("operator %s without a description", o.Name)
		}
	}
	if got := strings.Join(names, " "); !strings.HasPrefix(got, "TableSourceScan[1] ") || !strings.Contains(got, "GroupAggregate[") || !strings.Contains(got, "Sink[") {
		t.Fatalf("operators: %s", got)
	}
	if modes[0] != "I" || modes[len(modes)-1] == "I" {
		t.Fatalf("changelog modes: %v of %v", modes, names)
	}
	if j.Operators[0].RecordsOut == 0 || len(j.Operators[0].Inputs) != 0 {
		t.Fatalf("source: %+v", j.Operators[0])
	}
	var list struct{ Jobs []dashJobJSON }
	if code := c.do("GET", "/api/jobs", "", &list); code != 200 || len(list.Jobs) != 1 || list.Jobs[0].ID != id || list.Jobs[0].RowsIn == 0 {
		t.Fatalf("GET /api/jobs: %d %+v", code, list)
	}

	// Another session without checkpoints (with them, the default restart strategy restarts it forever).
	s2 := c.open(nil)
	failed := c.startJob(s2, dashSinkDDL, dashFailing)
	f := c.waitJob(failed, "failure", func(j *dashJobJSON) bool { return j.Status == "FAILED" })
	if f.Failure == nil || f.Failure.RootCause != "value 9999999999 is out of range for INT" || f.Failure.Origin != "statement:1:1" || !strings.Contains(f.Failure.Error, f.Failure.RootCause) {
		t.Fatalf("failure: %+v", f.Failure)
	}
	// Newest first; the running job is unaffected.
	if code := c.do("GET", "/api/jobs", "", &list); code != 200 || len(list.Jobs) != 2 || list.Jobs[0].ID != failed || list.Jobs[1].Status != "RUNNING" || list.Jobs[0].Failure == nil {
		t.Fatalf("GET /api/jobs: %d %+v", code, list)
	}
}
