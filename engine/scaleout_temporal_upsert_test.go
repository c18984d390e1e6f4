package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Scale-out temporal joins over a versioned table that is a changelog (scaleout_temporal_upsert.go): the
// rates of scaleout_temporal_test.go as an 'upsert-kafka' table (record key {"k":K}, a tombstone deletes a
// key) or as a 'kafka' table in debezium-json (c for a key's first version, u with the previous row, d with
// the last row). A delete ends the key's version at the time of the key's last row (P=1: the normalize's
// -D carries that row; debezium's before image is that row), so orders after it, until the key's next
// version, have no rate. Deletes are produced alone, when the watermark stands still, so that which orders
// they affect does not depend on timing.

// cdcRates writes the changelog records of a test's versions and deletes, keeping each key's last row.
type cdcRates struct {
	format string                  // "upsert" or "debezium"
	last   map[int]json.RawMessage // key → its last row (JSON), absent when deleted or never written
	lastAt map[int]int             // key → the second of its last row
	dels   map[int][]int           // key → the times of its deletes, in the order they were written
}

func (c *cdcRates) records(recs []*kgo.Record) []*kgo.Record {
	if c.last == nil {
		c.last, c.lastAt, c.dels = map[int]json.RawMessage{}, map[int]int{}, map[int][]int{}
	}
	for _, r := range recs {
		if r.Topic != "rates" {
			continue
		}
		var v struct {
			K  int    `json:"k"`
			RT string `json:"rt"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			panic(err)
		}
		row := json.RawMessage(r.Value)
		r.Key = fmt.Appendf(nil, `{"k":%d}`, v.K)
		if c.format == "debezium" {
			before, op := json.RawMessage("null"), "c"
			if old, ok := c.last[v.K]; ok {
				before, op = old, "u"
			}
			r.Value = fmt.Appendf(nil, `{"before":%s,"after":%s,"op":"%s"}`, before, row, op)
		}
		t, err := time.Parse("2006-01-02 15:04:05.000", v.RT)
		if err != nil {
			panic(err)
		}
		c.last[v.K], c.lastAt[v.K] = row, int(t.Sub(windowTestBase)/time.Second)
	}
	return recs
}

// deletes writes deletes of keys (a key without a row: upsert-kafka writes a tombstone the normalize drops,
// debezium nothing).
func (c *cdcRates) deletes(keys ...int) []*kgo.Record {
	var recs []*kgo.Record
	for _, k := range keys {
		old, ok := c.last[k]
		r := &kgo.Record{Topic: "rates", Partition: int32(k % 2), Key: fmt.Appendf(nil, `{"k":%d}`, k)}
		if c.format == "debezium" {
			if !ok {
				continue
			}
			r.Value = fmt.Appendf(nil, `{"before":%s,"after":null,"op":"d"}`, old)
		}
		recs = append(recs, r)
		if ok {
			c.dels[k] = append(c.dels[k], c.lastAt[k])
			delete(c.last, k)
		}
	}
	return recs
}

// rate is the rate of key k valid at second sec (ok false: none): the latest version at or before sec,
// unless a delete at or after that version's time and at or before sec ended it.
func (c *cdcRates) rate(d *tjData, k, sec int) (int, bool) {
	v := -1
	for _, s := range d.rates[k] {
		if s <= sec {
			v = s
		}
	}
	if v < 0 {
		return 0, false
	}
	for _, t := range c.dels[k] {
		if t >= v && t <= sec {
			return 0, false
		}
	}
	return k*1000 + v, true
}

func cdcRatesDDL(format string) string {
	with := `'connector' = 'upsert-kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'key.format' = 'json', 'value.format' = 'json'`
	if format == "debezium" {
		with = `'connector' = 'kafka', 'topic' = 'rates', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'debezium-json'`
	}
	return `CREATE TABLE orders (id BIGINT, k BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'ADDR',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE rates (k BIGINT, rate BIGINT, rt TIMESTAMP(3),
  WATERMARK FOR rt AS rt - INTERVAL '1' SECOND, PRIMARY KEY (k) NOT ENFORCED) WITH (
  ` + with + `)`
}

// TestScaleOutTemporalJoinChangelogVersioned: a LEFT temporal join over an upsert-kafka and over a
// debezium-json versioned table, run by two in-process members (the second joins after the first phase and
// leaves before the last; deletes come while it runs and after it left) and by a P=1 job of the same query:
// at every phase both jobs' rows are exactly the expected ones, each once.
func TestScaleOutTemporalJoinChangelogVersioned(t *testing.T) {
	for _, format := range []string{"upsert", "debezium"} {
		t.Run(format, func(t *testing.T) {
			addr := temporalCluster(t)
			d, c := &tjData{}, &cdcRates{format: format}
			ddl := cdcRatesDDL(format)
			member := strings.ReplaceAll(strings.Join([]string{
				`SET 'sluice.scale-out.enabled' = 'true'`,
				`SET 'pipeline.name' = 'temporal-job'`,
				`SET 'sluice.scale-out.session-timeout' = '2 s'`,
				`SET 'sluice.scale-out.transaction-timeout' = '3 s'`,
				ddl, pricedDDL("priced"), temporalInsert("priced", "LEFT")}, ";\n")+";\n", "ADDR", addr)
			single := strings.ReplaceAll(strings.Join([]string{ddl, pricedDDL("priced1"), temporalInsert("priced1", "LEFT")}, ";\n")+";\n", "ADDR", addr)

			var want []string
			prev := -1 << 30
			check := func(what string, wm int, outs ...*syncBuffer) {
				t.Helper()
				for _, o := range d.orders {
					if o.sec <= prev || o.sec > wm {
						continue
					}
					rate := "-"
					if o.key >= 0 {
						if r, ok := c.rate(d, o.key, o.sec); ok {
							rate = fmt.Sprint(r)
						}
					}
					want = append(want, fmt.Sprintf("%d/%s", o.id, rate))
				}
				slices.Sort(want)
				prev = wm
				var got, got1 []string
				if !waitUntil(40*time.Second, func() bool {
					got, got1 = readPriced(t, addr, "priced"), readPriced(t, addr, "priced1")
					return fmt.Sprint(got) == fmt.Sprint(want) && fmt.Sprint(got1) == fmt.Sprint(want)
				}) {
					var texts []string
					for _, o := range outs {
						texts = append(texts, o.String())
					}
					t.Fatalf("%s: scale-out %d rows, P=1 %d rows, want %d\nscale-out only %v\nmissing %v\nP=1 only %v\nP=1 missing %v\n%s",
						what, len(got), len(got1), len(want), minus(got, want), minus(want, got), minus(got1, want), minus(want, got1), strings.Join(texts, "\n---\n"))
				}
			}

			produceRecords(t, addr, c.records(d.secondsTo(0, 15, true, -1)))
			a, aOut := startTestMember(t, member)
			startTestMember(t, single)
			check("phase 1", 13, aOut)

			b, bOut := startTestMember(t, member)
			if !waitUntil(30*time.Second, func() bool {
				k, parts := groupMembers(t, addr, "temporal-job", "temporal-job-join-repartition")
				return k == 2 && len(parts) == 2
			}) {
				t.Fatalf("member B did not join\n%s\n---\n%s", aOut, bOut)
			}
			// Keys 1 and 4 (last versions at 13 and 10) are deleted, key 10 never had one.
			produceRecords(t, addr, c.deletes(1, 4, 10))
			time.Sleep(500 * time.Millisecond)
			produceRecords(t, addr, c.records(d.secondsTo(15, 30, true, -1)))
			check("phase 2, two members", 28, aOut, bOut)
			if a.Metrics().RowsOut == 0 || b.Metrics().RowsOut == 0 {
				t.Fatalf("rows out %d and %d: both members should have joined rows\n%s\n---\n%s", a.Metrics().RowsOut, b.Metrics().RowsOut, aOut, bOut)
			}

			// Key 2 is deleted, then key 1 again (its version at 28); B leaves and A restores B's partition,
			// the normalize's rows included.
			produceRecords(t, addr, c.deletes(2, 1))
			time.Sleep(500 * time.Millisecond)
			produceRecords(t, addr, c.records(d.secondsTo(30, 35, true, -1)))
			check("phase 3", 33, aOut, bOut)
			leaveGroup(t, b, addr, "temporal-job", "temporal-job-join-repartition", 2, aOut)
			produceRecords(t, addr, c.deletes(5, 7))
			time.Sleep(500 * time.Millisecond)
			produceRecords(t, addr, c.records(d.secondsTo(35, 45, true, -1)))
			check("phase 4, member A alone", 43, aOut, bOut)
		})
	}
}
