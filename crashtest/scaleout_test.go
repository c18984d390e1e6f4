package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/sluicesql/sluice/sql"
)

// Scale-out over Kafka: several sql-client processes run one GROUP BY job as members of one consumer group
// (engine/scaleout*.go).

// scaleOutBroker starts a broker whose groups accept short session timeouts, with an 8-partition topic
// 'orders'.
func scaleOutBroker(t *testing.T) (string, *kfake.Cluster) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], c
}

// scaleOutScript is the job script of one member; query is the INSERT.
func scaleOutScript(addr, query string) string {
	return script(addr,
		`SET 'sluice.scale-out.enabled' = 'true';`,
		`SET 'pipeline.name' = 'totals-job';`,
		`SET 'sluice.scale-out.session-timeout' = '2 s';`,
		`SET 'sluice.scale-out.transaction-timeout' = '3 s';`,
		ordersDDL,
		`CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`,
		query)
}

const scaleOutQuery = `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders WHERE id >= 0 GROUP BY user_id;`

type userTotal struct{ Cnt, Total int64 }

// totalsOf reads the totals topic (read_committed) as a compacted topic reads: the last record per key.
func totalsOf(t *testing.T, addr string) map[int64]userTotal {
	got := map[int64]userTotal{}
	for _, r := range consume(t, addr, "totals", true) {
		var k struct {
			UserID int64 `json:"user_id"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("unreadable key %q", r.Key)
		}
		if r.Value == nil {
			delete(got, k.UserID)
			continue
		}
		var v struct {
			Cnt   int64 `json:"cnt"`
			Total int64 `json:"total"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("unreadable value %q", r.Value)
		}
		got[k.UserID] = userTotal{v.Cnt, v.Total}
	}
	return got
}

func expectedTotals(n, users int) map[int64]userTotal {
	want := map[int64]userTotal{}
	for i := 0; i < n; i++ {
		w := want[int64(i%users)]
		w.Cnt++
		w.Total += int64(i % 7)
		want[int64(i%users)] = w
	}
	return want
}

// diffTotals describes how got differs from want ("" when equal).
func diffTotals(got, want map[int64]userTotal) string {
	wrong, example := 0, ""
	for k, w := range want {
		if got[k] != w {
			wrong++
			if example == "" {
				example = fmt.Sprintf("user %d: got %+v, want %+v", k, got[k], w)
			}
		}
	}
	if wrong == 0 && len(got) == len(want) {
		return ""
	}
	return fmt.Sprintf("%d of %d users wrong, %d users in the output (%s)", wrong, len(want), len(got), example)
}

var restoredRE = regexp.MustCompile(`restored partitions \[[0-9 ]+\] from '[^']+' \((\d+) entries\)`)

// restoredEntries counts the entries that the member's output says it restored.
func restoredEntries(out string) int {
	n := 0
	for _, m := range restoredRE.FindAllStringSubmatch(out, -1) {
		var k int
		fmt.Sscan(m[1], &k)
		n += k
	}
	return n
}

// TestScaleOutKill: three processes run one GROUP BY job over an 8-partition topic into upsert-kafka while
// orders keep coming; one is killed with SIGKILL mid-run. The survivors take its partitions over (restoring
// their state from the changelog topic) and the compacted output equals the true totals: nothing lost,
// nothing counted twice.
func TestScaleOutKill(t *testing.T) {
	const users = 200
	var want map[int64]userTotal
	r := scaleOutKillRun(t, scaleOutQuery, users, func(addr string) bool { return len(totalsOf(t, addr)) > 0 },
		func(addr string, total int) string {
			if want == nil {
				want = expectedTotals(total, users)
			}
			return diffTotals(totalsOf(t, addr), want)
		})
	t.Logf("3 members, 1 killed: %d orders, totals of %d users exact %s after the kill; survivors restored %d and %d state entries since",
		r.total, len(want), r.took.Round(100*time.Millisecond), r.restored[0], r.restored[1])
}

// scaleOutKillResult is what scaleOutKillRun saw.
type scaleOutKillResult struct {
	total    int           // orders fed
	took     time.Duration // from the kill to the exact output
	restored [2]int        // state entries the survivors restored after the kill
}

