package kafka_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
)

// TestGolden runs the files under testdata/golden, each against its own in-process broker. Commands:
//
//	create-topic topic=T partitions=N       create a topic
//	produce topic=T                          produce records, one a line: p=0 key=.. value=.. h.name=.. ts=millis
//	table name=X                             define a table: a column line, then key=value option lines
//	read table=X [rows=N] [timeout=5s] [metrics] [sort]
//	                                         run the source; bounded sources run to their end, others until
//	                                         N rows arrived or the timeout passed; print the rows (sorted:
//	                                         partitions are read concurrently, so only per-partition order
//	                                         is defined)
//	create-source table=X / create-sink table=X
//	                                         only build the source or sink: print "ok" or the error
//	write table=X                            run the sink over rows given as JSON objects of its columns
//	consume topic=T                          print every record of the topic with kgo
//	committed group=G topic=T                print the group's committed offsets
//	set                                      set session options, one key=value a line (e.g.
//	                                         execution.checkpointing.interval=2s, execution.runtime-mode=batch)
//
// and, for compacted topics (upsert-kafka, testdata/upsert/golden):
//
//	create-topic topic=T partitions=N compact   a topic with 'cleanup.policy' = 'compact'
//	compact                                  run the broker's log compaction now
//	compacted topic=T                        the topic's compacted view: last value per key, without tombstones
func TestGolden(t *testing.T) { runGolden(t, "testdata/golden") }

func runGolden(t *testing.T, dir string) { runGoldenWith(t, dir, nil) }

// runGoldenWith runs the files under dir with each harness adjusted by setup (when not nil).
func runGoldenWith(t *testing.T, dir string, setup func(*harness)) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		h := newHarness(t)
		if setup != nil {
			setup(h)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.t = t
			switch d.Cmd {
			case "create-topic":
				var topic string
				parts := 1
				d.ScanArgs(t, "topic", &topic)
				if d.HasArg("partitions") {
					d.ScanArgs(t, "partitions", &parts)
				}
				var configs map[string]string
				if d.HasArg("compact") {
					configs = map[string]string{"cleanup.policy": "compact"}
				}
				if err := h.cluster.CreateTopic(topic, int32(parts), configs); err != nil {
					return errText(err)
				}
				return "ok\n"
			case "compact":
				h.cluster.Compact()
				return "ok\n"
			case "compacted":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return compactedView(t, h.addr, topic)
			case "produce":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return h.produce(topic, d.Input)
			case "table":
				var name string
				d.ScanArgs(t, "name", &name)
				tbl, err := h.parseTable(name, d.Input)
				if err != nil {
					t.Fatal(err)
				}
				h.tables[name] = tbl
				return "ok\n"
			case "read":
				tbl := h.table(d)
				rows := 0
				if d.HasArg("rows") {
					d.ScanArgs(t, "rows", &rows)
				}
				timeout := 10 * time.Second
				if d.HasArg("timeout") {
					var s string
					d.ScanArgs(t, "timeout", &s)
					var err error
					if timeout, err = time.ParseDuration(s); err != nil {
						t.Fatal(err)
					}
				}
				return h.read(d.Pos, tbl, rows, timeout, d.HasArg("metrics"), d.HasArg("sort"))
			case "create-source":
				tbl := h.table(d)
				if _, err := h.createSource(tbl, nil); err != nil {
					return h.scrub(errText(err))
				}
				return "ok\n"
			case "create-sink":
				tbl := h.table(d)
				if _, err := h.createSink(tbl, nil); err != nil {
					return h.scrub(errText(err))
				}
				return "ok\n"
			case "write":
				return h.write(h.table(d), d.Input)
			case "consume":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				var b strings.Builder
				for _, r := range consumeAll(t, h.addr, topic) {
					b.WriteString(formatRecord(r))
					b.WriteByte('\n')
				}
				return b.String()
			case "set":
				for _, l := range strings.Split(d.Input, "\n") {
					if k, v, ok := strings.Cut(l, "="); ok {
						h.session[strings.TrimSpace(k)] = strings.TrimSpace(v)
					}
				}
				return "ok\n"
			case "committed":
				var group, topic string
				d.ScanArgs(t, "group", &group)
				d.ScanArgs(t, "topic", &topic)
				return h.committed(group, topic)
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

func (h *harness) table(d *datadriven.TestData) *catalog.Table {
	var name string
	d.ScanArgs(h.t, "table", &name)
	tbl, ok := h.tables[name]
	if !ok {
		h.t.Fatalf("no table %s", name)
	}
	return tbl
}

func (h *harness) committed(group, topic string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsetsForTopics(ctx, group, topic)
	if err != nil {
		return errText(err)
	}
	var b strings.Builder
	for _, o := range resp.Sorted() {
		fmt.Fprintf(&b, "%s/%d: %d\n", o.Topic, o.Partition, o.At)
	}
	return b.String()
}
