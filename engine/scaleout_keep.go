package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Keeping a partition's state across a rebalance. Assignment is eager: at a rebalance the member gives up
// every partition and gets a new set. The stage-2 state of a repartition partition that it owned before and
// owns again is kept, instead of being restored from the changelog, when it is provably the state a restore
// would load: the state reflects exactly the committed changelog partition up to an end offset the member
// knows (the end it restored up to, or the offset behind the commit marker of its last transaction that
// wrote the partition), and after the rebalance the partition's end, once no transaction is open on it
// (last stable offset = high watermark, as a restore waits for), is still that offset: nobody wrote it in
// between. Anything else restores as before: another owner's records or transaction markers move the end; a
// record whose offset the producer did not report, or a transaction of this member that was aborted, makes
// the end unknown (an aborted transaction also drops the state of every partition it touched, whose rows
// are fetched again). The committed offsets that the partition is read from again are those of the same
// transaction as its last changelog records (KIP-447 RequireStable), so state and position agree. The state
// of a shape that heldPart does not name is dropped by dropState and restored, as before.

// keepState is a member's bookkeeping of which state can be kept.
type keepState struct {
	// ends holds, per loaded (or held) stage-2 partition, the changelog end offset its state reflects;
	// a partition without an entry is restored after a rebalance.
	ends map[int32]int64
	// held are the stage-2 partitions of before the last rebalance, until they are kept or dropped.
	held map[int32]heldPart
	// wrote is, per changelog partition, the offset of the last record of the open transaction (noWrite:
	// none; unknownOffset: one failed or has no reported offset); set by the producer's promises.
	wrote []atomic.Int64
	// touched marks the partitions that got repartition records in the open transaction.
	touched []bool
	stats   *scaleOutStats
}

const (
	noWrite       = -1
	unknownOffset = -2
)

// heldPart is one partition's state of any shape, held across a rebalance.
type heldPart struct {
	agg  *aggPart
	join *joinPart
	rank *rankPart
	win  *winPart // a window aggregate's or an interval join's
	// srank is a later stage's Top-N (scaleout_stage_rank.go)
	srank *stageRankPart
}

// scaleOutStats counts a member's restored changelog records and kept partitions (tests, measurements).
type scaleOutStats struct {
	mu       sync.Mutex
	restored map[int32]int64        // changelog records read per partition
	kept     map[int32]int          // times each partition's state was kept at a rebalance
	restore  time.Duration          // time spent restoring
	aborted  map[int32]int          // times each loaded partition was dropped after a transaction a rebalance aborted
	later    map[int]*scaleOutStats // the later keyed stages' (scaleout_stage.go), by stage number
}

// stage returns the stats of later keyed stage n (created on first use; nil on a nil s).
func (s *scaleOutStats) stage(n int) *scaleOutStats {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.later == nil {
		s.later = map[int]*scaleOutStats{}
	}
	if s.later[n] == nil {
		s.later[n] = newScaleOutStats()
	}
	return s.later[n]
}

// abortDrops returns the times each loaded partition was dropped after an aborted transaction (it is then
// restored).
func (s *scaleOutStats) abortDrops() map[int32]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.aborted)
}

// addAborted counts a drop of partition p's state after an aborted transaction.
func (s *scaleOutStats) addAborted(p int32) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.aborted[p]++
	s.mu.Unlock()
}

func (s *scaleOutStats) addRestored(p int32, n int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.restored[p] += n
	s.mu.Unlock()
}

// snapshot returns the changelog records read per partition, the times each partition was kept and the
// time spent restoring.
func (s *scaleOutStats) snapshot() (restored map[int32]int64, kept map[int32]int, restore time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	restored, kept = map[int32]int64{}, map[int32]int{}
	for p, n := range s.restored {
		restored[p] = n
	}
	for p, n := range s.kept {
		kept[p] = n
	}
	return restored, kept, s.restore
}

// ScaleOutStageMetrics are a scale-out member's counters of one keyed stage (JobMetrics.ScaleOut).
type ScaleOutStageMetrics struct {
	Stage              int   // 1: the first keyed operator; 2, 3: the later stages
	RestoredPartitions int   // partitions whose state was restored from the stage's changelog (each once)
	RestoredRecords    int64 // changelog records read by those restores
	Kept               int   // times a partition's state was kept over a rebalance instead of restored
	AbortDrops         int   // times a partition's state was dropped after an aborted transaction
}

