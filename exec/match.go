package exec

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// MatchSlotKind says what a MatchSlot computes from the rows of a (partial) match.
type MatchSlotKind uint8

const (
	SlotLast     MatchSlotKind = iota // LAST(v.x, n) and v.x: Arg on the n-th last row mapped to Elem
	SlotFirst                         // FIRST(v.x, n): Arg on the n-th row mapped to Elem
	SlotAgg                           // Agg(v.x): an aggregate of Arg over the rows mapped to Elem
	SlotRowtime                       // MATCH_ROWTIME(): the time of the last row
	SlotProctime                      // MATCH_PROCTIME(): the processing time
)

// MatchSlot is a value navigated out of the rows of a match. Elem -1 is every row (the default pattern
// variable); Arg is bound over an input row.
type MatchSlot struct {
	Kind   MatchSlotKind
	Elem   int
	Offset int
	Arg    expr.Expr
	Agg    AggCall // SlotAgg: Func, Type (Args/ArgTypes describe Arg as column 0 of a one-column row)
}

// MatchConfig configures the MATCH_RECOGNIZE operator (ONE ROW PER MATCH). DEFINE conditions and MEASURES
// are bound over an extended row: the input row (the current row for DEFINE, the match's last row for
// MEASURES) followed by one column per slot.
type MatchConfig struct {
	Partition []int
	TimeCol   int       // the rowtime (first ORDER BY key, ascending)
	Order     []SortKey // further ORDER BY keys, for rows with equal times
	Types     []types.Type
	Elems     []MatchElem
	Defines   []expr.Expr // per element; nil is TRUE
	Measures  []expr.Expr
	Slots     []MatchSlot
	Skip      MatchSkip
	SkipElem  int
	SkipName  string
	Within    int64 // WITHIN in ms; 0 for none
	Now       func() time.Time
	// ProcTime: ORDER BY a processing-time attribute (streaming): rows are fed as they arrive, none is late,
	// and watermarks are only forwarded.
	ProcTime bool
}

// NewMatch returns the MATCH_RECOGNIZE operator: rows are buffered per partition until the watermark
// passes them, then fed in time order (ties by the further ORDER BY keys, then arrival) to the partition's
// NFA (match_nfa.go); each match is emitted as +I [partition columns..., measures...]. Rows at or behind
// the watermark on arrival are late and dropped (Late counts them). At the end of input every buffered row
// is fed and the waiting matches are emitted. Input must be insert-only.
func NewMatch(cfg MatchConfig, out changelog.Output) (changelog.Output, error) {
	m := &matchOp{cfg: cfg, out: out, parts: map[string]*matchPart{}, wm: minWatermark,
		partTypes: partTypesOf(cfg.Partition, cfg.Types)}
	if m.cfg.Now == nil {
		m.cfg.Now = time.Now
	}
	m.cond = m.defineCur
	for _, x := range cfg.Defines {
		m.defSlots = append(m.defSlots, slotsRead(x, len(cfg.Types), len(cfg.Slots)))
	}
	for _, x := range cfg.Measures {
		m.meaSlots = append(m.meaSlots, slotsRead(x, len(cfg.Types), len(cfg.Slots)))
	}
	for i, s := range cfg.Slots {
		if s.Kind != SlotAgg {
			m.accs = append(m.accs, nil)
			continue
		}
		var in []types.Type
		if s.Arg != nil {
			in = []types.Type{s.Arg.Type()}
		}
		spec, err := compileAgg(s.Agg, in, false)
		if err != nil {
			return nil, fmt.Errorf("MATCH_RECOGNIZE aggregate %d: %w", i, err)
		}
		m.accs = append(m.accs, spec.newAcc())
	}
	return m, nil
}

type matchPart struct {
	vals    []types.Value   // the partition columns
	pending [][]types.Value // rows the watermark has not passed, in arrival order
	rows    [][]types.Value // fed rows that runs or waiting matches still refer to; rows[0] is sequence base
	base    int64
	next    int64 // sequence number of the next fed row
	nfa     nfa
}

type matchOp struct {
	cfg       MatchConfig
	defSlots  [][]int // per DEFINE: the slots it reads
	meaSlots  [][]int // per measure: the slots it reads
	cur       *matchPart
	cond      nfaCond
	out       changelog.Output
	parts     map[string]*matchPart
	partTypes []types.Type
	accs      []accumulator
	wm        int64
	Late      int64
	wmFloor   // a restore's per-key-group floors (match_floor.go)
	kbuf      []byte
	sa, sb    []byte // sort keys of two rows being compared
	ext       []types.Value
	one       [1]types.Value
	ob        changelog.Batch
	arena     []types.Value
	keys      []string
}

