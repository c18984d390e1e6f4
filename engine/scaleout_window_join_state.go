package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The changelog entries of a scale-out window join's partition (namespace nsWindowJoin, so that
// restoreWindow hands them all to wjTracker.RestoreState):
//   - key empty: varint, the watermark up to which windows fired (the join's);
//   - key side byte, window end (8 bytes, big-endian), uvarint place of the entry's first row, join key
//     (types.AppendRowKey of all equi-keys): uvarint count, then per row uvarint place (its index among the
//     rows of its window and side, in arrival order) and the row (types.AppendRowBinary). An entry holds the
//     rows one transaction added to one join key and side of one window; when the window fires its entries
//     are deleted.

// nsWindowJoin is the changelog namespace of a window join's entries (restoreWindow keeps only the
// entries of other namespaces than 0 to compare them per transaction: these are not).
const nsWindowJoin = 0

// wjTracker stands between a partition's repartition records and its exec window join: it notes the rows
// each transaction adds (per window, side and join key) and the windows the watermark fires, and writes
// them to the changelog (exec.JoinKeyed's SnapshotChanged, called by writeIntervalChangelog).
type wjTracker struct {
	cfg     exec.WindowJoinConfig
	in      [2]changelog.Output // the exec join's inputs
	types   [2][]types.Type
	keys    [2][]int
	endCol  [2]int
	wm      [2]int64 // the watermark of each input, as the join has it
	fired   int64    // windows with end - 1 <= fired have fired (the join's)
	written int64    // fired as the changelog has it
	windows map[int64]*wjTrackWin
	dead    [][]byte // the entries of windows that fired since the last SnapshotChanged
	kb      []byte
	eb      []byte
}

// wjTrackWin is what the tracker knows of an open window.
type wjTrackWin struct {
	n       [2]int              // rows per side (the next row's place)
	entries [][]byte            // the keys of its entries in the changelog
	pend    map[string]*wjChunk // the open transaction's rows, by side byte + join key
}

// wjChunk is the open transaction's rows of one side and join key of a window.
type wjChunk struct {
	first, n int
	buf      []byte // per row: uvarint place, row
}

func newWJTracker(cfg exec.WindowJoinConfig, l, r changelog.Output) *wjTracker {
	return &wjTracker{cfg: cfg, in: [2]changelog.Output{l, r}, types: [2][]types.Type{cfg.LeftTypes, cfg.RightTypes},
		keys: [2][]int{cfg.LeftKeys, cfg.RightKeys}, endCol: [2]int{cfg.LeftEnd, cfg.RightEnd},
		wm: [2]int64{math.MinInt64, math.MinInt64}, fired: math.MinInt64, written: math.MinInt64, windows: map[int64]*wjTrackWin{}}
}

// wjSide is one input of a tracked window join.
type wjSide struct {
	t    *wjTracker
	side int
}

func (s *wjSide) Push(b *changelog.Batch) error {
	t := s.t
	col := t.endCol[s.side]
	for i := range b.Rows {
		r := &b.Rows[i]
		end := r.Vals[col]
		if r.Kind.IsRetract() || end.IsNull() || end.I-1 <= t.fired {
			continue // the join refuses it, keeps it nowhere or drops it as late
		}
		w := t.windows[end.I]
		if w == nil {
			w = &wjTrackWin{pend: map[string]*wjChunk{}}
			t.windows[end.I] = w
		}
		place := w.n[s.side]
		w.n[s.side]++
		t.kb = types.AppendRowKey(append(t.kb[:0], byte(s.side)), r.Vals, t.types[s.side], t.keys[s.side])
		c := w.pend[string(t.kb)]
		if c == nil {
			c = &wjChunk{first: place}
			w.pend[string(t.kb)] = c
		}
		c.n++
		c.buf = binary.AppendUvarint(c.buf, uint64(place))
		c.buf = types.AppendRowBinary(c.buf, r.Vals, t.types[s.side])
	}
	return t.in[s.side].Push(b)
}

func (s *wjSide) Watermark(w int64) error {
	t := s.t
	t.wm[s.side] = max(t.wm[s.side], w)
	if c := min(t.wm[0], t.wm[1]); c > t.fired {
		t.fired = c
		for end, win := range t.windows {
			if end-1 <= c {
				t.dead = append(t.dead, win.entries...)
				delete(t.windows, end)
			}
		}
	}
	return t.in[s.side].Watermark(w)
}

func (s *wjSide) End() error { return nil }

// TrackChanges is a no-op: the tracker always notes its changes.
func (t *wjTracker) TrackChanges() {}

