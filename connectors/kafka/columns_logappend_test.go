package kafka_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
)

// Records of a batch the broker stamped with its append time (the batch's LogAppendTime attribute, as a
// topic with 'message.timestamp.type' = 'LogAppendTime' gives): 'timestamp-type' is 'LogAppendTime' and
// 'timestamp' is the broker's time, not the producer's, on both the row and the columnar path. kgo never
// sets the attribute, so the batch is produced with a raw Produce request.
func TestColumnsMetadataLogAppendTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	// kfake stamps the batch's timestamps without recomputing its CRC (a Kafka broker recomputes it): this
	// reader does not check it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("mla"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableFetchCRCValidation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "mla"); err != nil {
		t.Fatal(err)
	}
	const n, producerTime = 50, int64(1000) // the producer's timestamps: 1970, far from the broker's clock
	var vals [][]byte
	for i := range n {
		vals = append(vals, []byte(`{"url":"/p`+strconv.Itoa(i%7)+`","n":`+strconv.Itoa(i)+`}`))
	}
	before := time.Now().UnixMilli()
	produceLogAppendTime(ctx, t, cl, "mla", vals, producerTime)
	after := time.Now().UnixMilli()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	h := &harness{addr: addr, reg: registry(), factory: kafka.NewFactory(), tables: map[string]*catalog.Table{},
		session: map[string]string{"table.local-time-zone": "UTC"}}
	tbl, err := h.parseTable("la", "url STRING, n INT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', tt STRING METADATA FROM 'timestamp-type' VIRTUAL\n"+
		"topic=mla\nproperties.bootstrap.servers=$BROKER\nscan.startup.mode=earliest-offset\nvalue.format=json")
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.factory.CreateSource(h.ctx(tbl, &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	rows, cols, columnar, err := kafka.DecodeBothPaths(src, got)
	if err != nil {
		t.Fatal(err)
	}
	if !columnar || len(rows) != n || len(cols) != n {
		t.Fatalf("columnar %v, %d rows and %d columnar rows, want true and %d", columnar, len(rows), len(cols), n)
	}
	ts := sourceColumnTypes(tbl)
	for i := range rows {
		r, c := string(changelog.AppendRow(nil, rows[i], ts, time.UTC)), string(changelog.AppendRow(nil, cols[i], ts, time.UTC))
		if r != c {
			t.Fatalf("record %d: row path %s, columnar path %s", i, r, c)
		}
		if tt := rows[i].Vals[3].S; tt != "LogAppendTime" {
			t.Fatalf("record %d: timestamp-type %q, want LogAppendTime (%s)", i, tt, r)
		}
		// TIMESTAMP_LTZ(3) holds epoch milliseconds (the broker stamps the batch between before and after).
		if at := rows[i].Vals[2].I; at < before || at > after {
			t.Fatalf("record %d: timestamp %d, want the broker's append time in [%d, %d] (the producer's was %d)", i, at, before, after, producerTime)
		}
	}
}

// produceLogAppendTime writes vals to partition 0 of topic as one record batch with the LogAppendTime
// attribute set and producer timestamps from ts, by a raw Produce request.
func produceLogAppendTime(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, vals [][]byte, ts int64) {
	t.Helper()
	var recs []byte
	for i, v := range vals {
		r := kmsg.Record{OffsetDelta: int32(i), Value: v}
		body := r.AppendTo(nil)[1:] // encoded with Length 0: one byte of varint
		r.Length = int32(len(body))
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: 0x08, LastOffsetDelta: int32(len(vals) - 1),
		FirstTimestamp: ts, MaxTimestamp: ts, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(vals)), Records: recs}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:12], uint32(len(raw)-12)) // the batch's length: what follows the field
	// The CRC-32C covers the batch from its attributes (offset 21) to the end.
	binary.BigEndian.PutUint32(raw[17:21], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic // up to Produce v12
	// Listed whole: kfake answers a Metadata request naming the topic with UNKNOWN_TOPIC_OR_PARTITION.
	tds, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = tds[topic].ID // from v13
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				t.Fatalf("producing the LogAppendTime batch: %v", err)
			}
			if rp.LogAppendTime < 0 {
				t.Fatalf("the broker did not stamp the batch with its append time (LogAppendTime %d)", rp.LogAppendTime)
			}
		}
	}
}
