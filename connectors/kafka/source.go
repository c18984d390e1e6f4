package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

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
	filteredEarly                    atomic.Int64 // records a pushed filter dropped before full decoding (counted in records too)
	warnings                         atomic.Int64

	fresh func() (*tableConfig, error) // a new config with its own decoders, for source subtasks (subtasks.go)
	proj  *formats.Projection          // the projection applied (ApplyProjection), for fresh decoders
	// filterReads and filter: the filter pushed by the planner (ApplyFilter, source_filter.go), nil when none
	filterReads *formats.Projection
	filter      connectors.RowSelector

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
	pre       *preFilter         // the pushed filter run before full decoding (source_filter.go), else nil
	retired   map[string][]int32 // done partitions paused but not yet removed from the client (retire)
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
	// The columnar path is chosen first: whether the records' bytes may be pooled depends on it.
	r := &run{s: s, parts: map[topicPartition]*partState{}, sub: sub, nsub: nsub, keyDec: keyDec, valDec: valDec,
		splits: s.splitListener(sub, nsub)}
	r.prepare()
	r.useColumns(out)
	r.usePreFilter()
	if r.copiesRecords() {
		opts = append(opts, kgo.WithPools(fetchRecords, fetchBytes)) // handle recycles the records (source_pool.go)
	} else {
		opts = append(opts, kgo.WithPools(fetchRecords))
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
	r.cl, r.adm = cl, kadm.NewClient(cl)
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
	// franz-go fetches a broker's partitions again only once the previous fetch was taken whole: without
	// alignment the source takes every buffered record and handles them max.poll.records at a time, so that
	// the next fetch is decoded (franz-go's goroutine) while this one is. Alignment polls max.poll.records,
	// so that a partition it pauses stops within a poll.
	pollMax := -1
	if alignEvery > 0 {
		pollMax = s.cfg.client.maxPollRecords
	}
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
		fetches := r.cl.PollRecords(pctx, pollMax)
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

// handle decodes the fetched records into rows and pushes them, one batch per partition and at most
// max.poll.records rows (so that watermarks can be tracked per partition). When a record cannot be read, the
// partition's rows before it are pushed (and their offsets may be committed) before the error is returned,
// so a restart from the group's offsets begins at the bad record.
func (r *run) handle(fetches kgo.Fetches, out changelog.Output) error {
	var removed map[string][]int32
	var firstErr error
	pushed := false
	r.pushedRows = false
	chunk := max(r.s.cfg.client.maxPollRecords, 1)
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		// The records go back to the pool once handled (decoded values do not point into the Record structs).
		defer recycle(fp.Records)
		st := r.parts[topicPartition{fp.Topic, fp.Partition}]
		if st == nil || st.done {
			return
		}
		st.hw = fp.HighWatermark
		for recs := fp.Records; len(recs) > 0 && firstErr == nil && !st.done; {
			n := min(chunk, len(recs))
			p, err := r.handleChunk(st, recs[:n], out, &removed)
			pushed = pushed || p
			firstErr = err
			recs = recs[n:]
			r.noteLag(p) // after every push: a downstream that blocks the next one sees the lag
		}
	})
	r.retire(removed)
	if firstErr == nil && !pushed {
		return r.tick(out)
	}
	return firstErr
}

// handleChunk decodes and pushes recs, records of st's partition in offset order; pushed reports a push.
// A partition it finishes is added to removed.
func (r *run) handleChunk(st *partState, recs []*kgo.Record, out changelog.Output, removed *map[string][]int32) (pushed bool, err error) {
	r.resetBatch()
	var readErr error
	dropped := r.preselect(st, recs)
	var early int64 // records the pushed filter dropped, up to where the loop stops
	for i, rec := range recs {
		if st.stop >= 0 && rec.Offset >= st.stop {
			// Every record below the stop offset was delivered or skipped (read_committed skips an
			// aborted transaction's records, whose marker may lie past the stop): the partition is done.
			st.next = max(st.next, st.stop)
			break
		}
		if dropped != nil && dropped[i] {
			early++
		} else if !rec.Attrs.IsControl() {
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
	r.s.records.Add(int64(r.batchLen()) + early)
	r.countDropped(early, out)
	if r.splits != nil {
		r.splits.SplitRows(st.split)
	}
	// The position advances inside the same critical section as the push (an empty batch only advances
	// it), so a checkpoint sees a partition's rows and its offset together.
	r.one[0] = st
	if err := r.pushBatch(out); err != nil {
		return false, err
	}
	r.pushedRows = r.pushedRows || r.batchLen() > 0
	st.acked = st.next
	if readErr != nil {
		return true, readErr
	}
	if st.stop >= 0 && st.next >= st.stop {
		st.done = true
		r.open--
		if r.splits != nil {
			r.splits.FinishSplit(st.split)
		}
		if *removed == nil {
			*removed = map[string][]int32{}
		}
		(*removed)[st.tp.topic] = append((*removed)[st.tp.topic], st.tp.partition)
	}
	return true, nil
}
