package devservices

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// After a crash, kfake treats a transaction that has records but no end marker as aborted, but it writes no
// abort marker. Readers (franz-go, the Java client) skip a producer's records from the start of an aborted
// transaction until they meet that producer's abort marker, so without one every later transaction of the same
// producer in that partition (an exactly-once sink restarting with the same transactional id) stays invisible
// to read_committed consumers. Start therefore finds the transactions a crash left open and writes their abort
// markers, as a Kafka transaction coordinator does when it recovers, before it lets clients in.

// openTxn is a transaction of one producer in one partition with records and no end marker.
type openTxn struct {
	topic     string
	partition int32
	pid       int64
	epoch     int16
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

const (
	batchAttrTransactional = 0x10
	batchAttrControl       = 0x20
)

// findOpenTxns reads the broker's segment files under kafkaDir (kfake keeps each partition in
// partitions/<path-escaped topic>-<partition>/<base offset>.dat, a sequence of Kafka RecordBatch wire bytes)
// and returns the transactions left open. It stops at the first damaged batch of a file, as kfake's loader
// does.
func findOpenTxns(kafkaDir string) ([]openTxn, error) {
	root := filepath.Join(kafkaDir, "partitions")
	dirs, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []openTxn
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dash := strings.LastIndexByte(d.Name(), '-')
		if dash < 0 {
			continue
		}
		topic, err1 := url.PathUnescape(d.Name()[:dash])
		part, err2 := strconv.ParseInt(d.Name()[dash+1:], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		open, err := openTxnsOfPartition(filepath.Join(root, d.Name()))
		if err != nil {
			return nil, err
		}
		for pid, epoch := range open {
			out = append(out, openTxn{topic: topic, partition: int32(part), pid: pid, epoch: epoch})
		}
	}
	return out, nil
}

// openTxnsOfPartition returns producer id -> epoch of the transactions without an end marker in one partition
// directory.
func openTxnsOfPartition(dir string) (map[int64]int16, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".dat"); ok {
			if base, err := strconv.ParseInt(name, 10, 64); err == nil {
				bases = append(bases, base)
			}
		}
	}
	slices.Sort(bases)
	open := map[int64]int16{}
	for _, base := range bases {
		raw, err := os.ReadFile(filepath.Join(dir, strconv.FormatInt(base, 10)+".dat"))
		if err != nil {
			return nil, err
		}
		for pos := 0; pos+12 <= len(raw); {
			size := 12 + int(int32(binary.BigEndian.Uint32(raw[pos+8:])))
			if size < 61 || pos+size > len(raw) {
				break
			}
			b := raw[pos : pos+size]
			var rb kmsg.RecordBatch
			// A batch: base offset (8), length (4), leader epoch (4), magic (1), CRC-32C of the rest (4), ...
			if crc32.Checksum(b[21:], crc32c) != binary.BigEndian.Uint32(b[17:]) || rb.ReadFrom(b) != nil {
				break
			}
			switch {
			case rb.Attributes&batchAttrControl != 0:
				delete(open, rb.ProducerID)
			case rb.Attributes&batchAttrTransactional != 0:
				open[rb.ProducerID] = rb.ProducerEpoch
			}
			pos += size
		}
	}
	return open, nil
}

// abortOpenTxns writes an abort marker for each open transaction through a connection that bypasses the gate.
func abortOpenTxns(ctx context.Context, gate *gatedListener, addr string, txns []openTxn) error {
	type producer struct {
		pid   int64
		epoch int16
	}
	byProducer := map[producer]map[string][]int32{}
	for _, t := range txns {
		k := producer{t.pid, t.epoch}
		if byProducer[k] == nil {
			byProducer[k] = map[string][]int32{}
		}
		byProducer[k][t.topic] = append(byProducer[k][t.topic], t.partition)
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for k, topics := range byProducer {
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.Committed = k.pid, k.epoch, false
		for topic, parts := range topics {
			mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			mt.Topic, mt.Partitions = topic, parts
			m.Topics = append(m.Topics, mt)
		}
		req.Markers = append(req.Markers, m)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.Dialer(func(ctx context.Context, _, _ string) (net.Conn, error) {
		return gate.dialInside(ctx)
	}))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Errorf("abort marker for producer %d in %s[%d]: error code %d", m.ProducerID, t.Topic, p.Partition, p.ErrorCode)
				}
			}
		}
	}
	return nil
}
