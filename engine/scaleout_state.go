package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/state"
)

// The state of a scale-out member's aggregate lives in memory per repartition partition and is backed by
// the partition of the same number of a compacted changelog topic: after each transaction's rows the
// member writes the state entry of every group that got a row (or that the state TTL dropped) since the
// last transaction, as the group aggregate's own state encoding (the record key being the namespace byte
// and the entry's key), or a tombstone for a group that went, in the same transaction as the rows' offsets.
// The member tracks those groups itself (the repartition records' keys are the group keys), so a
// transaction costs in proportion to the groups it changed, not to the partition's groups. A partition's
// state is restored by reading its changelog partition up to the last stable offset (read_committed) before
// its first row is aggregated, unless the member kept it over a rebalance (scaleout_keep.go).

// aggPart is the stage-2 state of one repartition partition.
type aggPart struct {
	part  int32
	agg   changelog.Output // the group aggregate, its output going through the Calcs behind it to the sink
	snap  state.Snapshotter
	keyed exec.KeyedSnapshotter
	dirty map[string]struct{} // the groups changed since the last transaction: their keys
	meta  bool                // the changelog holds the operator-wide entry
}

// newAggPart builds the aggregate of one partition: its output goes through the Calcs behind it to the
// sink, or, with a second keyed stage, through the Calcs between the two to the second repartition topic
// (scaleout_stage.go).
func (m *member) newAggPart(part int32) (*aggPart, error) {
	a := m.plan.agg
	var out changelog.Output
	if len(m.stages) > 0 {
		out = m.stage2Out()
	} else {
		out = exec.NewCounter(&m.rowsOut, m.sinkOut)
		for i := len(m.plan.post) - 1; i >= 0; i-- {
			c := m.plan.post[i]
			out = exec.NewCalc(c.Projects, c.Filter, out)
		}
	}
	cfg := exec.GroupAggConfig{Keys: a.Keys, Aggs: a.Aggs, EmitUpdateBefore: true, InsertOnly: m.insertOnly,
		TTL: m.s.ttl, KeyTypes: m.keyTypes, InTypes: m.inTypes}
	return m.newGroupAggPart(part, cfg, out)
}

// newGroupAggPart builds a group aggregate of one partition, writing to out.
func (m *member) newGroupAggPart(part int32, cfg exec.GroupAggConfig, out changelog.Output) (*aggPart, error) {
	agg, err := exec.NewGroupAgg(cfg, out)
	if err != nil {
		return nil, err
	}
	snap, ok := agg.(state.Snapshotter)
	keyed, ok2 := agg.(exec.KeyedSnapshotter)
	if !ok || !ok2 {
		return nil, fmt.Errorf("internal error: the group aggregate has no keyed state snapshots")
	}
	ap := &aggPart{part: part, agg: agg, snap: snap, keyed: keyed, dirty: map[string]struct{}{}}
	keyed.OnExpire(ap.markDirty)
	return ap, nil
}

// markDirty notes that the group of key changed.
func (ap *aggPart) markDirty(key string) { ap.dirty[key] = struct{}{} }

// readChangelog reads the changelog partitions parts up to their ends (stableEnds): the last value of every
// key (tombstones remove it).
func (m *member) readChangelog(ctx context.Context, parts []int32) (map[int32]map[string][]byte, error) {
	return m.readChangelogOf(ctx, m.cl, &m.keep, parts)
}

// readChangelogOf is readChangelog of the changelog topic cl, whose partitions' ends k notes.
func (m *member) readChangelogOf(ctx context.Context, cl string, k *keepState, parts []int32) (_ map[int32]map[string][]byte, err error) {
	rctx, cancel := context.WithTimeout(ctx, 2*m.s.txnTimeout+30*time.Second)
	defer cancel()
	ends, err := m.stableEndsOf(rctx, cl, parts)
	if err != nil {
		return nil, err
	}
	end0 := maps.Clone(ends) // the ends the state reflects (ends loses a partition when it is read)
	assign := map[int32]kgo.Offset{}
	for p := range ends {
		assign[p] = kgo.NewOffset().AtStart()
	}
	entries := make(map[int32]map[string][]byte, len(parts))
	records := make(map[int32]int64, len(parts))
	for _, p := range parts {
		entries[p] = map[string][]byte{}
	}
	defer func() {
		if err == nil {
			for _, p := range parts {
				k.restoredFrom(p, end0[p], records[p]) // no records: end 0
			}
		}
	}()
	if len(assign) > 0 {
		opts := append(m.src.ClientOpts(),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cl: assign}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
			kgo.FetchMaxWait(200*time.Millisecond))
		rc, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		lastRecord := time.Now()
		for len(ends) > 0 {
			pctx, pcancel := context.WithTimeout(rctx, 300*time.Millisecond)
			fs := rc.PollFetches(pctx)
			pcancel()
			if rctx.Err() != nil {
				return nil, fmt.Errorf("restore: reading the changelog topic '%s' did not finish: %w", cl, rctx.Err())
			}
			n := 0
			var ferr error
			fs.EachError(func(t string, p int32, err error) {
				if err != context.DeadlineExceeded && ferr == nil {
					ferr = fmt.Errorf("restore: read the changelog topic '%s' partition %d: %w", t, p, err)
				}
			})
			if ferr != nil {
				return nil, ferr
			}
			fs.EachRecord(func(r *kgo.Record) {
				n++
				end, ok := ends[r.Partition]
				if !ok {
					return
				}
				if !r.Attrs.IsControl() && ferr == nil {
					records[r.Partition]++
					if err := m.checkPlan(r); err != nil {
						ferr = err
						return
					}
					if r.Value == nil {
						delete(entries[r.Partition], string(r.Key))
					} else {
						entries[r.Partition][string(r.Key)] = r.Value
					}
				}
				if r.Offset >= end-1 {
					delete(ends, r.Partition)
				}
			})
			if ferr != nil {
				return nil, ferr
			}
			if n > 0 {
				lastRecord = time.Now()
			} else if time.Since(lastRecord) > 20*time.Second {
				// The last offset below the end is a transaction marker or a record, both returned (compaction
				// keeps a partition's last batch): records that stop coming mean the brokers are stuck. The
				// state is not guessed from a part of the changelog; the member fails and restarts.
				return nil, fmt.Errorf("restore: reading the changelog topic '%s' stopped before its end: partitions %v returned nothing for 20 s", cl, slices.Sorted(maps.Keys(ends)))
			}
		}
	}
	return entries, nil
}

