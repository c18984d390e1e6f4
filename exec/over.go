package exec

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// OverFrame is the frame of an OVER window ending at the current row: ROWS or RANGE, UNBOUNDED PRECEDING or
// Preceding rows (ROWS) / milliseconds (RANGE over a time; batch: the key's units, or Bound).
type OverFrame struct {
	Rows      bool
	Unbounded bool
	Preceding int64
	// Bound, for a RANGE frame of the sorting (batch) operator over a DECIMAL or DOUBLE order key, is the
	// PRECEDING bound as a decimal or float value (Preceding is then unused); NULL (the zero Value) for the
	// other keys, whose bound is Preceding (an integral key's number, a DATE key's days, a time's ms).
	Bound types.Value
	// Frames reaching past the current row (batch only: the sorting operator, over_ahead.go). Ahead: the
	// frame ends after the current row, Following rows/units after it (FollowBound, as Bound, for a DECIMAL
	// or DOUBLE key), or at the partition's end (UnboundedFollowing); 0 with a NULL FollowBound is CURRENT
	// ROW. StartFollowing: the frame starts Preceding rows/units (Bound) after the current row instead of
	// before it. EndPreceding (with Ahead, which runs it): the frame ends Following rows/units
	// (FollowBound) before the current row instead of after it, e.g. ROWS BETWEEN 3 PRECEDING AND 1
	// PRECEDING.
	Ahead, UnboundedFollowing, StartFollowing, EndPreceding bool
	Following                                               int64
	FollowBound                                             types.Value
}

// rangeOffsets reports whether a RANGE frame has a bound at an offset from the current row's key (which
// needs exactly one ORDER BY column), not only UNBOUNDED and CURRENT ROW bounds.
func (f OverFrame) rangeOffsets() bool {
	if !f.Ahead {
		return !f.Unbounded
	}
	startOff := !f.Unbounded && (f.StartFollowing || f.Preceding != 0 || !f.Bound.IsNull())
	endOff := !f.UnboundedFollowing && (f.Following != 0 || !f.FollowBound.IsNull())
	return startOff || endOff
}

// OverConfig configures an OVER aggregation (Flink's OverAggregate).
type OverConfig struct {
	Partition []int
	OrderCol  int // the time attribute the window is ordered by (ascending)
	// Order, in batch mode, orders the rows of a partition by any columns instead (OrderCol is then unused
	// but for the first column): NewOverAgg returns the sorting operator (over_sorted.go). Batch runs set it
	// for one ascending time column too (NULL times kept, as Flink's batch mode).
	Order []SortKey
	Frame OverFrame
	// MemBudget and SpillDir, in batch mode ('table.exec.resource.sort.memory' and the first of
	// 'io.tmp.dirs'): when the rows kept exceed MemBudget bytes the sorting operator sorts them through
	// spilled runs, and a frame or peer group past it is spilled too (over_spill.go). 0: no budget.
	MemBudget int64
	SpillDir  string
	Aggs      []AggCall
	InTypes   []types.Type
	// TTL ('table.exec.state.ttl'): a partition of an UNBOUNDED PRECEDING or ROWS frame none of whose rows
	// arrived or was emitted for this long (processing time), and none of whose rows waits for the
	// watermark, is dropped without emitting anything: its aggregates start anew with its next row (ttl.go).
	// RANGE frames with a bounded preceding interval ignore it. 0 keeps state forever.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
	// FinalState and FinalWatermark, in a batch run writing a savepoint (over_final.go): the streaming
	// operator runs (Order must be unset) and End emits only the rows FinalWatermark() passes, then writes
	// the operator's state, the other rows pending, to FinalState for the streaming run that restores it.
	FinalState     state.Writer
	FinalWatermark func() int64
}

