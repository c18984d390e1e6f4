package kafka

// The source's Kafka client: connecting to the brokers, listing the partitions of its topics and
// assigning them (with their start and stop offsets) to the consumer.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// servers names the brokers for error messages.
func (c *tableConfig) servers() string { return strings.Join(c.client.servers, ",") }

func (c *tableConfig) newClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts := append(append([]kgo.Opt{}, c.client.common...), extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka table '%s': invalid client configuration from 'properties.*': %w", c.table.Name, err)
	}
	return cl, nil
}

// waitReachable pings the brokers until one answers or the connect timeout passes.
func (c *tableConfig) waitReachable(ctx context.Context, cl *kgo.Client) error {
	wctx, cancel := context.WithTimeout(ctx, c.client.apiTimeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(wctx, 2*time.Second)
		err := cl.Ping(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fatal := loginError(err); fatal != "" {
			return fmt.Errorf("kafka table '%s': the brokers at 'properties.bootstrap.servers' = '%s' %s: %w",
				c.table.Name, c.servers(), fatal, err)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kafka table '%s': no broker reachable at 'properties.bootstrap.servers' = '%s' within %s: %w",
				c.table.Name, c.servers(), c.client.apiTimeout, last)
		case <-t.C:
		}
	}
}

// loginError says why err will not go away by retrying (a refused login or certificate), or "".
func loginError(err error) string {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism),
		errors.Is(err, kerr.IllegalSaslState):
		return "refused the SASL login (check 'properties.sasl.mechanism' and 'properties.sasl.jaas.config')"
	case errors.As(err, &cv), errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &he):
		return "sent a certificate that does not verify (check 'properties.ssl.truststore.*' and 'properties.ssl.endpoint.identification.algorithm')"
	}
	return ""
}

// listPartitions returns the partitions of the source's topics (or of the topics matching its pattern).
func (r *run) listPartitions(ctx context.Context) ([]topicPartition, error) {
	s := r.s
	req := kmsg.NewPtrMetadataRequest()
	if s.pattern == nil {
		for _, t := range s.topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		req.AllowAutoTopicCreation = s.cfg.client.allowAutoCreate
	}
	var parts []topicPartition
	for attempt := 0; ; attempt++ {
		parts = parts[:0]
		resp, err := req.RequestWith(ctx, r.cl)
		if err != nil {
			return nil, fmt.Errorf("kafka table '%s': list the partitions of %s: %w", s.cfg.table.Name, s.what(), err)
		}
		var retry error
		for _, t := range resp.Topics {
			if t.Topic == nil || t.IsInternal {
				continue
			}
			name := *t.Topic
			if s.pattern != nil && !s.pattern.MatchString(name) {
				continue
			}
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				if errors.Is(err, kerr.UnknownTopicOrPartition) && !s.cfg.client.allowAutoCreate {
					return nil, fmt.Errorf("kafka table '%s': topic '%s' does not exist on the brokers at '%s'. Create it first, or set 'properties.allow.auto.create.topics' = 'true'",
						s.cfg.table.Name, name, s.cfg.servers())
				}
				if kerr.IsRetriable(err) || errors.Is(err, kerr.UnknownTopicOrPartition) {
					retry = fmt.Errorf("topic '%s': %w", name, err)
					continue
				}
				return nil, fmt.Errorf("kafka table '%s': topic '%s': %w", s.cfg.table.Name, name, err)
			}
			for _, p := range t.Partitions {
				parts = append(parts, topicPartition{name, p.Partition})
			}
		}
		if retry == nil {
			break
		}
		if attempt >= 50 {
			return nil, fmt.Errorf("kafka table '%s': %w", s.cfg.table.Name, retry)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].topic != parts[j].topic {
			return parts[i].topic < parts[j].topic
		}
		return parts[i].partition < parts[j].partition
	})
	return parts, nil
}

func (s *source) what() string {
	if s.pattern != nil {
		return fmt.Sprintf("the topics matching 'topic-pattern' = '%s'", strings.TrimSuffix(strings.TrimPrefix(s.pattern.String(), "^(?:"), ")$"))
	}
	return "topic(s) '" + strings.Join(s.topics, ";") + "'"
}

// assign resolves start (and stop) offsets of new partitions and starts consuming them. initial tells the
// first assignment (startup mode) from later discoveries (earliest offset, as Flink).
func (r *run) assign(ctx context.Context, parts []topicPartition, initial bool) error {
	var fresh []topicPartition
	for _, tp := range parts {
		if r.nsub > 1 && splitOwner(tp.topic, tp.partition, r.nsub) != r.sub {
			continue // another subtask's
		}
		if _, ok := r.parts[tp]; !ok {
			fresh = append(fresh, tp)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	s := r.s
	lister := offsetLister{adm: r.adm}
	startSpec := s.start
	s.positions.mu.Lock()
	fromCheckpoint := s.positions.restored != nil
	s.positions.mu.Unlock()
	if !initial || fromCheckpoint {
		startSpec = offsetSpec{mode: modeEarliest}
	}
	starts, err := lister.resolve(ctx, startSpec, fresh, true)
	if err != nil {
		return fmt.Errorf("kafka table '%s': start offsets ('scan.startup.mode' = '%s'): %w", s.cfg.table.Name, startSpec.mode, err)
	}
	var stops map[topicPartition]int64
	if s.Bounded() {
		if stops, err = lister.resolve(ctx, s.stop, fresh, false); err != nil {
			return fmt.Errorf("kafka table '%s': stop offsets ('scan.bounded.mode' = '%s'): %w", s.cfg.table.Name, s.stop.mode, err)
		}
	}
	assign := map[string]map[int32]kgo.Offset{}
	s.positions.mu.Lock()
	restored := s.positions.restored
	s.positions.mu.Unlock()
	for _, tp := range fresh {
		st := &partState{tp: tp, next: -1, acked: -1, committed: -1, stop: -1, hw: -1}
		start := starts[tp]
		if restored != nil {
			if o, ok := restored[tp]; ok {
				start = o
				st.next = o
			}
		}
		if stops != nil {
			st.stop = stops[tp]
			if start >= st.stop {
				st.done = true
			} else {
				r.open++
			}
		}
		r.parts[tp] = st
		if st.done {
			continue
		}
		st.split = r.nsplit
		r.nsplit++
		if r.splits != nil {
			r.splits.AddSplit(st.split)
			if n, ok := r.splits.(connectors.SplitNamer); ok {
				n.NameSplit(st.split, tp.topic+"/"+strconv.Itoa(int(tp.partition)))
			}
		}
		if assign[tp.topic] == nil {
			assign[tp.topic] = map[int32]kgo.Offset{}
		}
		assign[tp.topic][tp.partition] = kgo.NewOffset().At(start)
	}
	r.cl.AddConsumePartitions(assign)
	return nil
}
