package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/formats"
	fmtbuiltin "github.com/sluicesql/sluice/formats/builtin"
	"github.com/sluicesql/sluice/formats/formattest"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// startBroker starts an in-process kfake broker on a free port of 127.0.0.1 and returns its address.
func startBroker(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// harness runs the commands of the golden files against one broker.
type harness struct {
	t       *testing.T
	cluster *kfake.Cluster
	addr    string
	reg     *formats.Registry
	factory *kafka.Factory
	upsert  *kafka.UpsertFactory // for tables with 'connector' = 'upsert-kafka'
	tables  map[string]*catalog.Table
	session map[string]string
	// columnar: read pushes to an output that takes column vectors (colCollector); pushed counts its batches.
	columnar bool
	pushed   *atomic.Int64
}

func newHarness(t *testing.T) *harness {
	c, addr := startBroker(t)
	return &harness{t: t, cluster: c, addr: addr, reg: fmtbuiltin.Registry(),
		factory: kafka.NewFactory(kafka.WithConnectTimeout(2 * time.Second)),
		upsert:  kafka.NewUpsertFactory(kafka.WithConnectTimeout(2 * time.Second)),
		tables:  map[string]*catalog.Table{}, session: map[string]string{"table.local-time-zone": "UTC"}}
}

// scrub replaces the broker's address in output with $BROKER.
func (h *harness) scrub(s string) string { return strings.ReplaceAll(s, h.addr, "$BROKER") }

func (h *harness) expand(s string) string { return strings.ReplaceAll(s, "$BROKER", h.addr) }

// splitTop splits s at commas outside <...> and (...).
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<', '(':
			depth++
		case '>', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

var metaRE = regexp.MustCompile(`^(.*?)\s+METADATA(?:\s+FROM\s+'([^']+)')?(\s+VIRTUAL)?$`)

// parseTable builds a table from a column list (first line; "name TYPE METADATA [FROM 'key'] [VIRTUAL]"
// marks a metadata column) and option lines key=value.
func (h *harness) parseTable(name, input string) (*catalog.Table, error) {
	lines := strings.Split(input, "\n")
	tbl := &catalog.Table{Name: name, Options: map[string]string{}}
	for _, col := range splitTop(lines[0]) {
		kind := sql.PhysicalColumn
		var key string
		var virtual bool
		if m := metaRE.FindStringSubmatch(col); m != nil {
			col, key, virtual, kind = m[1], m[2], m[3] != "", sql.MetadataColumn
		}
		rt, err := formattest.ParseSchema(col)
		if err != nil {
			return nil, err
		}
		f := rt.Fields[0]
		tbl.Columns = append(tbl.Columns, catalog.Column{Name: f.Name, Type: f.Type, Kind: kind, MetadataKey: key, Virtual: virtual})
	}
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if pk, ok := strings.CutPrefix(strings.TrimSpace(l), "PRIMARY KEY"); ok {
			// PRIMARY KEY (a, b): NOT ENFORCED is implied (the catalog refuses ENFORCED).
			pk = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(pk), "NOT ENFORCED")), ")")
			for _, c := range strings.Split(strings.TrimPrefix(strings.TrimSpace(pk), "("), ",") {
				tbl.PrimaryKey = append(tbl.PrimaryKey, strings.TrimSpace(c))
			}
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		tbl.Options[strings.TrimSpace(k)] = h.expand(strings.TrimSpace(v))
		tbl.OptionKeys = append(tbl.OptionKeys, strings.TrimSpace(k))
	}
	if _, ok := tbl.Options["connector"]; !ok {
		tbl.Options["connector"] = "kafka"
	}
	return tbl, nil
}

// createSource and createSink use the factory of the table's connector (kafka or upsert-kafka).
func (h *harness) createSource(tbl *catalog.Table, stderr *bytes.Buffer) (connectors.Source, error) {
	if tbl.Options["connector"] == "upsert-kafka" {
		return h.upsertFactory().CreateSource(h.ctx(tbl, stderr))
	}
	return h.factory.CreateSource(h.ctx(tbl, stderr))
}

func (h *harness) createSink(tbl *catalog.Table, stderr *bytes.Buffer) (connectors.Sink, error) {
	if tbl.Options["connector"] == "upsert-kafka" {
		return h.upsertFactory().CreateSink(h.ctx(tbl, stderr))
	}
	return h.factory.CreateSink(h.ctx(tbl, stderr))
}