// NewOverAgg returns the OVER aggregation: each input row is emitted once, as +I with the aggregates of its
// frame appended, when the watermark passes its time (rows of a partition in time order; rows with equal
// times are peers and share a RANGE frame). Rows at or behind the watermark on arrival are late and dropped
// (Late counts them). At the end of input every buffered row is emitted. Input must be insert-only.
func NewOverAgg(cfg OverConfig, out changelog.Output) (changelog.Output, error) {
	if len(cfg.Order) > 0 {
		if cfg.FinalState != nil {
			return nil, fmt.Errorf("OVER aggregate: a batch savepoint writes the streaming operator's state, which orders by one time attribute; this OVER orders by other columns")
		}
		return newSortedOver(cfg, out)
	}
	lagOff := int64(-1)
	for _, a := range cfg.Aggs {
		switch {
		case strings.EqualFold(a.Func, "LEAD"):
			return nil, fmt.Errorf("LEAD Function is not supported in stream mode")
		case strings.EqualFold(a.Func, "LAG"):
			// As Flink's streaming LAG: over the default frame, RANGE UNBOUNDED PRECEDING (over_offset.go);
			// the planner's frame is the batch one-row frame at the offset.
			if lagOff < 0 {
				lagOff = cfg.Frame.Preceding
			}
			cfg.Frame = OverFrame{Unbounded: true}
		}
	}
	if cfg.Frame.Ahead {
		return nil, fmt.Errorf("OVER aggregate: frames ending in FOLLOWING or n PRECEDING are supported in batch mode only; streaming OVER frames end at CURRENT ROW")
	}
	o := &overAgg{cfg: cfg, out: out, parts: map[string]*overPart{}, wm: minWatermark, partTypes: partTypesOf(cfg.Partition, cfg.InTypes), lagOff: -1}
	if cfg.Frame.Unbounded || cfg.Frame.Rows {
		o.ttl = newStateTTL(cfg.TTL, cfg.Now)
	}
	for _, a := range cfg.Aggs {
		if a.Filter >= 0 {
			return nil, fmt.Errorf("FILTER is not supported in OVER aggregates")
		}
		if isOffsetAgg(a.Func) {
			o.specs = append(o.specs, offsetSpec(a))
			o.lagOff = lagOff
			continue
		}
		s, err := compileAgg(a, cfg.InTypes, !cfg.Frame.Unbounded)
		if err != nil {
			return nil, err
		}
		o.specs = append(o.specs, s)
	}
	return o, nil
}

type overPart struct {
	pending [][]types.Value
	history [][]types.Value // bounded frames: rows that may still be in a frame
	accs    []accumulator   // unbounded frames: running state
	touched int64           // with a TTL: when a row of the partition last arrived or was emitted (Unix ms)
}

type overAgg struct {
	cfg     OverConfig
	specs   []*aggSpec
	out     changelog.Output
	parts   map[string]*overPart
	wm      int64
	Late    int64
	wmFloor // a restore's per-key-group floors (over_floor.go)
	kbuf    []byte
	ob      changelog.Batch
	// partTypes: the types of the partition columns; keys: advance's partitions with pending rows (both
	// kept to spare an allocation per row and per watermark)
	partTypes []types.Type
	keys      []string
	arena     []types.Value
	ttl       stateTTL
	// lagOff: the offset of the LAG calls (over_offset.go), -1 without
	lagOff int64
}

func (o *overAgg) Push(b *changelog.Batch) error {
	if o.ttl.on() {
		o.tickTTL()
	}
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert {
			return fmt.Errorf("OVER aggregate: input carries a %s row; OVER aggregation takes insert-only input", r.Kind)
		}
		t := r.Vals[o.cfg.OrderCol]
		if t.IsNull() {
			continue
		}
		if t.I <= o.wm || o.belowFloor(t.I) {
			o.Late++
			continue
		}
		o.kbuf = appendGroupKey(o.kbuf[:0], r.Vals, o.cfg.Partition, o.partTypes)
		p := o.parts[string(o.kbuf)]
		if p != nil && o.overExpired(p) { // expired, not dropped by a scan yet
			p = nil
		}
		if p == nil {
			p = &overPart{}
			o.parts[string(o.kbuf)] = p
		}
		p.pending = append(p.pending, changelog.CopyVals(r.Vals))
		p.touched = o.ttl.now
	}
	return nil
}

func partTypesOf(cols []int, ts []types.Type) []types.Type {
	out := make([]types.Type, len(cols))
	for i, c := range cols {
		if c < len(ts) {
			out[i] = ts[c]
		}
	}
	return out
}

