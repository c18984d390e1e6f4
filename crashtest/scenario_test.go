package crashtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A scenario is one stateful streaming job over the orders feed (order i: {"id": i, "user_id": i % users,
// "amount": i % 7}, produced continuously while the job is killed and restarted) writing to one Kafka topic,
// either exactly-once (an append-only result, read read_committed) or upsert-kafka (read as the compacted
// table). The expected output is computed in Go from the number of orders fed; run counts the rows that are
// lost, duplicated and wrong, and fails when any is not 0.
type scenario struct {
	users       int
	preload     int      // orders produced before the first run (so that every key has state when it is killed)
	settings    []string // SET statements in front of the tables
	tables      []string // the tables' DDL (eventOrders, eoSink, upsertSink)
	insert      string
	parallelism []int // 'parallelism.default' of run k is parallelism[k % len], when given
	partitions  int   // of the broker's topics (orders and the output; 0: 4)
	// later delays every kill by this much more (for jobs whose output comes late after a start, so that
	// kills also hit runs that are writing it)
	later    time.Duration
	topic    string
	upsert   bool     // the topic is an upsert-kafka table (key: the key fields of the record key)
	key, val []string // the output fields that identify a row, and those it carries (rowKey, rowVal)
	// ordered names a BIGINT output field that must increase within each partition of the topic.
	ordered string
	// want computes the expected rows from the number of orders fed: identity (row) → values (row), and
	// whether the job must have written it (its event time is below the final watermark) or may have.
	want func(total int) map[string]expect
	// also, when set, accepts values of expected rows other than want's (where the input leaves a row's
	// value open): also(row, value) reports whether value is one.
	also func(key, val string) bool
	// refusal, when set, is the text of an error a run may end with right after its start (runSlowSink: a
	// restore that the job refuses on purpose); the next run restores the same checkpoint.
	refusal string
	// env is added to the environment of every run (internal test hooks, e.g. SLUICE_TEST_KEYED_DELAY)
	env []string
	// flush, when set, runs once the feeder stopped, before the last run (runSlowSink): e.g. it produces
	// records that move the watermark past every order fed
	flush func(t *testing.T, addr string)
	// settle kills every run of runSlowSink after a checkpoint of its own (0 to 2 s later), not only every
	// other one
	settle bool
	// kills, when set, is the number of runs runSlowSink kills instead of -crash.kills (up to 3 × kills
	// while its more holds)
	kills int
	// final, when set, tells runSlowSink that the last run's output (got, of an upsert table or not) is
	// final: it no longer waits for it to be the expected one (a test of the verdict on a known fault). By
	// default the output is final once nothing is lost or wrong (or after 90 s).
	final func(got tally, upsert bool) bool
}

type expect struct {
	val      string
	required bool
}

// eventOrders is the DDL of a table over the orders topic whose event time ts is tsMillis (an SQL expression
// of id, epoch milliseconds) with a watermark 1 s behind, read from the earliest offset (or the restored
// checkpoint's).
func eventOrders(name, tsMillis string) string {
	return `CREATE TABLE ` + name + ` (id BIGINT, user_id BIGINT, amount BIGINT,
  ts AS TO_TIMESTAMP_LTZ(` + tsMillis + `, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'properties.group.id' = 'crash-` + name + `', 'scan.startup.mode' = 'earliest-offset', 'format' = 'json');`
}

// eoSink is the DDL of an exactly-once Kafka sink table named like its topic.
func eoSink(name, cols string) string {
	return `CREATE TABLE ` + name + ` (` + cols + `) WITH (
  'connector' = 'kafka', 'topic' = '` + name + `', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json',
  'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'crash-` + name + `');`
}

// upsertSink is the DDL of an upsert-kafka table named like its topic with primary key key.
func upsertSink(name, cols, key string) string {
	return `CREATE TABLE ` + name + ` (` + cols + `, PRIMARY KEY (` + key + `) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '` + name + `', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json');`
}

// passed returns an event time (ms) that the job's final watermark passes for sure once it read all total
// orders: the feeder writes batches of 100 over all partitions, so every partition has seen an order of
// the last 300, and the watermark is 1 s behind.
func passed(total int, tsMillis func(id int) int64) int64 { return tsMillis(total-300) - 1000 }

// row formats values as the harness formats output fields: integers in decimal, nil as null, joined by |.
func row(vals ...any) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('|')
		}
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case int:
			b.WriteString(strconv.Itoa(x))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case string:
			b.WriteString(x)
		default:
			panic(fmt.Sprintf("row: %T", v))
		}
	}
	return b.String()
}

// field formats one decoded JSON field: numbers as written, timestamps (the json format's 'yyyy-MM-dd
// HH:mm:ss[.SSS]', the session time zone being UTC) as epoch milliseconds, null as null.
func field(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return x.String()
	case string:
		s := strings.TrimSuffix(strings.Replace(x, "T", " ", 1), "Z")
		if ts, err := time.Parse("2006-01-02 15:04:05.999999999", s); err == nil {
			return strconv.FormatInt(ts.UnixMilli(), 10)
		}
		return x
	default:
		return fmt.Sprint(x)
	}
}

