package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The plan checks of a scale-out job. A running group refuses a process of another plan (the group
// protocol carries the fingerprint, planBalancer, below), and a stateful job's internal records carry it
// (checkPlan). A stateless job has neither repartition nor changelog records, so its plan is recorded in a
// one-partition compacted topic '<pipeline.name>-plan': after a member's first committed transaction it
// writes the fingerprint there (a process refused by the group never commits, so never writes). A process
// that starts later under the same name, while the group has committed offsets, compares its plan with the
// topic's last record and refuses to start on another plan's offsets.

// planTopicSuffix ends the name of a stateless job's plan topic.
const planTopicSuffix = "-plan"

// checkStatelessPlan creates the plan topic if needed and refuses to start when the group has committed
// offsets and the topic names another plan.
func (m *member) checkStatelessPlan(ctx context.Context) error {
	topic := m.s.name + planTopicSuffix
	if err := m.createTopic(ctx, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic); err != nil {
		return fmt.Errorf("create the internal topic '%s': %w", topic, err)
	}
	offs, err := m.adm.FetchOffsets(ctx, m.s.name)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // a new job
	}
	if err != nil {
		return fmt.Errorf("fetch the committed offsets of consumer group '%s': %w", m.s.name, err)
	}
	committed := false
	offs.Each(func(o kadm.OffsetResponse) {
		committed = committed || (o.Err == nil && o.At >= 0)
	})
	if !committed {
		return nil // a new job (or a deleted group): the plan recorded before, if any, is not continued
	}
	prev, err := m.readPlanTopic(ctx, topic)
	if err != nil {
		return err
	}
	if prev != "" && prev != m.plan.fp {
		return fmt.Errorf("consumer group '%s' committed source offsets for plan %s (recorded in topic '%s'), this process runs plan %s: the job '%s' was started with another INSERT. Give this INSERT another 'pipeline.name', or delete the consumer group '%s' and the topic '%s' to start it anew (it then reads the source from the start)",
			m.s.name, prev, topic, m.plan.fp, m.s.name, m.s.name, topic)
	}
	return nil
}

// createTopic creates topic name with parts partitions (-1: the brokers' default) and configs; a topic that
// exists already is no error.
func (m *member) createTopic(ctx context.Context, parts int32, configs map[string]*string, name string) error {
	resp, err := m.adm.CreateTopic(ctx, parts, -1, configs, name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return err
	}
	return nil
}

// readPlanTopic returns the plan of the last record of the plan topic ("" when it has none).
func (m *member) readPlanTopic(ctx context.Context, topic string) (string, error) {
	ends, err := m.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("list the end offset of topic '%s': %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		return "", fmt.Errorf("list the end offset of topic '%s': %v", topic, end.Err)
	}
	if end.Offset <= 0 {
		return "", nil
	}
	cl, err := kgo.NewClient(append(m.src.ClientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	prev := ""
	for {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return "", fmt.Errorf("read topic '%s' to its end (offset %d): %w", topic, end.Offset, rctx.Err())
		}
		if err := fs.Err0(); err != nil {
			return "", fmt.Errorf("read topic '%s': %w", topic, err)
		}
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			prev, last = string(r.Value), r.Offset
		})
		if last >= end.Offset-1 {
			return prev, nil
		}
	}
}

// notePlan writes the member's plan to the plan topic, once per member process (after its first committed
// transaction); a failure is retried after the next one.
func (m *member) notePlan(ctx context.Context) {
	if m.planNoted || !m.stateless() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rec := &kgo.Record{Topic: m.s.name + planTopicSuffix, Partition: 0, Key: []byte("plan"), Value: []byte(m.plan.fp), Headers: m.hdr}
	if err := m.base.ProduceSync(pctx, rec).FirstErr(); err == nil {
		m.planNoted = true
	}
}

// planBalancer is the range balancer under a protocol name that carries the plan fingerprint: Kafka's group
// coordinator refuses a member whose protocol no member of the group shares (INCONSISTENT_GROUP_PROTOCOL),
// so a process running another plan cannot join a running job.
type planBalancer struct {
	kgo.GroupBalancer
	name string
}

func (b planBalancer) ProtocolName() string { return b.name }
