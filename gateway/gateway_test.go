package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startGateway serves a gateway on a free loopback port and returns its base URL.
func startGateway(t *testing.T, cfg Config) string {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Stdout == nil {
		cfg.Stdout, cfg.Stderr = io.Discard, io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		New(cfg).Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + l.Addr().String()
}

type client struct {
	t     *testing.T
	base  string
	token string
}

// do sends a request and decodes the JSON answer; it returns the status code.
func (c *client) do(method, path, body string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Fatalf("%s %s: Content-Type %q, body %s", method, path, ct, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (c *client) open(props map[string]string) string {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"properties": props})
	var out struct{ SessionHandle string }
	if code := c.do("POST", "/v1/sessions", string(b), &out); code != 200 || out.SessionHandle == "" {
		c.t.Fatalf("open session: %d %+v", code, out)
	}
	return out.SessionHandle
}

func (c *client) submit(sess, stmt string) string {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"statement": stmt})
	var out struct{ OperationHandle string }
	if code := c.do("POST", "/v1/sessions/"+sess+"/statements", string(b), &out); code != 200 || out.OperationHandle == "" {
		c.t.Fatalf("submit %q: %d", stmt, code)
	}
	return out.OperationHandle
}

type fetched struct {
	ResultType    string
	IsQueryResult bool
	JobID         string
	ResultKind    string
	Results       struct {
		Columns []struct {
			Name        string
			LogicalType struct {
				Type     string
				Nullable bool
				SQL      string
			}
		}
		RowFormat string
		Data      []struct {
			Kind   string
			Fields []any
		}
	}
	NextResultURI string
	Errors        []string
	Line, Column  int
}

// fetchAll follows nextResultUri until EOS and returns the pages' rows as "KIND f1,f2" lines.
func (c *client) fetchAll(sess, op string, maxRows int) (rows []string, pages int) {
	c.t.Helper()
	uri := fmt.Sprintf("/v1/sessions/%s/operations/%s/result/0?rowFormat=JSON&maxRows=%d", sess, op, maxRows)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var f fetched
		if code := c.do("GET", uri, "", &f); code != 200 {
			c.t.Fatalf("fetch %s: %d %v", uri, code, f.Errors)
		}
		switch f.ResultType {
		case "EOS":
			return rows, pages
		case "PAYLOAD":
			pages++
			if len(f.Data()) > maxRows {
				c.t.Fatalf("page of %d rows, asked for at most %d", len(f.Data()), maxRows)
			}
			for _, d := range f.Results.Data {
				var s []string
				for _, v := range d.Fields {
					s = append(s, fmt.Sprint(v))
				}
				rows = append(rows, d.Kind+" "+strings.Join(s, ","))
			}
		case "NOT_READY":
		default:
			c.t.Fatalf("resultType %q", f.ResultType)
		}
		if f.NextResultURI == "" {
			c.t.Fatalf("%s without nextResultUri", f.ResultType)
		}
		if !strings.Contains(f.NextResultURI, "rowFormat=JSON") {
			c.t.Fatalf("nextResultUri %q", f.NextResultURI)
		}
		uri = f.NextResultURI + fmt.Sprintf("&maxRows=%d", maxRows)
	}
	c.t.Fatal("no EOS within 20s")
	return nil, 0
}

func (f *fetched) Data() []struct {
	Kind   string
	Fields []any
} {
	return f.Results.Data
}

func (c *client) status(sess, op string) string {
	c.t.Helper()
	var out struct{ Status string }
	if code := c.do("GET", "/v1/sessions/"+sess+"/operations/"+op+"/status", "", &out); code != 200 {
		c.t.Fatalf("status: %d", code)
	}
	return out.Status
}

func TestInfoAndVersions(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	var info map[string]string
	if code := c.do("GET", "/v1/info", "", &info); code != 200 || info["productName"] != "Sluice" || info["version"] == "" {
		t.Fatalf("info: %d %v", code, info)
	}
	var v struct{ Versions []string }
	if code := c.do("GET", "/v1/api_versions", "", &v); code != 200 || strings.Join(v.Versions, ",") != "V1,V2" {
		t.Fatalf("api_versions: %d %v", code, v)
	}
}