// scaleOutKillRun runs query in three processes over an 8-partition topic of users' orders fed during the run,
// waits until every member restored its partitions and working(addr) holds, kills the first member with
// SIGKILL, stops the feed 4 s later and waits until diff(addr, orders fed) (the output against the expected
// one) is empty. It fails the test if a survivor ended by itself, the output is not exact within 60 s, or no
// survivor restored state from the changelog after the kill.
func scaleOutKillRun(t *testing.T, query string, users int, working func(addr string) bool, diff func(addr string, total int) string) scaleOutKillResult {
	t.Helper()
	return scaleOutKillRunFed(t, query, func(addr string) *feeder {
		produce(t, addr, "orders", orders(0, 4000, users))
		return feed(t, addr, "orders", 4000, users)
	}, working, diff)
}

// scaleOutKillRunFed is scaleOutKillRun with the input that start(addr) produces and goes on feeding
// (total: the feeder's count).
func scaleOutKillRunFed(t *testing.T, query string, start func(addr string) *feeder, working func(addr string) bool, diff func(addr string, total int) string) scaleOutKillResult {
	t.Helper()
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	f := start(addr)
	sql := scaleOutScript(addr, query)
	// Every member has joined and worked when each has restored (or created) its partitions' state.
	members := startMembers(t, dir, sql, "restored partitions", func() bool { return working(addr) })
	time.Sleep(time.Second)
	before := []int{restoredEntries(members[1].Output()), restoredEntries(members[2].Output())}
	members[0].Kill()
	killedAt := time.Now()
	time.Sleep(4 * time.Second)
	total := f.end()
	var d string
	ok := waitFor(60*time.Second, func() bool {
		d = diff(addr, total)
		return d == ""
	})
	for i, c := range members[1:] {
		if c.Exited() {
			t.Fatalf("member %d ended by itself:\n%s", i+1, indent(c.Output()))
		}
	}
	if !ok {
		t.Fatalf("after killing a member: %s\nsurvivors:\n%s\n---\n%s", d, indent(members[1].Output()), indent(members[2].Output()))
	}
	after := []int{restoredEntries(members[1].Output()), restoredEntries(members[2].Output())}
	if after[0] == before[0] && after[1] == before[1] {
		t.Fatalf("no survivor restored state from the changelog after the kill:\n%s\n---\n%s", indent(members[1].Output()), indent(members[2].Output()))
	}
	return scaleOutKillResult{total: total, took: time.Since(killedAt), restored: [2]int{after[0] - before[0], after[1] - before[1]}}
}

// startMember starts one member on query and waits until it has processed rows.
func startMember(t *testing.T, dir, addr, query string) *proctest.Client {
	t.Helper()
	c := proctest.Start(t, clientBin, dir, scaleOutScript(addr, query))
	t.Cleanup(c.Kill)
	if !waitFor(30*time.Second, func() bool { return strings.Contains(c.Output(), "restored partitions") || c.Exited() }) || c.Exited() {
		t.Fatalf("the member did not start working:\n%s", indent(c.Output()))
	}
	return c
}

// TestScaleOutOtherPlan: a process running another INSERT under the same 'pipeline.name' cannot join the
// running job: the group coordinator refuses its plan's protocol, and its job fails with a message saying
// so; the running member goes on.
func TestScaleOutOtherPlan(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	produce(t, addr, "orders", orders(0, 1000, 50))
	a := startMember(t, dir, addr, scaleOutQuery)
	other := `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders WHERE amount >= 0 GROUP BY user_id;`
	b := proctest.Start(t, clientBin, dir, scaleOutScript(addr, other))
	t.Cleanup(b.Kill)
	ended, _ := b.Wait(60 * time.Second)
	if !ended {
		t.Fatalf("the member with another plan did not fail:\n%s", indent(b.Output()))
	}
	const msg = "consumer group 'totals-job' runs another plan than this process"
	if !strings.Contains(b.Output(), msg) {
		t.Fatalf("the member with another plan ended without saying %q:\n%s", msg, indent(b.Output()))
	}
	produce(t, addr, "orders", orders(1000, 1000, 50))
	want := expectedTotals(2000, 50)
	var got map[int64]userTotal
	if !waitFor(30*time.Second, func() bool { got = totalsOf(t, addr); return diffTotals(got, want) == "" }) {
		t.Fatalf("the running member: %s\n%s", diffTotals(got, want), indent(a.Output()))
	}
	if a.Exited() {
		t.Fatalf("the running member ended:\n%s", indent(a.Output()))
	}
}

