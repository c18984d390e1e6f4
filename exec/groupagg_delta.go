package exec

import (
	"fmt"
	"iter"

	"github.com/sluicesql/sluice/state"
)

// Keyed snapshots of a streaming group aggregate, for a caller that knows which groups changed (a scale-out
// member writes only those to its changelog topic, engine/scaleout_state.go): the state of chosen groups in
// the entries SnapshotState writes, without visiting the others.

// DeltaWriter receives the entries of chosen groups: Put for a group that exists, Delete for one that does
// not (any more).
type DeltaWriter interface {
	state.Writer
	Delete(ns uint8, key []byte) error
}

// KeyedSnapshotter is implemented by the streaming in-memory group aggregate.
type KeyedSnapshotter interface {
	// SnapshotMeta writes the operator-wide entry (namespace nsMeta, empty key) of SnapshotState.
	SnapshotMeta(w state.Writer) error
	// SnapshotKeys writes the entry of each group key (the GROUP BY key encoding, types.AppendKey of each key
	// column) as SnapshotState writes it, or a Delete when the aggregate holds no group of that key.
	SnapshotKeys(w DeltaWriter, keys iter.Seq[string]) error
	// OnExpire sets a function called with the key of each group that the state TTL drops (without a row of
	// it: keys of rows are the caller's to track). The key is valid during the call only if the caller
	// copies it; strings are immutable, so it may keep it.
	OnExpire(f func(key string))
}

var _ KeyedSnapshotter = (*groupAgg)(nil)

func (g *groupAgg) SnapshotMeta(w state.Writer) error {
	return w.Put(nsMeta, nil, appendMeta(nil, g.signature("GroupAggregate")))
}

func (g *groupAgg) OnExpire(f func(key string)) { g.onExpire = f }

func (g *groupAgg) SnapshotKeys(w DeltaWriter, keys iter.Seq[string]) error {
	switch {
	case g.cfg.Batch:
		return fmt.Errorf("snapshot %s: %w", g.opName(), errBatchSnapshot)
	case g.cfg.Store != nil:
		return fmt.Errorf("snapshot %s: a group aggregate on a state backend has no keyed snapshots", g.opName())
	}
	var kb []byte
	if c := g.compact; c != nil {
		if g.snapScratch == nil {
			g.snapScratch = g.newScratchGroup()
		}
		st := g.snapScratch
		for k := range keys {
			kb = append(kb[:0], k...)
			i, ok := c.lookup(kb)
			if !ok {
				if err := w.Delete(0, kb); err != nil {
					return err
				}
				continue
			}
			if err := g.compactToGroup(st, kb, c.group(i), i); err != nil {
				return err
			}
			g.stateBuf = g.appendGroupState(g.stateBuf[:0], st)
			if err := w.Put(0, kb, g.stateBuf); err != nil {
				return err
			}
		}
		return nil
	}
	for k := range keys {
		kb = append(kb[:0], k...)
		st := g.groups[k]
		if st == nil {
			if err := w.Delete(0, kb); err != nil {
				return err
			}
			continue
		}
		g.stateBuf = g.appendGroupState(g.stateBuf[:0], st)
		if err := w.Put(0, kb, g.stateBuf); err != nil {
			return err
		}
	}
	return nil
}
