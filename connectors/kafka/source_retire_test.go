package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBoundedReadFetchesOnce: a bounded read of partitions that end one after the other fetches every
// offset once. Removing a finished partition from the client at once made franz-go drop what it had
// buffered for the other partitions and fetch it again, from offsets it had already fetched past.
func TestBoundedReadFetchesOnce(t *testing.T) {
	h := newHarness(t)
	if err := h.cluster.CreateTopic("once", 4, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < 4; p++ {
		for i := 0; i < int(p+1)*1500; i++ {
			recs = append(recs, &kgo.Record{Topic: "once", Partition: p, Value: []byte(`{"id":` + strconv.Itoa(i) + `,"s":"some text to fill the fetch"}`)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	var mu sync.Mutex
	asked := map[[2]int64]bool{} // partition and offset of every fetch
	parts := map[int32]bool{}
	var again []string
	h.cluster.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		h.cluster.KeepControl()
		req := kr.(*kmsg.FetchRequest)
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.Topics {
			for _, p := range tp.Partitions {
				// A fetch at a partition's end offset waits for new records and is repeated; any other offset
				// is fetched once.
				k := [2]int64{int64(p.Partition), p.FetchOffset}
				if asked[k] && p.FetchOffset < int64(p.Partition+1)*1500 {
					again = append(again, fmt.Sprintf("partition %d offset %d", p.Partition, p.FetchOffset))
				}
				asked[k] = true
				parts[p.Partition] = true
			}
		}
		return nil, nil, false
	})
	tbl, err := h.parseTable("once", "id BIGINT, s STRING\ntopic=once\nproperties.bootstrap.servers=$BROKER\n"+
		"properties.max.poll.records=10\nformat=json\nscan.startup.mode=earliest-offset\nscan.bounded.mode=latest-offset")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.createSource(tbl, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := src.Run(ctx, c); err != nil {
		t.Fatal(err)
	}
	if len(c.rows) != len(recs) {
		t.Fatalf("read %d rows, want %d", len(c.rows), len(recs))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(parts) != 4 {
		t.Fatalf("fetched from %d partitions, want 4", len(parts))
	}
	if len(again) > 0 {
		t.Fatalf("fetched again: %v", again)
	}
}
