package gateway

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The dashboard in a real browser: headless Chromium (driven over the DevTools protocol, cdp_test.go) loads
// the pages, runs their JavaScript against a live gateway, and the tests read the DOM it rendered.

var (
	opNodeRE = regexp.MustCompile(`<g [^>]*class="op[ "][^>]*>`)
	attrRE   = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
)

// domOp is an operator box of the plan graph as the browser rendered it.
type domOp struct {
	name              string
	recordsIn, recOut int64
}

func renderedOps(t *testing.T, dom string) []domOp {
	t.Helper()
	var ops []domOp
	for _, tag := range opNodeRE.FindAllString(dom, -1) {
		a := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
			a[m[1]] = html.UnescapeString(m[2])
		}
		in, err1 := strconv.ParseInt(a["data-records-in"], 10, 64)
		out, err2 := strconv.ParseInt(a["data-records-out"], 10, 64)
		if err1 != nil || err2 != nil || a["data-op-name"] == "" {
			t.Fatalf("operator node without counters: %s", tag)
		}
		ops = append(ops, domOp{name: a["data-op-name"], recordsIn: in, recOut: out})
	}
	return ops
}

// mustContain fails unless dom has every one of want.
func mustContain(t *testing.T, page, dom string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(dom, w) {
			if len(dom) > 6000 {
				dom = "..." + dom[len(dom)-6000:]
			}
			t.Fatalf("%s: the rendered page lacks %q:\n%s", page, w, dom)
		}
	}
}