// matchView is the rows of a (partial) match: rows[k] is mapped to classes[k], the last row to last.
type matchView struct {
	rows    [][]types.Value
	classes []uint8
	last    int
}

func (v *matchView) class(k int) int {
	if k < len(v.classes) {
		return int(v.classes[k])
	}
	return v.last
}

func (m *matchOp) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		if r.Kind != changelog.Insert {
			return fmt.Errorf("MATCH_RECOGNIZE: input carries a %s row; pattern recognition takes insert-only input", r.Kind)
		}
		t := r.Vals[m.cfg.TimeCol]
		if t.IsNull() {
			continue
		}
		if (t.I <= m.wm || m.belowFloor(t.I)) && !m.cfg.ProcTime {
			m.Late++
			continue
		}
		m.kbuf = appendGroupKey(m.kbuf[:0], r.Vals, m.cfg.Partition, m.partTypes)
		p := m.parts[string(m.kbuf)]
		if p == nil {
			p = &matchPart{}
			for _, c := range m.cfg.Partition {
				p.vals = append(p.vals, r.Vals[c])
			}
			p.vals = changelog.CopyVals(p.vals)
			m.parts[string(m.kbuf)] = p
		}
		p.pending = append(p.pending, changelog.CopyVals(r.Vals))
	}
	if m.cfg.ProcTime {
		return m.advance(changelog.MaxWatermark-1, false)
	}
	return nil
}

func (m *matchOp) Watermark(ts int64) error {
	if !m.cfg.ProcTime {
		if err := m.advance(ts, false); err != nil {
			return err
		}
	}
	return m.out.Watermark(ts)
}

func (m *matchOp) End() error {
	if err := m.advance(changelog.MaxWatermark-1, true); err != nil {
		return err
	}
	return m.out.End()
}

// advance feeds every partition's pending rows with time <= wm, in partition key order; end drops the runs
// that can no longer complete and emits every waiting match.
func (m *matchOp) advance(wm int64, end bool) error {
	m.keys = m.keys[:0]
	for k, p := range m.parts {
		if len(p.pending) > 0 || m.cfg.Within > 0 && len(p.nfa.runs) > 0 && !m.cfg.ProcTime || end {
			m.keys = append(m.keys, k)
		}
	}
	sort.Strings(m.keys)
	m.ob.Reset()
	m.arena = m.arena[:0]
	for _, k := range m.keys {
		p := m.parts[k]
		if err := m.feed(p, wm); err != nil {
			return err
		}
		if end {
			p.nfa.runs = nil
			if err := m.emitReady(p); err != nil {
				return err
			}
		}
		m.trim(p)
		if len(p.pending) == 0 && len(p.rows) == 0 && len(p.nfa.runs) == 0 && len(p.nfa.waiting) == 0 {
			delete(m.parts, k)
		}
	}
	if wm > m.wm && !m.cfg.ProcTime {
		m.wm = wm
	}
	if len(m.ob.Rows) > 0 {
		return m.out.Push(&m.ob)
	}
	return nil
}

// feed runs the partition's pending rows up to wm through its NFA.
func (m *matchOp) feed(p *matchPart, wm int64) error {
	col := m.cfg.TimeCol
	slices.SortStableFunc(p.pending, func(a, b []types.Value) int {
		if a[col].I != b[col].I {
			if a[col].I < b[col].I {
				return -1
			}
			return 1
		}
		if len(m.cfg.Order) == 0 {
			return 0
		}
		m.sa = appendSortKey(m.sa[:0], a, m.cfg.Order)
		m.sb = appendSortKey(m.sb[:0], b, m.cfg.Order)
		return bytes.Compare(m.sa, m.sb)
	})
	n := sort.Search(len(p.pending), func(i int) bool { return p.pending[i][col].I > wm })
	var err error
	for _, row := range p.pending[:n] {
		seq := p.next
		p.next++
		if len(p.rows) == 0 {
			p.base = seq
		}
		p.rows = append(p.rows, row)
		m.cur = p
		if err = p.nfa.step(m.cfg.Elems, seq, row[col].I, m.cfg.Within, m.cond); err != nil {
			return err
		}
		if err = m.emitReady(p); err != nil {
			return err
		}
		m.trim(p)
	}
	p.pending = append(p.pending[:0], p.pending[n:]...)
	if m.cfg.Within > 0 && wm < changelog.MaxWatermark-1 {
		p.nfa.timeout(wm, m.cfg.Within)
		if err := m.emitReady(p); err != nil {
			return err
		}
	}
	return nil
}

// trim drops the rows no run or waiting match refers to.
func (m *matchOp) trim(p *matchPart) {
	lo := p.nfa.minSeq(p.next)
	if drop := lo - p.base; drop > 0 {
		if drop >= int64(len(p.rows)) {
			p.rows = p.rows[:0]
		} else {
			clear(p.rows[:drop])
			p.rows = p.rows[drop:]
		}
		p.base = lo
	}
}