// stableEnds returns the offsets up to which the changelog partitions parts are read in a restore (the
// partitions without records are left out): their high watermarks, once the last stable offset has reached
// them. A partition whose last stable offset lags has an open transaction: one of a member that was killed
// or lost the partition (this member owns it now, so no live member writes to it). Its last offsets may be
// committed later (it was committing) or aborted (the brokers abort it after the transaction timeout); until
// then, transactions that this member's predecessors committed after it are not readable with
// read_committed. Reading only up to the last stable offset would restore an old state under newer
// committed source offsets, and lose rows. So the restore waits until no transaction is open.
func (m *member) stableEnds(ctx context.Context, parts []int32) (map[int32]int64, error) {
	return m.stableEndsOf(ctx, m.cl, parts)
}

// stableEndsOf is stableEnds of the changelog topic cl.
func (m *member) stableEndsOf(ctx context.Context, cl string, parts []int32) (map[int32]int64, error) {
	waited, start := false, time.Now()
	for {
		lso, err := m.adm.ListCommittedOffsets(ctx, cl)
		if err == nil {
			err = lso.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("restore: list the last stable offsets of the changelog topic '%s': %w", cl, err)
		}
		hwm, err := m.adm.ListEndOffsets(ctx, cl)
		if err == nil {
			err = hwm.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("restore: list the end offsets of the changelog topic '%s': %w", cl, err)
		}
		ends := map[int32]int64{}
		var open []int32
		for _, p := range parts {
			s, ok := lso.Lookup(cl, p)
			e, ok2 := hwm.Lookup(cl, p)
			if !ok || !ok2 {
				return nil, fmt.Errorf("restore: the changelog topic '%s' has no partition %d", cl, p)
			}
			if s.Offset < e.Offset {
				open = append(open, p)
			}
			if e.Offset > 0 {
				ends[p] = e.Offset
			}
		}
		if len(open) == 0 {
			if waited {
				fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': the open transactions on '%s' ended after %s; restoring.\n",
					m.s.name, cl, time.Since(start).Round(time.Millisecond))
			}
			return ends, nil
		}
		if !waited {
			waited = true
			fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': changelog partitions %v of '%s' have an open transaction (of a member that failed or lost them); the restore waits until it ends (the brokers abort a dead member's transaction after 'sluice.scale-out.transaction-timeout', %s).\n",
				m.s.name, open, cl, m.s.txnTimeout)
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("restore: changelog partitions %v of '%s' still have an open transaction after %s: %w", open, cl, time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-t.C:
		}
	}
}

// restore loads the state of the given repartition partitions from their changelog partitions.
func (m *member) restore(ctx context.Context, parts []int32) error {
	return m.restoreAggs(ctx, m.cl, &m.keep, parts, m.newAggPart, m.parts)
}

// restoreAggs loads the aggregates (newPart) of the given partitions from the changelog topic cl into
// into; k notes the ends restored.
func (m *member) restoreAggs(ctx context.Context, cl string, k *keepState, parts []int32, newPart func(int32) (*aggPart, error), into map[int32]*aggPart) error {
	start := time.Now()
	entries, err := m.readChangelogOf(ctx, cl, k, parts)
	if err != nil {
		return err
	}
	keys := 0
	for _, p := range parts {
		ap, err := newPart(p)
		if err != nil {
			return err
		}
		r := &entryReader{}
		for k, v := range entries[p] {
			if len(k) == 0 {
				continue
			}
			r.keys = append(r.keys, k)
			r.vals = append(r.vals, v)
			if len(k) == 1 {
				ap.meta = true // the operator-wide entry: namespace byte, no key
			}
		}
		r.sortMetaFirst()
		if err := ap.snap.RestoreState(r); err != nil {
			return fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, cl, err)
		}
		keys += len(r.keys)
		into[p] = ap
	}
	fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': restored partitions %v from '%s' (%d entries) in %s.\n",
		m.s.name, parts, cl, keys, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeChangelog produces the entries of the groups changed since the last transaction to the changelog.