func TestDashboardInBrowser(t *testing.T) {
	b := startBrowser(t)
	base := startGateway(t, Config{})
	c := &client{t: t, base: base}

	// No jobs yet: the job list says so.
	b.open(base + "/")
	b.waitFor("job list without jobs", `document.getElementById("no-jobs")`)

	s := c.open(map[string]string{"execution.checkpointing.interval": "200ms"})
	id := c.startJob(s, dashSourceDDL, dashSinkDDL, dashInsert)
	api := c.waitJob(id, "rows at the sink and a checkpoint", func(j *dashJobJSON) bool {
		return j.RowsOut > 0 && len(j.Checkpoints) > 0
	})
	s2 := c.open(nil)
	failed := c.startJob(s2, dashSinkDDL, dashFailing)
	c.waitJob(failed, "failure", func(j *dashJobJSON) bool { return j.Status == "FAILED" })

	// The job list (refreshed by its poll): both jobs, with counters.
	dom := b.waitFor("job list", `document.querySelector('tr[data-job="`+failed+`"]') && document.querySelector('tr[data-job="`+id+`"] .rows-in').textContent !== "0"`)
	mustContain(t, "job list", dom, `id="jobs"`, "insert-into_sink", `status-RUNNING`, `status-FAILED`, `href="#/jobs/`+id+`"`)

	// The running job's page: one box per operator with its counters and changelog mode, the edges with
	// their rates, watermarks and the checkpoint history.
	b.open(base + "/ui/#/jobs/" + id)
	dom = b.waitFor("job page", `document.querySelectorAll("#plan g.op").length > 0 && document.getElementById("checkpoints")`)
	ops := renderedOps(t, dom)
	if len(ops) != len(api.Operators) {
		t.Fatalf("job page: %d operator nodes rendered, the job has %d:\n%s", len(ops), len(api.Operators), dom)
	}
	for i, o := range ops {
		if o.name != api.Operators[i].Name {
			t.Fatalf("operator node %d is %q, want %q", i, o.name, api.Operators[i].Name)
		}
	}
	if ops[0].recOut == 0 || ops[len(ops)-1].recordsIn == 0 {
		t.Fatalf("job page: the source and sink nodes show no rows: %+v", ops)
	}
	edges := strings.Count(dom, `class="edge" `)
	if edges != len(ops)-1 || strings.Count(dom, `class="edge-rate"`) != edges {
		t.Fatalf("job page: %d edges for %d operators in a chain", edges, len(ops))
	}
	mustContain(t, "job page", dom, `id="plan"`, `class="op-counters"`, ">[I]<", ">[I,UB,UA]<", "/s<",
		`id="watermarks"`, `class="checkpoint"`, `id="statement"`, dashInsert)
	if regexp.MustCompile(`class="op-counters"[^>]*>in [1-9]`).FindString(dom) == "" {
		t.Fatalf("job page: no operator box shows a non-zero rows-in count")
	}
	// The counters move: a later poll shows more rows at the source.
	b.waitFor("job page refresh", `Number(document.querySelector('#plan g.op[data-op="1"]').dataset.recordsOut) > `+strconv.FormatInt(ops[0].recOut, 10))

	// The failed job's page: its root cause and where its statement is.
	b.open(base + "/ui/#/jobs/" + failed)
	dom = b.waitFor("failed job page", `document.getElementById("root-cause")`)
	mustContain(t, "failed job page", dom, `id="root-cause">value 9999999999 is out of range for INT<`,
		`id="failure-origin">statement:1:1<`, `status-FAILED`)

	// An unknown job: the API's 404 message.
	b.open(base + "/ui/#/jobs/no-such-job")
	dom = b.waitFor("unknown job page", `document.getElementById("job-error")`)
	mustContain(t, "unknown job page", dom, "Job 'no-such-job' does not exist")

	// A query run from the page: the live result applies the changelog (the count of key 1 goes from 1 to
	// 2, its first row is retracted).
	const groupBy = "SELECT k, COUNT(*) AS c FROM (VALUES (1), (1), (2)) AS t(k) GROUP BY k"
	b.open(base + "/ui/#/query")
	b.waitFor("query page", `document.getElementById("run")`)
	b.eval(`document.getElementById("sql").value = "`+groupBy+`"; document.getElementById("run").click(); true`, nil)
	dom = b.waitFor("query result", `document.querySelector("#query-state .status-FINISHED")`)
	checkGroupBy := func(what, dom string) {
		t.Helper()
		mustContain(t, what, dom, `id="query-result"`, "<th>k</th><th>c</th>", "<tr><td>1</td><td>2</td></tr>",
			"<tr><td>2</td><td>1</td></tr>", "2 rows, 4 changes")
		if strings.Contains(dom, "<tr><td>1</td><td>1</td></tr>") {
			t.Fatalf("%s: the retracted row (1, 1) is still shown", what)
		}
	}
	checkGroupBy("query page", dom)

	// The result of an operation submitted elsewhere.
	s3 := c.open(nil)
	op := c.submit(s3, groupBy)
	b.open(base + "/ui/#/query?session=" + s3 + "&operation=" + op)
	dom = b.waitFor("watched query", `document.querySelector('#query-state[data-operation="`+op+`"] .status-FINISHED')`)
	checkGroupBy("watched query", dom)

	// A failing query shows its error.
	b.open(base + "/ui/#/query")
	b.eval(`document.getElementById("sql").value = "SELECT nope FROM nowhere"; document.getElementById("run").click(); true`, nil)
	dom = b.waitFor("failed query", `document.getElementById("query-error")`)
	mustContain(t, "failed query", dom, "status-ERROR", "nowhere")

	// With a token, the pages need it; /ui/?token= sets the cookie that the page's requests then carry.
	tb := startGateway(t, Config{Token: "s3cret"})
	b.open(tb + "/ui/")
	dom = b.waitFor("dashboard without the token", `document.body && document.body.textContent.includes("Unauthorized")`)
	if strings.Contains(dom, `id="main"`) {
		t.Fatal("the dashboard's page was served without the token")
	}
	b.open(tb + "/ui/?token=s3cret")
	b.waitFor("dashboard after login", `location.search === "" && document.getElementById("no-jobs")`)
}