// SnapshotChanged writes the changes of the open transaction: tombstones for the entries of the windows that
// fired, the fired watermark when it moved, and an entry per window, side and join key that got rows.
func (t *wjTracker) SnapshotChanged(w exec.DeltaWriter) error {
	for _, k := range t.dead {
		if err := w.Delete(nsWindowJoin, k); err != nil {
			return err
		}
	}
	t.dead = t.dead[:0]
	if t.fired != t.written {
		if err := w.Put(nsWindowJoin, nil, binary.AppendVarint(t.eb[:0], t.fired)); err != nil {
			return err
		}
		t.written = t.fired
	}
	for end, win := range t.windows {
		for k, c := range win.pend {
			key := append([]byte{k[0]}, make([]byte, 8)...)
			binary.BigEndian.PutUint64(key[1:], uint64(end))
			key = binary.AppendUvarint(key, uint64(c.first))
			key = append(key, k[1:]...)
			t.eb = binary.AppendUvarint(t.eb[:0], uint64(c.n))
			t.eb = append(t.eb, c.buf...)
			if err := w.Put(nsWindowJoin, key, t.eb); err != nil {
				return err
			}
			win.entries = append(win.entries, key)
		}
		clear(win.pend)
	}
	return nil
}

// SnapshotState is not used: a scale-out partition's state is written as it changes (SnapshotChanged).
func (t *wjTracker) SnapshotState(state.Writer) error {
	return fmt.Errorf("internal error: a scale-out window join writes its state per change")
}

// RestoreState loads the partition's entries: it gives the join the fired watermark, then each open
// window's rows per side in their places (arrival order).
func (t *wjTracker) RestoreState(r state.Reader) error {
	type placed struct {
		at  uint64
		row []types.Value
	}
	rows := map[int64]*[2][]placed{}
	for {
		ns, key, val, ok, err := r.Next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		bad := func(what string) error {
			return fmt.Errorf("window join: unreadable changelog entry %x: %s", key, what)
		}
		if ns != nsWindowJoin {
			return bad(fmt.Sprintf("namespace %d", ns))
		}
		if len(key) == 0 {
			f, n := binary.Varint(val)
			if n <= 0 {
				return bad("the fired watermark")
			}
			t.fired, t.written = f, f
			continue
		}
		if len(key) < 10 || key[0] > 1 {
			return bad("the key")
		}
		s := int(key[0])
		end := int64(binary.BigEndian.Uint64(key[1:9]))
		cnt, n := binary.Uvarint(val)
		if n <= 0 {
			return bad("the row count")
		}
		src := val[n:]
		pr := rows[end]
		if pr == nil {
			pr = &[2][]placed{}
			rows[end] = pr
		}
		for range cnt {
			at, n := binary.Uvarint(src)
			if n <= 0 {
				return bad("a row's place")
			}
			row, rest, err := types.DecodeRowBinary(src[n:], t.types[s], nil)
			if err != nil {
				return bad(err.Error())
			}
			if e := row[t.endCol[s]]; e.IsNull() || e.I != end {
				return bad("a row of another window")
			}
			src = rest
			pr[s] = append(pr[s], placed{at: at, row: row})
		}
		if len(src) != 0 {
			return bad("bytes after its rows")
		}
		w := t.windows[end]
		if w == nil {
			w = &wjTrackWin{pend: map[string]*wjChunk{}}
			t.windows[end] = w
		}
		w.entries = append(w.entries, slices.Clone(key))
	}
	if t.fired != math.MinInt64 {
		t.wm = [2]int64{t.fired, t.fired}
		for s := range 2 {
			if err := t.in[s].Watermark(t.fired); err != nil {
				return err
			}
		}
	}
	ends := make([]int64, 0, len(rows))
	for end := range rows {
		ends = append(ends, end)
	}
	slices.Sort(ends)
	var b changelog.Batch
	for _, end := range ends {
		if end-1 <= t.fired {
			return fmt.Errorf("window join: the changelog holds rows of the window ending at %d, which fired (watermark %d)", end, t.fired)
		}
		w := t.windows[end]
		for s, ps := range rows[end] {
			if len(ps) == 0 {
				continue
			}
			sort.Slice(ps, func(a, b int) bool { return ps[a].at < ps[b].at })
			w.n[s] = int(ps[len(ps)-1].at) + 1
			b.Reset()
			for _, p := range ps {
				b.Append(changelog.Insert, p.row)
			}
			if err := t.in[s].Push(&b); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	_ exec.JoinKeyed    = (*wjTracker)(nil)
	_ state.Snapshotter = (*wjTracker)(nil)
)