func (m *member) writeChangelog(touched map[int32]*aggPart) error {
	return m.writeAggChangelog(m.cl, touched)
}

// writeAggChangelog is writeChangelog into the changelog topic cl.
func (m *member) writeAggChangelog(cl string, touched map[int32]*aggPart) error {
	for p, ap := range touched {
		w := &changelogWriter{m: m, part: p, cl: cl}
		if !ap.meta {
			if err := ap.keyed.SnapshotMeta(w); err != nil {
				return fmt.Errorf("state of partition %d: %w", p, err)
			}
			ap.meta = true
		}
		if err := ap.keyed.SnapshotKeys(w, maps.Keys(ap.dirty)); err != nil {
			return fmt.Errorf("state of partition %d: %w", p, err)
		}
		if len(ap.dirty) > 4096 {
			ap.dirty = map[string]struct{}{} // clear would keep (and visit) the large map's buckets
		} else {
			clear(ap.dirty)
		}
	}
	return nil
}

// produceEntry produces one changelog record (a nil value is a tombstone) to m.cl.
func (m *member) produceEntry(part int32, key, value []byte) {
	m.produceEntryTo(m.cl, part, key, value)
}

// produceEntryTo produces one record to the changelog topic cl.
func (m *member) produceEntryTo(cl string, part int32, key, value []byte) {
	rec := m.record()
	rec.Topic, rec.Partition, rec.Headers = cl, part, m.hdr
	rec.Key = append(rec.Key, key...)
	if value != nil {
		rec.Value = append(rec.Value, value...)
	} else {
		rec.Value = nil
	}
	m.produce(rec)
}

// changelogWriter produces a partition's changed entries (keys: namespace byte + entry key).
type changelogWriter struct {
	m    *member
	part int32
	cl   string // the changelog topic; "": the member's (m.cl)
	kb   []byte
}

// topic is the changelog topic w writes.
func (w *changelogWriter) topic() string {
	if w.cl != "" {
		return w.cl
	}
	return w.m.cl
}

func (w *changelogWriter) Put(ns uint8, key, value []byte) error {
	w.kb = append(append(w.kb[:0], ns), key...)
	w.m.produceEntryTo(w.topic(), w.part, w.kb, value)
	return nil
}

func (w *changelogWriter) Delete(ns uint8, key []byte) error {
	w.kb = append(append(w.kb[:0], ns), key...)
	w.m.produceEntryTo(w.topic(), w.part, w.kb, nil)
	return nil
}

// entryReader yields restored changelog entries (keys: namespace byte + entry key) as a state.Reader.
type entryReader struct {
	keys []string
	vals [][]byte
	i    int
}

// sortMetaFirst puts operator-wide entries (no entry key) first, then the rest in key order.
func (r *entryReader) sortMetaFirst() {
	idx := make([]int, len(r.keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		ka, kb := r.keys[idx[a]], r.keys[idx[b]]
		if (len(ka) == 1) != (len(kb) == 1) {
			return len(ka) == 1
		}
		return ka < kb
	})
	keys, vals := make([]string, len(idx)), make([][]byte, len(idx))
	for i, j := range idx {
		keys[i], vals[i] = r.keys[j], r.vals[j]
	}
	r.keys, r.vals = keys, vals
}

func (r *entryReader) Next() (uint8, []byte, []byte, bool, error) {
	if r.i >= len(r.keys) {
		return 0, nil, nil, false, nil
	}
	k, v := r.keys[r.i], r.vals[r.i]
	r.i++
	return k[0], []byte(k[1:]), v, true, nil
}

// record returns an empty record for an internal topic.
func (m *member) record() *kgo.Record {
	if r, ok := m.pool.Get().(*kgo.Record); ok {
		return r
	}
	return &kgo.Record{}
}

// delivered notes a failed internal record and recycles the record.
func (m *member) delivered(r *kgo.Record, err error) {
	if r.Topic == m.cl {
		m.keep.delivered(r.Partition, r.Offset, err)
	} else {
		for _, s := range m.stages {
			if r.Topic == s.cl {
				s.keep.delivered(r.Partition, r.Offset, err)
			}
		}
	}
	if err != nil {
		m.prodMu.Lock()
		if m.prodErr == nil {
			m.prodErr = fmt.Errorf("write to the internal topic '%s' partition %d: %w", r.Topic, r.Partition, err)
		}
		m.prodMu.Unlock()
	}
	key, val := r.Key, r.Value
	*r = kgo.Record{Key: key[:0], Value: val[:0]}
	m.pool.Put(r)
}

// produceErr returns (and with reset, forgets) the first failed internal record.
func (m *member) produceErr(reset bool) error {
	m.prodMu.Lock()
	defer m.prodMu.Unlock()
	err := m.prodErr
	if reset {
		m.prodErr = nil
	}
	return err
}
