package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// A scale-out member started through the gateway's REST API (its session properties turn scale-out on)
// shares a GROUP BY job with a member in this process (engine/scaleout*.go).

// lockedBuffer is a bytes.Buffer safe for a member's goroutine and the test.
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

const scaleOutDDL = `CREATE TABLE orders (id BIGINT, user_id BIGINT, amount BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE totals (user_id BIGINT, cnt BIGINT, total BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = 'totals', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');
INSERT INTO totals SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id;
`

// scaleOutProps are the session options of every member.
var scaleOutProps = map[string]string{
	"sluice.scale-out.enabled":             "true",
	"pipeline.name":                        "totals-job",
	"sluice.scale-out.session-timeout":     "2 s",
	"sluice.scale-out.transaction-timeout": "3 s",
}

func produceOrders(t *testing.T, addr string, from, n, users int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)),
			Value: fmt.Appendf(nil, `{"id":%d,"user_id":%d,"amount":%d}`, i, i%users, i%7)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// totalsText reads the compacted view of 'totals' (read_committed) as "user:cnt/total" text, sorted by user.
func totalsText(t *testing.T, addr string, users int) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("totals"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[int64]string{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var k struct {
				UserID int64 `json:"user_id"`
			}
			var v struct{ Cnt, Total int64 }
			_ = json.Unmarshal(r.Key, &k)
			if r.Value == nil {
				delete(got, k.UserID)
				return
			}
			_ = json.Unmarshal(r.Value, &v)
			got[k.UserID] = fmt.Sprintf("%d/%d", v.Cnt, v.Total)
		})
		if n == 0 {
			break
		}
	}
	var b strings.Builder
	for u := range int64(users) {
		if s, ok := got[u]; ok {
			fmt.Fprintf(&b, "%d:%s ", u, s)
		}
	}
	fmt.Fprintf(&b, "(%d users)", len(got))
	return b.String()
}

func wantTotalsText(n, users int) string {
	cnt, total := make([]int64, users), make([]int64, users)
	for i := range n {
		cnt[i%users]++
		total[i%users] += int64(i % 7)
	}
	var b strings.Builder
	seen := 0
	for u := range users {
		if cnt[u] > 0 {
			fmt.Fprintf(&b, "%d:%d/%d ", u, cnt[u], total[u])
			seen++
		}
	}
	fmt.Fprintf(&b, "(%d users)", seen)
	return b.String()
}

// TestScaleOutMemberViaGateway: a REST session whose properties turn scale-out on submits the job's
// INSERT; with a member of this process in the same consumer group, both aggregate rows and the compacted
// output has the exact totals.
func TestScaleOutMemberViaGateway(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(8),
		kfake.GroupMinSessionTimeout(time.Second), kfake.SeedTopics(8, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	addr := kc.ListenAddrs()[0]
	const users = 100
	produceOrders(t, addr, 0, 2000, users)
	script := strings.ReplaceAll(scaleOutDDL, "ADDR", addr)

	// The member in this process.
	local := &lockedBuffer{}
	es, err := engine.NewSession(engine.Config{Options: scaleOutProps, Stdout: local, Stderr: local})
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := es.Execute(context.Background(), st); err != nil {
			t.Fatalf("%v\n%s", err, local)
		}
	}
	defer es.CancelJobs()

	// The member of the gateway.
	remote := &lockedBuffer{}
	c := &client{t: t, base: startGateway(t, Config{Stdout: remote, Stderr: remote})}
	s := c.open(scaleOutProps)
	texts := strings.SplitAfter(strings.TrimSpace(script), ";\n")
	if len(texts) != 3 {
		t.Fatalf("%d statements", len(texts))
	}
	for _, st := range texts[:2] {
		c.fetchAll(s, c.submit(s, st), 10)
	}
	ins := c.submit(s, texts[2])
	var f fetched
	for i := 0; i < 100 && f.ResultType != "PAYLOAD"; i++ {
		if code := c.do("GET", "/v1/sessions/"+s+"/operations/"+ins+"/result/0", "", &f); code != 200 {
			t.Fatalf("INSERT through the gateway: %d %v", code, f.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if f.JobID == "" {
		t.Fatalf("INSERT through the gateway: %+v\n%s", f, remote)
	}
	defer c.do("POST", "/v1/sessions/"+s+"/jobs/"+f.JobID+"/cancel", "", nil)

	// Orders keep coming until both members have aggregated rows, then 2000 more.
	n := 2000
	for !strings.Contains(local.String(), "restored partitions") || !strings.Contains(remote.String(), "restored partitions") {
		if n > 30000 {
			t.Fatalf("the members did not both work:\nlocal:\n%s\ngateway:\n%s", local, remote)
		}
		produceOrders(t, addr, n, 200, users)
		n += 200
		time.Sleep(300 * time.Millisecond)
	}
	produceOrders(t, addr, n, 2000, users)
	n += 2000
	want := wantTotalsText(n, users)
	var got string
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if got = totalsText(t, addr, users); got == want {
			break
		}
	}
	if got != want {
		t.Fatalf("totals of %d orders:\ngot  %s\nwant %s\nlocal:\n%s\ngateway:\n%s", n, got, want, local, remote)
	}
	var jobs struct {
		Jobs []struct{ JobID, Status string }
	}
	if code := c.do("GET", "/v1/sessions/"+s+"/jobs", "", &jobs); code != 200 || len(jobs.Jobs) != 1 || jobs.Jobs[0].Status != "RUNNING" {
		t.Fatalf("the gateway's member: %d %+v\n%s", code, jobs, remote)
	}
}
