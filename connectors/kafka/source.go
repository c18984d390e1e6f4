package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// maxWarnings is how many skipped-record warnings a source prints; later ones are only counted.
const maxWarnings = 10

// RecordError is a record the source cannot read: where it is and what is wrong with it. It wraps the
// format's error (a *formats.RecordError wrapping formats.ErrDecode).
type RecordError struct {
	Table     string
	Topic     string
	Partition int32
	Offset    int64
	Side      string // "key" or "value"
	Field     string // path of the field at fault, "" when the message as a whole is bad
	Err       error
	hint      string // the format's ignore-parse-errors option, when it has one
}

func (e *RecordError) Error() string {
	field := ""
	if e.Field != "" {
		field = fmt.Sprintf(", field '%s'", e.Field)
	}
	msg := fmt.Sprintf("kafka table '%s': cannot read the record at topic '%s' partition %d offset %d (%s%s): %s",
		e.Table, e.Topic, e.Partition, e.Offset, e.Side, field, e.Err.Error())
	if e.hint != "" {
		msg += fmt.Sprintf(". Set '%s' = 'true' to skip unreadable records", e.hint)
	}
	return msg
}

func (e *RecordError) Unwrap() error { return e.Err }

// Metrics are the counters of a source.
type Metrics struct {
	Records          int64 // rows emitted
	SkippedBad       int64 // records skipped because a format could not read them (ignore-parse-errors)
	SkippedNullValue int64 // records skipped because their value is null
}

// source reads a kafka table.
type source struct {
	cfg       *tableConfig
	stderr    io.Writer
	topics    []string
	pattern   *regexp.Regexp
	start     offsetSpec
	stop      offsetSpec
	discovery time.Duration

	records, skippedBad, skippedNull atomic.Int64
	warnings                         atomic.Int64

	fresh func() (*tableConfig, error) // a new config with its own decoders, for source subtasks (subtasks.go)
	proj  *formats.Projection          // the projection applied (ApplyProjection), for fresh decoders

	lagTotal, lagMax atomic.Int64 // records behind the high watermarks (RecordsLag); lagKnown after a fetch
	lagKnown         atomic.Bool

	positions positions // position.go

	lagMu   sync.Mutex
	subLags map[int][2]int64 // per source subtask: its lag total and max (subtaskLag)

	splits    connectors.SplitListener   // per-partition watermarks (splits.go); nil when the table has none
	subSplits []connectors.SplitListener // per subtask, when each has its own (SetSubtaskSplitListeners)
}

var _ connectors.Source = (*source)(nil)

// ChangelogMode is insert-only, or all kinds when the value format is a changelog format (debezium-json),
// or for upsert-kafka an upsert changelog keyed on the primary key.
func (s *source) ChangelogMode() changelog.Mode {
	if s.cfg.upsert {
		return changelog.Upsert(s.cfg.pkPositions())
	}
	if _, ok := s.cfg.value.Decoder.(formats.ChangelogDecoder); ok {
		return changelog.Retract
	}
	return changelog.InsertOnly
}

func (s *source) Bounded() bool { return s.stop.mode != modeUnbounded }

// Metrics returns the source's counters so far; safe to call while Run runs.
func (s *source) Metrics() Metrics {
	return Metrics{Records: s.records.Load(), SkippedBad: s.skippedBad.Load(), SkippedNullValue: s.skippedNull.Load()}
}

// partState is the progress of one partition.
type partState struct {
	tp        topicPartition
	next      int64 // offset after the last record handled (decoded or skipped); -1 before the first
	acked     int64 // next as of the last successful push: what may be committed; -1 before the first
	committed int64 // last offset committed to the group
	stop      int64 // exclusive end offset, -1 when unbounded
	done      bool
	split     int   // the split id reported to the watermark assigner
	paused    bool  // paused by watermark alignment (splits.go)
	hw        int64 // the partition's high watermark as of the last fetch; -1 before
}

