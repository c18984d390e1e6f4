package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/changelog"
)

// KeyValueStore is live keyed state kept outside the Go heap: the 'rocksdb' state backend's state.Store
// (an embedded Pebble LSM) satisfies it. Values returned by Get are valid until the next call.
type KeyValueStore interface {
	Get(key []byte) (val []byte, ok bool, err error)
	Put(key, val []byte) error
	Delete(key []byte) error
	Scan(fn func(key, val []byte) error) error
}

// pushStore is Push of a streaming group aggregate whose groups live in cfg.Store ('state.backend.type' =
// 'rocksdb'): each row reads its group, updates it and writes it back, in the entry encoding of
// groupagg_state.go. The Store is checkpointed by its backend, not through SnapshotState.
func (g *groupAgg) pushStore(b *changelog.Batch) error {
	store := g.cfg.Store
	now := int64(0)
	if g.cfg.TTL > 0 {
		now = g.now().UnixMilli()
		if err := g.expireStore(now); err != nil {
			return err
		}
	}
	for _, r := range b.Rows {
		add := r.Kind.IsAccumulate()
		if !add && g.cfg.InsertOnly {
			return fmt.Errorf("%w: %s", ErrRetractionInInsertOnlyInput, r.Kind)
		}
		g.keyBuf = appendGroupKey(g.keyBuf[:0], r.Vals, g.cfg.Keys, g.keyTypes)
		val, ok, err := store.Get(g.keyBuf)
		if err != nil {
			return fmt.Errorf("group aggregate: read state: %w", err)
		}
		var st *group
		first := !ok
		if first {
			if !add {
				continue // retraction for a key without state (Flink drops it)
			}
			st = g.newGroup()
			for i, k := range g.cfg.Keys {
				st.prev[i] = r.Vals[k]
			}
		} else if st, err = g.loadGroupState(g.keyBuf, val); err != nil {
			return fmt.Errorf("group aggregate: state of key %x: %w", g.keyBuf, err)
		} else if g.cfg.TTL > 0 && st.touched <= now-g.cfg.TTL.Milliseconds() {
			// Expired, not deleted by a scan yet: never used, as in memory.
			g.recycle(st)
			if !add {
				if err := store.Delete(g.keyBuf); err != nil {
					return fmt.Errorf("group aggregate: delete state: %w", err)
				}
				continue
			}
			first = true
			st = g.newGroup()
			for i, k := range g.cfg.Keys {
				st.prev[i] = r.Vals[k]
			}
		}
		if !g.apply(st, r.Vals, add, first, now) {
			g.recycle(st)
			if err := store.Delete(g.keyBuf); err != nil {
				return fmt.Errorf("group aggregate: delete state: %w", err)
			}
			continue
		}
		g.stateBuf = g.appendGroupState(g.stateBuf[:0], st)
		g.recycle(st)
		if err := store.Put(g.keyBuf, g.stateBuf); err != nil {
			return fmt.Errorf("group aggregate: write state: %w", err)
		}
	}
	return g.flush()
}

// expireStore deletes the groups of the Store not updated for the TTL (reading only the timestamp of each).
func (g *groupAgg) expireStore(now int64) error {
	if now < g.nextExpiry {
		return nil
	}
	g.nextExpiry = now + expiryScanEvery(g.cfg.TTL)
	deadline := now - g.cfg.TTL.Milliseconds()
	var expired [][]byte
	err := g.cfg.Store.Scan(func(key, val []byte) error {
		if t, ok := groupTouched(val); ok && t <= deadline {
			expired = append(expired, append([]byte(nil), key...))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("group aggregate: expire state: %w", err)
	}
	for _, k := range expired {
		if err := g.cfg.Store.Delete(k); err != nil {
			return fmt.Errorf("group aggregate: expire state: %w", err)
		}
	}
	return nil
}

// groupTouched reads the last-update time of a group entry: version byte, uvarint number of aggregates,
// prev byte, varint count, varint touched.
func groupTouched(val []byte) (int64, bool) {
	if len(val) < 2 || val[0] != stateVersion {
		return 0, false
	}
	_, n := binary.Uvarint(val[1:])
	if n <= 0 || 1+n+1 > len(val) {
		return 0, false
	}
	rest := val[1+n+1:]
	_, m := binary.Varint(rest)
	if m <= 0 {
		return 0, false
	}
	t, k := binary.Varint(rest[m:])
	return t, k > 0
}
