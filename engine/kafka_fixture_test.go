package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaFixture is the in-process Kafka broker (kfake, on 127.0.0.1) of one golden file, started on first
// use. Statements name it as $BROKER.
type kafkaFixture struct {
	t    *testing.T
	c    *kfake.Cluster
	addr string
}

func (k *kafkaFixture) start() {
	if k.c != nil {
		return
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	if err != nil {
		k.t.Fatal(err)
	}
	k.c, k.addr = c, c.ListenAddrs()[0]
}

func (k *kafkaFixture) close() {
	if k.c != nil {
		k.c.Close()
	}
}

// expand replaces $BROKER in SQL text by the broker's address (starting the broker when the text names it).
func (k *kafkaFixture) expand(s string) string {
	if !strings.Contains(s, "$BROKER") {
		return s
	}
	k.start()
	return strings.ReplaceAll(s, "$BROKER", k.addr)
}

// scrub replaces the broker's address in output by $BROKER.
func (k *kafkaFixture) scrub(s string) string {
	if k.c == nil {
		return s
	}
	return strings.ReplaceAll(s, k.addr, "$BROKER")
}

// produceCmd runs the golden files' produce command: produce topic=T [parallel-partitions=N [key=F]].
// parallel-partitions applies when parallel is set (TestGoldenParallel): the topic has N partitions, each
// line written to the partition of its JSON field F (else round robin). Otherwise (TestGolden) every line
// goes to partition 0, so that the changelogs printed at parallelism 1 keep the file's order.
func (k *kafkaFixture) produceCmd(t testing.TB, d *datadriven.TestData, input string, parallel bool) string {
	var topic, key string
	partitions := 1
	d.ScanArgs(t, "topic", &topic)
	d.MaybeScanArgs(t, "parallel-partitions", &partitions)
	d.MaybeScanArgs(t, "key", &key)
	if partitions < 1 || (key != "" && partitions == 1) {
		t.Fatalf("%s: produce: parallel-partitions=%d key=%q: want parallel-partitions >= 1, and key only with parallel-partitions > 1", d.Pos, partitions, key)
	}
	if !parallel {
		partitions, key = 1, ""
	}
	return k.produceTo(topic, partitions, key, input)
}

// produce writes one record per non-empty input line (the line is the value; no key) to partition 0 of topic.
// Lines starting with # are comments.
func (k *kafkaFixture) produce(topic, input string) string {
	return k.produceTo(topic, 1, "", input)
}

// produceTo writes one record per non-empty input line (the line is the value; no record key) to topic.
// With partitions > 1 it first creates the topic with that many partitions and writes each line to the
// partition FNV-1a(JSON text of the line's field key) mod partitions, so that the rows of one key keep their
// order in one partition; without key, line i goes to partition i mod partitions. Lines starting with # are
// comments.
func (k *kafkaFixture) produceTo(topic string, partitions int, key, input string) string {
	k.start()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		k.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if partitions > 1 {
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Sprintf("create topic %s with %d partitions: %v\n", topic, partitions, err)
		}
	}
	n := 0
	for _, l := range strings.Split(input, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		p := int32(n % partitions)
		if key != "" {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(l), &fields); err != nil {
				return fmt.Sprintf("produce key=%s: line %q is not a JSON object: %v\n", key, l, err)
			}
			v, ok := fields[key]
			if !ok {
				return fmt.Sprintf("produce key=%s: line %q has no field %s\n", key, l, key)
			}
			h := fnv.New32a()
			h.Write(v)
			p = int32(h.Sum32() % uint32(partitions))
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(l)}).FirstErr(); err != nil {
			return err.Error() + "\n"
		}
		n++
	}
	return fmt.Sprintf("produced %d records\n", n)
}
