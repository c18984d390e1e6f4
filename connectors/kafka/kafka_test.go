package kafka_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

// javaMurmur2 is Kafka's org.apache.kafka.common.utils.Utils.murmur2, transcribed independently of
// franz-go's copy so that the two can check each other.
func javaMurmur2(data []byte) int32 {
	const seed = int32(-1756908916) // 0x9747b28c
	const m = int32(0x5bd1e995)
	const r = 24
	length := int32(len(data))
	h := seed ^ length
	length4 := length / 4
	for i := int32(0); i < length4; i++ {
		i4 := i * 4
		k := int32(data[i4+0]) + int32(data[i4+1])<<8 + int32(data[i4+2])<<16 + int32(data[i4+3])<<24
		k *= m
		k ^= int32(uint32(k) >> r)
		k *= m
		h *= m
		h ^= k
	}
	switch length % 4 {
	case 3:
		h ^= int32(data[(length&^3)+2]) << 16
		fallthrough
	case 2:
		h ^= int32(data[(length&^3)+1]) << 8
		fallthrough
	case 1:
		h ^= int32(data[length&^3])
		h *= m
	}
	h ^= int32(uint32(h) >> 13)
	h *= m
	h ^= int32(uint32(h) >> 15)
	return h
}

// javaPartition is Kafka's BuiltInPartitioner.partitionForKey: toPositive(murmur2(key)) % n.
func javaPartition(key []byte, n int) int {
	return int(javaMurmur2(key)&0x7fffffff) % n
}

// TestMurmur2JavaAgreement checks the partition of keyed records against Java's murmur2: the reference
// vectors of Kafka's UtilsTest.testMurmur2, franz-go's StickyKeyPartitioner, and the partitions the sink
// actually wrote to.
func TestMurmur2JavaAgreement(t *testing.T) {
	// Kafka's UtilsTest.testMurmur2 (computed by the Java implementation).
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := javaMurmur2([]byte(in)); got != want {
			t.Fatalf("murmur2(%q) = %d, want Java's %d", in, got, want)
		}
	}
	// franz-go's partitioner, which the sink uses, agrees for many keys and partition counts.
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := 0; i < 2000; i++ {
		key := []byte(fmt.Sprintf("key-%d", i))
		for _, n := range []int{1, 2, 3, 4, 7, 10, 12, 100} {
			if got, want := kp.Partition(&kgo.Record{Key: key}, n), javaPartition(key, n); got != want {
				t.Fatalf("key %q n=%d: franz-go picks %d, Java %d", key, n, got, want)
			}
		}
	}

	// The sink's records land where Java's producer would put them.
	_, addr := startBroker(t, kfake.SeedTopics(6, "hashed"))
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("hashed", "k STRING, v INT\ntopic=hashed\nproperties.bootstrap.servers=$BROKER\nkey.format=raw\nkey.fields=k\nvalue.format=json")
	if err != nil {
		t.Fatal(err)
	}
	var rows strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&rows, "{\"k\":\"user-%d\",\"v\":%d}\n", i, i)
	}
	if out := h.write(tbl, rows.String()); out != "wrote 300 rows\n" {
		t.Fatal(out)
	}
	recs := consumeAll(t, addr, "hashed")
	if len(recs) != 300 {
		t.Fatalf("consumed %d records", len(recs))
	}
	used := map[int32]bool{}
	for _, r := range recs {
		used[r.Partition] = true
		if want := javaPartition(r.Key, 6); int(r.Partition) != want {
			t.Fatalf("key %q written to partition %d, Java's producer picks %d", r.Key, r.Partition, want)
		}
	}
	if len(used) != 6 {
		t.Fatalf("300 keys used only partitions %v", used)
	}
}