// run is the state of one Run.
type run struct {
	s          *source
	cl         *kgo.Client
	adm        *kadm.Client
	parts      map[topicPartition]*partState
	nsplit     int // split ids handed out so far
	one        [1]*partState
	advanceOne func() // advances the position of one[0]
	blocked    []int  // splits that watermark alignment blocks (splits.go)
	pushedRows bool   // the last handle pushed rows
	open       int    // bounded: partitions not done

	splits connectors.SplitListener // this subtask's split listener (splits.go); nil: none

	sub, nsub      int             // this subtask among nsub: it reads the partitions splitOwner gives it
	keyDec, valDec formats.Decoder // this subtask's decoders

	// Reused buffers: rows live in arena, valid until the next push.
	batch     changelog.Batch
	arena     []types.Value
	width     int
	keyVals   []types.Value
	valVals   []types.Value
	valDirect bool               // the value fields are all physical columns in order: decode straight into the row
	cols      *colBatch          // the columnar batch when the output takes columns (source_vec.go), else nil
	retired   map[string][]int32 // done partitions paused but not yet removed from the client (retire)
}

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

// Run reads the topics and pushes rows until the stop offsets (bounded) or until ctx is cancelled.
func (s *source) Run(ctx context.Context, out changelog.Output) error {
	return s.runSubtask(ctx, out, 0, 1)
}

// runSubtask reads the partitions that subtask sub of nsub owns (subtasks.go).
func (s *source) runSubtask(ctx context.Context, out changelog.Output, sub, nsub int) error {
	c := s.cfg
	keyDec, valDec, err := s.decoders(sub)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}),
		kgo.KeepControlRecords(),
		// Java's fetch.max.wait.ms default (franz-go waits 5 s): a fetch in flight delays partitions assigned
		// meanwhile (discovery) by up to this long.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	opts = append(opts, c.client.consumer...)
	if c.client.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	switch {
	case c.client.resetOffset == "none":
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	case c.client.resetOffset == "latest" || c.client.resetOffset == "" && s.start.mode == modeLatest:
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	default:
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	cl, err := c.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := c.waitReachable(ctx, cl); err != nil {
		return err
	}
	r := &run{s: s, cl: cl, adm: kadm.NewClient(cl), parts: map[topicPartition]*partState{}, sub: sub, nsub: nsub, keyDec: keyDec, valDec: valDec,
		splits: s.splitListener(sub, nsub)}
	r.prepare()
	r.useColumns(out)
	_, managed := out.(connectors.PositionedOutput)
	s.positions.mu.Lock()
	if s.positions.active == nil {
		s.positions.active = r
	}
	s.positions.managed = managed
	s.positions.mu.Unlock()
	defer func() {
		s.positions.mu.Lock()
		if s.positions.active == r {
			s.positions.active = nil
		}
		s.positions.mu.Unlock()
	}()
	err = r.loop(ctx, out)
	if !managed {
		r.commit(context.WithoutCancel(ctx), true)
	}
	if n := s.skippedBad.Load() + s.skippedNull.Load(); n > maxWarnings {
		fmt.Fprintf(s.stderr, "WARN kafka table '%s': skipped %d records in all (%d unreadable, %d with a null value)\n",
			c.table.Name, n, s.skippedBad.Load(), s.skippedNull.Load())
	}
	return err
}

func (r *run) prepare() {
	c := r.s.cfg
	r.width = c.nphys + len(c.meta)
	n := c.client.maxPollRecords
	r.arena = make([]types.Value, n*r.width)
	r.batch.Rows = make([]changelog.Row, 0, n)
	r.valDirect = len(c.valIdx) == c.nphys
	r.advanceOne = func() { r.s.positions.advance(r.one[:]) }
	if c.key != nil {
		r.keyVals = make([]types.Value, len(c.keyIdx))
	}
	if !r.valDirect {
		r.valVals = make([]types.Value, len(c.valIdx))
	}
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
		}
		if assign[tp.topic] == nil {
			assign[tp.topic] = map[int32]kgo.Offset{}
		}
		assign[tp.topic][tp.partition] = kgo.NewOffset().At(start)
	}
	r.cl.AddConsumePartitions(assign)
	return nil
}

