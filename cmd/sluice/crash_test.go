package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The dev broker acknowledges a write only after it is on disk (see the package doc of devservices), so these
// tests wait no interval before the kill: every acknowledged record and commit must survive it.

// TestDevServicesSurvivesKill9 kills `sluice dev-services --data-dir` with SIGKILL after auto-creating a topic,
// committing group offsets and committing a transaction, restarts it on the same directory, and checks that
// nothing acknowledged was lost or duplicated.
func TestDevServicesSurvivesKill9(t *testing.T) {
	bin := buildSluice(t)
	dir := t.TempDir()
	port := freePort(t)
	p := startDev(t, bin, port, dir, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// An auto-created topic (the producer's metadata request creates it), written with acks=all.
	const topic, n = "auto-created", 300
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	base := time.UnixMilli(1_700_000_000_000)
	var mu sync.Mutex
	var acked []consumed
	for i := range n {
		r := &kgo.Record{
			Topic: topic, Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i)),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			mu.Lock()
			acked = append(acked, toConsumed(r))
			mu.Unlock()
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(acked) != n {
		t.Fatalf("%d of %d records acknowledged", len(acked), n)
	}

	// Committed group offsets.
	adm := kadm.NewClient(cl)
	commits := kadm.Offsets{}
	for part, at := range map[int32]int64{0: 5, 1: 7, 2: 11} {
		commits.Add(kadm.Offset{Topic: topic, Partition: part, At: at, LeaderEpoch: -1, Metadata: "m" + strconv.Itoa(int(part))})
	}
	if resp, err := adm.CommitOffsets(ctx, "crash-group", commits); err != nil || resp.Error() != nil {
		t.Fatalf("commit offsets: %v %v", err, resp.Error())
	}
	cl.Close()

	// A committed transaction, then an open one that the crash must abort.
	const txTopic = "transactional"
	// All transactional records go to partition 1, so that the transaction after the restart shares the
	// partition with the one the crash left open (a reader must see past the aborted one).
	tx, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.AllowAutoTopicCreation(), kgo.TransactionalID("crash-tx"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	produceTxn(ctx, t, tx, txTopic, "committed", 10, kgo.TryCommit)
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := tx.ProduceSync(ctx, &kgo.Record{Topic: txTopic, Partition: 1, Value: []byte("open-" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	p.kill(t)
	tx.Close()
	p = startDev(t, bin, port, dir, 3)

	cl, err = kgo.NewClient(kgo.SeedBrokers(p.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm = kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, topic, txTopic)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics[topic]; !ok || d.Err != nil || len(d.Partitions) != 3 {
		t.Fatalf("after kill -9, topic %s = %+v, want 3 partitions", topic, topics[topic])
	}
	if d, ok := topics[txTopic]; !ok || d.Err != nil {
		t.Fatalf("after kill -9, topic %s = %+v", txTopic, topics[txTopic])
	}

	got := readAll(t, p.addr, topic)
	if want, have := sortedStrings(acked), sortedStrings(got); strings.Join(want, "\n") != strings.Join(have, "\n") {
		t.Fatalf("after kill -9 the topic differs from what was acknowledged:\nacknowledged %d records, first %v\nread %d, first %v",
			len(want), head(want), len(have), head(have))
	}

	fetched, err := adm.FetchOffsets(ctx, "crash-group")
	if err != nil || fetched.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, fetched.Error())
	}
	for part, want := range map[int32]int64{0: 5, 1: 7, 2: 11} {
		o, ok := fetched.Lookup(topic, part)
		if !ok || o.At != want || o.Metadata != "m"+strconv.Itoa(int(part)) {
			t.Errorf("committed offset of %s[%d] after kill -9 = %+v, want %d", topic, part, o, want)
		}
	}

	if vals := readCommitted(t, p.addr, txTopic, 10); strings.Join(vals, ",") != strings.Join(seq("committed", 10), ",") {
		t.Fatalf("read_committed after kill -9 = %v, want the 10 committed records only", vals)
	}
	// The same transactional id works again: the open transaction was aborted, not left hanging.
	tx, err = kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.TransactionalID("crash-tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	produceTxn(ctx, t, tx, txTopic, "after", 3, kgo.TryCommit)
	want := append(seq("committed", 10), seq("after", 3)...)
	if vals := readCommitted(t, p.addr, txTopic, 13); strings.Join(vals, ",") != strings.Join(want, ",") {
		t.Fatalf("read_committed after a new transaction = %v, want %v", vals, want)
	}
}

// TestDevServicesKill9DuringProduce kills the broker at a random moment while a producer writes and a committer
// commits, five times, and counts records lost or duplicated: acknowledged records must all be there exactly
// once, unacknowledged ones (in flight at the kill) at most once, and no acknowledged commit may go back.
func TestDevServicesKill9DuringProduce(t *testing.T) {
	bin := buildSluice(t)
	dir := t.TempDir()
	port := freePort(t)
	const topic, group, cycles = "continuous", "continuous-group", 5
	acked := map[string]consumed{} // value -> where the broker acknowledged it
	sent := map[string]bool{}      // every value ever produced
	var lastCommit int64 = -1      // the highest acknowledged commit of partition 0
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var inFlightKept int
	p := startDev(t, bin, port, dir, 2)
	for cycle := range cycles {
		ctx, cancel := context.WithCancel(context.Background())
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.AllowAutoTopicCreation(),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RetryTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var producers sync.WaitGroup
		producers.Add(2)
		go func() { // the producer
			defer producers.Done()
			for i := 0; ctx.Err() == nil; i++ {
				v := fmt.Sprintf("c%d-%d", cycle, i)
				mu.Lock()
				sent[v] = true
				mu.Unlock()
				wg.Add(1)
				cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
					defer wg.Done()
					if err == nil {
						mu.Lock()
						acked[string(r.Value)] = toConsumed(r)
						mu.Unlock()
					}
				})
				if i%50 == 49 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		go func() { // the committer: ever larger offsets of partition 0
			defer producers.Done()
			adm := kadm.NewClient(cl)
			for at := lastCommit + 1; ctx.Err() == nil; at++ {
				o := kadm.Offsets{}
				o.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
				resp, err := adm.CommitOffsets(ctx, group, o)
				if err == nil && resp.Error() == nil {
					mu.Lock()
					lastCommit = at
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		time.Sleep(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		p.kill(t)
		cancel()
		producers.Wait()
		cl.Close()
		wg.Wait()

		p = startDev(t, bin, port, dir, 2)
		got := readAll(t, p.addr, topic)
		seen := map[string][]consumed{}
		for _, r := range got {
			seen[r.value] = append(seen[r.value], r)
		}
		var lost, moved, dup, unknown int
		inFlightKept = 0
		for v, at := range acked {
			rs := seen[v]
			switch {
			case len(rs) == 0:
				lost++
			case len(rs) > 1:
				dup++
			case rs[0].partition != at.partition || rs[0].offset != at.offset:
				moved++
			}
		}
		for v, rs := range seen {
			if _, ok := acked[v]; ok {
				continue
			}
			switch {
			case !sent[v]:
				unknown++
			case len(rs) > 1:
				dup++
			default:
				inFlightKept++
			}
		}
		t.Logf("cycle %d: %d records read, %d acknowledged, %d unacknowledged (in flight at a kill) but kept, last commit %d",
			cycle, len(got), len(acked), inFlightKept, lastCommit)
		if lost+dup+moved+unknown > 0 {
			t.Fatalf("cycle %d after kill -9: %d acknowledged records lost, %d duplicated, %d at another offset, %d unknown",
				cycle, lost, dup, moved, unknown)
		}
		if len(acked) == 0 {
			t.Fatalf("cycle %d: nothing was acknowledged before the kill", cycle)
		}

		adm := kadm.NewClient(mustClient(t, p.addr))
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		fetched, err := adm.FetchOffsets(fctx, group)
		fcancel()
		adm.Close()
		if err != nil || fetched.Error() != nil {
			t.Fatalf("cycle %d: fetch offsets: %v %v", cycle, err, fetched.Error())
		}
		if o, ok := fetched.Lookup(topic, 0); lastCommit >= 0 && (!ok || o.At < lastCommit) {
			t.Fatalf("cycle %d: committed offset after kill -9 = %+v, want >= %d (the last acknowledged commit)", cycle, o, lastCommit)
		} else if ok {
			lastCommit = o.At
		}
	}
}

func mustClient(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func produceTxn(ctx context.Context, t *testing.T, tx *kgo.Client, topic, prefix string, n int, commit kgo.TransactionEndTry) {
	t.Helper()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range seq(prefix, n) {
		if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.EndTransaction(ctx, commit); err != nil {
		t.Fatal(err)
	}
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(i)
	}
	return out
}

func sortedStrings(rs []consumed) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	sort.Strings(out)
	return out
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
