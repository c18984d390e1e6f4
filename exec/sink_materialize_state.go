package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/sluicesql/sluice/state"
)

// SinkUpsertMaterializer state: namespace 0, one entry per primary key with live rows (the key's group-key
// encoding, which the exchange routes by), whose value is the version, varint last write (Unix ms, for the
// state TTL; 0 without one), uvarint row count and the rows oldest first.

var _ state.Snapshotter = (*sinkMaterializer)(nil)

func (m *sinkMaterializer) signature() string {
	return fmt.Sprintf("SinkUpsertMaterializer(keys=%d, columns=%d)", len(m.cfg.Keys), len(m.cfg.Types))
}

func (m *sinkMaterializer) SnapshotState(w state.Writer) error {
	if err := w.Put(nsMeta, nil, appendMeta(nil, m.signature())); err != nil {
		return err
	}
	var vb []byte
	for k, st := range m.state {
		vb = binary.AppendVarint(append(vb[:0], stateVersion), st.touched)
		vb = binary.AppendUvarint(vb, uint64(len(st.rows)))
		for _, r := range st.rows {
			vb = appendRowBinary(vb, r)
		}
		if err := w.Put(0, []byte(k), vb); err != nil {
			return err
		}
	}
	return nil
}

func (m *sinkMaterializer) RestoreState(r state.Reader) error {
	op := m.signature()
	return restoreLoop(r, op, op, nil, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if _, dup := m.state[string(key)]; dup {
			return corrupt(op, "key %x appears twice", key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		touched := d.varint()
		rows := d.rows()
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		if len(rows) == 0 {
			return entryError(op, ns, key, fmt.Errorf("a key without rows"))
		}
		for _, row := range rows {
			if len(row) != len(m.cfg.Types) || !keyColsFit(row, m.cfg.Keys) {
				return entryError(op, ns, key, fmt.Errorf("a row has %d columns, the operator reads %d", len(row), len(m.cfg.Types)))
			}
			if m.kbuf = appendGroupKey(m.kbuf[:0], row, m.cfg.Keys, m.kts); !bytes.Equal(m.kbuf, key) {
				return entryError(op, ns, key, fmt.Errorf("the key does not match the key columns of its row"))
			}
		}
		m.state[string(key)] = &smKey{rows: rows, touched: touched}
		return nil
	})
}
