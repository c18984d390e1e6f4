package exec

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// WindowRankConfig configures a Top-N per window (Flink's WindowRank and WindowDeduplicate): rows are
// partitioned by Partition (which holds the window_end column EndCol), ordered by Order, and the first Limit
// of each partition are emitted with their ROW_NUMBER (BIGINT) appended when the watermark passes the
// window's end - 1.
type WindowRankConfig struct {
	Partition []int
	Order     []SortKey
	Limit     int64
	EndCol    int
	Types     []types.Type // the input's column types
	// LastOnTies: among rows equal in Order, a later one ranks first (window deduplication keeping the last
	// row); otherwise the earlier one does.
	LastOnTies bool
	// Func is ROW_NUMBER ("" too), RANK (rows equal in Order share a number, gaps follow) or DENSE_RANK (no
	// gaps): with RANK and DENSE_RANK a partition keeps every row whose number is within Limit, ties included.
	Func string
}

// NewWindowRank returns the window Top-N operator. It keeps at most Limit rows per partition of every open
// window (an input row costs O(log Limit + Limit)), emits a window's rows as +I when it fires, in partition
// key order and rank order, and drops its state. Rows of windows that have fired already are late: counted
// (Late) and dropped. Input must be insert-only. At the end of input every window fires (batch mode has no
// watermarks: everything fires then).
func NewWindowRank(cfg WindowRankConfig, out changelog.Output) changelog.Output {
	return &windowRank{cfg: cfg, out: out, windows: map[int64]map[string]*wrPart{}, fired: math.MinInt64,
		partTypes: partTypesOf(cfg.Partition, cfg.Types)}
}

type wrRow struct {
	key  string // the order encoding
	vals []types.Value
}

type wrPart struct {
	rows []wrRow // sorted by key, at most Limit
}

type windowRank struct {
	cfg       WindowRankConfig
	out       changelog.Output
	partTypes []types.Type
	windows   map[int64]map[string]*wrPart
	fired     int64 // the watermark up to which windows have fired
	Late      int64
	wmFloor   // exchange_unaligned_rescale_floor.go
	kbuf      []byte
	sbuf      []byte
	ob        changelog.Batch
	arena     []types.Value
	keys      []string
	track     *wrTrack // the partitions changed since the last SnapshotChanged (window_rank_keyed.go); nil: not noted
}

func (w *windowRank) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("window rank: input carries a %s row; window Top-N takes insert-only input", r.Kind)
		}
		end := r.Vals[w.cfg.EndCol]
		if end.IsNull() {
			continue
		}
		if end.I-1 <= w.fired || w.belowFloor(end.I-1) {
			w.Late++
			continue
		}
		w.add(end.I, r.Vals)
		if w.track != nil {
			w.track.note(end.I, w.kbuf)
		}
	}
	return nil
}

// add ranks a copy of a row into its window's partition.
func (w *windowRank) add(end int64, vals []types.Value) {
	w.sbuf = appendSortKey(w.sbuf[:0], vals, w.cfg.Order)
	w.kbuf = appendGroupKey(w.kbuf[:0], vals, w.cfg.Partition, w.partTypes)
	win := w.windows[end]
	if win == nil {
		win = map[string]*wrPart{}
		w.windows[end] = win
	}
	p := win[string(w.kbuf)]
	if p == nil {
		p = &wrPart{}
		win[string(w.kbuf)] = p
	}
	sk := string(w.sbuf)
	i := sort.Search(len(p.rows), func(i int) bool {
		if w.cfg.LastOnTies {
			return p.rows[i].key >= sk
		}
		return p.rows[i].key > sk
	})
	if !w.ranked() {
		if int64(i) >= w.cfg.Limit {
			return
		}
		if int64(len(p.rows)) < w.cfg.Limit {
			p.rows = append(p.rows, wrRow{})
		}
		copy(p.rows[i+1:], p.rows[i:])
		p.rows[i] = wrRow{key: sk, vals: changelog.CopyVals(vals)}
		return
	}
	if n := w.number(p.rows, i, sk); n > w.cfg.Limit {
		return // ranks after the last one kept
	}
	p.rows = append(p.rows, wrRow{})
	copy(p.rows[i+1:], p.rows[i:])
	p.rows[i] = wrRow{key: sk, vals: changelog.CopyVals(vals)}
	// Rows pushed past the limit by the new one go (all rows of a tie share their fate).
	for len(p.rows) > 0 && w.number(p.rows[:len(p.rows)-1], len(p.rows)-1, p.rows[len(p.rows)-1].key) > w.cfg.Limit {
		p.rows = p.rows[:len(p.rows)-1]
	}
}

// ranked reports RANK or DENSE_RANK.
func (w *windowRank) ranked() bool { return w.cfg.Func == "RANK" || w.cfg.Func == "DENSE_RANK" }

// number is the RANK or DENSE_RANK a row with order key k would have at index i of rows (rows before i are
// kept sorted; for RANK its equals before it share their first one's number).
func (w *windowRank) number(rows []wrRow, i int, k string) int64 {
	j := i
	for j > 0 && rows[j-1].key == k {
		j--
	}
	if w.cfg.Func == "RANK" {
		return int64(j + 1)
	}
	distinct := int64(1)
	for x := 1; x < j; x++ {
		if rows[x].key != rows[x-1].key {
			distinct++
		}
	}
	if j == 0 {
		return 1
	}
	return distinct + 1
}

