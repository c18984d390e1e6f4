package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors/kafka"
)

// needKcat returns the path of kcat. Without it the test is skipped with a printed reason, except in CI
// (env CI set), where kcat is required and its absence fails the test.
func needKcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("kcat is required in CI (CI=%s) for the Kafka interop tests; install it (apt-get install -y kcat)", os.Getenv("CI"))
	}
	fmt.Fprintf(os.Stderr, "SKIP %s: kcat is not on PATH (apt-get install -y kcat to run the Kafka interop tests; required when CI is set)\n", t.Name())
	t.Skip("kcat is not on PATH; install kcat to run the Kafka interop tests")
	return ""
}

func kcat(t *testing.T, path, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestKcatProducesSluiceReads: kcat (librdkafka) produces keyed JSON records with headers; Sluice reads them
// with every metadata column, and finds them in the partitions Java's murmur2 picks.
func TestKcatProducesSluiceReads(t *testing.T) {
	path := needKcat(t)
	_, addr := startBroker(t, kfake.SeedTopics(4, "kc-in"))
	before := time.Now().Add(-time.Second).UnixMilli()
	keys := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	var in strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&in, "%s:{\"url\":\"/p%d\",\"n\":%d}\n", k, i, i)
	}
	kcat(t, path, in.String(), "-P", "-b", addr, "-t", "kc-in", "-K:", "-H", "source=kcat", "-H", "trace=t-1",
		"-X", "topic.partitioner=murmur2_random")
	after := time.Now().Add(time.Second).UnixMilli()

	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("kc", "k STRING, url STRING, n INT, "+
		"tp STRING METADATA FROM 'topic' VIRTUAL, p INT METADATA FROM 'partition' VIRTUAL, "+
		"hs MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL, le INT METADATA FROM 'leader-epoch' VIRTUAL, "+
		"o BIGINT METADATA FROM 'offset' VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL, "+
		"tt STRING METADATA FROM 'timestamp-type' VIRTUAL\n"+
		"topic=kc-in\nproperties.bootstrap.servers=$BROKER\nkey.format=raw\nkey.fields=k\nvalue.format=json\n"+
		"value.fields-include=EXCEPT_KEY\nscan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, nil))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := src.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if len(c.rows) != len(keys) {
		t.Fatalf("read %d rows, want %d", len(c.rows), len(keys))
	}
	seen := map[string]bool{}
	for _, r := range c.rows {
		v := r.Vals
		k := v[0].S
		seen[k] = true
		i := indexOfString(keys, k)
		if want := fmt.Sprintf("/p%d", i); v[1].S != want || v[2].I != int64(i) {
			t.Errorf("key %s: value (%s, %d), want (%s, %d)", k, v[1].S, v[2].I, want, i)
		}
		if v[3].S != "kc-in" {
			t.Errorf("topic %q", v[3].S)
		}
		if want := javaPartition([]byte(k), 4); int(v[4].I) != want {
			t.Errorf("key %s in partition %d, Java's murmur2 says %d", k, v[4].I, want)
		}
		m := v[5].Map()
		var hs []string
		for j := range m.Keys {
			hs = append(hs, m.Keys[j].S+"="+m.Vals[j].S)
		}
		if got := strings.Join(hs, ","); got != "source=kcat,trace=t-1" {
			t.Errorf("headers %s", got)
		}
		if !v[6].IsNull() && v[6].I < 0 {
			t.Errorf("leader epoch %d", v[6].I)
		}
		if v[8].I < before || v[8].I > after {
			t.Errorf("timestamp %d outside [%d, %d]", v[8].I, before, after)
		}
		if v[9].S != "CreateTime" {
			t.Errorf("timestamp type %s", v[9].S)
		}
	}
	if len(seen) != len(keys) {
		t.Fatalf("keys read: %v", seen)
	}
}

// kcatRecord is one line of kcat -J.
type kcatRecord struct {
	Topic     string   `json:"topic"`
	Partition int      `json:"partition"`
	Offset    int64    `json:"offset"`
	TsType    string   `json:"tstype"`
	Ts        int64    `json:"ts"`
	Headers   []string `json:"headers"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

// TestSluiceWritesKcatReads: Sluice writes keyed records with headers and timestamps; kcat reads them with
// the expected keys, values, headers and timestamps, in the partitions kcat itself picks for those keys with
// librdkafka's murmur2 partitioner.
func TestSluiceWritesKcatReads(t *testing.T) {
	path := needKcat(t)
	_, addr := startBroker(t, kfake.SeedTopics(4, "kc-out", "kc-ref"))
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("out", "k STRING, v INT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', hs MAP<STRING, STRING> METADATA FROM 'headers'\n"+
		"topic=kc-out\nproperties.bootstrap.servers=$BROKER\nkey.format=raw\nkey.fields=k\nvalue.format=json")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	var rows strings.Builder
	for i, k := range keys {
		fmt.Fprintf(&rows, "{\"k\":%q,\"v\":%d,\"ts\":\"2024-03-0%d 10:00:00.000Z\",\"hs\":{\"n\":\"%d\",\"from\":\"sluice\"}}\n", k, i, i%9+1, i)
	}
	if out := h.write(tbl, rows.String()); out != fmt.Sprintf("wrote %d rows\n", len(keys)) {
		t.Fatal(out)
	}
	// kcat's own placement of the same keys, as a reference.
	var ref strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&ref, "%s:x\n", k)
	}
	kcat(t, path, ref.String(), "-P", "-b", addr, "-t", "kc-ref", "-K:", "-X", "topic.partitioner=murmur2_random")
	refPart := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(kcat(t, path, "", "-C", "-b", addr, "-t", "kc-ref", "-J", "-e", "-o", "beginning", "-q")), "\n") {
		var r kcatRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("kcat line %q: %v", l, err)
		}
		refPart[*r.Key] = r.Partition
	}

	out := strings.TrimSpace(kcat(t, path, "", "-C", "-b", addr, "-t", "kc-out", "-J", "-e", "-o", "beginning", "-q"))
	lines := strings.Split(out, "\n")
	if len(lines) != len(keys) {
		t.Fatalf("kcat read %d records:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var r kcatRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("kcat line %q: %v", l, err)
		}
		if r.Key == nil || r.Payload == nil {
			t.Fatalf("null key or value: %s", l)
		}
		k := *r.Key
		i := indexOfString(keys, k)
		if want := fmt.Sprintf(`{"k":%q,"v":%d}`, k, i); *r.Payload != want {
			t.Errorf("value %s, want %s", *r.Payload, want)
		}
		if r.Partition != refPart[k] || r.Partition != javaPartition([]byte(k), 4) {
			t.Errorf("key %s: Sluice wrote partition %d, kcat's murmur2_random picks %d, Java %d", k, r.Partition, refPart[k], javaPartition([]byte(k), 4))
		}
		if want := time.Date(2024, 3, i%9+1, 10, 0, 0, 0, time.UTC).UnixMilli(); r.Ts != want || r.TsType != "create" {
			t.Errorf("key %s: timestamp %s %d, want create %d", k, r.TsType, r.Ts, want)
		}
		if got, want := strings.Join(r.Headers, ","), fmt.Sprintf("n,%d,from,sluice", i); got != want {
			t.Errorf("key %s: headers %s, want %s", k, got, want)
		}
	}
}

func indexOfString(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
