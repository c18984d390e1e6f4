package kafka

import (
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/vec"
)

// Filter before full decoding (issue 14 part 2). The planner hands the source the filter of the Calc
// directly above its scan (connectors.FilterableSource). On the columnar path, when the filter reads value
// columns only and the value format can decode them first (formats/json FilterFirst), each chunk of a
// partition's records is decoded twice over: first the filter's fields into a side batch (the other fields
// the query reads are checked as the full decoder reads them, not stored: a record that fails there fails
// in full), the filter is evaluated there with the Calc's kernels, then the records that pass (and every
// record the first decoder could not read, so that its error or skip is the full decoder's) are decoded in
// full into the batch pushed on. The Calc above still evaluates the filter. The records dropped count as
// read (connectors.CountRead). Tables with a key format, metadata that cannot be appended directly, or
// per-partition watermarks keep the plain path.

var _ connectors.FilterableSource = (*source)(nil)

// ApplyFilter records the pushed filter; runs use it when their path allows (usePreFilter).
func (s *source) ApplyFilter(reads *formats.Projection, f connectors.RowSelector) {
	s.filterReads, s.filter = reads, f
}

// filterFirster is a value format that can decode a filter's fields first (formats/json's Decoder).
type filterFirster interface {
	FilterFirst(reads *formats.Projection) formats.Decoder
	FilterFirstPays(reads *formats.Projection) bool
}

// preFilter is a run's first decoding pass and the filter.
type preFilter struct {
	dec     columnDecoder
	sel     connectors.RowSelector
	b       vec.Batch  // the filter's columns of the chunk's readable records (the others NULL)
	valCols []*vec.Col // b.Cols[valIdx[j]]
	rows    []int32    // per row of b: its record's index in the chunk
	drop    []bool     // per record of the chunk: dropped by the filter
	seen    int        // records the filter ran on
	passed  int        // of those, records it kept
}

// A run stops running the filter first once it has run on preFilterSample records and kept more than
// 1/preFilterKeep of them: a record that passes is decoded twice, so a filter that drops few records costs
// more first than in the Calc.
const (
	preFilterSample = 8192
	preFilterKeep   = 4
)

// usePreFilter sets up the first pass when the source has a pushed filter and the run's path allows it.
func (r *run) usePreFilter() {
	s := r.s
	c := s.cfg
	if s.filter == nil || r.cols == nil || c.key != nil || r.splits != nil {
		return
	}
	for _, app := range r.cols.meta {
		if app == nil {
			return // a metadata value that may fail to append: its error must not be skipped
		}
	}
	// The filter must read value columns only; its projection of the value fields.
	inVal := make([]int, c.nphys+len(c.meta))
	for i := range inVal {
		inVal[i] = -1
	}
	for j, pi := range c.valIdx {
		inVal[pi] = j
	}
	reads := &formats.Projection{Need: make([]bool, len(c.valIdx)), Sub: make([]*formats.Projection, len(c.valIdx))}
	some := false
	for i, need := range s.filterReads.Need {
		if !need {
			continue
		}
		if i >= len(inVal) || inVal[i] < 0 {
			return
		}
		reads.Need[inVal[i]] = true
		reads.Sub[inVal[i]] = s.filterReads.Of(i)
		some = true
	}
	ff, ok := r.valDec.(filterFirster)
	if !some || !ok || !ff.FilterFirstPays(reads) {
		return
	}
	dec, ok := ff.FilterFirst(reads).(columnDecoder)
	if !ok || !dec.DecodesColumns() {
		return
	}
	p := &preFilter{dec: dec, sel: s.filter}
	if r.sub > 0 {
		p.sel = s.filter.Fresh()
	}
	for _, t := range c.physTypes {
		p.b.Cols = append(p.b.Cols, vec.ColFor(t))
	}
	for j := range c.meta {
		p.b.Cols = append(p.b.Cols, vec.ColFor(c.meta[j].col.Type))
	}
	for _, pi := range c.valIdx {
		p.valCols = append(p.valCols, p.b.Cols[pi])
	}
	r.pre = p
}

// preselect runs the first pass over a chunk (records up to st's stop offset) and returns which records
// the filter drops (nil: none); the caller skips those.
func (r *run) preselect(st *partState, recs []*kgo.Record) []bool {
	p := r.pre
	if p == nil {
		return nil
	}
	b := &p.b
	b.N = 0
	for _, col := range b.Cols {
		col.Reset(0)
	}
	p.rows = p.rows[:0]
	for i, rec := range recs {
		if st.stop >= 0 && rec.Offset >= st.stop {
			break
		}
		if rec.Attrs.IsControl() || rec.Value == nil {
			continue
		}
		// A record this pass cannot read goes to the full decoder, which reports it as without the filter.
		if ok, err := p.dec.DecodeColumns(rec.Value, p.valCols, b.N); !ok || err != nil {
			continue
		}
		p.rows = append(p.rows, int32(i))
		b.N++
	}
	if b.N == 0 {
		return nil
	}
	for _, col := range b.Cols {
		col.PadNulls(b.N)
	}
	sel, err := p.sel.Select(b)
	if err != nil {
		return nil // an evaluation error: every record is decoded, and the Calc reports it
	}
	p.seen += b.N
	p.passed += len(sel)
	if p.seen >= preFilterSample && p.passed*preFilterKeep > p.seen {
		r.pre = nil // too few records dropped: decode them all, from this chunk on
		return nil
	}
	if len(sel) == b.N {
		return nil
	}
	if cap(p.drop) < len(recs) {
		p.drop = make([]bool, len(recs))
	}
	p.drop = p.drop[:len(recs)]
	clear(p.drop)
	for _, i := range p.rows {
		p.drop[i] = true
	}
	for _, j := range sel {
		p.drop[p.rows[j]] = false
	}
	return p.drop
}

// countDropped counts a chunk's n records dropped by the filter: in the metric, and in the job's rows in
// (out's counters, connectors.CountRead): they were read, and count as without the filter.
func (r *run) countDropped(n int64, out changelog.Output) {
	if n == 0 {
		return
	}
	r.s.filteredEarly.Add(n)
	filteredEarlyAll.Add(n)
	connectors.CountRead(out, n)
}

// filteredEarlyAll is FilteredEarly over every source of the process (tests read it).
var filteredEarlyAll atomic.Int64