// fire emits every window whose end - 1 <= wm, in window order.
func (w *windowRank) fire(wm int64) error {
	if wm > w.fired {
		w.fired = wm
	}
	var ends []int64
	for e := range w.windows {
		if e-1 <= wm {
			ends = append(ends, e)
		}
	}
	slices.Sort(ends)
	for _, e := range ends {
		win := w.windows[e]
		delete(w.windows, e)
		if w.track != nil {
			w.track.fired(e, win)
		}
		w.keys = w.keys[:0]
		for k := range win {
			w.keys = append(w.keys, k)
		}
		slices.SortFunc(w.keys, strings.Compare)
		w.ob.Reset()
		w.arena = w.arena[:0]
		for _, k := range w.keys {
			var num, dense int64
			rows := win[k].rows
			for i, row := range rows {
				if i == 0 || row.key != rows[i-1].key {
					num, dense = int64(i+1), dense+1
				}
				n := int64(i + 1)
				switch w.cfg.Func {
				case "RANK":
					n = num
				case "DENSE_RANK":
					n = dense
				}
				at := len(w.arena)
				w.arena = append(w.arena, row.vals...)
				w.arena = append(w.arena, types.IntValue(n))
				w.ob.Append(changelog.Insert, w.arena[at:len(w.arena):len(w.arena)])
			}
		}
		if len(w.ob.Rows) > 0 {
			if err := w.out.Push(&w.ob); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *windowRank) Watermark(ts int64) error {
	if err := w.fire(ts); err != nil {
		return err
	}
	return w.out.Watermark(ts)
}

func (w *windowRank) End() error {
	if err := w.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return w.out.End()
}

// Window rank state: namespace 0, one entry per partition key (which includes window_end): version, uvarint
// rows, each row in rank order; and in the meta entry the watermark up to which windows fired and the
// late-row count.

func (w *windowRank) signature() string {
	sig := fmt.Sprintf("WindowRank(partition=%d, order=%d, limit=%d, end=%d, lastOnTies=%t)",
		len(w.cfg.Partition), len(w.cfg.Order), w.cfg.Limit, w.cfg.EndCol, w.cfg.LastOnTies)
	if w.ranked() {
		sig = strings.TrimSuffix(sig, ")") + ", func=" + w.cfg.Func + ")"
	}
	return sig
}

func (w *windowRank) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, w.signature())
	meta = binary.AppendVarint(meta, w.fired)
	meta = binary.AppendVarint(meta, w.Late)
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	var vb []byte
	for _, win := range w.windows {
		for k, p := range win {
			vb = append(vb[:0], stateVersion)
			vb = binary.AppendUvarint(vb, uint64(len(p.rows)))
			for _, row := range p.rows {
				vb = appendRowBinary(vb, row.vals)
			}
			if err := wr.Put(0, []byte(k), vb); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *windowRank) RestoreState(r state.Reader) error {
	op := w.signature()
	return restoreLoop(r, op, op, func(d *stateDec) {
		w.fired = d.varint()
		w.Late = d.varint()
	}, func(ns uint8, key, value []byte) error {
		if ns != 0 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		n := d.count()
		var rows [][]types.Value
		for range n {
			row := d.row()
			if d.err == nil && (w.cfg.EndCol >= len(row) || !keyColsFit(row, w.cfg.Partition) || !sortColsFit(row, w.cfg.Order)) {
				return entryError(op, ns, key, fmt.Errorf("a row has %d columns, fewer than the operator reads", len(row)))
			}
			rows = append(rows, row)
		}
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		if len(rows) == 0 || int64(len(rows)) > w.cfg.Limit && !w.ranked() {
			return entryError(op, ns, key, fmt.Errorf("%d rows in a partition of a Top-%d", len(rows), w.cfg.Limit))
		}
		end := rows[0][w.cfg.EndCol]
		if end.IsNull() {
			return entryError(op, ns, key, fmt.Errorf("a row without window_end"))
		}
		if w.windows[end.I][string(key)] != nil {
			return corrupt(op, "key %x appears twice", key)
		}
		for _, row := range rows {
			w.kbuf = appendGroupKey(w.kbuf[:0], row, w.cfg.Partition, w.partTypes)
			if string(w.kbuf) != string(key) {
				return entryError(op, ns, key, fmt.Errorf("the key does not match the partition of its rows (%x)", w.kbuf))
			}
			// Rows come in rank order; appending each after its equals (or before, LastOnTies) keeps it.
			w.restoreRow(end.I, key, row)
		}
		return nil
	})
}

// restoreRow adds a restored row at the end of its partition (rows are restored in rank order).
func (w *windowRank) restoreRow(end int64, key []byte, row []types.Value) {
	win := w.windows[end]
	if win == nil {
		win = map[string]*wrPart{}
		w.windows[end] = win
	}
	p := win[string(key)]
	if p == nil {
		p = &wrPart{}
		win[string(key)] = p
	}
	p.rows = append(p.rows, wrRow{key: string(appendSortKey(nil, row, w.cfg.Order)), vals: row})
}

var _ state.Snapshotter = (*windowRank)(nil)
