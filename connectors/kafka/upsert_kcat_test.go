package kafka_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/types"
)

// TestKcatProducesUpsertsSluiceReads: kcat (librdkafka) produces keyed records and, with -Z, tombstones
// (empty values as NULL); the upsert-kafka source reads them as upserts and deletes, and the normalized,
// materialized table is the last value of each live key.
func TestKcatProducesUpsertsSluiceReads(t *testing.T) {
	path := needKcat(t)
	_, addr := startBroker(t, kfake.SeedTopics(3, "kc-upsert"))
	in := "alice:{\"n\":1}\nbob:{\"n\":2}\nalice:{\"n\":3}\nbob:\ncarol:{\"n\":4}\ndave:\n"
	kcat(t, path, in, "-P", "-b", addr, "-t", "kc-upsert", "-K:", "-Z", "-X", "topic.partitioner=murmur2_random")

	h := &harness{t: t, addr: addr, reg: registry(), upsert: kafka.NewUpsertFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("kc", "k STRING, n INT, p INT METADATA FROM 'partition' VIRTUAL\nPRIMARY KEY (k)\n"+
		"connector=upsert-kafka\ntopic=kc-upsert\nproperties.bootstrap.servers=$BROKER\nkey.format=raw\nvalue.format=json\n"+
		"value.fields-include=EXCEPT_KEY\nscan.bounded.mode=latest-offset")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.createSource(tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := src.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ts := []types.Type{types.StringType(), types.IntType(), types.IntType()}
	var byKey = map[string][]string{}
	for _, r := range c.rows {
		k := r.Vals[0].S
		if want := javaPartition([]byte(k), 3); int(r.Vals[2].I) != want {
			t.Errorf("key %s in partition %d, Java's murmur2 says %d", k, r.Vals[2].I, want)
		}
		byKey[k] = append(byKey[k], string(changelog.AppendRow(nil, changelog.Row{Kind: r.Kind, Vals: r.Vals[:2]}, ts[:2], time.UTC)))
	}
	want := map[string]string{
		"alice": "+I[alice, 1] +I[alice, 3]",
		"bob":   "+I[bob, 2] -D[bob, null]",
		"carol": "+I[carol, 4]",
		"dave":  "-D[dave, null]",
	}
	for k, w := range want {
		if got := strings.Join(byKey[k], " "); got != w {
			t.Errorf("key %s: read %s, want %s", k, got, w)
		}
	}
	// The source's mode makes the planner normalize it; materialized on the key, the live rows remain.
	if m := src.ChangelogMode(); len(m.UpsertKey) != 1 || m.UpsertKey[0] != 0 {
		t.Fatalf("changelog mode %+v, want an upsert mode keyed on column 0", m)
	}
	got := materialized(t, c.rows, ts, []int{0})
	if len(got) != 2 || !strings.HasPrefix(got[0], "+I[alice, 3, ") || !strings.HasPrefix(got[1], "+I[carol, 4, ") {
		t.Errorf("materialized %v, want alice 3 and carol 4", got)
	}
}

// TestSluiceWritesUpsertsKcatReads: the upsert-kafka sink writes updates and deletes; kcat reads the deletes
// as tombstones (NULL payload in -J, the -Z NULL marker in -f) and finds every key in the partition
// librdkafka's murmur2 picks for it.
func TestSluiceWritesUpsertsKcatReads(t *testing.T) {
	path := needKcat(t)
	_, addr := startBroker(t, kfake.SeedTopics(4, "kc-uout"))
	h := &harness{t: t, addr: addr, reg: registry(), upsert: kafka.NewUpsertFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("out", "k STRING, n INT\nPRIMARY KEY (k)\nconnector=upsert-kafka\ntopic=kc-uout\n"+
		"properties.bootstrap.servers=$BROKER\nkey.format=raw\nvalue.format=json\nvalue.fields-include=EXCEPT_KEY")
	if err != nil {
		t.Fatal(err)
	}
	rows := `+I {"k":"alice","n":1}
+I {"k":"bob","n":1}
-U {"k":"alice","n":1}
+U {"k":"alice","n":2}
-D {"k":"bob","n":1}
+I {"k":"carol","n":1}
+I {"k":"dave","n":1}
-D {"k":"carol","n":1}
`
	if out := h.write(tbl, rows); out != "wrote 8 rows\n" {
		t.Fatal(out)
	}
	out := strings.TrimSpace(kcat(t, path, "", "-C", "-b", addr, "-t", "kc-uout", "-J", "-e", "-o", "beginning", "-q"))
	got := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		var r kcatRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("kcat line %q: %v", l, err)
		}
		if r.Key == nil {
			t.Fatalf("null key: %s", l)
		}
		if want := javaPartition([]byte(*r.Key), 4); r.Partition != want {
			t.Errorf("key %s in partition %d, murmur2 picks %d", *r.Key, r.Partition, want)
		}
		v := "NULL"
		if r.Payload != nil {
			v = *r.Payload
		}
		got[*r.Key] = append(got[*r.Key], v)
	}
	want := map[string]string{
		"alice": `{"n":1} {"n":2}`,
		"bob":   `{"n":1} NULL`,
		"carol": `{"n":1} NULL`,
		"dave":  `{"n":1}`,
	}
	for k, w := range want {
		if g := strings.Join(got[k], " "); g != w {
			t.Errorf("key %s: kcat read %s, want %s", k, g, w)
		}
	}
	// -Z with a format string prints a NULL value as the NULL marker, an empty one as empty.
	f := kcat(t, path, "", "-C", "-b", addr, "-t", "kc-uout", "-Z", "-e", "-o", "beginning", "-q", "-f", "%k=%s|\n")
	for _, k := range []string{"bob", "carol"} {
		if !strings.Contains(f, k+"=NULL|") {
			t.Errorf("kcat -Z does not show the tombstone of %s as NULL:\n%s", k, f)
		}
	}
	if strings.Contains(f, "=null|") {
		t.Errorf("a tombstone was written as the string null:\n%s", f)
	}
}