func (r *run) loop(ctx context.Context, out changelog.Output) error {
	s := r.s
	parts, err := r.listPartitions(ctx)
	if err != nil {
		return err
	}
	if err := r.assign(ctx, parts, true); err != nil {
		return err
	}
	bounded := s.Bounded()
	commitEvery := s.cfg.client.autoCommitInterval
	nextCommit := time.Now().Add(commitEvery)
	var nextDiscovery time.Time
	if !bounded && s.discovery > 0 {
		nextDiscovery = time.Now().Add(s.discovery)
	}
	var alignEvery time.Duration
	if _, _, ok := s.WatermarkAlignment(); ok && r.splits != nil {
		alignEvery = AlignmentUpdateInterval.Get(s.cfg.r)
	}
	var nextAlign time.Time
	for {
		if bounded && r.open == 0 {
			return nil
		}
		wait := time.Second
		now := time.Now()
		if d := nextCommit.Sub(now); d < wait {
			wait = max(d, time.Millisecond)
		}
		if !nextDiscovery.IsZero() {
			if d := nextDiscovery.Sub(now); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if alignEvery > 0 {
			// Alignment is re-evaluated after every poll that pushed rows, and every update interval while
			// nothing arrives (the partitions holding the group back may have caught up through other tables).
			if r.pushedRows || !now.Before(nextAlign) {
				r.align()
				nextAlign = now.Add(alignEvery)
			}
			wait = min(wait, max(nextAlign.Sub(now), time.Millisecond))
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := r.cl.PollRecords(pctx, s.cfg.client.maxPollRecords)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.fetchError(fetches); err != nil {
			return err
		}
		if err := r.handle(fetches, out); err != nil {
			return err
		}
		now = time.Now()
		if !now.Before(nextCommit) && !s.positions.managed {
			r.commit(ctx, false)
			nextCommit = now.Add(commitEvery)
		}
		if !nextDiscovery.IsZero() && !now.Before(nextDiscovery) {
			parts, err := r.listPartitions(ctx)
			if err == nil {
				err = r.assign(ctx, parts, false)
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fmt.Fprintf(s.stderr, "WARN kafka table '%s': partition discovery failed (retrying in %s): %s\n", s.cfg.table.Name, s.discovery, err.Error())
			}
			nextDiscovery = time.Now().Add(s.discovery)
		}
	}
}

// fetchError returns the first error of fetches that is not the poll timeout.
func (r *run) fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if t == "" {
			first = fmt.Errorf("kafka table '%s': fetch: %w", r.s.cfg.table.Name, err)
			return
		}
		first = fmt.Errorf("kafka table '%s': fetch topic '%s' partition %d: %w", r.s.cfg.table.Name, t, p, err)
	})
	return first
}