// TestScaleOutRepartitionDeleted: deleting the repartition topic under a running job fails the job with a
// message naming the topic and what to do (its in-flight rows were in it, so continuing would lose them).
func TestScaleOutRepartitionDeleted(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	produce(t, addr, "orders", orders(0, 1000, 50))
	a := startMember(t, dir, addr, scaleOutQuery)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep := ""
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, "totals-job-") && strings.HasSuffix(name, "-repartition") {
			rep = name
		}
	}
	if rep == "" {
		t.Fatalf("no repartition topic among %v", topics.Names())
	}
	if _, err := adm.DeleteTopic(ctx, rep); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	produce(t, addr, "orders", orders(1000, 1000, 50))
	ended, _ := a.Wait(30 * time.Second)
	want := "its internal topic '" + rep + "' was deleted while the job ran"
	if !ended || !strings.Contains(a.Output(), want) {
		t.Fatalf("after deleting %s the member should fail saying %q (ended: %v):\n%s", rep, want, ended, indent(a.Output()))
	}
	t.Logf("the member failed %s after the deletion:\n%s", time.Since(deleted).Round(100*time.Millisecond), indent(a.Output()))
}

// TestScaleOutOtherPlanLater: a process of another plan started under the same 'pipeline.name' after the
// job's processes are gone joins the empty group, but the group's offsets belong to the old plan: it fails
// on the first internal record of the old plan that it reads, instead of continuing without the old state.
func TestScaleOutOtherPlanLater(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	produce(t, addr, "orders", orders(0, 1000, 50))
	a := startMember(t, dir, addr, scaleOutQuery)
	if !waitFor(30*time.Second, func() bool { return diffTotals(totalsOf(t, addr), expectedTotals(1000, 50)) == "" }) {
		t.Fatalf("the first plan did not finish its input:\n%s", indent(a.Output()))
	}
	a.Kill()
	produce(t, addr, "orders", orders(1000, 1000, 50))
	time.Sleep(3 * time.Second) // the killed member's session (2 s) expires: the group is empty
	other := `INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders WHERE amount >= 0 GROUP BY user_id;`
	b := proctest.Start(t, clientBin, dir, scaleOutScript(addr, other))
	t.Cleanup(b.Kill)
	ended, _ := b.Wait(60 * time.Second)
	if !ended || !strings.Contains(b.Output(), "was written by plan") {
		t.Fatalf("the later process with another plan should fail on the old plan's records (ended: %v):\n%s", ended, indent(b.Output()))
	}
}

// TestScaleOutClientAndInProcess: a member started by 'sql-client -f script.sql' and a member in this test
// process (an engine session running the same script) share one job: both aggregate rows, and the
// compacted output has the exact totals.
func TestScaleOutClientAndInProcess(t *testing.T) {
	addr, _ := scaleOutBroker(t)
	dir := t.TempDir()
	const users = 100
	produce(t, addr, "orders", orders(0, 2000, users))
	sqlText := scaleOutScript(addr, scaleOutQuery)

	local := &lockedOutput{}
	es, err := engine.NewSession(engine.Config{Stdout: local, Stderr: local})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(sqlText)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := es.Execute(context.Background(), st); err != nil {
			t.Fatalf("%v\n%s", err, local)
		}
	}
	defer es.CancelJobs()
	remote := proctest.Start(t, clientBin, dir, sqlText)
	defer remote.Kill()

	// Orders keep coming until both members have aggregated rows, then 2000 more.
	n := 2000
	for !strings.Contains(local.String(), "restored partitions") || !strings.Contains(remote.Output(), "restored partitions") {
		if n > 40000 || remote.Exited() {
			t.Fatalf("the members did not both work:\nin-process:\n%s\nsql-client:\n%s", indent(local.String()), indent(remote.Output()))
		}
		produce(t, addr, "orders", orders(n, 200, users))
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produce(t, addr, "orders", orders(n, 2000, users))
	n += 2000
	want := expectedTotals(n, users)
	var got map[int64]userTotal
	if !waitFor(30*time.Second, func() bool { got = totalsOf(t, addr); return diffTotals(got, want) == "" }) {
		t.Fatalf("%d orders: %s\nin-process:\n%s\nsql-client:\n%s", n, diffTotals(got, want), indent(local.String()), indent(remote.Output()))
	}
	if remote.Exited() {
		t.Fatalf("the sql-client member ended:\n%s", indent(remote.Output()))
	}
}

// lockedOutput is a bytes.Buffer safe for a member's goroutine and the test.
type lockedOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedOutput) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedOutput) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
