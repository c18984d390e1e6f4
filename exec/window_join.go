package exec

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// WindowJoinConfig configures a window join (Flink's WindowJoin): both inputs are windowed (window_end at
// LeftEnd / RightEnd), the equi-keys hold window_start and window_end of both sides, and a window's rows are
// joined once, when the watermark (the minimum of both inputs') passes its end - 1.
type WindowJoinConfig struct {
	Type                JoinType
	LeftKeys, RightKeys []int // all equi-keys, window bounds included; a NULL key matches nothing
	LeftTypes           []types.Type
	RightTypes          []types.Type
	LeftEnd, RightEnd   int
	Residual            expr.Expr // over left ++ right columns; nil when none
	// NullAware (AntiJoin only: x NOT IN (SELECT y ...)) compares the last key pair as NOT IN does: a right
	// row of the left row's group (the other keys) rules it out when x = y or either is NULL, so a left row
	// is kept when its group is empty, or when x is not NULL, no y equals it and no y is NULL.
	NullAware bool
	// Keyed: the operator is one of the keyed subtasks behind a hash exchange, so a checkpoint of the layout
	// by window end (written before the state was keyed by join key) cannot be restored into it.
	Keyed bool
}

// NewWindowJoin returns the two inputs of a window join. It keeps each open window's rows of both sides and,
// when the window fires, emits as +I the matching pairs (left rows in arrival order, each with its matches
// in arrival order), then for outer joins the unmatched rows padded with NULLs (left ones, then right
// ones); a semi join emits the left rows that match, an anti join those that do not (left columns only).
// It then drops the window. Rows of windows that have fired already are late: counted and dropped.
// Inputs must be insert-only. When both inputs have ended, every window fires (batch mode: only then).
func NewWindowJoin(cfg WindowJoinConfig, out changelog.Output) (left, right changelog.Output) {
	j := &windowJoin{cfg: cfg, out: out, windows: map[int64]*wjWindow{}, wm: [2]int64{minWatermark, minWatermark},
		lastWM: minWatermark, fired: minWatermark}
	j.scratch = make([]types.Value, len(cfg.LeftTypes)+len(cfg.RightTypes))
	return &windowJoinInput{j, 0}, &windowJoinInput{j, 1}
}

// wjWindow holds an open window's rows, per side (window_join_rows.go: binary rows in byte chunks, decoded
// when the window fires).
type wjWindow struct {
	rows [2]wjRows
}

type windowJoin struct {
	cfg     WindowJoinConfig
	out     changelog.Output
	windows map[int64]*wjWindow
	wm      [2]int64
	ended   [2]bool
	lastWM  int64 // the watermark forwarded last
	fired   int64 // windows with end - 1 <= fired have fired
	Late    int64
	wmFloor // exchange_unaligned_rescale_floor.go
	kbuf    []byte
	scratch []types.Value
	ob      changelog.Batch
	arena   []types.Value
	index   map[string][]int
	matched []bool
	groups  map[string]int  // NullAware: right rows per group (all keys but the last), negated when one has a NULL last key
	ebuf    []byte          // a row's encoding
	rvals   []types.Value   // the firing window's right rows, decoded (flat)
	rrows   [][]types.Value // rvals by row
	lrow    []types.Value   // the left row being joined, decoded
}

type windowJoinInput struct {
	j    *windowJoin
	side int
}

func (in *windowJoinInput) Push(b *changelog.Batch) error { return in.j.push(in.side, b) }
func (in *windowJoinInput) Watermark(ts int64) error      { return in.j.watermark(in.side, ts) }
func (in *windowJoinInput) End() error                    { return in.j.end(in.side) }

// width is the number of columns of side s.
func (j *windowJoin) width(s int) int {
	if s == 0 {
		return len(j.cfg.LeftTypes)
	}
	return len(j.cfg.RightTypes)
}

// decodeRights decodes the right rows of w into j.rvals / j.rrows and returns them (valid until the next
// call; strings point into w's chunks).
func (j *windowJoin) decodeRights(w *wjWindow) ([][]types.Value, error) {
	wr := j.width(1)
	n := w.rows[1].n
	j.rvals = slices.Grow(j.rvals[:0], n*wr)[:n*wr]
	j.rrows = slices.Grow(j.rrows[:0], n)[:n]
	it := wjIter{rows: &w.rows[1]}
	for i := range n {
		row := j.rvals[i*wr : (i+1)*wr : (i+1)*wr]
		ok, err := it.next(row)
		if err != nil || !ok {
			return nil, fmt.Errorf("window join: the stored rows of a window do not decode: %w", errCorruptSpill)
		}
		j.rrows[i] = row
	}
	return j.rrows, nil
}

