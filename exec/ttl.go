package exec

import "time"

// State TTL ('table.exec.state.ttl'): idle state is dropped in processing time, as Flink's idle state
// retention. Operators look for expired entries at most every ttl/4 (and at least once a second when the TTL
// is short), so the scan's cost is spread thin; a map that lost most of its entries is rebuilt, because Go
// maps never shrink and the memory would otherwise stay with the process.

// expiryScanEvery is how often an operator with a TTL looks for expired state.
func expiryScanEvery(ttl time.Duration) int64 {
	return max(ttl.Milliseconds()/4, 1)
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