func TestStatementsAndPagedResults(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(map[string]string{"table.local-time-zone": "UTC"})
	var props struct{ Properties map[string]string }
	if code := c.do("GET", "/v1/sessions/"+s, "", &props); code != 200 || props.Properties["table.local-time-zone"] != "UTC" {
		t.Fatalf("session properties: %d %v", code, props)
	}
	ddl := c.submit(s, "CREATE TABLE nums (n INT, name STRING) WITH ('connector' = 'datagen', 'fields.n.kind' = 'sequence', 'fields.n.start' = '1', 'fields.n.end' = '7', 'fields.name.length' = '3')")
	rows, _ := c.fetchAll(s, ddl, 10)
	if strings.Join(rows, ";") != "INSERT OK" {
		t.Fatalf("DDL result %q", rows)
	}
	if st := c.status(s, ddl); st != "FINISHED" {
		t.Fatalf("DDL status %s", st)
	}
	// A streaming aggregate: updates come as UPDATE_BEFORE/UPDATE_AFTER, in pages of at most 2 rows.
	q := c.submit(s, "SELECT n % 2 AS odd, COUNT(*) AS c FROM nums GROUP BY n % 2")
	rows, pages := c.fetchAll(s, q, 2)
	final := map[string]string{}
	kinds := map[string]int{}
	for _, r := range rows {
		kind, rest, _ := strings.Cut(r, " ")
		kinds[kind]++
		k, v, _ := strings.Cut(rest, ",")
		switch kind {
		case "INSERT", "UPDATE_AFTER":
			final[k] = v
		case "UPDATE_BEFORE", "DELETE":
			delete(final, k)
		}
	}
	if final["1"] != "4" || final["0"] != "3" || len(final) != 2 {
		t.Fatalf("final counts %v from %q", final, rows)
	}
	if kinds["UPDATE_BEFORE"] == 0 || kinds["UPDATE_AFTER"] != kinds["UPDATE_BEFORE"] || pages < (len(rows)+1)/2 {
		t.Fatalf("kinds %v pages %d rows %d", kinds, pages, len(rows))
	}
	if st := c.status(s, q); st != "FINISHED" {
		t.Fatalf("query status %s", st)
	}
	// The column types: Flink's logical type root names, and the SQL text.
	var f fetched
	c.do("GET", "/v1/sessions/"+s+"/operations/"+q+"/result/0?rowFormat=JSON", "", &f)
	if f.Results.RowFormat != "" || len(f.Errors) == 0 {
		// token 0 is gone once later pages were cut
		t.Fatalf("old token served: %+v", f)
	}
	q2 := c.submit(s, "SELECT n, name FROM nums WHERE n = 1")
	var first fetched
	for i := 0; i < 50; i++ {
		c.do("GET", "/v1/sessions/"+s+"/operations/"+q2+"/result/0?rowFormat=JSON", "", &first)
		if first.ResultType != "NOT_READY" {
			break
		}
	}
	if first.ResultType != "PAYLOAD" || !first.IsQueryResult || len(first.Results.Columns) != 2 ||
		first.Results.Columns[0].LogicalType.Type != "INTEGER" || first.Results.Columns[1].LogicalType.Type != "VARCHAR" ||
		first.Results.Columns[1].LogicalType.SQL != "STRING" {
		t.Fatalf("first page %+v", first)
	}
	// The same token again is the same page (a client may retry).
	var again fetched
	c.do("GET", "/v1/sessions/"+s+"/operations/"+q2+"/result/0?rowFormat=JSON", "", &again)
	if again.ResultType != first.ResultType || len(again.Results.Data) != len(first.Results.Data) {
		t.Fatalf("refetch: %+v vs %+v", again, first)
	}
	if code := c.do("DELETE", "/v1/sessions/"+s+"/operations/"+q2+"/close", "", nil); code != 200 {
		t.Fatalf("close operation: %d", code)
	}
	if code := c.do("GET", "/v1/sessions/"+s+"/operations/"+q2+"/status", "", &f); code != 404 {
		t.Fatalf("closed operation status: %d", code)
	}
	if code := c.do("DELETE", "/v1/sessions/"+s, "", nil); code != 200 {
		t.Fatalf("close session: %d", code)
	}
	if code := c.do("GET", "/v1/sessions/"+s, "", nil); code != 404 {
		t.Fatalf("closed session: %d", code)
	}
}

const unboundedDDL = "CREATE TABLE src (n BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200')"