// slotsRead lists the slot columns (after the input's width columns) that x reads; all of them when x holds
// an expression kind it cannot look into.
func slotsRead(x expr.Expr, width, slots int) []int {
	seen := make([]bool, slots)
	var walk func(e expr.Expr) bool
	walk = func(e expr.Expr) bool {
		if e == nil {
			return true
		}
		if c, ok := expr.ColumnIndex(e); ok {
			if c >= width && c-width < slots {
				seen[c-width] = true
			}
			return true
		}
		kids, known := expr.Children(e)
		if !known {
			return false
		}
		for _, k := range kids {
			if !walk(k) {
				return false
			}
		}
		return true
	}
	var out []int
	all := !walk(x)
	for i := range seen {
		if all || seen[i] {
			out = append(out, i)
		}
	}
	return out
}

// defineCur evaluates element elem's DEFINE for the row seq mapped to it after run r's rows, in the
// partition being fed.
func (m *matchOp) defineCur(r *nfaRun, elem int, seq int64) (bool, error) {
	x := m.cfg.Defines[elem]
	if x == nil {
		return true, nil
	}
	p := m.cur
	v := matchView{rows: p.rows[r.start-p.base : seq-p.base+1], classes: r.classes, last: elem}
	val, err := m.eval(x, m.defSlots[elem], &v)
	if err != nil {
		return false, err
	}
	return !val.IsNull() && val.I != 0, nil
}

// eval evaluates x, which reads the slots used, over the extended row of view v.
func (m *matchOp) eval(x expr.Expr, used []int, v *matchView) (types.Value, error) {
	width := len(m.cfg.Types)
	if cap(m.ext) < width+len(m.cfg.Slots) {
		m.ext = make([]types.Value, width+len(m.cfg.Slots))
	}
	m.ext = m.ext[:width+len(m.cfg.Slots)]
	copy(m.ext, v.rows[len(v.rows)-1])
	for _, i := range used {
		s, err := m.slot(i, v)
		if err != nil {
			return types.Value{}, err
		}
		m.ext[width+i] = s
	}
	return x.Eval(m.ext)
}

func (m *matchOp) slot(i int, v *matchView) (types.Value, error) {
	s := &m.cfg.Slots[i]
	n := len(v.rows)
	in := func(k int) bool { return s.Elem < 0 || v.class(k) == s.Elem }
	switch s.Kind {
	case SlotLast:
		cnt := 0
		for k := n - 1; k >= 0; k-- {
			if in(k) {
				if cnt == s.Offset {
					return s.Arg.Eval(v.rows[k])
				}
				cnt++
			}
		}
	case SlotFirst:
		cnt := 0
		for k := 0; k < n; k++ {
			if in(k) {
				if cnt == s.Offset {
					return s.Arg.Eval(v.rows[k])
				}
				cnt++
			}
		}
	case SlotAgg:
		a := m.accs[i]
		a.reset()
		for k := 0; k < n; k++ {
			if !in(k) {
				continue
			}
			if s.Arg != nil {
				x, err := s.Arg.Eval(v.rows[k])
				if err != nil {
					return types.Value{}, err
				}
				m.one[0] = x
			}
			a.add(m.one[:])
		}
		return a.result(), nil
	case SlotRowtime:
		return v.rows[n-1][m.cfg.TimeCol], nil
	case SlotProctime:
		return types.TimestampValue(m.cfg.Now().UnixMilli(), 0), nil
	}
	return types.NullValue, nil
}

// emitReady emits the partition's matches that no earlier run holds back.
func (m *matchOp) emitReady(p *matchPart) error {
	for {
		w := p.nfa.ready()
		if w == nil {
			return nil
		}
		end := w.end()
		v := matchView{rows: p.rows[w.start-p.base : end-p.base+1], classes: w.classes[:len(w.classes)-1], last: int(w.classes[len(w.classes)-1])}
		width := len(p.vals) + len(m.cfg.Measures)
		if len(m.arena)+width > cap(m.arena) {
			m.arena = make([]types.Value, 0, max(1024, 4*width))
		}
		at := len(m.arena)
		m.arena = append(m.arena, p.vals...)
		for i, x := range m.cfg.Measures {
			val, err := m.eval(x, m.meaSlots[i], &v)
			if err != nil {
				return err
			}
			m.arena = append(m.arena, val)
		}
		m.ob.Append(changelog.Insert, m.arena[at:len(m.arena):len(m.arena)])
		if err := p.nfa.emitted(w, m.cfg.Skip, m.cfg.SkipElem, m.cfg.SkipName); err != nil {
			return err
		}
	}
}
