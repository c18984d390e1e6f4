package engine

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// Per-operator counters. Every plan node's output passes through a meter (wired by graph.build through
// g.meter): it adds the size of each batch to the node's rows-out counter and records the last watermark the
// node emitted. That is one atomic add per batch, no lock and no allocation per row. A node's rows in are the
// sum of its inputs' rows out; its input watermark is the minimum of its inputs' output watermarks (Flink's
// currentInputWatermark). Rates are sampled once a second by one goroutine per running job.

// metersOff turns the meters off (the overhead benchmark's baseline).
var metersOff = false

// noWatermark marks an operator that has not seen a watermark yet.
const noWatermark = math.MinInt64

// rateWindow is the number of one-second samples a rate is averaged over.
const rateWindow = 5

// lagSource is implemented by sources that know how far behind their input they are (the Kafka source:
// for each partition, the high watermark minus the next offset to read).
type lagSource interface {
	// RecordsLag returns the total lag over the source's partitions and the largest one (Kafka's
	// records-lag-max); known is false before the first fetch.
	RecordsLag() (total, max int64, known bool)
}

// opMetrics are the counters of one plan node.
type opMetrics struct {
	node    planner.Node
	id      int    // 1-based, in plan order (inputs first), stable across restarts
	kind    string // "Calc", "TableSourceScan", ...
	rowsOut atomic.Int64
	wmOut   atomic.Int64
	rateOut atomic.Uint64 // float64 bits: rows out per second
	lag     lagSource     // sources only; nil when unknown
	inputs  []*opMetrics

	samples [rateWindow + 1]int64 // sampler goroutine only
	nsample int
}

// jobMetrics are a job's operator counters.
type jobMetrics struct {
	mu       sync.Mutex // guards ops and byNode (build time and readers)
	ops      []*opMetrics
	byNode   map[planner.Node]*opMetrics
	roots    []planner.Node
	sampling bool

	restarts          atomic.Int64
	failedCheckpoints atomic.Int64
	rateIn, rateOut   atomic.Uint64 // float64 bits
	in, out           [rateWindow + 1]int64
	nIn, nOut         int
}

// meter is the Output wrapper that counts a node's output.
type meter struct {
	m   *opMetrics
	out changelog.Output
}

func (w *meter) Push(b *changelog.Batch) error {
	w.m.rowsOut.Add(int64(len(b.Rows)))
	return w.out.Push(b)
}

func (w *meter) Watermark(ts int64) error {
	if ts != exec.IdleWatermark { // a source subtask going idle (pipeline.go) leaves the last one
		w.m.wmOut.Store(ts)
	}
	return w.out.Watermark(ts)
}

func (w *meter) End() error { return w.out.End() }

// meter returns out wrapped so that it counts node n's output for job j, and registers n's counters. A Sink
// (out == nil) gets counters but no wrapper: its rows are its input's rows.
func (g *graph) meter(n planner.Node, out changelog.Output, j *Job) changelog.Output {
	if j == nil || metersOff {
		return out
	}
	m := j.metrics.node(n)
	if sc, ok := n.(*planner.Scan); ok {
		if l, ok := sc.Source.(lagSource); ok {
			j.metrics.mu.Lock()
			m.lag = l
			j.metrics.mu.Unlock()
		}
	}
	if out == nil {
		return nil
	}
	return &meter{m: m, out: out}
}

// setRoots numbers the operators of the plan (inputs first, Flink's numbering of the job graph).
func (jm *jobMetrics) setRoots(roots []planner.Node) {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	jm.roots = roots
	seen := map[planner.Node]bool{}
	id := 0
	var walk func(n planner.Node)
	walk = func(n planner.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			walk(in)
		}
		id++
		jm.nodeLocked(n).id = id
	}
	for _, r := range roots {
		walk(r)
	}
}

// node returns n's counters, creating them.
func (jm *jobMetrics) node(n planner.Node) *opMetrics {
	jm.mu.Lock()
	defer jm.mu.Unlock()
	return jm.nodeLocked(n)
}

func (jm *jobMetrics) nodeLocked(n planner.Node) *opMetrics {
	if m, ok := jm.byNode[n]; ok {
		return m
	}
	if jm.byNode == nil {
		jm.byNode = map[planner.Node]*opMetrics{}
	}
	kind, _, _ := strings.Cut(n.Describe(), "(")
	m := &opMetrics{node: n, kind: kind}
	m.wmOut.Store(noWatermark)
	jm.byNode[n] = m
	jm.ops = append(jm.ops, m)
	for _, in := range n.Inputs() {
		m.inputs = append(m.inputs, jm.nodeLocked(in))
	}
	return m
}

// rowsIn is the number of rows the operator received: its inputs' output (a source's own output).
func (m *opMetrics) rowsIn() int64 {
	if len(m.inputs) == 0 {
		return m.rowsOut.Load()
	}
	var n int64
	for _, in := range m.inputs {
		n += in.rowsOut.Load()
	}
	return n
}

// inputWatermark is the minimum of the inputs' watermarks (noWatermark until every input has one).
func (m *opMetrics) inputWatermark() int64 {
	if len(m.inputs) == 0 {
		return m.wmOut.Load()
	}
	wm := int64(math.MaxInt64)
	for _, in := range m.inputs {
		wm = min(wm, in.wmOut.Load())
	}
	return wm
}

// rateIn is the operator's input rate, rows per second.
func (m *opMetrics) rateIn() float64 {
	if len(m.inputs) == 0 {
		return math.Float64frombits(m.rateOut.Load())
	}
	var r float64
	for _, in := range m.inputs {
		r += math.Float64frombits(in.rateOut.Load())
	}
	return r
}

// isSink reports whether the operator writes to a table.
func (m *opMetrics) isSink() bool {
	_, ok := m.node.(*planner.Sink)
	return ok
}

// rate pushes v into a window of samples taken a second apart and returns the rate over the window.
func rate(samples *[rateWindow + 1]int64, n *int, v int64, dt time.Duration) float64 {
	copy(samples[1:], samples[:rateWindow])
	samples[0] = v
	if *n < rateWindow+1 {
		*n++
	}
	if *n < 2 {
		return 0
	}
	span := float64(*n-1) * dt.Seconds()
	return float64(samples[0]-samples[*n-1]) / span
}

// startSampling starts the goroutine that samples the job's rates once a second until the job ends
// (supervise calls it when the job starts).
func (j *Job) startSampling() {
	jm := &j.metrics
	jm.mu.Lock()
	started := jm.sampling
	jm.sampling = true
	jm.mu.Unlock()
	if started || j.done == nil {
		return
	}
	go func() {
		const every = time.Second
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-j.done:
				jm.rateIn.Store(0)
				jm.rateOut.Store(0)
				jm.mu.Lock()
				for _, m := range jm.ops {
					m.rateOut.Store(0)
				}
				jm.mu.Unlock()
				return
			case <-t.C:
			}
			jm.rateIn.Store(math.Float64bits(rate(&jm.in, &jm.nIn, j.rowsInTotal(), every)))
			jm.rateOut.Store(math.Float64bits(rate(&jm.out, &jm.nOut, j.rowsOutTotal(), every)))
			jm.mu.Lock()
			ops := append([]*opMetrics(nil), jm.ops...)
			jm.mu.Unlock()
			for _, m := range ops {
				m.rateOut.Store(math.Float64bits(rate(&m.samples, &m.nsample, m.rowsOut.Load(), every)))
			}
		}
	}()
}
