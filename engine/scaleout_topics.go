package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A scale-out member's internal topics: their names, the watcher's check that they still exist, the
// first stage's repartitioning and the partitioner of the member's records.

// internalNames are the internal topics' names (empty ones: those a stateless plan does not have).
func (m *member) internalNames() []string {
	ts := []string{m.rep, m.cl}
	for _, s := range m.stages {
		ts = append(ts, s.topics()...)
	}
	return ts
}

// consumedInternal are the internal topics the member consumes: the repartition topics.
func (m *member) consumedInternal() []string {
	ts := []string{m.rep}
	for _, s := range m.stages {
		ts = append(ts, s.rep)
	}
	return m.internalTopics(ts)
}

// checkTopics returns an error when an internal topic is gone.
func (m *member) checkTopics(ctx context.Context) error {
	if m.stateless() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// An uncached metadata request: the client's cache would show a deleted topic for seconds.
	req := kmsg.NewPtrMetadataRequest()
	names := m.internalNames()
	for _, t := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(cctx, m.base)
	if err != nil {
		return nil // the brokers may be unreachable for a moment; the consumer reports lasting trouble
	}
	for _, t := range names {
		gone := true
		for _, rt := range resp.Topics {
			if rt.Topic == nil || *rt.Topic != t {
				continue
			}
			switch code := kerr.ErrorForCode(rt.ErrorCode); {
			case code == nil:
				gone = rt.TopicID != m.topicIDs[t] // deleted and created again
			case errors.Is(code, kerr.UnknownTopicOrPartition), errors.Is(code, kerr.UnknownTopicID):
			default:
				gone = false // not known now
			}
		}
		if gone {
			return fmt.Errorf("scale-out job '%s': its internal topic '%s' was deleted while the job ran; the job's in-flight rows and keyed state were in it, so it cannot continue. Stop every process of the job, delete its internal topics ('%s') and its consumer group '%s', and start it again (it then reads the source from the start)",
				m.s.name, t, strings.Join(names, "', '"), m.s.name)
		}
	}
	return nil
}

// repartitioner is the end of stage 1: it produces each row to the repartition partition that owns its key
// group (the key groups are split into contiguous ranges, as Flink assigns them to subtasks).
type repartitioner struct{ m *member }

func (r *repartitioner) Push(b *changelog.Batch) error {
	m := r.m
	for i := range b.Rows {
		row := &b.Rows[i]
		m.valBuf = append(m.valBuf[:0], byte(row.Kind))
		m.repartition(row, m.inTypes, m.repKeys)
	}
	return nil
}

// repartition produces row to the repartition topic's partition that owns the key group of its columns keys
// (ts its types), keyed by their encoding; the value is m.valBuf (the caller's prefix) and the row's encoding.
func (m *member) repartition(row *changelog.Row, ts []types.Type, keys []int) {
	m.keyBuf = types.AppendRowKey(m.keyBuf[:0], row.Vals, ts, keys)
	part := exec.Subtask(state.KeyGroup(m.keyBuf, m.s.maxPar), m.s.maxPar, int(m.nparts))
	m.valBuf = types.AppendRowBinary(m.valBuf, row.Vals, ts)
	rec := m.record()
	rec.Topic, rec.Partition, rec.Headers = m.rep, int32(part), m.hdr
	rec.Key = append(rec.Key, m.keyBuf...)
	rec.Value = append(rec.Value, m.valBuf...)
	m.produce(rec)
}

func (r *repartitioner) Watermark(int64) error { return nil }
func (r *repartitioner) End() error            { return nil }

// sinkRef is the end of a stateless plan's stage: the sink of the member's current session.
type sinkRef struct{ m *member }

func (r sinkRef) Push(b *changelog.Batch) error { return r.m.sinkOut.Push(b) }
func (r sinkRef) Watermark(int64) error         { return nil }
func (r sinkRef) End() error                    { return nil }

// internalTopics returns ts without the empty names (the topics a stateless plan does not have).
func (m *member) internalTopics(ts []string) []string {
	var out []string
	for _, t := range ts {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// memberPartitioner sends internal records to the partition they name and sink records where the sink
// table's partitioner puts them.
type memberPartitioner struct {
	internal map[string]bool
	sink     kgo.Partitioner
}

func (p *memberPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if p.internal[t] {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return p.sink.ForTopic(t)
}
