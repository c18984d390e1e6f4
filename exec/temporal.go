package exec

import (
	"sort"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TemporalJoinConfig configures an event-time temporal join: every left row joins the version of the right
// (versioned) table that was valid at the left row's time.
type TemporalJoinConfig struct {
	LeftKeys, RightKeys []int
	LeftTime, RightTime int // rowtime columns (TIMESTAMP/TIMESTAMP_LTZ millis)
	LeftTypes           []types.Type
	RightTypes          []types.Type
	Outer               bool // LEFT JOIN: a left row without a valid version is padded with NULLs
}

// NewTemporalJoin returns the inputs (left, right) of an event-time temporal join (Flink's
// `JOIN versioned FOR SYSTEM_TIME AS OF left.rowtime ON key`). The right input is a changelog of the
// versioned table: +I/+U rows are new versions of their key from their rowtime on, -D ends the key at its
// rowtime, -U is ignored. Left rows (insert-only) wait until the watermark of both inputs passes their time;
// then each is emitted once (+I) with the version valid at its time: the latest version whose time is at or
// before it. Versions older than the one valid at the watermark are dropped. End of both inputs flushes
// every waiting row. Output is insert-only.
func NewTemporalJoin(cfg TemporalJoinConfig, out changelog.Output) (left, right changelog.Output) {
	t := &temporalJoin{cfg: cfg, out: out, versions: map[string][]version{}, wm: [2]int64{minWatermark, minWatermark}, lastWM: minWatermark}
	return &temporalInput{t: t, side: 0}, &temporalInput{t: t, side: 1}
}

type version struct {
	time int64
	row  []types.Value // nil: deleted
}

type temporalJoin struct {
	cfg      TemporalJoinConfig
	out      changelog.Output
	pending  [][]types.Value
	versions map[string][]version // by join key, sorted by time
	wm       [2]int64
	ended    [2]bool
	lastWM   int64
	kbuf     []byte
	// changed: the keys per side (left: join key or nullJoinKey; right: join key) whose state entries
	// changed since SnapshotChanged (temporal_keyed.go), when TrackChanges was called.
	changed *[2]map[string]struct{}
	ob      changelog.Batch
	arena   []types.Value
}

type temporalInput struct {
	t    *temporalJoin
	side int
}

func (in *temporalInput) Push(b *changelog.Batch) error { return in.t.push(in.side, b) }
func (in *temporalInput) Watermark(ts int64) error {
	if ts > in.t.wm[in.side] {
		in.t.wm[in.side] = ts
	}
	return in.t.advance()
}
func (in *temporalInput) End() error {
	if in.t.ended[in.side] {
		return nil
	}
	in.t.ended[in.side] = true
	in.t.wm[in.side] = changelog.MaxWatermark
	if !in.t.ended[1-in.side] {
		return in.t.advance()
	}
	if err := in.t.emitUpTo(changelog.MaxWatermark); err != nil {
		return err
	}
	return in.t.out.End()
}

func (t *temporalJoin) key(row []types.Value, cols []int, ts []types.Type) (string, bool) {
	t.kbuf = t.kbuf[:0]
	for _, c := range cols {
		if row[c].IsNull() {
			return "", false
		}
		var ty types.Type
		if c < len(ts) {
			ty = ts[c]
		}
		t.kbuf = types.AppendKey(t.kbuf, row[c], ty)
	}
	return string(t.kbuf), true
}

func (t *temporalJoin) push(side int, b *changelog.Batch) error {
	for _, r := range b.Rows {
		if side == 0 {
			if r.Kind.IsRetract() || r.Vals[t.cfg.LeftTime].IsNull() {
				continue
			}
			t.pending = append(t.pending, changelog.CopyVals(r.Vals))
			if t.changed != nil {
				t.noteLeft(r.Vals)
			}
			continue
		}
		if r.Kind == changelog.UpdateBefore {
			continue
		}
		k, ok := t.key(r.Vals, t.cfg.RightKeys, t.cfg.RightTypes)
		tv := r.Vals[t.cfg.RightTime]
		if !ok || tv.IsNull() {
			continue
		}
		v := version{time: tv.I}
		if r.Kind != changelog.Delete {
			v.row = changelog.CopyVals(r.Vals)
		}
		vs := t.versions[k]
		i := sort.Search(len(vs), func(i int) bool { return vs[i].time > v.time })
		vs = append(vs, version{})
		copy(vs[i+1:], vs[i:])
		vs[i] = v
		t.versions[k] = vs
		if t.changed != nil {
			t.noteKey(1, k)
		}
	}
	return nil
}

func (t *temporalJoin) advance() error {
	w := min(t.wm[0], t.wm[1])
	if w <= t.lastWM {
		return nil
	}
	if err := t.emitUpTo(w); err != nil {
		return err
	}
	t.lastWM = w
	return t.out.Watermark(w)
}

// emitUpTo joins and emits the waiting left rows with time <= w, in time order, then drops versions no left
// row can need any more.
func (t *temporalJoin) emitUpTo(w int64) error {
	lt := t.cfg.LeftTime
	sort.SliceStable(t.pending, func(i, j int) bool { return t.pending[i][lt].I < t.pending[j][lt].I })
	n := sort.Search(len(t.pending), func(i int) bool { return t.pending[i][lt].I > w })
	t.ob.Reset()
	t.arena = t.arena[:0]
	wl, wr := len(t.cfg.LeftTypes), len(t.cfg.RightTypes)
	for _, l := range t.pending[:n] {
		var match []types.Value
		if t.changed != nil {
			t.noteLeft(l) // emitted: it leaves its key's waiting rows
		}
		if k, ok := t.key(l, t.cfg.LeftKeys, t.cfg.LeftTypes); ok {
			vs := t.versions[k]
			i := sort.Search(len(vs), func(i int) bool { return vs[i].time > l[lt].I })
			if i > 0 {
				match = vs[i-1].row
			}
		}
		if match == nil && !t.cfg.Outer {
			continue
		}
		if len(t.arena)+wl+wr > cap(t.arena) {
			t.arena = make([]types.Value, 0, max(1024, 4*(wl+wr)))
		}
		s := len(t.arena)
		t.arena = append(t.arena, l...)
		if match != nil {
			t.arena = append(t.arena, match...)
		} else {
			for i := 0; i < wr; i++ {
				t.arena = append(t.arena, types.NullValue)
			}
		}
		t.ob.Append(changelog.Insert, t.arena[s:len(t.arena):len(t.arena)])
	}
	t.pending = append(t.pending[:0], t.pending[n:]...)
	// Keep, per key, the versions after w and the last one at or before w.
	if w < changelog.MaxWatermark {
		for k, vs := range t.versions {
			i := sort.Search(len(vs), func(i int) bool { return vs[i].time > w })
			if i > 1 {
				t.versions[k] = append(vs[:0], vs[i-1:]...)
				if t.changed != nil {
					t.noteKey(1, k)
				}
			}
		}
	}
	if len(t.ob.Rows) == 0 {
		return nil
	}
	return t.out.Push(&t.ob)
}