// handle decodes the fetched records into rows and pushes them, one batch per partition and poll (so that
// watermarks can be tracked per partition). When a record cannot be read, the partition's rows before it are
// pushed (and their offsets may be committed) before the error is returned, so a restart from the group's
// offsets begins at the bad record.
func (r *run) handle(fetches kgo.Fetches, out changelog.Output) error {
	var removed map[string][]int32
	var firstErr error
	pushed := false
	r.pushedRows = false
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if firstErr != nil || len(fp.Records) == 0 {
			return
		}
		st := r.parts[topicPartition{fp.Topic, fp.Partition}]
		if st == nil || st.done {
			return
		}
		st.hw = fp.HighWatermark
		r.resetBatch()
		var readErr error
		for _, rec := range fp.Records {
			if st.stop >= 0 && rec.Offset >= st.stop {
				break
			}
			if !rec.Attrs.IsControl() {
				if err := r.decode(rec); err != nil {
					readErr = err
					break
				}
			}
			st.next = rec.Offset + 1
			if st.stop >= 0 && st.next >= st.stop {
				break
			}
		}
		r.s.records.Add(int64(r.batchLen()))
		if r.splits != nil {
			r.splits.SplitRows(st.split)
		}
		// The position advances inside the same critical section as the push (an empty batch only advances
		// it), so a checkpoint sees a partition's rows and its offset together.
		r.one[0] = st
		if err := r.pushBatch(out); err != nil {
			firstErr = err
			return
		}
		pushed = true
		r.pushedRows = r.pushedRows || r.batchLen() > 0
		st.acked = st.next
		if readErr != nil {
			firstErr = readErr
			return
		}
		if st.stop >= 0 && st.next >= st.stop {
			st.done = true
			r.open--
			if r.splits != nil {
				r.splits.FinishSplit(st.split)
			}
			if removed == nil {
				removed = map[string][]int32{}
			}
			removed[st.tp.topic] = append(removed[st.tp.topic], st.tp.partition)
		}
	})
	r.retire(removed)
	r.noteLag(pushed)
	if firstErr == nil && !pushed {
		return r.tick(out)
	}
	return firstErr
}

// record decodes one record into the next row of the batch (or skips it).
func (r *run) record(rec *kgo.Record) error {
	s := r.s
	c := s.cfg
	if cd, ok := r.valDec.(formats.ChangelogDecoder); ok {
		return r.changelogRecord(rec, cd)
	}
	kind := changelog.Insert
	if rec.Value == nil && c.upsert {
		// A tombstone deletes its key: the key fields come from the record key, the value fields are NULL.
		kind = changelog.Delete
	} else if rec.Value == nil {
		s.skippedNull.Add(1)
		s.warn(rec, "its value is null (a tombstone; read compacted topics with 'upsert-kafka')")
		return nil
	}
	i := r.batch.Len()
	if (i+1)*r.width > len(r.arena) {
		// More records than max.poll.records in one poll (franz-go does not return more): grow; rows already
		// in the batch keep pointing into the old array, which stays valid.
		r.arena = make([]types.Value, 2*len(r.arena)+r.width)
	}
	row := r.arena[i*r.width : (i+1)*r.width : (i+1)*r.width]
	if c.key != nil {
		if rec.Key == nil {
			for _, pi := range c.keyIdx {
				row[pi] = types.NullValue
			}
		} else {
			ok, err := r.keyDec.Decode(rec.Key, r.keyVals)
			if err != nil {
				return s.recordError(rec, "key", err)
			}
			if !ok {
				s.skippedBad.Add(1)
				s.warn(rec, "its key cannot be read by format '"+c.key.Identifier+"' (ignore-parse-errors)")
				return nil
			}
			for j, pi := range c.keyIdx {
				row[pi] = r.keyVals[j]
			}
		}
	}
	if kind == changelog.Delete {
		for _, pi := range c.valIdx {
			if !r.isKey(pi) {
				row[pi] = types.NullValue
			}
		}
	} else {
		dst := row[:c.nphys]
		if !r.valDirect {
			dst = r.valVals
		}
		ok, err := r.valDec.Decode(rec.Value, dst)
		if err != nil {
			return s.recordError(rec, "value", err)
		}
		if !ok {
			s.skippedBad.Add(1)
			s.warn(rec, "its value cannot be read by format '"+c.value.Identifier+"' (ignore-parse-errors)")
			return nil
		}
		if !r.valDirect {
			for j, pi := range c.valIdx {
				row[pi] = r.valVals[j]
			}
		}
		if c.upsert && r.valDirect {
			// value.fields-include = ALL: the key columns are in the value too; the record key wins, as the
			// key is what Kafka compacts on.
			for j, pi := range c.keyIdx {
				if rec.Key != nil {
					row[pi] = r.keyVals[j]
				}
			}
		}
	}
	for j := range c.meta {
		m := &c.meta[j]
		v, err := m.cast(readMetadata(m.key.name, rec))
		if err != nil {
			return fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: metadata column '%s': %w",
				c.table.Name, rec.Topic, rec.Partition, rec.Offset, m.col.Name, err)
		}
		row[c.nphys+j] = v
	}
	r.batch.Append(kind, row)
	return nil
}