func fields(t *testing.T, data []byte, names []string) string {
	t.Helper()
	m := map[string]any{}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("unreadable output record %q: %v", data, err)
	}
	vals := make([]string, len(names))
	for i, n := range names {
		v, ok := m[n]
		if !ok {
			t.Fatalf("output record %q has no field %q", data, n)
		}
		vals[i] = field(v)
	}
	return strings.Join(vals, "|")
}

// tally is the comparison of the output with the expectation.
type tally struct {
	lost, dups, wrong, unordered, rows int
	example                            string
}

func (c *tally) bad(format string, args ...any) {
	c.wrong++
	if c.example == "" {
		c.example = fmt.Sprintf(format, args...)
	}
}

// is reports whether v is row k's value w, or one that s.also accepts.
func (s *scenario) is(k string, w expect, v string) bool {
	return v == w.val || s.also != nil && s.also(k, v)
}

// compare reads the topic and counts what differs from want.
func (s *scenario) compare(t *testing.T, addr string, want map[string]expect) tally {
	var c tally
	recs := consume(t, addr, s.topic, !s.upsert)
	c.rows = len(recs)
	seen := map[string]int{}
	got := map[string]string{}
	last := map[int32]int64{}
	for _, r := range recs {
		if s.upsert && r.Value == nil {
			delete(got, fields(t, r.Key, s.key))
			continue
		}
		k := fields(t, r.Value, s.key)
		seen[k]++
		got[k] = fields(t, r.Value, s.val)
		if !s.upsert {
			if w, ok := want[k]; !ok || !s.is(k, w, got[k]) {
				c.bad("row %s = %s, want %s (expected: %v)", k, got[k], w.val, ok)
			}
		}
		if s.ordered != "" {
			v, _ := strconv.ParseInt(fields(t, r.Value, []string{s.ordered}), 10, 64)
			if p, ok := last[r.Partition]; ok && v < p {
				c.unordered++
			}
			last[r.Partition] = v
		}
	}
	for k, w := range want {
		n := seen[k]
		if s.upsert {
			n = 0
			if _, ok := got[k]; ok {
				n = 1
			}
		}
		switch {
		case n == 0 && w.required:
			c.lost++
			if c.example == "" {
				c.example = fmt.Sprintf("row %s = %s missing", k, w.val)
			}
		case n > 1:
			c.dups += n - 1
		}
	}
	if s.upsert {
		for k, v := range got {
			if w, ok := want[k]; !ok || !s.is(k, w, v) {
				c.bad("row %s = %s, want %s (expected: %v)", k, v, w.val, ok)
			}
		}
	}
	return c
}

// run runs the scenario: *kills runs killed at random moments while orders arrive, each restored from the
// latest checkpoint (taken every 200 ms), then a last run that must bring the output to the expectation.
// Scenarios run in parallel with each other (each has its own broker; they mostly wait for the kills).
func (s *scenario) run(t *testing.T, seed uint64) {
	t.Parallel()
	partitions := s.partitions
	if partitions == 0 {
		partitions = 4
	}
	addr := broker(t, partitions)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	body := append([]string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`SET 'table.local-time-zone' = 'UTC';`,
	}, s.settings...)
	body = append(append(body, s.tables...), s.insert)
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: s.parallelism}
	for n := 0; n < s.preload; n += 50000 {
		produce(t, addr, "orders", orders(n, min(50000, s.preload-n), s.users))
	}
	f := feed(t, addr, "orders", s.preload, s.users)
	extra := time.Duration(s.preload/1000)*time.Millisecond + s.later // a restore of more state takes longer
	r.kill(rng, 150*time.Millisecond+extra, 1200*time.Millisecond+extra)
	total := f.end()
	want := s.want(total)
	required := 0
	for _, w := range want {
		if w.required {
			required++
		}
	}
	c := r.start()
	defer c.Kill()
	var got tally
	waitFor(60*time.Second, func() bool {
		got = s.compare(t, addr, want)
		return got.lost == 0 && (got.wrong == 0 || !s.upsert)
	})
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d orders, %d rows required, %d read: %d lost, %d duplicated, %d wrong, %d out of order",
		*kills, r.restored, total, required, got.rows, got.lost, got.dups, got.wrong, got.unordered)
	if got.lost > 0 || got.dups > 0 || got.wrong > 0 || got.unordered > 0 {
		t.Fatalf("after %d kills: %d rows lost, %d duplicated, %d wrong, %d out of order (%s)\nlast client output:\n%s",
			*kills, got.lost, got.dups, got.wrong, got.unordered, got.example, indent(c.Output()))
	}
	if required == 0 {
		t.Fatal("the expectation requires no row: the scenario tests nothing")
	}
	r.checkRestored()
}

// sortedKeys returns m's keys in order (for expectations built per group).
func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}
