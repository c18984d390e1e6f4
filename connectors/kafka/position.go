package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicesql/sluice/connectors"
)

// Positions: a kafka source's read position is, per partition, the offset after the last record whose row
// has been pushed downstream. The engine snapshots it with a checkpoint (connectors.Checkpointed) and, once
// the checkpoint is durable (or, with checkpointing off, once the sinks acknowledged their writes), the
// source commits it to the consumer group: committed offsets never run ahead of what the sinks wrote.

var _ connectors.Checkpointed = (*source)(nil)

// positions is the part of a source shared between Run and the engine's checkpoint calls.
type positions struct {
	mu       sync.Mutex
	pos      map[topicPartition]int64 // advanced inside the engine's lock (PushThen)
	restored map[topicPartition]int64 // from RestorePosition: where Run starts
	active   *run                     // the running Run, for its admin client
	managed  bool                     // the engine drives commits: Run does not commit by itself
}

// advance records the positions of the partitions in touched (called inside the engine's lock).
func (p *positions) advance(touched []*partState) {
	p.mu.Lock()
	if p.pos == nil {
		p.pos = map[topicPartition]int64{}
	}
	for _, st := range touched {
		if st.next >= 0 {
			p.pos[st.tp] = st.next
		}
	}
	p.mu.Unlock()
}

// SnapshotPosition encodes the position: uvarint count, then per partition (sorted) the topic (uvarint length
// and bytes), the partition and the next offset (varints).
func (s *source) SnapshotPosition() ([]byte, error) {
	p := &s.positions
	p.mu.Lock()
	defer p.mu.Unlock()
	all := map[topicPartition]int64{}
	for tp, o := range p.restored {
		all[tp] = o
	}
	for tp, o := range p.pos {
		all[tp] = o
	}
	return encodePositions(all), nil
}

func encodePositions(m map[topicPartition]int64) []byte {
	tps := make([]topicPartition, 0, len(m))
	for tp := range m {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
	b := binary.AppendUvarint(nil, uint64(len(tps)))
	for _, tp := range tps {
		b = binary.AppendUvarint(b, uint64(len(tp.topic)))
		b = append(b, tp.topic...)
		b = binary.AppendVarint(b, int64(tp.partition))
		b = binary.AppendVarint(b, m[tp])
	}
	return b
}

func decodePositions(b []byte) (map[topicPartition]int64, error) {
	bad := fmt.Errorf("the kafka source position in the checkpoint is not readable")
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, bad
	}
	b = b[k:]
	m := make(map[topicPartition]int64, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, bad
		}
		topic := string(b[k : k+int(l)])
		b = b[k+int(l):]
		part, k1 := binary.Varint(b)
		if k1 <= 0 {
			return nil, bad
		}
		b = b[k1:]
		off, k2 := binary.Varint(b)
		if k2 <= 0 {
			return nil, bad
		}
		b = b[k2:]
		m[topicPartition{topic, int32(part)}] = off
	}
	if len(b) != 0 {
		return nil, bad
	}
	return m, nil
}

// RestorePosition makes Run start every partition of the position at its offset, whatever the startup mode;
// partitions that the position does not name start from the earliest offset (they appeared since).
func (s *source) RestorePosition(b []byte) error {
	if b == nil { // start afresh (a restart before the first checkpoint)
		s.positions.mu.Lock()
		s.positions.restored, s.positions.pos = nil, nil
		s.positions.mu.Unlock()
		return nil
	}
	m, err := decodePositions(b)
	if err != nil {
		return fmt.Errorf("kafka table '%s': %w", s.cfg.table.Name, err)
	}
	p := &s.positions
	p.mu.Lock()
	p.restored, p.pos = m, nil
	p.mu.Unlock()
	return nil
}

// PublishesPositions reports whether CheckpointComplete commits offsets (connectors.PositionPublisher).
func (s *source) PublishesPositions() bool {
	return s.cfg.client.groupID != "" && s.cfg.client.autoCommit
}

// CheckpointComplete commits the offsets of pos to the consumer group ('properties.group.id'), unless
// 'properties.enable.auto.commit' is false. Failures are returned (the engine warns; the next cycle retries).
func (s *source) CheckpointComplete(ctx context.Context, pos []byte) error {
	c := s.cfg
	if !s.PublishesPositions() {
		return nil
	}
	m, err := decodePositions(pos)
	if err != nil || len(m) == 0 {
		return err
	}
	offs := kadm.Offsets{}
	for tp, o := range m {
		offs.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: o, LeaderEpoch: -1})
	}
	s.positions.mu.Lock()
	r := s.positions.active
	s.positions.mu.Unlock()
	var adm *kadm.Client
	if r != nil {
		adm = r.adm
	} else {
		cl, err := c.newClient()
		if err != nil {
			return err
		}
		defer cl.Close()
		adm = kadm.NewClient(cl)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := adm.CommitOffsets(cctx, c.client.groupID, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka table '%s': commit offsets to group '%s': %w", c.table.Name, c.client.groupID, err)
	}
	return nil
}

// CommitInterval is 'properties.auto.commit.interval.ms': with checkpointing off, how often the engine
// flushes the sinks and then commits this source's offsets.
func (s *source) CommitInterval() time.Duration { return s.cfg.client.autoCommitInterval }
