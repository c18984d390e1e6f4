package exec

import (
	"math"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// NewProctimeClock drives processing-time windows (a window function over a PROCTIME() column): placed
// before the window assigner, it forwards rows and replaces its input's watermarks (event time, which
// processing-time windows ignore) by the processing-time clock: after every batch, and in place of every
// input watermark, it emits now - 1 ms on the wall clock of loc (as the windows of a TIMESTAMP_LTZ column
// are aligned), never going back. A window then fires once the clock has passed its end; as nothing runs
// between batches, a window whose end passes while no row or watermark arrives fires when FlushDue is next
// called (the engine's ticker calls it every ProctimeTick, as Flink's processing-time timers fire without
// input), with the next row or watermark, or at the end of input. now is the clock PROCTIME() reads, so a
// row's window never closes before the row reaches it.
func NewProctimeClock(now func() time.Time, loc *time.Location, out changelog.Output) changelog.Output {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.UTC
	}
	return &proctimeClock{now: now, loc: loc, out: out, wm: minWatermark}
}

type proctimeClock struct {
	now   func() time.Time
	loc   *time.Location
	out   changelog.Output
	wm    int64
	ended bool
	conv  *vec.RowConv // columnar batches to an output that takes rows (window_proctime_vec.go)
}

// ProctimeTick is how often the engine advances processing-time clocks while no input arrives (FlushDue),
// so that a processing-time window fires about this long after its end on a quiet input.
const ProctimeTick = 100 * time.Millisecond

// FlushDue emits the clock as a watermark (nothing once the input ended): windows whose end has passed fire
// although no row arrived.
func (c *proctimeClock) FlushDue() error {
	if c.ended {
		return nil
	}
	return c.tick(c.now())
}

func (c *proctimeClock) tick(t time.Time) error {
	_, off := t.In(c.loc).Zone()
	wm := t.UnixMilli() + int64(off)*1000 - 1
	if wm <= c.wm {
		return nil
	}
	c.wm = wm
	return c.out.Watermark(wm)
}

func (c *proctimeClock) Push(b *changelog.Batch) error {
	if err := c.out.Push(b); err != nil {
		return err
	}
	return c.tick(c.now())
}

func (c *proctimeClock) Watermark(int64) error { return c.tick(c.now()) }
func (c *proctimeClock) End() error {
	c.ended = true
	return c.out.End()
}

// NewProctimeStamp drives a processing-time window aggregate that runs as keyed subtasks behind a hash
// exchange (Flink: the window operator assigns a row to the windows of its own processing time). In front of
// the subtask's window assigner, it sets every row's time column col (a PROCTIME() value, TIMESTAMP_LTZ)
// to the subtask's clock when the row arrives, and after every batch (and in place of every input
// watermark) emits the clock as NewProctimeClock does. The stamps never go below the last watermark emitted,
// so no row is late however long it waited in the exchange; PROCTIME() evaluated by the source subtask would
// be (a window another row's clock closed while it was on its way).
func NewProctimeStamp(now func() time.Time, loc *time.Location, col int, out changelog.Output) changelog.Output {
	c := NewProctimeClock(now, loc, out).(*proctimeClock)
	return &proctimeStamp{clock: c, col: col, floor: math.MinInt64}
}

type proctimeStamp struct {
	clock *proctimeClock
	col   int
	floor int64     // no stamp goes below: the last stamp, and the instant of the last watermark emitted
	vx    *stampVec // columnar batches' scratch (window_proctime_vec.go)
}

func (s *proctimeStamp) Push(b *changelog.Batch) error {
	t := max(s.clock.now().UnixMilli(), s.floor)
	s.floor = t
	v := types.TimestampValue(t, 0)
	for _, r := range b.Rows {
		if !r.Vals[s.col].IsNull() {
			r.Vals[s.col] = v
		}
	}
	if err := s.clock.out.Push(b); err != nil {
		return err
	}
	return s.tick()
}

// tick emits the clock and raises the floor to its instant (the watermark is that instant shifted to the
// wall clock of loc, minus 1 ms: a later stamp falls into a window ending after it).
func (s *proctimeStamp) tick() error {
	t := s.clock.now()
	s.floor = max(s.floor, t.UnixMilli())
	return s.clock.tick(t)
}

func (s *proctimeStamp) Watermark(int64) error { return s.tick() }
func (s *proctimeStamp) End() error {
	s.clock.ended = true
	return s.clock.out.End()
}

// FlushDue emits the clock (the exchange's tick, on the subtask's goroutine): windows whose end has passed
// fire although no row reached the subtask.
func (s *proctimeStamp) FlushDue() error {
	if s.clock.ended {
		return nil
	}
	return s.tick()
}

// NewRoutedWindowAgg is NewWindowAgg for keyed subtasks routed by the group keys at positions route of
// cfg.Keys (without the window columns, which the subtask's own assigner adds: NewProctimeStamp). Its
// state is NewWindowAgg's, keyed by all group keys; a restore gives a subtask the entries whose route keys
// it owns (routeKey), so a checkpoint restores at any parallelism and into NewWindowAgg.
func NewRoutedWindowAgg(cfg GroupAggConfig, windowEndKey int, route []int, out changelog.Output) (changelog.Output, error) {
	op, err := NewWindowAgg(cfg, windowEndKey, out)
	if err != nil {
		return nil, err
	}
	op.(*windowAgg).route = route
	return op, nil
}

// stateRouter is the state of a keyed operator whose subtasks are routed by another key than its state
// key: routeKey appends to dst the routing key of a keyed entry (restoreSubtasks).
type stateRouter interface {
	routeKey(dst []byte, e stateEntry) ([]byte, error)
}

func (w *windowAgg) routeKey(dst []byte, e stateEntry) ([]byte, error) {
	if w.route == nil {
		return append(dst, e.key...), nil
	}
	st, err := w.proto.loadGroupState(e.key, e.value)
	if err != nil {
		return nil, entryError(w.signature(), e.ns, e.key, err)
	}
	for _, i := range w.route {
		dst = types.AppendKey(dst, st.prev[i], w.cfg.KeyTypes[i])
	}
	w.proto.recycle(st)
	return dst, nil
}