func (j *windowJoin) endCol(s int) int {
	if s == 0 {
		return j.cfg.LeftEnd
	}
	return j.cfg.RightEnd
}

func (j *windowJoin) push(s int, b *changelog.Batch) error {
	col := j.endCol(s)
	j.ob.Reset()
	j.arena = j.arena[:0]
	for _, r := range b.Rows {
		if r.Kind.IsRetract() {
			return fmt.Errorf("window join: input carries a %s row; window joins take insert-only input", r.Kind)
		}
		end := r.Vals[col]
		if end.IsNull() {
			// No window: it matches nothing. An anti join keeps such a left row (a NULL correlation: the
			// subquery is empty) at once.
			if s == 0 && j.cfg.Type == AntiJoin {
				j.emit(r.Vals, nil)
			}
			continue
		}
		if end.I-1 <= j.fired || j.belowFloor(end.I-1) {
			j.Late++
			continue
		}
		w := j.windows[end.I]
		if w == nil {
			w = &wjWindow{}
			j.windows[end.I] = w
		}
		j.ebuf = wjEncodeRow(j.ebuf[:0], r.Vals, j.width(s))
		w.rows[s].add(j.ebuf)
	}
	if len(j.ob.Rows) > 0 {
		return j.out.Push(&j.ob)
	}
	return nil
}

func (j *windowJoin) watermark(s int, ts int64) error {
	if ts > j.wm[s] {
		j.wm[s] = ts
	}
	w := min(j.wm[0], j.wm[1])
	if j.ended[0] {
		w = j.wm[1]
	}
	if j.ended[1] {
		w = j.wm[0]
	}
	if w <= j.lastWM {
		return nil
	}
	j.lastWM = w
	if err := j.fire(w); err != nil {
		return err
	}
	return j.out.Watermark(w)
}