func (h *harness) upsertFactory() *kafka.UpsertFactory {
	if h.upsert == nil {
		h.upsert = kafka.NewUpsertFactory()
	}
	return h.upsert
}

func (h *harness) ctx(tbl *catalog.Table, stderr *bytes.Buffer) connectors.Context {
	return connectors.Context{Table: tbl, Options: tbl.Options, Formats: h.reg, Session: h.session, Stderr: stderr,
		Batch: h.session["execution.runtime-mode"] == "batch"}
}

// errText renders an error for a golden file, marking validation errors.
func errText(err error) string {
	prefix := "error: "
	if errors.Is(err, options.ErrValidation) {
		prefix = "validation error: "
	}
	return prefix + err.Error() + "\n"
}

// collector keeps what a source pushes.
type collector struct {
	mu     sync.Mutex
	rows   []changelog.Row
	ends   int
	stopAt int
	cancel func()
	log    testing.TB
}

func (c *collector) Push(b *changelog.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b.Rows {
		c.rows = append(c.rows, changelog.Row{Kind: r.Kind, Vals: changelog.CopyVals(r.Vals)})
		if c.log != nil {
			c.log.Logf("%s row %v", time.Now().Format("05.000"), r.Vals)
		}
	}
	if c.stopAt > 0 && len(c.rows) >= c.stopAt && c.cancel != nil {
		c.cancel()
	}
	return nil
}
func (c *collector) Watermark(int64) error { return nil }
func (c *collector) End() error            { c.ends++; return nil }

// sourceColumnTypes are the types of a source's rows: physical columns, then metadata columns.
func sourceColumnTypes(t *catalog.Table) []types.Type {
	var ts []types.Type
	for _, c := range t.PhysicalColumns() {
		ts = append(ts, c.Type)
	}
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn {
			ts = append(ts, c.Type)
		}
	}
	return ts
}

// sinkRowType is the ROW type of a sink's rows: physical columns, then persisted metadata columns.
func sinkRowType(t *catalog.Table) types.Type {
	var fs []types.Field
	for _, c := range t.PhysicalColumns() {
		fs = append(fs, types.Field{Name: c.Name, Type: c.Type})
	}
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn && !c.Virtual {
			fs = append(fs, types.Field{Name: c.Name, Type: c.Type})
		}
	}
	return types.RowType(fs...)
}

