package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
)

// The state of a streaming group aggregate: one entry per group, keyed by the group's key encoding (the
// GROUP BY columns, so key groups follow the GROUP BY key). The value is
//
//	format byte (1) | input kind (accInsertOnly or accRetract) | varint row count | varint last update (Unix
//	ms, for the state TTL) | last emitted row | accumulators
//
// The input kind tells the accumulator forms apart: MIN/MAX/FIRST_VALUE/LAST_VALUE keep a single value over
// insert-only input and a multiset with retraction. A batch aggregate with FinalState writes the same entries
// with the insert-only form, so that a streaming aggregate over insert-only input continues from them.

const (
	groupStateFormat = 1
	accInsertOnly    = 1
	accRetract       = 2
	nsGroups         = 0
)

var _ state.Snapshotter = (*groupAgg)(nil)

func (g *groupAgg) inputKind() byte {
	if g.cfg.Batch || g.cfg.InsertOnly {
		return accInsertOnly
	}
	return accRetract
}

func (g *groupAgg) appendGroup(dst []byte, st *group) []byte {
	dst = append(dst, groupStateFormat, g.inputKind())
	dst = binary.AppendVarint(dst, st.count)
	dst = binary.AppendVarint(dst, st.touched)
	dst = appendRowBinary(dst, st.prev)
	return appendAccs(dst, st.accs)
}

// SnapshotState writes every group.
func (g *groupAgg) SnapshotState(w state.Writer) error {
	if g.cfg.Batch {
		return fmt.Errorf("group aggregate: batch mode has no state to snapshot")
	}
	var buf []byte
	for k, st := range g.groups {
		buf = g.appendGroup(buf[:0], st)
		if err := w.Put(nsGroups, []byte(k), buf); err != nil {
			return err
		}
	}
	return nil
}

// RestoreState loads the groups written by SnapshotState (or by a batch aggregate's FinalState).
func (g *groupAgg) RestoreState(r state.Reader) error {
	for {
		ns, key, val, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if ns != nsGroups {
			return fmt.Errorf("%w: group aggregate: unexpected state namespace %d (the state belongs to another operator)", state.ErrCorrupt, ns)
		}
		st, err := g.decodeGroup(val)
		if err != nil {
			return fmt.Errorf("%w: group aggregate: group %x: %v", state.ErrCorrupt, key, err)
		}
		g.groups[string(key)] = st
	}
}

func (g *groupAgg) decodeGroup(val []byte) (*group, error) {
	if len(val) < 2 || val[0] != groupStateFormat {
		return nil, fmt.Errorf("unknown state format")
	}
	if val[1] != g.inputKind() {
		what := map[byte]string{accInsertOnly: "an insert-only input", accRetract: "an input with updates and deletes"}
		return nil, fmt.Errorf("the state was written for %s, but this aggregate reads %s", what[val[1]], what[g.inputKind()])
	}
	st := g.newGroup()
	cnt, rest, err := readVarint(val[2:])
	if err != nil {
		return nil, err
	}
	st.count = cnt
	if st.touched, rest, err = readVarint(rest); err != nil {
		return nil, err
	}
	prev, rest, err := decodeRowBinary(rest, st.prev[:0])
	if err != nil {
		return nil, err
	}
	if len(prev) != g.width {
		return nil, fmt.Errorf("the state has %d columns, this aggregate %d (the query changed)", len(prev), g.width)
	}
	st.prev = prev
	rest, err = loadAccs(rest, st.accs)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes left over (the aggregates of the query changed)", len(rest))
	}
	return st, nil
}

// writeFinal writes the current batch group in the streaming encoding to cfg.FinalState.
func (g *groupAgg) writeFinal() error {
	if g.cfg.FinalState == nil {
		return nil
	}
	g.finalBuf = g.appendGroup(g.finalBuf[:0], g.cur)
	return g.cfg.FinalState.Put(nsGroups, g.curKey, g.finalBuf)
}