func (o *overAgg) emitRow(row []types.Value, accs []accumulator) {
	n := len(row) + len(accs)
	if len(o.arena)+n > cap(o.arena) {
		o.arena = make([]types.Value, 0, max(1024, 4*n))
	}
	s := len(o.arena)
	o.arena = append(o.arena, row...)
	for _, a := range accs {
		if o.lagOff >= 0 {
			o.arena = append(o.arena, offsetValue(a, row))
			continue
		}
		o.arena = append(o.arena, a.result())
	}
	o.ob.Append(changelog.Insert, o.arena[s:len(o.arena):len(o.arena)])
}

func (o *overAgg) newAccs() []accumulator {
	accs := make([]accumulator, len(o.specs))
	for i, s := range o.specs {
		if o.lagOff >= 0 {
			accs[i] = newLagAcc(o.cfg.Aggs[i], o.lagOff)
			continue
		}
		accs[i] = s.newAcc()
	}
	return accs
}

// advance emits, for every partition, the pending rows with time <= wm, in time order.
func (o *overAgg) advance(wm int64) error {
	keys := o.keys[:0]
	for k, p := range o.parts {
		if len(p.pending) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	defer func() { clear(keys); o.keys = keys[:0] }()
	col := o.cfg.OrderCol
	fr := o.cfg.Frame
	for _, k := range keys {
		p := o.parts[k]
		slices.SortStableFunc(p.pending, func(a, b []types.Value) int { return cmp.Compare(a[col].I, b[col].I) })
		n := sort.Search(len(p.pending), func(i int) bool { return p.pending[i][col].I > wm })
		ready := p.pending[:n]
		if n > 0 {
			p.touched = o.ttl.now
		}
		o.ob.Reset()
		o.arena = o.arena[:0]
		for i := 0; i < len(ready); {
			t := ready[i][col].I
			j := i
			for j < len(ready) && ready[j][col].I == t {
				j++
			}
			peers := ready[i:j]
			switch {
			case fr.Unbounded:
				if p.accs == nil {
					p.accs = o.newAccs()
				}
				if fr.Rows {
					for _, r := range peers {
						for _, a := range p.accs {
							a.add(r)
						}
						o.emitRow(r, p.accs)
					}
				} else {
					for _, r := range peers {
						for _, a := range p.accs {
							a.add(r)
						}
					}
					for _, r := range peers {
						o.emitRow(r, p.accs)
					}
				}
			case fr.Rows:
				for _, r := range peers {
					p.history = append(p.history, r)
					if int64(len(p.history)) > fr.Preceding+1 {
						p.history = p.history[int64(len(p.history))-fr.Preceding-1:]
					}
					accs := o.newAccs()
					for _, h := range p.history {
						for _, a := range accs {
							a.add(h)
						}
					}
					o.emitRow(r, accs)
				}
			default: // RANGE with a bounded preceding interval
				p.history = append(p.history, peers...)
				cut := 0
				for cut < len(p.history) && p.history[cut][col].I < t-fr.Preceding {
					cut++
				}
				p.history = p.history[cut:]
				accs := o.newAccs()
				for _, h := range p.history {
					for _, a := range accs {
						a.add(h)
					}
				}
				for _, r := range peers {
					o.emitRow(r, accs)
				}
			}
			i = j
		}
		p.pending = append(p.pending[:0], p.pending[n:]...)
		if len(o.ob.Rows) > 0 {
			if err := o.out.Push(&o.ob); err != nil {
				return err
			}
		}
	}
	if wm > o.wm {
		o.wm = wm
	}
	return nil
}

func (o *overAgg) Watermark(ts int64) error {
	if o.cfg.FinalState != nil {
		return o.out.Watermark(ts) // a batch run's rows wait for End (over_final.go)
	}
	if o.ttl.on() {
		o.tickTTL()
	}
	if err := o.advance(ts); err != nil {
		return err
	}
	return o.out.Watermark(ts)
}

func (o *overAgg) End() error {
	if o.cfg.FinalState != nil {
		return o.endFinal()
	}
	if err := o.advance(changelog.MaxWatermark - 1); err != nil {
		return err
	}
	return o.out.End()
}