// metrics returns the counters of the member's stages (nil on a nil s, and for a plan without state).
func (s *scaleOutStats) metrics() []ScaleOutStageMetrics {
	if s == nil {
		return nil
	}
	one := func(n int, st *scaleOutStats) ScaleOutStageMetrics {
		st.mu.Lock()
		defer st.mu.Unlock()
		m := ScaleOutStageMetrics{Stage: n, RestoredPartitions: len(st.restored)}
		for _, r := range st.restored {
			m.RestoredRecords += r
		}
		for _, k := range st.kept {
			m.Kept += k
		}
		for _, a := range st.aborted {
			m.AbortDrops += a
		}
		return m
	}
	s.mu.Lock()
	later := slices.Sorted(maps.Keys(s.later))
	s.mu.Unlock()
	ms := []ScaleOutStageMetrics{one(1, s)}
	for _, n := range later {
		ms = append(ms, one(n, s.stage(n)))
	}
	if len(later) == 0 && ms[0] == (ScaleOutStageMetrics{Stage: 1}) {
		return nil // nothing restored or kept yet (or a stateless plan)
	}
	return ms
}

// init sizes the bookkeeping for n partitions per internal topic.
func (k *keepState) init(n int32, stats *scaleOutStats) {
	k.ends, k.held = map[int32]int64{}, map[int32]heldPart{}
	k.wrote = make([]atomic.Int64, n)
	k.touched = make([]bool, n)
	k.stats = stats
	k.beginTxn()
}

// beginTxn forgets the open transaction's writes and touched partitions.
func (k *keepState) beginTxn() {
	for i := range k.wrote {
		k.wrote[i].Store(noWrite)
	}
	clear(k.touched)
}

// reset forgets every end and held state (dropState).
func (k *keepState) reset() {
	clear(k.ends)
	clear(k.held)
	k.beginTxn()
}

// delivered notes a changelog record's outcome (the producer's goroutine; a partition's promises come in
// order).
func (k *keepState) delivered(part int32, offset int64, err error) {
	if part < 0 || int(part) >= len(k.wrote) {
		return
	}
	if err != nil || offset < 0 {
		k.wrote[part].Store(unknownOffset)
		return
	}
	if k.wrote[part].Load() != unknownOffset {
		k.wrote[part].Store(offset)
	}
}

// committed notes the open transaction's commit: a partition it wrote ends behind its commit marker, the
// offset after its last record.
func (k *keepState) committed() {
	for p := range k.wrote {
		switch o := k.wrote[p].Load(); {
		case o == noWrite:
		case o == unknownOffset:
			delete(k.ends, int32(p))
		default:
			if _, ok := k.ends[int32(p)]; ok {
				k.ends[int32(p)] = o + 2
			}
		}
	}
	k.beginTxn()
}

// loadedParts returns the loaded stage-2 partitions of the shapes that can be kept.
func (m *member) loadedParts() map[int32]heldPart {
	l := map[int32]heldPart{}
	for p, ap := range m.parts {
		l[p] = heldPart{agg: ap}
	}
	for p, jp := range m.jparts {
		l[p] = heldPart{join: jp}
	}
	for p, rp := range m.rparts {
		l[p] = heldPart{rank: rp}
	}
	if m.win != nil {
		for p, wp := range m.win.parts {
			l[p] = heldPart{win: wp}
		}
	}
	return l
}

// load makes h the loaded state of partition p.
func (m *member) load(p int32, h heldPart) {
	switch {
	case h.agg != nil:
		m.parts[p] = h.agg
	case h.join != nil:
		m.jparts[p] = h.join
	case h.rank != nil:
		m.rparts[p] = h.rank
	case h.win != nil:
		m.win.parts[p] = h.win
	}
}

// forgetEnds forgets the ends of the partitions neither loaded nor held.
func (m *member) forgetEnds() {
	for p := range m.keep.ends {
		if _, ok := m.keep.held[p]; !ok && !m.loaded(p) {
			delete(m.keep.ends, p)
		}
	}
}

// hold moves the loaded stage-2 partitions whose changelog end is known to the held ones and drops the
// member's state (dropState: the rest, and stage 1's window state); a rebalance revoked every partition.
func (m *member) hold() {
	for p, h := range m.loadedParts() {
		if _, ok := m.keep.ends[p]; ok {
			m.keep.held[p] = h
		}
	}
	for _, s := range m.stages {
		s.hold() // a later keyed stage's partitions (scaleout_stage.go)
	}
	m.dropState()
	m.forgetEnds()
	for _, s := range m.stages {
		s.forgetEnds()
	}
}

