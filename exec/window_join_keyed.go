package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Window join state keyed by join key, so that a window join can run as keyed subtasks behind a hash
// exchange and restore at any parallelism: namespace 2 (left rows) and 3 (right rows), one entry per join
// key (encoded as the exchange routes it: the key columns, or the NULL-key bucket nullJoinKey when one is
// NULL): version, uvarint rows, each: uvarint place in its window's rows of that side (a restore puts them
// back in that order, so the output order is the uninterrupted run's), row (its window end is its end
// column). Checkpoints written before hold
// namespaces 0 and 1 keyed by window end; they still restore into one instance (WindowJoinConfig.Keyed
// unset), and are refused behind an exchange (it would give a window's rows of every key to one subtask).

// errLegacyWindowJoin refuses a checkpoint of the layout by window end in a window join behind an exchange.
var errLegacyWindowJoin = errors.New("the checkpoint keeps this window join's rows by window end (written by an older version), " +
	"which cannot be split among parallel subtasks: restore it with SET 'parallelism.default' = '1', take a new savepoint, " +
	"and restore that one at the parallelism you want")

// nsWindowJoinKeyed is the namespace of the left rows keyed by join key; the right rows are in the next.
const nsWindowJoinKeyed = 2

// rowKey appends the state key of row on side s.
func (j *windowJoin) rowKey(dst []byte, s int, row []types.Value) []byte {
	keys, ts := j.cfg.LeftKeys, j.cfg.LeftTypes
	if s == 1 {
		keys, ts = j.cfg.RightKeys, j.cfg.RightTypes
	}
	for _, c := range keys {
		if row[c].IsNull() {
			return append(dst, nullJoinKey...)
		}
	}
	for _, c := range keys {
		dst = types.AppendKey(dst, row[c], ts[c])
	}
	return dst
}

// snapshotKeyed writes the open windows' rows per side and join key.
func (j *windowJoin) snapshotKeyed(wr state.Writer) error {
	type keyed struct {
		n int
		b []byte
	}
	var kb, vb []byte
	for s := range 2 {
		byKey := map[string]*keyed{}
		row := make([]types.Value, j.width(s))
		for _, w := range j.windows {
			it := wjIter{rows: &w.rows[s]}
			for i := 0; ; i++ {
				ok, err := it.next(row)
				if err != nil {
					return fmt.Errorf("window join: the stored rows of a window do not decode: %w", err)
				}
				if !ok {
					break
				}
				kb = j.rowKey(kb[:0], s, row)
				k := byKey[string(kb)]
				if k == nil {
					k = &keyed{}
					byKey[string(kb)] = k
				}
				k.n++
				k.b = binary.AppendUvarint(k.b, uint64(i))
				k.b = appendRowBinary(k.b, row)
			}
		}
		for key, k := range byKey {
			vb = append(vb[:0], stateVersion)
			vb = binary.AppendUvarint(vb, uint64(k.n))
			vb = append(vb, k.b...)
			if err := wr.Put(uint8(nsWindowJoinKeyed+s), []byte(key), vb); err != nil {
				return err
			}
		}
	}
	return nil
}

// placedRow is a window's row with its place among the window's rows of its side.
type placedRow struct {
	at  uint64
	row []types.Value
}

// keyedRestore collects the rows of restoreKeyed per window and side until placeRestored.
type keyedRestore struct {
	seen map[string]bool
	rows map[int64]*[2][]placedRow
}

// restoreKeyed loads one entry of namespace nsWindowJoinKeyed+s.
func (j *windowJoin) restoreKeyed(s int, key, value []byte, kr *keyedRestore) error {
	op := j.signature()
	ns := uint8(nsWindowJoinKeyed + s)
	sk := string(rune(ns)) + string(key)
	if kr.seen[sk] {
		return corrupt(op, "key %x appears twice in namespace %d", key, ns)
	}
	kr.seen[sk] = true
	d, err := newStateDec(value)
	if err != nil {
		return entryError(op, ns, key, err)
	}
	width, col := len(j.cfg.LeftTypes), j.cfg.LeftEnd
	if s == 1 {
		width, col = len(j.cfg.RightTypes), j.cfg.RightEnd
	}
	n := d.count()
	var kb []byte
	for range n {
		at := d.uvarint()
		row := d.row()
		if d.err != nil {
			break
		}
		if len(row) < width || row[col].IsNull() {
			return entryError(op, ns, key, fmt.Errorf("a row of %d columns without a window end", len(row)))
		}
		if kb = j.rowKey(kb[:0], s, row); string(kb) != string(key) {
			return entryError(op, ns, key, fmt.Errorf("the key does not match the join key of its rows"))
		}
		end := row[col].I
		pr := kr.rows[end]
		if pr == nil {
			pr = &[2][]placedRow{}
			kr.rows[end] = pr
		}
		pr[s] = append(pr[s], placedRow{at: at, row: row})
	}
	if err := d.done(); err != nil {
		return entryError(op, ns, key, err)
	}
	return nil
}

// placeRestored puts the rows restoreKeyed collected into their windows, in their places (rows of several
// subtasks' states, restored into one, share places: they keep the order they were read in).
func (j *windowJoin) placeRestored(kr *keyedRestore) {
	for end, pr := range kr.rows {
		w := j.windows[end]
		if w == nil {
			w = &wjWindow{}
			j.windows[end] = w
		}
		for s := range 2 {
			rows := pr[s]
			sort.SliceStable(rows, func(a, b int) bool { return rows[a].at < rows[b].at })
			for _, r := range rows {
				j.ebuf = wjEncodeRow(j.ebuf[:0], r.row, j.width(s))
				w.rows[s].add(j.ebuf)
			}
		}
	}
}
