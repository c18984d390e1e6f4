package engine

import (
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A batch savepoint ('sluice.batch.savepoint-dir'): a BATCH run over bounded input writes, at its end, a
// savepoint holding the end positions of its sources and the final state of its keyed operators, in the form
// the STREAMING plan of the same query uses, so that a streaming run restored from it continues from there
// (the seed's promise: a backfill over history bootstraps a live job).
//
// State is matched by the streaming plan's part ids: the batch plan is walked in step with the streaming plan
// of the same statements, and each batch node takes the id of its streaming twin.

// batchSavepoint collects the parts of a batch savepoint while the batch job runs.
type batchSavepoint struct {
	dir     string
	ids     map[planner.Node]string // batch node → id of the streaming twin
	writers map[string]*state.FileWriter
	names   map[string]string
	maxPar  int
	// trackers: batch nodes whose output the streaming twin passes through a watermark assigner with this
	// rowtime expression; wms read the trackers built for them.
	trackers map[planner.Node]expr.Expr
	wms      []func() int64
}

// watermark is the watermark the streaming twin would have reached at the end of the batch input: the
// minimum over its watermark assigners (none: no window ever closes).
func (b *batchSavepoint) watermark() int64 {
	if len(b.wms) == 0 {
		return math.MinInt64
	}
	wm := int64(math.MaxInt64)
	for _, f := range b.wms {
		wm = min(wm, f())
	}
	return wm
}

// batchSavepointSupported: the streaming operators whose state a batch run can produce are GROUP BY
// aggregates, regular (and interval) joins, TUMBLE/HOP/CUMULATE window aggregates and OVER aggregates (the
// batch run runs the streaming OVER operator, exec/over_final.go). The watermark assigner's state (the
// current watermark) is left to the streaming run.
func batchSavepointSupported(n planner.Node) bool {
	switch n := n.(type) {
	case *planner.Sink, *planner.Scan, *planner.Values, *planner.Calc, *planner.Aggregate, *planner.WatermarkAssigner, *planner.Union:
		return true
	case *planner.Join, *planner.WindowAggregate:
		return true
	case *planner.OverAggregate:
		return n.Order == nil // streaming OVERs order by one time attribute
	case *planner.WindowTVF:
		return n.Spec.Kind != exec.Session // TUMBLE/HOP/CUMULATE assign windows row by row
	}
	return false
}

// newBatchSavepoint pairs the batch plan with the streaming plan of the same statements.
func newBatchSavepoint(dir string, batchNodes, streamNodes []planner.Node, maxPar int) (*batchSavepoint, error) {
	b := &batchSavepoint{dir: dir, ids: map[planner.Node]string{}, writers: map[string]*state.FileWriter{}, names: map[string]string{}, maxPar: maxPar,
		trackers: map[planner.Node]expr.Expr{}}
	ids := &graph{} // only for planID's counters, in the order the streaming graph registers its parts
	var walk func(bn, sn planner.Node) error
	walk = func(bn, sn planner.Node) error {
		if wa, ok := sn.(*planner.WatermarkAssigner); ok {
			if _, same := bn.(*planner.WatermarkAssigner); !same {
				// Batch plans have no watermark assigners (one perfect watermark at the end): the streaming
				// twin's assigner starts afresh.
				ids.planID("operator", wa)
				b.trackers[bn] = wa.Expr // the batch run tracks the watermark the streaming run would reach
				return walk(bn, wa.Input)
			}
		}
		if reflect.TypeOf(bn) != reflect.TypeOf(sn) || len(bn.Inputs()) != len(sn.Inputs()) {
			return fmt.Errorf("the batch plan (%s) and the streaming plan (%s) of the query differ, so a streaming run could not map this run's state", bn.Describe(), sn.Describe())
		}
		if !batchSavepointSupported(sn) {
			return fmt.Errorf("the streaming plan has %s, whose state a batch run cannot write yet (Sluice writes the final state of GROUP BY aggregates, joins, TUMBLE/HOP/CUMULATE window aggregates and OVER aggregates, and source positions)", sn.Describe())
		}
		kind := "operator"
		switch sn.(type) {
		case *planner.Scan, *planner.Values:
			kind = "source"
		case *planner.Sink:
			kind = "sink"
		}
		b.ids[bn] = ids.planID(kind, sn)
		for i := range bn.Inputs() {
			if err := walk(bn.Inputs()[i], sn.Inputs()[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if len(batchNodes) != len(streamNodes) {
		return nil, fmt.Errorf("the batch and streaming plans have different numbers of statements")
	}
	for i := range batchNodes {
		if err := walk(batchNodes[i], streamNodes[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// writer returns the state writer of a batch operator (its final state goes there).
func (b *batchSavepoint) writer(n planner.Node) *state.FileWriter {
	id := b.ids[n]
	w := state.NewFileWriter(b.maxPar)
	b.writers[id] = w
	b.names[id] = n.Describe()
	return w
}

// write writes the savepoint after the batch job ended; it returns its path.
func (b *batchSavepoint) write(g *graph, j *Job) (string, error) {
	md := &state.Metadata{Kind: "savepoint", JobID: j.id, JobName: j.name, CheckpointID: 1, Timestamp: time.Now().UnixMilli(),
		RuntimeMode: ModeBatch, Backend: "hashmap", MaxParallelism: b.maxPar}
	files := map[string]*state.FileWriter{}
	for _, p := range g.parts {
		if p.src == nil {
			continue
		}
		pos, err := p.src.SnapshotPosition()
		if err != nil {
			return "", fmt.Errorf("source %s: %w", p.name, err)
		}
		md.Parts = append(md.Parts, state.PartState{ID: p.id, Kind: "source", Name: p.name, Inline: pos})
	}
	for id, w := range b.writers {
		f := id + ".state"
		files[f] = w
		md.Parts = append(md.Parts, state.PartState{ID: id, Kind: "operator", Name: b.names[id], File: f, Entries: w.Entries(), Bytes: w.Size()})
	}
	return state.Write(b.dir, fmt.Sprintf("savepoint-%s-%s", j.id[:6], newJobID()[:12]), md, files)
}

// id returns the streaming id of batch node n (b may be nil).
func (b *batchSavepoint) id(n planner.Node) (string, bool) {
	if b == nil {
		return "", false
	}
	id, ok := b.ids[n]
	return id, ok
}

// newBatchSavepoint prepares the savepoint of a batch run of inserts (planned as nodes), when
// 'sluice.batch.savepoint-dir' is set.
func (s *Session) newBatchSavepoint(inserts []*sql.Insert, nodes []planner.Node, params []types.Value) (*batchSavepoint, error) {
	path, _, err := sessionDir(s.opts, "sluice.batch.savepoint-dir")
	if err != nil {
		return nil, err
	}
	cfg, err := s.checkpointConfig()
	if err != nil {
		return nil, err
	}
	p := s.newPlanner(false, params)
	var stream []planner.Node
	for _, ins := range inserts {
		n, err := p.PlanInsert(ins)
		if err != nil {
			return nil, fmt.Errorf("plan the streaming twin of the query: %w", err)
		}
		stream = append(stream, n)
	}
	return newBatchSavepoint(path, nodes, stream, cfg.maxParallelism)
}
