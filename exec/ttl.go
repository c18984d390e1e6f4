package exec

import "time"

// State TTL ('table.exec.state.ttl'): idle state is dropped in processing time, as Flink's idle state
// retention, silently (nothing is emitted: downstream keeps what it was sent). Operators look for expired
// entries when rows or watermarks reach them, at most once per ttl/4 of processing time, so the scan's cost
// is spread thin; a map that lost most of its entries is rebuilt, because Go maps never shrink and the
// memory would otherwise stay with the process. Expired state that no scan dropped yet is never used (as
// Flink's NeverReturnExpired), so the output does not depend on when scans ran. The time of the last write
// is part of every operator's snapshot, so a restored job expires the same state at the same time.
//
// Which state expires, and what refreshes it (Flink writes its state with the TTL update type
// OnCreateAndWrite: reading state does not refresh it):
//
//   - Group aggregate: a group, refreshed by every row of the key.
//   - Regular join (JoinConfig.TTL): every distinct row kept on either side, on its own, refreshed when it is
//     written: stored again, retracted once of several, or, on an outer side, when its number of matches
//     changes. A row of an inner side is not refreshed by rows of the other side that match it. After a row
//     expired the join behaves as if its side never had it: later rows of the other side do not match it,
//     and an outer row of the other side retracted later is retracted with NULLs if nothing else matched it
//     (downstream may still hold the joined row it was sent). Match counts kept on the other side's rows stay
//     as they were.
//   - Rank / Top-N with PARTITION BY, and ROW_NUMBER deduplication (RankConfig.TTL): a partition as a whole,
//     refreshed by a row that changes the partition's top rows or retracts one of its rows. A row that falls
//     outside the top N does not refresh it (Flink's append-only Top-N and first-row deduplication do not
//     write such rows), so deduplication keeping the first row forgets a key the TTL after its first row and
//     emits the next duplicate as a new row.
//   - ChangelogNormalize (NormalizeConfig.TTL): a key's last row, refreshed by every upsert of the key. With
//     a TTL an upsert equal to the last row is not dropped but emitted as -U/+U (Flink does the same, so that
//     the state of downstream operators is refreshed too).
//   - Global Top-N without PARTITION BY (NewTopNTTL): one partition, as in Flink (a rank keyed by a
//     constant), refreshed by every row it stores and every retraction of a kept row; when idle for the TTL
//     all its rows are dropped at once.
//   - OVER aggregates (OverConfig.TTL), as Flink's cleanup timers in its over functions: a partition of an
//     UNBOUNDED PRECEDING frame or of a ROWS frame, refreshed when one of its rows arrives or is emitted, and
//     only dropped while none of its rows waits for the watermark. RANGE frames with a bounded preceding
//     interval are not cleaned by the TTL (Flink cleans them by event time).
//
// Not subject to the TTL, as in Flink: window aggregates (a window's state is dropped when the watermark
// closes it) and interval joins (rows are dropped when the watermark passes their bound). Not subject to it
// in this implementation although Flink applies it (the engine warns when a job with a TTL has them): the
// event-time temporal join (Flink's clears idle keys with processing-time timers) and LIMIT without ORDER BY
// (Flink's forgets its row count when idle and lets rows through again). docs/STATE.md has the full table.
//
// Expiry is exact: state idle for the TTL or longer is gone (Flink clears it at some time between the TTL
// and, for timer-based cleanup, 1.5 times it).

// expiryScanEvery is how often an operator with a TTL looks for expired state.
func expiryScanEvery(ttl time.Duration) int64 {
	return max(ttl.Milliseconds()/4, 1)
}

// stateTTL is the TTL bookkeeping an operator embeds: its clock, the time of the current call and when to
// scan next. Expired state that a scan has not dropped yet is never used: lookups check expired first (as
// Flink's NeverReturnExpired visibility), so what an operator emits does not depend on when scans ran.
type stateTTL struct {
	ttl      time.Duration
	clock    func() time.Time
	now      int64 // Unix ms of the current call (from tick)
	deadline int64 // state last written at or before it has expired
	next     int64 // Unix ms of the next expiry scan
}

func newStateTTL(ttl time.Duration, clock func() time.Time) stateTTL {
	if clock == nil {
		clock = time.Now
	}
	return stateTTL{ttl: max(ttl, 0), clock: clock}
}

// on reports whether the TTL is set.
func (s *stateTTL) on() bool { return s.ttl > 0 }

// tick reads the clock (once per call of the operator) and reports whether an expiry scan is due.
func (s *stateTTL) tick() (due bool) {
	if s.ttl <= 0 {
		return false
	}
	s.now = s.clock().UnixMilli()
	s.deadline = s.now - s.ttl.Milliseconds()
	if s.now < s.next {
		return false
	}
	s.next = s.now + expiryScanEvery(s.ttl)
	return true
}

// expired reports whether state last written at touched has expired (never without a TTL).
func (s *stateTTL) expired(touched int64) bool { return s.ttl > 0 && touched <= s.deadline }

// shrinkIfSparse rebuilds m when dropped of the before entries it had were deleted and that was at least
// half of them.
func shrinkIfSparse[V any](m map[string]V, before int) map[string]V {
	if dropped := before - len(m); dropped > 0 && dropped*2 >= before {
		return shrinkMap(m)
	}
	return m
}

func (g *groupAgg) now() time.Time {
	if g.cfg.Now != nil {
		return g.cfg.Now()
	}
	return time.Now()
}

// expire drops the groups not updated for the TTL (nothing is emitted: a later row of the key starts anew).
func (g *groupAgg) expire(now int64, snapshotting bool) {
	if now < g.nextExpiry {
		return
	}
	g.nextExpiry = now + expiryScanEvery(g.cfg.TTL)
	deadline := now - g.cfg.TTL.Milliseconds()
	before := len(g.groups)
	for k, st := range g.groups {
		if st.touched <= deadline {
			if snapshotting {
				g.beforeChange([]byte(k), st)
			}
			delete(g.groups, k)
			if g.onExpire != nil {
				g.onExpire(k)
			}
		}
	}
	if dropped := before - len(g.groups); dropped > 0 && dropped*2 >= before {
		g.groups = shrinkMap(g.groups)
		g.free = nil
	}
}

// shrinkMap copies m into a map sized for its entries, so the old buckets can be collected.
func shrinkMap[V any](m map[string]V) map[string]V {
	n := make(map[string]V, len(m))
	for k, v := range m {
		n[k] = v
	}
	return n
}

// tickTTL reads the clock for the normalize's TTL and drops the expired keys when a scan is due.
func (n *normalize) tickTTL() {
	if !n.ttl.tick() {
		return
	}
	before := len(n.state)
	for k, st := range n.state {
		if n.ttl.expired(st.touched) {
			delete(n.state, k)
		}
	}
	n.state = shrinkIfSparse(n.state, before)
}

// overExpired reports whether partition p is dropped by the TTL: expired, and no row waits for the
// watermark.
func (o *overAgg) overExpired(p *overPart) bool {
	return len(p.pending) == 0 && o.ttl.expired(p.touched)
}

// tickTTL reads the clock for the OVER aggregate's TTL and drops the expired partitions when a scan is due.
func (o *overAgg) tickTTL() {
	if !o.ttl.tick() {
		return
	}
	before := len(o.parts)
	for k, p := range o.parts {
		if o.overExpired(p) {
			delete(o.parts, k)
		}
	}
	o.parts = shrinkIfSparse(o.parts, before)
}