// TestBrokerDown: an unreachable bootstrap server fails the start within the bounded wait, naming it.
func TestBrokerDown(t *testing.T) {
	// A port that refuses connections: listen, note the address, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("down", "a INT\ntopic=t\nproperties.bootstrap.servers=$BROKER\nformat=json\nscan.startup.mode=earliest-offset\nproperties.default.api.timeout.ms=1500")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out := h.read("down", tbl, 0, time.Minute, false, false)
	took := time.Since(start)
	want := "error: kafka table 'down': no broker reachable at 'properties.bootstrap.servers' = '$BROKER' within 1.5s: "
	// The dial's own error follows: "connection refused", or on a machine too loaded to get the refusal
	// within the wait, the dial's "i/o timeout".
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "connection refused") && !strings.Contains(out, "i/o timeout") {
		t.Fatalf("source error:\n%s\nwant prefix\n%s... connection refused", out, want)
	}
	if took > 5*time.Second {
		t.Fatalf("the source took %s to fail", took)
	}
	start = time.Now()
	out = h.write(tbl, `{"a":1}`)
	if !strings.HasPrefix(out, want) || time.Since(start) > 5*time.Second {
		t.Fatalf("sink error after %s:\n%s", time.Since(start), out)
	}

	// The default wait is 10 s.
	tbl.Options["properties.default.api.timeout.ms"] = ""
	delete(tbl.Options, "properties.default.api.timeout.ms")
	start = time.Now()
	out = h.read("down", tbl, 0, time.Minute, false, false)
	if took := time.Since(start); took < 9*time.Second || took > 15*time.Second || !strings.Contains(out, "within 10s") {
		t.Fatalf("default wait: failed after %s with\n%s", took, out)
	}
}

// TestPerPartitionOrder: many records over several partitions arrive in offset order per partition.
func TestPerPartitionOrder(t *testing.T) {
	_, addr := startBroker(t, kfake.SeedTopics(4, "many"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	ctx := context.Background()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "many", Value: []byte(`{"i":` + strconv.Itoa(i) + `}`)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("many", "i INT, p INT METADATA FROM 'partition' VIRTUAL, o BIGINT METADATA FROM 'offset' VIRTUAL\ntopic=many\nproperties.bootstrap.servers=$BROKER\nformat=json\nscan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset\nproperties.max.poll.records=97")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, nil))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := src.Run(ctx, c); err != nil {
		t.Fatal(err)
	}
	if len(c.rows) != n {
		t.Fatalf("read %d rows, want %d", len(c.rows), n)
	}
	last := map[int64]int64{}
	lastI := map[int64]int64{}
	for _, r := range c.rows {
		p, o, i := r.Vals[1].I, r.Vals[2].I, r.Vals[0].I
		if prev, ok := last[p]; ok && o != prev+1 {
			t.Fatalf("partition %d: offset %d after %d", p, o, prev)
		}
		if prev, ok := lastI[p]; ok && i <= prev {
			t.Fatalf("partition %d: value %d after %d", p, i, prev)
		}
		last[p], lastI[p] = o, i
	}
}

// TestDiscoveryAndProgressCommits: an unbounded topic-pattern source picks up a topic created while it
// runs, and commits its progress when cancelled, so a restart with group-offsets continues there.
func TestDiscoveryAndProgressCommits(t *testing.T) {
	cluster, addr := startBroker(t, kfake.SeedTopics(1, "ev-1"))
	produce := func(topic string, vals ...string) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for _, v := range vals {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce("ev-1", `{"n":1}`)
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("ev", "n INT, t STRING METADATA FROM 'topic' VIRTUAL\ntopic-pattern=ev-.*\nproperties.bootstrap.servers=$BROKER\nproperties.group.id=ev-group\nproperties.auto.offset.reset=earliest\nformat=json\nscan.topic-partition-discovery.interval=200 ms\nproperties.auto.commit.interval.ms=100")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := &collector{stopAt: 3, cancel: cancel}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c) }()
	time.Sleep(300 * time.Millisecond)
	if err := cluster.CreateTopic("ev-2", 1, nil); err != nil {
		t.Fatal(err)
	}
	produce("ev-2", `{"n":2}`)
	produce("ev-1", `{"n":3}`)
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	got := map[string]bool{}
	for _, r := range c.rows {
		got[fmt.Sprintf("%d@%s", r.Vals[0].I, r.Vals[1].S)] = true
	}
	for _, want := range []string{"1@ev-1", "2@ev-2", "3@ev-1"} {
		if !got[want] {
			t.Fatalf("rows %v lack %s", got, want)
		}
	}
	if out := h.committed("ev-group", "ev-1") + h.committed("ev-group", "ev-2"); out != "ev-1/0: 2\nev-2/0: 1\n" {
		t.Fatalf("committed offsets:\n%s", out)
	}
	// A restart from the group's offsets reads only what is new.
	produce("ev-2", `{"n":4}`)
	tbl.Options["scan.bounded.mode"] = "latest-offset"
	if out := h.read("restart", tbl, 0, 10*time.Second, false, true); out != "bounded\n+I[4, ev-2]\n" {
		t.Fatalf("restart read:\n%s", out)
	}
}