// assignedHeld drops the held partitions that the group's new assignment (topic -> partitions) did not
// give this member.
func (m *member) assignedHeld(parts map[string][]int32) {
	for _, s := range m.stages {
		s.assignedHeld(parts)
	}
	own := parts[m.rep]
	for p := range m.keep.held {
		if !slices.Contains(own, p) {
			delete(m.keep.held, p)
			delete(m.keep.ends, p)
		}
	}
}

// dropAborted drops, after this member's transaction was aborted, the member's state (dropState) but for
// the partitions that got neither rows nor changelog records in it: their state is still that of the
// committed changelog (the others' rows are fetched again).
func (m *member) dropAborted() {
	loaded, later := m.loadedParts(), m.stagesLoaded()
	m.dropState()
	for i, s := range m.stages {
		s.dropAborted(later[i])
	}
	m.keep.keepUntouched(loaded, m.load)
	m.forgetEnds()
	m.keep.beginTxn()
}

// keepUntouched, after an aborted transaction, hands load the partitions of loaded (the state loaded before
// it was dropped) that got neither records nor changelog records in the transaction, counts the others as
// dropped after an abort, and forgets the held partitions that got some.
func (k *keepState) keepUntouched(loaded map[int32]heldPart, load func(int32, heldPart)) {
	touched := func(p int32) bool { return k.touched[p] || k.wrote[p].Load() != noWrite }
	for p, h := range loaded {
		if !touched(p) {
			load(p, h)
		} else {
			k.stats.addAborted(p)
		}
	}
	for p := range k.held {
		if touched(p) {
			delete(k.held, p)
		}
	}
}

// touch notes that partition p gets repartition records in the open transaction.
func (k *keepState) touch(p int32) {
	if p >= 0 && int(p) < len(k.touched) {
		k.touched[p] = true
	}
}

// reclaim keeps the held state of those of the partitions need (about to be restored) whose changelog
// partition still ends where their state does, and returns the others.
func (m *member) reclaim(ctx context.Context, need []int32) ([]int32, error) {
	return m.reclaimOf(ctx, &m.keep, m.cl, need, m.load)
}

// reclaimOf is reclaim of the partitions whose ends and held state k notes, of the changelog topic cl;
// load makes a kept partition's state the loaded one.
func (m *member) reclaimOf(ctx context.Context, k *keepState, cl string, need []int32, load func(int32, heldPart)) ([]int32, error) {
	var cand []int32
	for _, p := range need {
		if _, ok := k.held[p]; ok {
			cand = append(cand, p)
		}
	}
	if len(cand) == 0 {
		return need, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 2*m.s.txnTimeout+30*time.Second)
	defer cancel()
	ends, err := m.stableEndsOf(rctx, cl, cand) // waits until no transaction is open on them, as a restore does
	if err != nil {
		return nil, err
	}
	var rest, kept []int32
	for _, p := range need {
		h, ok := k.held[p]
		if !ok {
			rest = append(rest, p)
			continue
		}
		delete(k.held, p)
		if ends[p] != k.ends[p] { // another owner wrote it (a partition without records has no end: 0)
			delete(k.ends, p)
			rest = append(rest, p)
			continue
		}
		load(p, h)
		kept = append(kept, p)
	}
	if st := k.stats; len(kept) > 0 && st != nil {
		st.mu.Lock()
		for _, p := range kept {
			st.kept[p]++
		}
		st.mu.Unlock()
	}
	if len(kept) > 0 {
		fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': kept the state of partitions %v (their partitions of '%s' are unchanged since this member's last transaction).\n",
			m.s.name, kept, cl)
	}
	return rest, nil
}

// restoredFrom notes the changelog end that a restored partition's state reflects and the records read.
func (k *keepState) restoredFrom(p int32, end int64, records int64) {
	k.ends[p] = end
	k.stats.addRestored(p, records)
}

func newScaleOutStats() *scaleOutStats {
	return &scaleOutStats{restored: map[int32]int64{}, kept: map[int32]int{}, aborted: map[int32]int{}}
}

func (s *scaleOutStats) addTime(d time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.restore += d
	s.mu.Unlock()
}
