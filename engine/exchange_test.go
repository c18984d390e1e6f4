package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/sql"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// exchangeBroker starts an in-process broker with 4 partitions per topic.
func exchangeBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// produceChangelog writes a random debezium-json changelog of n rows with ids below ids to topic: inserts,
// updates and deletes of each id, every id's changes in one partition (so in order). row builds a row's
// fields for an id.
func produceChangelog(t *testing.T, addr, topic string, rng *rand.Rand, n, ids int, row func(id int) map[string]any) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	live := map[int]map[string]any{}
	var recs []*kgo.Record
	for range n {
		id := rng.Intn(ids)
		before := live[id]
		var msg map[string]any
		switch {
		case before == nil:
			after := row(id)
			live[id] = after
			msg = map[string]any{"before": nil, "after": after, "op": "c"}
		case rng.Intn(4) == 0:
			delete(live, id)
			msg = map[string]any{"before": before, "after": nil, "op": "d"}
		default:
			after := row(id)
			live[id] = after
			msg = map[string]any{"before": before, "after": after, "op": "u"}
		}
		v, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(id % 4), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func exchangeSession(t *testing.T, par int) *Session {
	t.Helper()
	var out bytes.Buffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(),
		Options: map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func execScript(t *testing.T, s *Session, script string) {
	t.Helper()
	stmts, err := sql.ParseScript(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := s.Execute(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
}

const exchangeTables = `
CREATE TABLE person (id BIGINT, name STRING, city STRING) WITH ('connector' = 'kafka', 'topic' = 'person',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
CREATE TABLE auction (id BIGINT, seller BIGINT, price BIGINT) WITH ('connector' = 'kafka', 'topic' = 'auction',
  'properties.bootstrap.servers' = 'ADDR', 'format' = 'debezium-json', 'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset');
`

// exchangeQueries are keyed operators fed by multi-partition Kafka changelogs (retractions included).
var exchangeQueries = []string{
	`SELECT city, COUNT(*), SUM(id), MAX(name) FROM person GROUP BY city`,
	`SELECT seller, COUNT(*), SUM(price), MIN(price) FROM auction WHERE price > 10 GROUP BY seller`,
	`SELECT p.name, p.city, a.id, a.price FROM auction a JOIN person p ON a.seller = p.id`,
	`SELECT p.id, p.name, a.id FROM person p LEFT JOIN auction a ON a.seller = p.id AND a.price > 50`,
	`SELECT a.id, a.price, p.city FROM auction a FULL JOIN person p ON a.seller = p.id`,
}

// TestExchangeParallelismProperty runs keyed operators over random multi-partition changelogs at
// parallelism 1 and 3 (source subtasks hash-exchanging into keyed subtasks) and compares the materialized
// results.
func TestExchangeParallelismProperty(t *testing.T) {
	addr := exchangeBroker(t)
	rng := rand.New(rand.NewSource(13))
	cities := []string{"Berlin", "Paris", "Oslo", "Rome", "Lima", "Kyiv", "Quito"}
	produceChangelog(t, addr, "person", rng, 3000, 400, func(id int) map[string]any {
		return map[string]any{"id": id, "name": fmt.Sprintf("n%d", rng.Intn(50)), "city": cities[rng.Intn(len(cities))]}
	})
	produceChangelog(t, addr, "auction", rng, 5000, 900, func(id int) map[string]any {
		seller := any(rng.Intn(450)) // some sellers without a person
		if rng.Intn(20) == 0 {
			seller = nil
		}
		return map[string]any{"id": id, "seller": seller, "price": rng.Intn(100)}
	})
	tables := strings.ReplaceAll(exchangeTables, "ADDR", addr)
	for _, q := range exchangeQueries {
		var want string
		for _, par := range []int{1, 3} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built := exchangesBuilt.Load()
			rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", q, par, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s at parallelism %d: materialize: %v", q, par, err)
				}
			}
			got := sortedLines(m.Rows())
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("%s at parallelism %d: %d exchanges built", q, par, n)
			}
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows to compare:\n%s", q, want)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%s\nwant:\n%s", q, par, got, want)
			}
		}
	}
}
