package devservices_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/devservices"
)

func produce(t *testing.T, addr, topic string, vals ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, v := range vals {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func consume(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", len(out), err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

func TestStartProduceConsume(t *testing.T) {
	s, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.KafkaAddr(), "127.0.0.1:") || strings.HasSuffix(s.KafkaAddr(), ":0") {
		t.Fatalf("KafkaAddr = %q, want 127.0.0.1:<port>", s.KafkaAddr())
	}
	produce(t, s.KafkaAddr(), "new-topic", "a", "b")
	if got := consume(t, s.KafkaAddr(), "new-topic", 2); strings.Join(got, ",") != "a,b" {
		t.Fatalf("consumed %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestPersistsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, s.KafkaAddr(), "kept", "one", "two")
	s.Close()

	s2, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	produce(t, s2.KafkaAddr(), "kept", "three")
	if got := consume(t, s2.KafkaAddr(), "kept", 3); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("after restart consumed %v", got)
	}
}

func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = devservices.Start(context.Background(), devservices.Config{KafkaAddr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "cannot listen for Kafka on "+ln.Addr().String()) {
		t.Fatalf("err = %v, want a clear 'cannot listen' error", err)
	}
}