// isKey reports whether physical column pi is a key field.
func (r *run) isKey(pi int) bool {
	for _, k := range r.s.cfg.keyIdx {
		if k == pi {
			return true
		}
	}
	return false
}

// changelogRecord decodes a record of a changelog value format: it may add several rows of any kind (an
// update is -U then +U). Null values (Debezium's tombstones after deletes) are skipped silently.
func (r *run) changelogRecord(rec *kgo.Record, cd formats.ChangelogDecoder) error {
	s := r.s
	c := s.cfg
	if rec.Value == nil {
		return nil
	}
	if c.key != nil && rec.Key != nil {
		ok, err := r.keyDec.Decode(rec.Key, r.keyVals)
		if err != nil {
			return s.recordError(rec, "key", err)
		}
		if !ok {
			s.skippedBad.Add(1)
			s.warn(rec, "its key cannot be read by format '"+c.key.Identifier+"' (ignore-parse-errors)")
			return nil
		}
	}
	emitted := 0
	var metaErr error
	err := cd.DecodeChangelog(rec.Value, func(kind changelog.Kind, vals []types.Value) error {
		i := r.batch.Len()
		if (i+1)*r.width > len(r.arena) {
			r.arena = make([]types.Value, 2*len(r.arena)+r.width)
		}
		row := r.arena[i*r.width : (i+1)*r.width : (i+1)*r.width]
		for j, pi := range c.valIdx {
			row[pi] = vals[j]
		}
		for j, pi := range c.keyIdx {
			if rec.Key == nil {
				row[pi] = types.NullValue
			} else {
				row[pi] = r.keyVals[j]
			}
		}
		for j := range c.meta {
			m := &c.meta[j]
			v, err := m.cast(readMetadata(m.key.name, rec))
			if err != nil {
				metaErr = fmt.Errorf("kafka table '%s': record at topic '%s' partition %d offset %d: metadata column '%s': %w",
					c.table.Name, rec.Topic, rec.Partition, rec.Offset, m.col.Name, err)
				return metaErr
			}
			row[c.nphys+j] = v
		}
		r.batch.Append(kind, row)
		emitted++
		return nil
	})
	if metaErr != nil {
		return metaErr
	}
	if err != nil {
		return s.recordError(rec, "value", err)
	}
	if emitted == 0 {
		s.skippedBad.Add(1)
		s.warn(rec, "its value cannot be read by format '"+c.value.Identifier+"' (ignore-parse-errors)")
	}
	return nil
}

func (s *source) recordError(rec *kgo.Record, side string, err error) error {
	e := &RecordError{Table: s.cfg.table.Name, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Side: side, Err: err}
	var fe *formats.RecordError
	if errors.As(err, &fe) {
		e.Field = fe.Field
	}
	d := s.cfg.value
	if side == "key" {
		d = s.cfg.key
	}
	for _, o := range d.Factory.Options() {
		if o.Key == "ignore-parse-errors" {
			e.hint = d.Prefix + o.Key
		}
	}
	return e
}

func (s *source) warn(rec *kgo.Record, why string) {
	n := s.warnings.Add(1)
	if n > maxWarnings {
		return
	}
	fmt.Fprintf(s.stderr, "WARN kafka table '%s': skipped the record at topic '%s' partition %d offset %d: %s\n",
		s.cfg.table.Name, rec.Topic, rec.Partition, rec.Offset, why)
	if n == maxWarnings {
		fmt.Fprintf(s.stderr, "WARN kafka table '%s': further skipped records are counted, not printed\n", s.cfg.table.Name)
	}
}