// TestJobsOutliveOperations: an INSERT's job keeps running after its operation is closed and after the
// client is gone; a second session cannot stop it; its own session can.
func TestJobsOutliveOperations(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(nil)
	for _, st := range []string{unboundedDDL, "CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')"} {
		c.fetchAll(s, c.submit(s, st), 10)
	}
	ins := c.submit(s, "INSERT INTO sink SELECT n FROM src")
	var f fetched
	for i := 0; i < 50 && f.ResultType != "PAYLOAD"; i++ {
		c.do("GET", "/v1/sessions/"+s+"/operations/"+ins+"/result/0", "", &f)
	}
	if f.JobID == "" || len(f.Results.Data) != 1 || f.Results.Data[0].Fields[0] != f.JobID {
		t.Fatalf("INSERT result %+v", f)
	}
	job := f.JobID
	c.do("DELETE", "/v1/sessions/"+s+"/operations/"+ins+"/close", "", nil)
	time.Sleep(100 * time.Millisecond)
	var jobs struct {
		Jobs []struct{ JobID, JobName, Status string }
	}
	if code := c.do("GET", "/v1/sessions/"+s+"/jobs", "", &jobs); code != 200 || len(jobs.Jobs) != 1 || jobs.Jobs[0].Status != "RUNNING" || jobs.Jobs[0].JobID != job {
		t.Fatalf("jobs: %d %+v", code, jobs)
	}
	// Another session can neither stop it by REST nor by STOP JOB.
	other := c.open(nil)
	var e fetched
	if code := c.do("POST", "/v1/sessions/"+other+"/jobs/"+job+"/cancel", "", &e); code != 403 || !strings.Contains(e.Errors[0], "another session") {
		t.Fatalf("cancel from another session: %d %v", code, e.Errors)
	}
	stop := c.submit(other, "STOP JOB '"+job+"'")
	if code := c.do("GET", "/v1/sessions/"+other+"/operations/"+stop+"/result/0", "", &e); code != 400 || len(e.Errors) == 0 {
		t.Fatalf("STOP JOB from another session: %d %+v", code, e)
	}
	c.do("GET", "/v1/sessions/"+s+"/jobs", "", &jobs)
	if jobs.Jobs[0].Status != "RUNNING" {
		t.Fatalf("job stopped by another session: %+v", jobs)
	}
	// Its own session stops it.
	var jb struct{ JobID, Status string }
	if code := c.do("POST", "/v1/sessions/"+s+"/jobs/"+job+"/cancel", "", &jb); code != 200 || jb.Status != "CANCELED" {
		t.Fatalf("cancel: %d %+v", code, jb)
	}
}

// TestCancelQuery: cancelling a running unbounded query stops it; its status says so.
func TestCancelQuery(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(nil)
	c.fetchAll(s, c.submit(s, unboundedDDL), 10)
	q := c.submit(s, "SELECT n FROM src")
	var f fetched
	for i := 0; i < 50 && f.ResultType != "PAYLOAD"; i++ {
		c.do("GET", "/v1/sessions/"+s+"/operations/"+q+"/result/0?maxRows=5", "", &f)
	}
	if f.ResultType != "PAYLOAD" || f.NextResultURI == "" {
		t.Fatalf("unbounded query page %+v", f)
	}
	var st struct{ Status string }
	if code := c.do("POST", "/v1/sessions/"+s+"/operations/"+q+"/cancel", "", &st); code != 200 || st.Status != "CANCELED" {
		t.Fatalf("cancel: %d %v", code, st)
	}
	if got := c.status(s, q); got != "CANCELED" {
		t.Fatalf("status after cancel %s", got)
	}
}

