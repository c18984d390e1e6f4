package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The state encoding that the session and slice-shared window aggregates share (window_session_state.go,
// window_slice_state.go): one entry per partition key (windowPartKey), whose value is
//
//	version byte, uvarint groups, each: uvarint length + the group's key (with its window_start and
//	window_end), uvarint length + the group's state as the group aggregate writes it
//
// and a meta entry with the operator's signature, the watermark up to which windows fired and the late-row
// count.

// putWindowMeta writes the meta entry.
func putWindowMeta(wr state.Writer, sig string, fired, late int64) error {
	meta := appendMeta(nil, sig)
	meta = binary.AppendVarint(meta, fired)
	meta = binary.AppendVarint(meta, late)
	return wr.Put(nsMeta, nil, meta)
}

// restoreWindowMeta is restoreLoop's meta reader for putWindowMeta's entry.
func restoreWindowMeta(fired, late *int64) func(d *stateDec) {
	return func(d *stateDec) {
		*fired = d.varint()
		*late = d.varint()
	}
}

// windowPartKey appends the encoding of a group's key values other than the window's (startKey, endKey):
// the key the operator's subtasks are partitioned by, and its state entries keyed.
func windowPartKey(dst []byte, keyVals []types.Value, keyTypes []types.Type, startKey, endKey int) []byte {
	for i, v := range keyVals {
		if i != startKey && i != endKey {
			dst = types.AppendKey(dst, v, keyTypes[i])
		}
	}
	return dst
}

// groupsValue builds the value of one entry; its buffers are reused from entry to entry.
type groupsValue struct{ vb, gb []byte }

// reset starts a value of n groups.
func (v *groupsValue) reset(n int) {
	v.vb = append(v.vb[:0], stateVersion)
	v.vb = binary.AppendUvarint(v.vb, uint64(n))
}

// addGroup appends a group to v: its key and its state as p writes it (its results computed first).
func addGroup[K string | []byte](v *groupsValue, p *groupAgg, key K, st *group) {
	v.vb = binary.AppendUvarint(v.vb, uint64(len(key)))
	v.vb = append(v.vb, key...)
	p.results(st, st.prev)
	v.gb = p.appendGroupState(v.gb[:0], st)
	v.vb = binary.AppendUvarint(v.vb, uint64(len(v.gb)))
	v.vb = append(v.vb, v.gb...)
}

// eachGroup decodes an entry's value, calling fn with each group's key and state; it returns the number of
// groups. what names the groups in errors ("groups", "sessions").
func eachGroup(value []byte, what string, fn func(gk, gv []byte) error) (int, error) {
	if len(value) == 0 || value[0] != stateVersion {
		return 0, fmt.Errorf("unknown state version")
	}
	rest := value[1:]
	n, k := binary.Uvarint(rest)
	if k <= 0 {
		return 0, fmt.Errorf("truncated value")
	}
	rest = rest[k:]
	next := func() ([]byte, error) {
		l, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < l {
			return nil, fmt.Errorf("truncated value")
		}
		b := rest[k : k+int(l)]
		rest = rest[k+int(l):]
		return b, nil
	}
	for range n {
		gk, err := next()
		if err != nil {
			return 0, err
		}
		gv, err := next()
		if err != nil {
			return 0, err
		}
		if err := fn(gk, gv); err != nil {
			return 0, err
		}
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d bytes after the %s", len(rest), what)
	}
	return int(n), nil
}
