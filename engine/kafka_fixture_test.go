package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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

// produce writes one record per non-empty input line (the line is the value; no key) to partition 0 of topic.
// Lines starting with # are comments.
func (k *kafkaFixture) produce(topic, input string) string {
	k.start()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		k.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := 0
	for _, l := range strings.Split(input, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(l)}).FirstErr(); err != nil {
			return err.Error() + "\n"
		}
		n++
	}
	return fmt.Sprintf("produced %d records\n", n)
}