func (j *windowJoin) end(s int) error {
	j.ended[s] = true
	if !j.ended[0] || !j.ended[1] {
		return nil
	}
	if err := j.fire(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return j.out.End()
}

// key encodes row's join key on side s; ok=false when a key column is NULL.
func (j *windowJoin) key(s int, row []types.Value) (string, bool) {
	return j.keyOf(s, row, false)
}

// keyOf encodes row's join key on side s, without the last key column when group; ok=false when a key
// column is NULL.
func (j *windowJoin) keyOf(s int, row []types.Value, group bool) (string, bool) {
	if !j.encode(s, row, group) {
		return "", false
	}
	return string(j.kbuf), true
}

// encode writes row's join key on side s (without the last key column when group) into kbuf; false when a
// key column is NULL.
func (j *windowJoin) encode(s int, row []types.Value, group bool) bool {
	keys, ts := j.cfg.LeftKeys, j.cfg.LeftTypes
	if s == 1 {
		keys, ts = j.cfg.RightKeys, j.cfg.RightTypes
	}
	if group {
		keys = keys[:len(keys)-1]
	}
	j.kbuf = j.kbuf[:0]
	for _, c := range keys {
		if row[c].IsNull() {
			return false
		}
		var t types.Type
		if c < len(ts) {
			t = ts[c]
		}
		j.kbuf = types.AppendKey(j.kbuf, row[c], t)
	}
	return true
}

func (j *windowJoin) emit(l, r []types.Value) {
	wl, wr := len(j.cfg.LeftTypes), len(j.cfg.RightTypes)
	if j.cfg.Type == SemiJoin || j.cfg.Type == AntiJoin {
		wr = 0
	}
	start := len(j.arena)
	if l == nil {
		for range wl {
			j.arena = append(j.arena, types.NullValue)
		}
	} else {
		j.arena = append(j.arena, l[:wl]...)
	}
	if r == nil {
		for range wr {
			j.arena = append(j.arena, types.NullValue)
		}
	} else {
		j.arena = append(j.arena, r[:wr]...)
	}
	j.ob.Append(changelog.Insert, j.arena[start:len(j.arena):len(j.arena)])
}

// fire joins and emits every window whose end - 1 <= wm, in window order.
func (j *windowJoin) fire(wm int64) error {
	if wm > j.fired {
		j.fired = wm
	}
	var ends []int64
	for e := range j.windows {
		if e-1 <= wm {
			ends = append(ends, e)
		}
	}
	slices.Sort(ends)
	leftOuter := j.cfg.Type == LeftJoin || j.cfg.Type == FullJoin
	rightOuter := j.cfg.Type == RightJoin || j.cfg.Type == FullJoin
	for _, e := range ends {
		w := j.windows[e]
		delete(j.windows, e)
		j.ob.Reset()
		j.arena = j.arena[:0]
		if j.index == nil {
			j.index = map[string][]int{}
		}
		clear(j.index)
		rights, err := j.decodeRights(w)
		if err != nil {
			return err
		}
		for i, r := range rights {
			if k, ok := j.key(1, r); ok {
				j.index[k] = append(j.index[k], i)
			}
		}
		j.matched = slices.Grow(j.matched[:0], len(rights))[:len(rights)]
		clear(j.matched)
		if j.cfg.Type == SemiJoin || j.cfg.Type == AntiJoin {
			if err := j.semi(&w.rows[0], rights); err != nil {
				return err
			}
			if len(j.ob.Rows) > 0 {
				if err := j.out.Push(&j.ob); err != nil {
					return err
				}
			}
			continue
		}
		j.lrow = slices.Grow(j.lrow[:0], j.width(0))[:j.width(0)]
		l := j.lrow
		for it := (wjIter{rows: &w.rows[0]}); ; {
			if ok, err := it.next(l); err != nil {
				return fmt.Errorf("window join: the stored rows of a window do not decode: %w", err)
			} else if !ok {
				break
			}
			found := false
			if k, ok := j.key(0, l); ok {
				for _, i := range j.index[k] {
					ok, err := j.residual(l, rights[i])
					if err != nil {
						return err
					}
					if ok {
						found, j.matched[i] = true, true
						j.emit(l, rights[i])
					}
				}
			}
			if !found && leftOuter {
				j.emit(l, nil)
			}
		}
		if rightOuter {
			for i, r := range rights {
				if !j.matched[i] {
					j.emit(nil, r)
				}
			}
		}
		if len(j.ob.Rows) > 0 {
			if err := j.out.Push(&j.ob); err != nil {
				return err
			}
		}
	}
	return nil
}

// semi emits the left rows of a window that have a match (SemiJoin) or none (AntiJoin), in arrival order;
// the index holds the window's right rows by key.
func (j *windowJoin) semi(lefts *wjRows, rights [][]types.Value) error {
	anti := j.cfg.Type == AntiJoin
	if j.cfg.NullAware {
		if j.groups == nil {
			j.groups = map[string]int{}
		}
		clear(j.groups)
		last := j.cfg.RightKeys[len(j.cfg.RightKeys)-1]
		for _, r := range rights {
			g, ok := j.keyOf(1, r, true)
			if !ok {
				continue
			}
			n := j.groups[g]
			if n < 0 {
				n--
			} else {
				n++
			}
			if r[last].IsNull() && n > 0 {
				n = -n
			}
			j.groups[g] = n
		}
	}
	j.lrow = slices.Grow(j.lrow[:0], j.width(0))[:j.width(0)]
	l := j.lrow
	for it := (wjIter{rows: lefts}); ; {
		if ok, err := it.next(l); err != nil {
			return fmt.Errorf("window join: the stored rows of a window do not decode: %w", err)
		} else if !ok {
			break
		}
		found, err := j.hasMatch(l, rights)
		if err != nil {
			return err
		}
		if found != anti {
			j.emit(l, nil)
		}
	}
	return nil
}

// hasMatch reports whether left row l has a match among the window's right rows (for NullAware: a right
// row that rules it out). Lookups encode into kbuf and do not allocate.
func (j *windowJoin) hasMatch(l []types.Value, rights [][]types.Value) (bool, error) {
	if j.cfg.NullAware {
		if !j.encode(0, l, true) {
			return false, nil // a NULL correlation key: the subquery is empty
		}
		n := j.groups[string(j.kbuf)]
		if n == 0 {
			return false, nil
		}
		if j.cfg.Residual != nil {
			return j.scanNullAware(l, string(j.kbuf), rights)
		}
		if l[j.cfg.LeftKeys[len(j.cfg.LeftKeys)-1]].IsNull() || n < 0 {
			return true, nil
		}
	}
	if !j.encode(0, l, false) {
		return false, nil
	}
	for _, i := range j.index[string(j.kbuf)] {
		ok, err := j.residual(l, rights[i])
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// scanNullAware looks for a right row of group g that satisfies the residual and whose last key is NULL or
// equal to l's (or l's is NULL).
func (j *windowJoin) scanNullAware(l []types.Value, g string, rights [][]types.Value) (bool, error) {
	lk, rk := j.cfg.LeftKeys[len(j.cfg.LeftKeys)-1], j.cfg.RightKeys[len(j.cfg.RightKeys)-1]
	var t types.Type
	if lk < len(j.cfg.LeftTypes) {
		t = j.cfg.LeftTypes[lk]
	}
	for _, r := range rights {
		rg, ok := j.keyOf(1, r, true)
		if !ok || rg != g {
			continue
		}
		if !l[lk].IsNull() && !r[rk].IsNull() && !types.Equal(l[lk], r[rk], t) {
			continue
		}
		ok, err := j.residual(l, r)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func (j *windowJoin) residual(l, r []types.Value) (bool, error) {
	if j.cfg.Residual == nil {
		return true, nil
	}
	n := copy(j.scratch, l)
	copy(j.scratch[n:], r)
	v, err := j.cfg.Residual.Eval(j.scratch)
	if err != nil {
		return false, fmt.Errorf("join condition %s: %w", j.cfg.Residual, err)
	}
	return isTrue(v), nil
}

// Window join state: the open windows' rows by join key (window_join_keyed.go; checkpoints written before
// hold namespace 0 (left rows) and 1 (right rows), one entry per open window keyed by its end (8 bytes,
// big-endian): version, uvarint rows, each row); and in the meta entry both inputs' watermarks,
// the watermark forwarded last, the one up to which windows fired, the late-row count and whether each input
// has ended.

func (j *windowJoin) signature() string {
	s := fmt.Sprintf("WindowJoin(type=%s, keys=%d, left=%d, right=%d, leftEnd=%d, rightEnd=%d",
		j.cfg.Type, len(j.cfg.LeftKeys), len(j.cfg.LeftTypes), len(j.cfg.RightTypes), j.cfg.LeftEnd, j.cfg.RightEnd)
	if j.cfg.NullAware {
		s += ", nullAware"
	}
	return s + ")"
}

func (j *windowJoin) SnapshotState(wr state.Writer) error {
	meta := appendMeta(nil, j.signature())
	for _, v := range []int64{j.wm[0], j.wm[1], j.lastWM, j.fired, j.Late} {
		meta = binary.AppendVarint(meta, v)
	}
	meta = appendBool(meta, j.ended[0])
	meta = appendBool(meta, j.ended[1])
	if err := wr.Put(nsMeta, nil, meta); err != nil {
		return err
	}
	return j.snapshotKeyed(wr) // window_join_keyed.go
}

func (j *windowJoin) RestoreState(r state.Reader) error {
	op := j.signature()
	kr := &keyedRestore{seen: map[string]bool{}, rows: map[int64]*[2][]placedRow{}}
	defer j.placeRestored(kr)
	return restoreLoop(r, op, op, func(d *stateDec) {
		j.wm[0], j.wm[1], j.lastWM, j.fired, j.Late = d.varint(), d.varint(), d.varint(), d.varint(), d.varint()
		j.ended[0], j.ended[1] = d.bool(), d.bool()
	}, func(ns uint8, key, value []byte) error {
		if ns == nsWindowJoinKeyed || ns == nsWindowJoinKeyed+1 {
			return j.restoreKeyed(int(ns-nsWindowJoinKeyed), key, value, kr) // window_join_keyed.go
		}
		if ns > 1 {
			return corrupt(op, "unknown namespace %d (key %x)", ns, key)
		}
		if j.cfg.Keyed {
			return errLegacyWindowJoin
		}
		if len(key) != 8 {
			return corrupt(op, "entry (namespace %d): a key of %d bytes, not a window end", ns, len(key))
		}
		end := int64(binary.BigEndian.Uint64(key))
		d, err := newStateDec(value)
		if err != nil {
			return entryError(op, ns, key, err)
		}
		width, col := len(j.cfg.LeftTypes), j.cfg.LeftEnd
		if ns == 1 {
			width, col = len(j.cfg.RightTypes), j.cfg.RightEnd
		}
		n := d.count()
		var rows wjRows
		for range n {
			row := d.row()
			if d.err == nil && (len(row) < width || row[col].IsNull() || row[col].I != end) {
				return entryError(op, ns, key, fmt.Errorf("a row that does not belong to the window ending at %d", end))
			}
			j.ebuf = wjEncodeRow(j.ebuf[:0], row, width)
			rows.add(j.ebuf)
		}
		if err := d.done(); err != nil {
			return entryError(op, ns, key, err)
		}
		w := j.windows[end]
		if w == nil {
			w = &wjWindow{}
			j.windows[end] = w
		}
		if w.rows[ns].n != 0 {
			return corrupt(op, "key %x appears twice in namespace %d", key, ns)
		}
		w.rows[ns] = rows
		return nil
	})
}

var _ state.Snapshotter = (*windowJoin)(nil)
