package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// A source's progress: its lag behind the partitions' high watermarks (metrics), and the offsets it commits
// to the consumer group by itself when the engine does not drive commits.

// noteLag updates the source's lag after a fetch: for each partition, its high watermark minus the next
// offset to read (Kafka's records-lag).
func (r *run) noteLag(fetched bool) {
	if !fetched {
		return
	}
	var total, mx int64
	for _, st := range r.parts {
		if st.hw < 0 || st.done {
			continue
		}
		lag := max(st.hw-max(st.next, 0), 0)
		total += lag
		mx = max(mx, lag)
	}
	if r.nsub > 1 {
		total, mx = r.s.subtaskLag(r.sub, total, mx)
	}
	r.s.lagTotal.Store(total)
	r.s.lagMax.Store(mx)
	r.s.lagKnown.Store(true)
}

// RecordsLag returns how far the source is behind: the lag summed over its partitions and the largest one
// (Kafka's records-lag-max); known is false until the first fetch returned records.
func (s *source) RecordsLag() (total, max int64, known bool) {
	return s.lagTotal.Load(), s.lagMax.Load(), s.lagKnown.Load()
}

// subtaskLag records subtask sub's lag and returns the lag over all subtasks (total, max).
func (s *source) subtaskLag(sub int, total, mx int64) (int64, int64) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	if s.subLags == nil {
		s.subLags = map[int][2]int64{}
	}
	s.subLags[sub] = [2]int64{total, mx}
	total, mx = 0, 0
	for _, l := range s.subLags {
		total += l[0]
		mx = max(mx, l[1])
	}
	return total, mx
}

// commit commits the progress of every partition to the group, when there is a group and committing is on.
// Failures are warnings: the next commit retries.
func (r *run) commit(ctx context.Context, final bool) {
	c := r.s.cfg
	if c.client.groupID == "" || !c.client.autoCommit {
		return
	}
	offs := kadm.Offsets{}
	for _, st := range r.parts {
		if st.acked >= 0 && st.acked != st.committed {
			offs.Add(kadm.Offset{Topic: st.tp.topic, Partition: st.tp.partition, At: st.acked, LeaderEpoch: -1})
		}
	}
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := r.adm.CommitOffsets(cctx, c.client.groupID, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		if !final && ctx.Err() != nil {
			return
		}
		fmt.Fprintf(r.s.stderr, "WARN kafka table '%s': commit offsets to group '%s': %s\n", c.table.Name, c.client.groupID, err.Error())
		return
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if st := r.parts[topicPartition{o.Topic, o.Partition}]; st != nil && o.Err == nil {
			st.committed = o.At
		}
	})
}
