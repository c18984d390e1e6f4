package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// scrape reads the endpoint and returns the samples: "name{labels}" → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", l)
		}
		out[l[:i]] = v
	}
	return out
}

func execSQL(t *testing.T, s *Session, q string) *Result {
	t.Helper()
	st, err := sql.ParseStatement(q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(context.Background(), st)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// The endpoint serves a running job's counters under Flink's names and labels, and they move.
func TestPrometheusEndpoint(t *testing.T) {
	var notice bytes.Buffer
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: &notice, TempDir: t.TempDir(),
		Options: map[string]string{"metrics.reporter.prom.port": "0"}}) // as -D or a DSN option
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer s.CancelJobs()
	addr := s.MetricsAddr()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("endpoint on %q, want 127.0.0.1", addr)
	}
	if !strings.Contains(notice.String(), "http://"+addr+"/metrics") {
		t.Fatalf("the session does not say where its endpoint is: %q", notice.String())
	}
	execSQL(t, s, `SET 'execution.checkpointing.interval' = '100 ms'`)
	execSQL(t, s, `CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '500')`)
	execSQL(t, s, `CREATE TABLE hole (id BIGINT) WITH ('connector' = 'blackhole')`)
	execSQL(t, s, `SET 'pipeline.name' = 'prom-test'`)
	job := execSQL(t, s, `INSERT INTO hole SELECT id FROM src WHERE id % 2 = 0`).Job
	// Label values are filtered as Flink's reporter filters them by default: "Calc[2]" is "Calc_2_".
	op := func(name, opName string) string {
		return `flink_taskmanager_job_task_operator_` + name + `{job_id="` + job.ID() + `",job_name="prom_test",operator_id="` +
			opName[strings.IndexByte(opName, '[')+1:len(opName)-1] + `",operator_name="` + filterLabelValue(opName) + `",subtask_index="0"}`
	}
	jobm := func(name string) string {
		return `flink_jobmanager_job_` + name + `{job_id="` + job.ID() + `",job_name="prom_test"}`
	}
	want := []string{
		op("numRecordsIn", "TableSourceScan[1]"), op("numRecordsOut", "TableSourceScan[1]"),
		op("numRecordsIn", "Calc[2]"), op("numRecordsOut", "Calc[2]"), op("numRecordsIn", "Sink[3]"), op("numRecordsOut", "Sink[3]"),
		op("numRecordsInPerSecond", "Calc[2]"), op("numRecordsOutPerSecond", "Calc[2]"),
		op("currentInputWatermark", "Sink[3]"), op("currentOutputWatermark", "Calc[2]"),
		jobm("numRestarts"), jobm("lastCheckpointDuration"), jobm("lastCheckpointSize"),
		jobm("numberOfCompletedCheckpoints"), jobm("numberOfFailedCheckpoints"), jobm("uptime"),
	}
	var first, last map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m := scrape(t, addr)
		if _, ok := m[want[0]]; ok && first == nil {
			first = m
		}
		last = m
		if first != nil && m[op("numRecordsOut", "Sink[3]")] > first[op("numRecordsOut", "Sink[3]")] &&
			m[op("numRecordsInPerSecond", "Calc[2]")] > 0 && m[jobm("numberOfCompletedCheckpoints")] > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if first == nil {
		t.Fatalf("no job metrics in the scrape:\n%v", last)
	}
	for _, k := range want {
		if _, ok := last[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	if t.Failed() {
		t.Fatalf("scrape:\n%v", last)
	}
	if !(last[op("numRecordsOut", "Sink[3]")] > first[op("numRecordsOut", "Sink[3]")]) {
		t.Fatalf("numRecordsOut of the sink did not move: %v then %v", first[op("numRecordsOut", "Sink[3]")], last[op("numRecordsOut", "Sink[3]")])
	}
	if last[op("numRecordsInPerSecond", "Calc[2]")] <= 0 || last[jobm("numberOfCompletedCheckpoints")] <= 0 {
		t.Fatalf("rate %v, completed checkpoints %v: want both > 0", last[op("numRecordsInPerSecond", "Calc[2]")], last[jobm("numberOfCompletedCheckpoints")])
	}
	// The Calc filters half the rows; a source's rows in are its rows out.
	if in, out := last[op("numRecordsIn", "TableSourceScan[1]")], last[op("numRecordsOut", "TableSourceScan[1]")]; in != out {
		t.Fatalf("source in %v, out %v", in, out)
	}
	if w := last[op("currentInputWatermark", "Sink[3]")]; w != float64(NoWatermark) {
		t.Fatalf("watermark %v without a watermark strategy, want Long.MIN_VALUE", w)
	}
	// The native API has the same numbers.
	if m := job.Metrics(); m.RowsOut < int64(last[op("numRecordsIn", "Sink[3]")]) || len(m.Operators) != 3 {
		t.Fatalf("Job.Metrics %+v behind the scrape", m)
	}
	// With 'filterLabelValueCharacters' off, label values are as they are.
	execSQL(t, s, `SET 'metrics.reporter.prom.filterLabelValueCharacters' = 'false'`)
	raw := `flink_taskmanager_job_task_operator_numRecordsIn{job_id="` + job.ID() + `",job_name="prom-test",operator_id="2",operator_name="Calc[2]",subtask_index="0"}`
	if _, ok := scrape(t, addr)[raw]; !ok {
		t.Fatalf("no %s with the filter off", raw)
	}
	// A job that ended is dropped, as Flink does.
	job.Cancel()
	if m := scrape(t, addr); len(m) != 0 {
		t.Fatalf("metrics of a cancelled job are still served: %v", m)
	}
}

// The option is checked when it is set: a bad value or a port in use is the statement's error; RESET stops
// the endpoint.
func TestPrometheusPortOption(t *testing.T) {
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	for q, msg := range map[string]string{
		`SET 'metrics.reporter.prom.port' = 'http'`:         "Invalid value for option 'metrics.reporter.prom.port': 'http' is not a port",
		`SET 'metrics.reporter.prom.port' = '9300-9200'`:    "is not a port range",
		`SET 'metrics.reporter.prom.port' = '` + port + `'`: "cannot listen on 127.0.0.1",
	} {
		st, _ := sql.ParseStatement(q)
		if _, err := s.Execute(context.Background(), st); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", q, err, msg)
		}
		if s.MetricsAddr() != "" {
			t.Fatalf("%s: an endpoint runs after the error", q)
		}
		if _, set := s.Option("metrics.reporter.prom.port"); set {
			t.Fatalf("%s: the refused value is stored", q)
		}
	}
	// A range whose first port is taken: the next one.
	p, _ := strconv.Atoi(port)
	execSQL(t, s, `SET 'metrics.reporter.prom.port' = '`+port+`-`+strconv.Itoa(p+20)+`'`)
	addr := s.MetricsAddr()
	if addr == "" || addr == busy.Addr().String() {
		t.Fatalf("endpoint at %q with %s busy", addr, busy.Addr())
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err != nil {
		t.Fatal(err)
	}
	execSQL(t, s, `RESET 'metrics.reporter.prom.port'`)
	if s.MetricsAddr() != "" {
		t.Fatal("RESET left the endpoint running")
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("the endpoint still answers after RESET")
	}
}