// TestSASLAndTLS: the PLAIN/SCRAM and TLS properties reach a broker that requires them.
func TestSASLAndTLS(t *testing.T) {
	pass := randomHex(t)
	certPEM, keyPEM := selfSigned(t)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		opts  []kfake.Opt
		props string
	}{
		{"scram", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "sluice", pass)},
			"properties.security.protocol=SASL_PLAINTEXT\nproperties.sasl.mechanism=SCRAM-SHA-256\n" +
				`properties.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="sluice" password="` + pass + `";`},
		{"plain-tls", []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("PLAIN", "sluice", pass), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}})},
			"properties.security.protocol=SASL_SSL\nproperties.sasl.mechanism=PLAIN\n" +
				`properties.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="sluice" password="` + pass + `";` +
				"\nproperties.ssl.truststore.type=PEM\nproperties.ssl.truststore.certificates=" + strings.ReplaceAll(string(certPEM), "\n", `\n`)},
		{"tls-no-hostname", []kfake.Opt{kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}})},
			"properties.security.protocol=SSL\nproperties.ssl.endpoint.identification.algorithm=\nproperties.ssl.truststore.certificates=" + strings.ReplaceAll(string(certPEM), "\n", `\n`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, addr := startBroker(t, append(c.opts, kfake.SeedTopics(1, "secure"))...)
			h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(kafka.WithConnectTimeout(3 * time.Second)),
				tables: map[string]*catalog.Table{}, session: map[string]string{"table.local-time-zone": "UTC"}}
			tbl, err := h.parseTable("secure", "a INT\ntopic=secure\nproperties.bootstrap.servers=$BROKER\nformat=json\nscan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset\n"+c.props)
			if err != nil {
				t.Fatal(err)
			}
			// The option lines cannot hold newlines; the PEM text was escaped.
			for k, v := range tbl.Options {
				tbl.Options[k] = strings.ReplaceAll(v, `\n`, "\n")
			}
			if out := h.write(tbl, "{\"a\":1}\n{\"a\":2}"); out != "wrote 2 rows\n" {
				t.Fatal(out)
			}
			if out := h.read("secure", tbl, 0, 20*time.Second, false, false); out != "bounded\n+I[1]\n+I[2]\n" {
				t.Fatal(out)
			}
			if c.name == "tls-no-hostname" {
				// Another CA in the truststore: the broker's certificate does not verify.
				other, _ := selfSigned(t)
				tbl.Options["properties.ssl.truststore.certificates"] = string(other)
				out := h.read("secure", tbl, 0, 20*time.Second, false, false)
				if !strings.Contains(out, "sent a certificate that does not verify") {
					t.Fatalf("untrusted certificate:\n%s", out)
				}
			}
			if strings.Contains(c.name, "scram") {
				// A wrong password fails the start clearly, without echoing the password.
				tbl.Options["properties.sasl.jaas.config"] = strings.ReplaceAll(tbl.Options["properties.sasl.jaas.config"], pass, "wrong")
				out := h.read("secure", tbl, 0, 20*time.Second, false, false)
				// (A real broker answers SASL_AUTHENTICATION_FAILED: "refused the SASL login"; kfake hangs up.)
				if !strings.Contains(out, "error: kafka table 'secure': ") || strings.Contains(out, pass) {
					t.Fatalf("wrong password:\n%s", out)
				}
			}
		})
	}
}

func randomHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// selfSigned makes a certificate for 127.0.0.1, valid for an hour.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice test broker"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestSinkRejectsUpdates: the sink accepts only inserts and hints at upsert-kafka.
func TestSinkRejectsUpdates(t *testing.T) {
	_, addr := startBroker(t)
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("counts", "a INT\ntopic=counts\nproperties.bootstrap.servers=$BROKER\nformat=json")
	if err != nil {
		t.Fatal(err)
	}
	snk, err := h.factory.CreateSink(h.ctx(tbl, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := snk.Accepts(); got != changelog.KindsOf(changelog.Insert) {
		t.Fatalf("Accepts = %v", got)
	}
	hint, ok := snk.(interface{ UpdateHint() string })
	if !ok || !strings.Contains(hint.UpdateHint(), "'connector' = 'upsert-kafka'") {
		t.Fatalf("no upsert-kafka hint")
	}
	out, err := snk.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b changelog.Batch
	b.Append(changelog.UpdateAfter, []types.Value{types.IntValue(1)})
	if err := out.Push(&b); err == nil || !strings.Contains(err.Error(), "upsert-kafka") {
		t.Fatalf("Push(+U) = %v", err)
	}
	if err := out.End(); err != nil {
		t.Fatal(err)
	}
}

// TestBrokerRestartWhileWriting: records written while the broker is away are delivered when it is back.
func TestBrokerRestartWhileWriting(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(1, "restart"), kfake.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cluster := start()
	addr := cluster.ListenAddrs()[0]
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("restart", "a INT\ntopic=restart\nproperties.bootstrap.servers=$BROKER\nformat=json\nproperties.linger.ms=0")
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	snk, err := h.factory.CreateSink(h.ctx(tbl, &stderr))
	if err != nil {
		t.Fatal(err)
	}
	out, err := snk.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	push := func(from, to int) {
		var b changelog.Batch
		for i := from; i < to; i++ {
			b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i))})
		}
		if err := out.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	push(0, 100)
	time.Sleep(200 * time.Millisecond)
	cluster.Close()
	push(100, 200) // buffered while the broker is down
	time.Sleep(300 * time.Millisecond)
	cluster = start()
	defer cluster.Close()
	if err := out.End(); err != nil {
		t.Fatal(err, stderr.String())
	}
	recs := consumeAll(t, addr, "restart")
	seen := map[string]bool{}
	for _, r := range recs {
		seen[string(r.Value)] = true
	}
	for i := 0; i < 200; i++ {
		if !seen[fmt.Sprintf(`{"a":%d}`, i)] {
			t.Fatalf("record %d lost over the restart (%d records in the topic)", i, len(recs))
		}
	}
}

// TestReadCommittedBounded: transactional records, one transaction aborted. read_committed skips the aborted
// ones, read_uncommitted sees all, and both bounded reads end although the last offsets are transaction
// markers rather than records.
func TestReadCommittedBounded(t *testing.T) {
	_, addr := startBroker(t, kfake.SeedTopics(1, "tx"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("sluice-test-tx"), kgo.DefaultProduceTopic("tx"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			v := fmt.Sprintf(`{"n":%d}`, i*10+j)
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	for _, c := range []struct{ level, want string }{
		{"read_committed", "bounded\n+I[0]\n+I[1]\n+I[20]\n+I[21]\n"},
		{"read_uncommitted", "bounded\n+I[0]\n+I[1]\n+I[10]\n+I[11]\n+I[20]\n+I[21]\n"},
	} {
		tbl, err := h.parseTable("tx", "n INT\ntopic=tx\nproperties.bootstrap.servers=$BROKER\nformat=json\nscan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset\nproperties.isolation.level="+c.level)
		if err != nil {
			t.Fatal(err)
		}
		if out := h.read(c.level, tbl, 0, 10*time.Second, false, false); out != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.level, out, c.want)
		}
	}
}

// TestBrokerRestartWhileReading: an unbounded source keeps going over a broker restart, without loss.
func TestBrokerRestartWhileReading(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(2, "live"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cluster := start()
	addr := cluster.ListenAddrs()[0]
	produce := func(from, to int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "live", Value: []byte(fmt.Sprintf(`{"n":%d}`, i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 50)
	h := &harness{t: t, addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("live", "n INT\ntopic=live\nproperties.bootstrap.servers=$BROKER\nformat=json\nscan.startup.mode=earliest-offset")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &collector{stopAt: 100, cancel: cancel}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, c) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		n := len(c.rows)
		c.mu.Unlock()
		if n >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d rows before the restart", n)
		}
	}
	cluster.Close()
	time.Sleep(500 * time.Millisecond)
	cluster = start()
	defer cluster.Close()
	produce(50, 100)
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run = %v", err)
	}
	seen := map[int64]bool{}
	for _, r := range c.rows {
		seen[r.Vals[0].I] = true
	}
	for i := int64(0); i < 100; i++ {
		if !seen[i] {
			t.Fatalf("row %d missing after the restart (%d rows)", i, len(c.rows))
		}
	}
}