// read runs a source: to its end when bounded, else until rows rows arrived or timeout passed.
func (h *harness) read(d string, tbl *catalog.Table, rows int, timeout time.Duration, showMetrics, sorted bool) string {
	var stderr bytes.Buffer
	src, err := h.createSource(tbl, &stderr)
	if err != nil {
		return h.scrub(errText(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := &collector{stopAt: rows, cancel: cancel}
	if h.columnar {
		err = src.Run(ctx, &colCollector{collector: c, pushed: h.pushed})
	} else {
		err = src.Run(ctx, c)
	}
	var b strings.Builder
	if src.Bounded() {
		b.WriteString("bounded\n")
	}
	ts := sourceColumnTypes(tbl)
	var lines []string
	for _, r := range c.rows {
		lines = append(lines, string(changelog.AppendRow(nil, r, ts, time.UTC)))
	}
	if sorted {
		sort.Strings(lines)
	}
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if stderr.Len() > 0 {
		b.WriteString(stderr.String())
	}
	if showMetrics {
		if m, ok := src.(interface{ Metrics() kafka.Metrics }); ok {
			fmt.Fprintf(&b, "metrics: %+v\n", m.Metrics())
		}
	}
	switch {
	case err == nil:
	case rows > 0 && len(c.rows) >= rows && errors.Is(err, context.Canceled):
	default:
		b.WriteString(errText(err))
	}
	if c.ends != 0 {
		h.t.Errorf("%s: the source called End", d)
	}
	return h.scrub(b.String())
}

// write runs a sink over rows given as JSON objects of the sink's columns, each an insert unless the line
// starts with a kind (+I, -U, +U, -D).
func (h *harness) write(tbl *catalog.Table, input string) string {
	var stderr bytes.Buffer
	snk, err := h.createSink(tbl, &stderr)
	if err != nil {
		return h.scrub(errText(err))
	}
	rt := sinkRowType(tbl)
	dec, err := h.reg.Discover(map[string]string{"format": "json", "json.timestamp-format.standard": "SQL"}, "format", rt, false)
	if err != nil {
		h.t.Fatal(err)
	}
	var batch changelog.Batch
	for _, l := range strings.Split(input, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		kind := changelog.Insert
		for _, k := range []changelog.Kind{changelog.Insert, changelog.UpdateBefore, changelog.UpdateAfter, changelog.Delete} {
			if rest, ok := strings.CutPrefix(l, k.String()+" "); ok {
				kind, l = k, rest
			}
		}
		vals := make([]types.Value, len(rt.Fields))
		if ok, err := dec.Decoder.Decode([]byte(l), vals); err != nil || !ok {
			h.t.Fatalf("bad test row %s: %v", l, err)
		}
		batch.Append(kind, vals)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := snk.Open(ctx)
	if err != nil {
		return h.scrub(errText(err))
	}
	var b strings.Builder
	if err := out.Push(&batch); err != nil {
		b.WriteString(errText(err))
	}
	if err := out.End(); err != nil {
		b.WriteString(errText(err))
	}
	b.WriteString(stderr.String())
	if b.Len() == 0 {
		fmt.Fprintf(&b, "wrote %d rows\n", batch.Len())
	}
	return h.scrub(b.String())
}

// produceLine is one record to produce: 'p=0 key=... value=... h.name=... ts=millis', tokens separated by
// spaces (values without spaces; <null> for a null key or value).
func parseRecord(topic, line string) (*kgo.Record, error) {
	r := &kgo.Record{Topic: topic, Partition: -1}
	for _, tok := range strings.Fields(line) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			return nil, fmt.Errorf("token %q is not k=v", tok)
		}
		var bs []byte
		if v != "<null>" {
			bs = []byte(v)
		}
		switch {
		case k == "p":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			r.Partition = int32(n)
		case k == "key":
			r.Key = bs
		case k == "value":
			r.Value = bs
		case k == "ts":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, err
			}
			r.Timestamp = time.UnixMilli(n)
		case strings.HasPrefix(k, "h."):
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k[2:], Value: bs})
		default:
			return nil, fmt.Errorf("unknown token %q", k)
		}
	}
	return r, nil
}

func (h *harness) produce(topic, input string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := 0
	for _, l := range strings.Split(input, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		r, err := parseRecord(topic, l)
		if err != nil {
			h.t.Fatalf("bad record line %q: %v", l, err)
		}
		if r.Partition < 0 {
			r.Partition = 0
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			return errText(err)
		}
		n++
	}
	return fmt.Sprintf("produced %d records\n", n)
}

// consumeAll reads every record of topic, sorted by partition and offset.
func consumeAll(t testing.TB, addr, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The end offsets say how much to read.
	ends := map[int32]int64{}
	req := kgo.NewOffset().AtStart()
	parts := map[int32]kgo.Offset{}
	md, err := listEnds(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for p, e := range md {
		ends[p] = e
		parts[p] = req
		total += e
	}
	var out []*kgo.Record
	if total == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts})
	// Read each partition up to its end offset (not a record count: a compacted topic has offset gaps).
	open := 0
	for _, e := range ends {
		if e > 0 {
			open++
		}
	}
	for open > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset == ends[r.Partition]-1 {
				open--
			}
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

func formatRecord(r *kgo.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "p=%d off=%d", r.Partition, r.Offset)
	if r.Key == nil {
		b.WriteString(" key=<null>")
	} else {
		fmt.Fprintf(&b, " key=%s", r.Key)
	}
	if r.Value == nil {
		b.WriteString(" value=<null>")
	} else {
		fmt.Fprintf(&b, " value=%s", r.Value)
	}
	for _, hd := range r.Headers {
		fmt.Fprintf(&b, " h.%s=%s", hd.Key, hd.Value)
	}
	if d := time.Since(r.Timestamp); d > -10*time.Minute && d < 10*time.Minute {
		b.WriteString(" ts=<now>") // stamped by the producer
	} else {
		fmt.Fprintf(&b, " ts=%d", r.Timestamp.UnixMilli())
	}
	return b.String()
}

// listEnds returns the end offset of every partition of topic.
func listEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var first error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && first == nil {
			first = o.Err
		}
		out[o.Partition] = o.Offset
	})
	return out, first
}

func registry() *formats.Registry { return fmtbuiltin.Registry() }