func TestBadInput(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(nil)
	c.fetchAll(s, c.submit(s, unboundedDDL), 10)
	q := c.submit(s, "SELECT n FROM src")
	for _, tc := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"POST", "/v1/sessions", "{not json", 400, "could not parse the JSON body"},
		{"POST", "/v1/sessions", `{"properties": {"execution.runtime-mode": "sideways"}}`, 400, "sideways"},
		{"POST", "/v1/sessions", `{"propertys": {}}`, 400, "unknown field"},
		{"POST", "/v1/sessions/" + s + "/statements", `{"statement": 1}`, 400, "could not parse"},
		{"POST", "/v1/sessions/" + s + "/statements", `{}`, 400, "non-empty \"statement\""},
		{"POST", "/v1/sessions/" + s + "/statements", `{"statement": "` + strings.Repeat("x", 2<<20) + `"}`, 413, "larger than"},
		{"GET", "/v1/sessions/nope", "", 404, "Session 'nope' does not exist"},
		{"POST", "/v1/sessions/nope/statements", `{"statement": "SHOW TABLES"}`, 404, "does not exist"},
		{"GET", "/v1/sessions/" + s + "/operations/nope/status", "", 404, "Operation 'nope' does not exist"},
		{"GET", "/v1/sessions/" + s + "/operations/" + q + "/result/0?maxRows=1000000", "", 400, "too large"},
		{"GET", "/v1/sessions/" + s + "/operations/" + q + "/result/0?maxRows=-1", "", 400, "Bad maxRows"},
		{"GET", "/v1/sessions/" + s + "/operations/" + q + "/result/x", "", 400, "Bad token"},
		{"GET", "/v1/sessions/" + s + "/operations/" + q + "/result/7", "", 400, "not valid"},
		{"GET", "/v1/sessions/" + s + "/operations/" + q + "/result/0?rowFormat=PLAIN_TEXT", "", 400, "rowFormat"},
		{"GET", "/v1/nothing", "", 404, "Not found"},
		{"POST", "/v1/sessions/" + s + "/jobs/abc/cancel", "", 404, "does not exist"},
	} {
		var e fetched
		code := c.do(tc.method, tc.path, tc.body, &e)
		if code != tc.code || len(e.Errors) == 0 || !strings.Contains(e.Errors[0], tc.msg) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path[:min(len(tc.path), 80)], code, e.Errors, tc.code, tc.msg)
		}
	}
	// A SQL error: 400 with its message and position.
	bad := c.submit(s, "SELECT\n  nosuch FROM src")
	var e fetched
	if code := c.do("GET", "/v1/sessions/"+s+"/operations/"+bad+"/result/0", "", &e); code != 400 || e.Line != 2 || e.Column != 3 || !strings.Contains(e.Errors[0], "nosuch") {
		t.Fatalf("SQL error: %d %+v", code, e)
	}
	if got := c.status(s, bad); got != "ERROR" {
		t.Fatalf("failed statement status %s", got)
	}
	// The query kept running through all of it.
	if got := c.status(s, q); got != "RUNNING" {
		t.Fatalf("query status after bad requests: %s", got)
	}
	var f fetched
	if code := c.do("GET", "/v1/sessions/"+s+"/operations/"+q+"/result/0?maxRows=3", "", &f); code != 200 || f.ResultType == "EOS" {
		t.Fatalf("query after bad requests: %d %+v", code, f)
	}
}

func TestToken(t *testing.T) {
	base := startGateway(t, Config{Token: "s3cret"})
	var e fetched
	for _, tok := range []string{"", "wrong"} {
		c := &client{t: t, base: base, token: tok}
		if code := c.do("GET", "/v1/info", "", &e); code != 401 || !strings.Contains(e.Errors[0], "Bearer") {
			t.Fatalf("token %q: %d %v", tok, code, e.Errors)
		}
	}
	c := &client{t: t, base: base, token: "s3cret"}
	if code := c.do("GET", "/v1/info", "", nil); code != 200 {
		t.Fatalf("with token: %d", code)
	}
	_ = bytes.MinRead
}

// TestPrometheusProperty: 'metrics.reporter.prom.port' as a session property starts the session's
// Prometheus endpoint; a running job's counters move there.
func TestPrometheusProperty(t *testing.T) {
	c := &client{t: t, base: startGateway(t, Config{})}
	s := c.open(map[string]string{"metrics.reporter.prom.port": "0"})
	for _, st := range []string{unboundedDDL, "CREATE TABLE sink (n BIGINT) WITH ('connector' = 'blackhole')", "INSERT INTO sink SELECT n FROM src"} {
		c.fetchAll(s, c.submit(s, st), 10)
	}
	var sess struct{ MetricsAddress string }
	if code := c.do("GET", "/v1/sessions/"+s, "", &sess); code != 200 || !strings.HasPrefix(sess.MetricsAddress, "127.0.0.1:") {
		t.Fatalf("session: %d %+v", code, sess)
	}
	scrape := func() float64 {
		resp, err := http.Get("http://" + sess.MetricsAddress + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		total := 0.0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "flink_taskmanager_job_task_operator_numRecordsOut{") {
				var v float64
				fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v)
				total += v
			}
		}
		return total
	}
	first := scrape()
	deadline := time.Now().Add(10 * time.Second)
	for scrape() <= first {
		if time.Now().After(deadline) {
			t.Fatalf("numRecordsOut did not move from %v", first)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
