package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// graph is a job's operator graph: sources pushing through operator chains into sinks.
//
// Threading: each source runs in its own goroutine; pushes into the shared downstream graph are serialized
// by one mutex per job, which satisfies the changelog.Output contract (one caller at a time).
type graph struct {
	batch       bool
	tempDir     string
	sortMemory  int64
	loc         *time.Location
	now         func() time.Time // the processing-time clock (Config.Now; time.Now when nil)
	mu          sync.Mutex
	sources     []sourceRun
	sinks       []*endOnce
	stages      []*sinkStage
	restart     restartPolicy
	notice      io.Writer
	parts       []*participant // stateful parts, in build order (checkpoint.go)
	seenIDs     map[string]int
	ckpt        *checkpointer
	bsp         *batchSavepoint                         // batch run writing a savepoint at its end
	ttl         time.Duration                           // 'table.exec.state.ttl' (streaming)
	idleTimeout time.Duration                           // 'table.exec.source.idle-timeout' (watermarks.go)
	alignGroups map[string]*exec.AlignGroup             // watermark alignment groups by name (watermarks.go)
	splitFans   map[connectors.SplitSource]*splitFanout // split listeners per source read by several branches (watermarks.go)
	parents     map[planner.Node]int                    // nodes with several parents are shared (reuse.go)
	fanouts     map[planner.Node]*fanout
	reused      map[*planner.Scan]*reusedScan // reused scans run as subtasks, their branches (pipeline_reuse.go)
	subtasks    int                           // subtasks of keyed streaming operators (parallel.go)
	maxPar      int                           // key groups ('pipeline.max-parallelism')
	closers     []func()                      // stop subtask goroutines when the graph is dropped
	miniBatch   miniBatchOps                  // mini-batch operators, ticked for their latency (minibatch.go)
	backend     state.Backend                 // 'rocksdb': GROUP BY state in an embedded LSM (backend.go); nil for hashmap
	restoreCP   *state.Checkpoint
	// unsnapshotted names stateful operators that cannot checkpoint their state yet (checkpoint.go).
	unsnapshotted []string
	// noTTL names stateful operators that 'table.exec.state.ttl' does not expire yet.
	noTTL   []string
	stopped bool // set under mu by STOP ... WITH SAVEPOINT: no row passes after the savepoint's cut
	// Pipelined hash exchanges into keyed subtasks (exchange.go): gate is the checkpoint gate source subtasks
	// hold for reading while they route into an exchange; stopping is stopped for them (set with the gate
	// closed).
	exchanges []*exchangeRun
	gate      sync.RWMutex
	stopping  atomic.Bool
	failure   pushFailure                      // the first error a push returned (push_failure.go)
	xTargets  map[planner.Node]*keyedTarget    // where keyed subtasks send their output (exchange_keyed.go)
	twoPhase  map[*planner.Scan]*twoPhaseChain // local aggregates chained into source subtasks (twophase.go)
	// xSourceRuns counts the sources whose subtasks route into an exchange; subtaskAssigners is set when a
	// watermark assigner is chained into source subtasks (exchange_barrier.go: barrierCheckpoints).
	xSourceRuns      int
	subtaskAssigners bool
	// gateSinks are the sinks that source subtasks write themselves (pipeline_sink.go, sinkEnd) or a reused
	// scan's branches write (pipeline_reuse.go): a barrier checkpoint pre-commits them with the gate closed
	// (exchange_barrier.go).
	gateSinks []any
	locals    []graphLocal // local aggregates built under the graph lock (twophase.go)
	// Batch stages (batch_exchange.go): staged is set on a job's graph cut into stages, stage on the graph of
	// one stage attempt; tmpDirs hold the intermediate results ('io.tmp.dirs').
	staged  *stagedJob
	stage   *stageBuild
	tmpDirs []string
	pipeDir *pipelinedJobDir // a batch job's directory when it is not staged (batch_jobdir.go)
	// sliced: window TVFs that assign slices for a slice-shared window aggregate (window_slice.go).
	sliced map[*planner.WindowTVF]bool
	// failJob fails the running attempt from outside its parts (a failed STOP WITH DRAIN, checkpoint_stop.go):
	// set by attempt before the graph is published to Stop; stopErr holds the error (the first one wins).
	failJob func(error)
	stopErr atomic.Pointer[error]
}

// sinksEnded reports whether a sink of the graph has ended (called with mu held).
func (g *graph) sinksEnded() bool {
	for _, s := range g.sinks {
		if s.ended {
			return true
		}
	}
	return false
}

type sourceRun struct {
	name string
	src  connectors.Source
	out  changelog.Output
	// A source running as several subtasks (pipeline.go): subs are their outputs (out is then where their
	// chains meet the graph, for the drain of STOP WITH SAVEPOINT).
	par  connectors.ParallelSource
	subs []changelog.Output
}

func (s *Session) newGraph(batch bool) *graph {
	dirs := s.tmpDirs()
	dir := dirs[0]
	mem := int64(128 << 20)
	if n, _, err := sessionMemory(s.opts, "table.exec.resource.sort.memory"); err == nil {
		mem = n
	}
	restart, err := s.batchRestartPolicy()
	if err != nil {
		restart = restartPolicy{attempts: 1}
	}
	g := &graph{batch: batch, tempDir: dir, tmpDirs: dirs, sortMemory: mem, loc: s.location(), now: s.cfg.Now, restart: restart, notice: s.cfg.Notice}
	g.maxPar = state.DefaultMaxParallelism
	if cfg, err := s.checkpointConfig(); err == nil {
		g.maxPar = cfg.maxParallelism
		if !batch {
			g.ttl = cfg.ttl
		}
	}
	if d, ok, err := sessionDuration(s.opts, "table.exec.source.idle-timeout"); ok && err == nil {
		g.idleTimeout = d
	}
	g.subtasks = s.parallelism()
	return g
}

// build wires node n so that its output goes to out (nil for a Sink node, which opens its connector sink).
func (g *graph) build(n planner.Node, out changelog.Output, j *Job) error {
	if g.stage != nil {
		if g.stage.input(g, n, out) {
			return nil // produced by an earlier stage: read from its intermediate result file
		}
		defer g.stage.enter(n)() // batch_mixed.go
	}
	if out != nil {
		var first bool
		var err error
		if out, first, err = g.shared(n, out, j); err != nil || !first {
			return err // reuse.go
		}
	}
	if g.bsp != nil && out != nil {
		if x, ok := g.bsp.trackers[n]; ok {
			var wm func() int64
			out, wm = exec.NewWatermarkTracker(x, out)
			g.bsp.wms = append(g.bsp.wms, wm)
		}
	}
	if out != nil {
		if sc, chain, p := g.chainedScan(n); sc != nil {
			return g.buildSubtasks(sc, chain, p, out, j, nil) // pipeline.go
		}
	}
	out = g.meter(n, out, j) // per-operator counters (metrics.go)
	switch n := n.(type) {
	case *planner.Sink:
		if g.batch && g.restart.attempts > 1 && g.stage == nil {
			// Batch: the sink stage materializes its input so that a failed write restarts from it.
			st := &sinkStage{table: n.Table.Name, sink: n.Sink, policy: g.restart, notice: g.notice, jobID: j.id, dir: g.tempDir}
			st.types = fieldTypes(n.Input.Fields())
			g.stages = append(g.stages, st)
			return g.build(n.Input, exec.NewCounter(&j.rowsOut, st), j)
		}
		so, err := n.Sink.Open(context.Background())
		if err != nil {
			return fmt.Errorf("open sink %s: %w", n.Table.Name, err)
		}
		g.register(n, so)
		e := &endOnce{out: so, name: n.Table.Name} // sink_failure.go
		g.sinks = append(g.sinks, e)
		var in changelog.Output = exec.NewCounter(&j.rowsOut, e)
		if g.stage != nil {
			in = exec.NewCounter(&g.stage.run.sinkRows, in) // taken back from rows out if the attempt fails
		}
		if co, ok := so.(connectors.ConcurrentOutput); ok && g.parents[n.Input] < 2 {
			if ok, err := g.buildConcurrentSink(n.Input, n.Table.Name, co, in, j); ok || err != nil {
				return err // pipeline_sink.go
			}
		}
		if eo, ok := so.(connectors.EncodingOutput); ok && g.parents[n.Input] < 2 {
			if sc, chain, p := g.chainedScan(n.Input); sc != nil {
				return g.buildSubtasks(sc, chain, p, in, j, &sinkEncoding{out: eo}) // pipeline.go
			}
			if ok, err := g.buildKeyedSink(n.Input, n.Table.Name, eo, in, j); ok || err != nil {
				return err // exchange_sink.go
			}
		}
		if m, ok := n.Input.(*planner.SinkMaterializer); ok && m.Parallelism > 0 {
			if ok, err := g.buildLockFedSink(m, n.Table.Name, so, in, j); ok || err != nil {
				return err // fed from under the graph lock (exchange_sink.go)
			}
			g.sinkParallelismIgnored(n.Table.Name, m) // exchange_sink.go
			return g.buildSinkMaterializer(m, in, j, true)
		}
		return g.build(n.Input, in, j)
	case *planner.Scan:
		g.register(n, n.Source)
		g.sources = append(g.sources, sourceRun{name: n.Table.Name, src: n.Source, out: exec.NewCounter(&j.rowsIn, out)})
		return nil
	case *planner.Values:
		vs := &valuesSource{rows: n.Rows}
		g.register(n, vs)
		g.sources = append(g.sources, sourceRun{name: "VALUES", src: vs, out: out})
		return nil
	case *planner.Calc:
		if ok, err := g.buildForward(n, out, j); ok || err != nil {
			return err // chained into keyed subtasks (exchange_keyed.go)
		}
		return g.build(n.Input, exec.NewCalc(n.Projects, n.Filter, out), j)
	case *planner.Expand:
		return g.build(n.Input, exec.NewExpand(n.Nulls, n.IDs, out), j)
	case *planner.Replicate:
		return g.build(n.Input, exec.NewReplicate(out), j)
	case *planner.ChangelogNormalize:
		ncfg := exec.NormalizeConfig{Keys: n.Keys, Types: fieldTypes(n.Input.Fields()), Batch: n.Batch, TTL: g.ttl}
		if ok, err := g.exchangeNormalize(n, ncfg, out, j); ok || err != nil {
			return err // exchange_ops.go
		}
		return g.build(n.Input, g.op(n, exec.WithMessageColumns(exec.NewNormalize(ncfg, out), n.MetaCols)), j)
	case *planner.SinkMaterializer:
		return g.buildSinkMaterializer(n, out, j, false) // sink_materialize.go
	case *planner.WatermarkAssigner:
		return g.build(n.Input, g.op(n, g.watermarkAssigner(n, out)), j)
	case *planner.Aggregate:
		in := n.Input.Fields()
		cfg := exec.GroupAggConfig{Keys: n.Keys, Aggs: n.Aggs, Batch: n.Batch, EmitUpdateBefore: true, InsertOnly: n.Input.Mode().IsInsertOnly(), TTL: g.ttl}
		for _, k := range n.Keys {
			cfg.KeyTypes = append(cfg.KeyTypes, in[k].Type)
		}
		cfg.InTypes = fieldTypes(in)
		if n.Batch && g.bsp != nil {
			cfg.FinalState = g.bsp.writer(n)
		}
		if !n.Batch && g.backend != nil {
			st, err := g.storeFor(n)
			if err != nil {
				return fmt.Errorf("state backend: %w", err)
			}
			cfg.Store = st
		}
		mk := func(o changelog.Output) (changelog.Output, error) { return exec.NewGroupAgg(cfg, o) }
		if n.MiniBatch != nil && !n.Batch {
			mb := exec.MiniBatchConfig{Size: n.MiniBatch.Size, Latency: n.MiniBatch.Latency}
			mk = func(o changelog.Output) (changelog.Output, error) { return exec.NewMiniBatchGroupAgg(cfg, mb, o) }
		}
		if !n.Batch && g.backend == nil && len(n.InputSort) == 0 {
			in := []exchangeInput{{node: n.Input, side: exec.ExchangeSide{Keys: cfg.Keys, KeyTypes: cfg.KeyTypes}}}
			built := len(g.exchanges) // this exchange's index (upstream ones come after it)
			if ok, err := g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
				a, err := mk(o)
				return []changelog.Output{a}, a, err
			}, out, j); ok || err != nil {
				if ok && err == nil && n.MiniBatch != nil {
					g.tickExchange(built, n.MiniBatch.Latency) // exchange_ops.go
				}
				return err // exchange.go
			}
		}
		var agg changelog.Output
		var err error
		if !n.Batch && g.backend == nil {
			agg, err = g.parallel(cfg.Keys, cfg.KeyTypes, mk, out)
		} else {
			agg, err = mk(out)
		}
		if err != nil {
			return err
		}
		if !n.Batch && g.backend == nil {
			g.register(n, agg)
		}
		if n.MiniBatch != nil && !n.Batch {
			g.miniBatch.add(agg, n.MiniBatch.Latency)
		}
		if len(n.InputSort) > 0 {
			// The sort emits columns when the aggregate takes them (batch_input_vec.go).
			if batchSortRows {
				return g.build(n.Input, exec.NewSort(n.InputSort, -1, 0, g.sortMemory, g.tempDir, agg), j)
			}
			return g.build(n.Input, exec.NewSortColumns(n.InputSort, g.sortMemory, g.tempDir, cfg.InTypes, agg), j)
		}
		return g.build(n.Input, agg, j)
	case *planner.MiniBatchAssigner, *planner.LocalGroupAggregate, *planner.GlobalGroupAggregate:
		return g.buildMiniBatch(n, out, j)
	case *planner.Sort:
		return g.build(n.Input, g.op(n, exec.NewSort(n.Keys, n.Limit, n.Offset, g.sortMemory, g.tempDir, out)), j)
	case *planner.TopN:
		return g.build(n.Input, g.op(n, exec.NewTopNOf(exec.TopNConfig{Keys: n.Keys, Limit: n.Limit, Offset: n.Offset, TTL: g.ttl, Now: g.now,
			InsertOnly: n.Input.Mode().IsInsertOnly()}, out)), j)
	case *planner.Limit:
		g.noTTL = append(g.noTTL, n.Describe()) // Flink's (a rank keyed by a constant) forgets its count when idle
		return g.build(n.Input, g.op(n, exec.NewLimit(n.Limit, n.Offset, out)), j)
	case *planner.TemporalSort:
		op := exec.NewTemporalSort(n.Keys, out)
		if n.Proctime {
			// PROCTIME() values are instants: the clock runs in UTC.
			return g.build(n.Input, g.op(n, g.proctimeClock(time.UTC, op)), j)
		}
		return g.build(n.Input, g.op(n, op), j)
	case *planner.WindowTVF:
		if n.Spec.Kind == exec.Session && g.sliced[n] {
			// a session window aggregate with running accumulators (window_session.go): each row gets its own
			// window, which the aggregate merges into its sessions; the sessions' state is the aggregate's
			return g.build(n.Input, exec.NewSliceAssigner(n.Spec, n.TimeCol, n.LTZ, g.loc, out), j)
		}
		if n.Spec.Kind == exec.Session {
			in := n.Input.Fields()
			var pts []types.Type
			for _, c := range n.Partition {
				pts = append(pts, in[c].Type)
			}
			var op changelog.Output = exec.NewSessionAssigner(n.Spec.Size, n.TimeCol, n.Partition, pts, n.LTZ, g.loc, out)
			if n.Proctime {
				op = g.proctimeClock(g.loc, op)
			}
			return g.build(n.Input, g.op(n, op), j)
		}
		var op changelog.Output
		if g.sliced[n] {
			op = exec.NewSliceAssigner(n.Spec, n.TimeCol, n.LTZ, g.loc, out)
		} else {
			op = exec.NewWindowAssigner(n.Spec, n.TimeCol, n.LTZ, g.loc, out)
		}
		if n.Proctime {
			op = g.proctimeClock(g.loc, op)
		}
		return g.build(n.Input, g.op(n, op), j)
	case *planner.WindowAggregate:
		in := n.Input.Fields()
		cfg := exec.GroupAggConfig{Keys: n.Keys, Aggs: n.Aggs}
		for _, k := range n.Keys {
			cfg.KeyTypes = append(cfg.KeyTypes, in[k].Type)
		}
		cfg.InTypes = fieldTypes(in)
		mk := func(o changelog.Output) (changelog.Output, error) { return exec.NewWindowAgg(cfg, n.WindowEndKey, o) }
		pkeys, ptypes := cfg.Keys, cfg.KeyTypes
		if tvf, startKey, ok := g.sliceWindow(n); ok {
			// HOP/CUMULATE: rows aggregate once per slice (exec.NewSliceWindowAgg); the window TVF assigns
			// slices, and subtasks are keyed by the group keys without the window columns.
			mk = func(o changelog.Output) (changelog.Output, error) {
				return exec.NewSliceWindowAgg(cfg, n.Spec, startKey, n.WindowEndKey, o)
			}
			g.sliced[tvf] = true
			pkeys, ptypes = keysOutsideWindow(cfg.Keys, cfg.KeyTypes, startKey, n.WindowEndKey)
		} else if tvf, startKey, ok := g.sessionWindow(n); ok {
			// SESSION: one accumulator per (partition key, session), merged as sessions merge
			// (exec.NewSessionWindowAgg); subtasks are keyed by the partition key.
			mk = func(o changelog.Output) (changelog.Output, error) {
				return exec.NewSessionWindowAgg(cfg, n.Spec, startKey, n.WindowEndKey, o)
			}
			g.sliced[tvf] = true
			pkeys, ptypes = keysOutsideWindow(cfg.Keys, cfg.KeyTypes, startKey, n.WindowEndKey)
		}
		if ok, err := g.exchangeProctimeWindow(n, cfg, out, j); ok || err != nil {
			return err // exchange_proctime.go
		}
		if tvf, startKey, ok := g.proctimeSliceWindow(n, cfg); ok {
			// processing-time TUMBLE not behind the exchange: slice-shared, on columns (exchange_proctime.go)
			mk = func(o changelog.Output) (changelog.Output, error) {
				return exec.NewSliceWindowAgg(cfg, n.Spec, startKey, n.WindowEndKey, o)
			}
			g.sliced[tvf] = true
			pkeys, ptypes = keysOutsideWindow(cfg.Keys, cfg.KeyTypes, startKey, n.WindowEndKey)
		}
		if !g.batch {
			in := []exchangeInput{{node: n.Input, side: exec.ExchangeSide{Keys: pkeys, KeyTypes: ptypes}}}
			if ok, err := g.buildExchange(n, in, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
				a, err := mk(o)
				return []changelog.Output{a}, a, err
			}, out, j); ok || err != nil {
				return err // exchange.go
			}
		}
		var agg changelog.Output
		var err error
		if g.batch {
			agg, err = mk(out)
		} else {
			agg, err = g.parallel(pkeys, ptypes, mk, out)
		}
		if err != nil {
			return err
		}
		if g.batch && g.bsp != nil {
			exec.SetWindowFinalState(agg, g.bsp.writer(n), g.bsp.watermark)
		}
		g.register(n, agg)
		return g.build(n.Input, agg, j)
	case *planner.OverAggregate:
		cfg := exec.OverConfig{Partition: n.Partition, OrderCol: n.OrderCol, Order: n.Order, Frame: n.Frame, Aggs: n.Aggs, TTL: g.ttl}
		switch {
		case g.batch && cfg.Order == nil && g.bsp != nil:
			// A batch run writing a savepoint runs the streaming operator and writes its state at the end
			// (exec/over_final.go, batchsavepoint.go).
			cfg.FinalState, cfg.FinalWatermark = g.bsp.writer(n), g.bsp.watermark
		case g.batch && cfg.Order == nil:
			// Batch mode sorts by the time column too, as Flink's batch OverAggregate: rows with a NULL time
			// are kept (first, peers of each other) where the streaming operator drops them.
			cfg.Order = []exec.SortKey{{Col: n.OrderCol, NullsFirst: true}}
		}
		if g.batch {
			cfg.MemBudget, cfg.SpillDir = g.sortMemory, g.tempDir // over_spill.go
		}
		cfg.InTypes = fieldTypes(n.Input.Fields())
		if ok, err := g.exchangeOver(n, cfg, out, j); ok || err != nil {
			return err // exchange_ops.go
		}
		op, err := exec.NewOverAgg(cfg, out)
		if err != nil {
			return err
		}
		if c, ok := op.(interface{ Close() }); ok {
			// The batch (sorting) operator's spill files are released when the attempt ends, also when
			// the job fails before the operator's End (exec/over_spill.go).
			g.closers = append(g.closers, c.Close)
		}
		g.register(n, op)
		return g.build(n.Input, op, j)
	case *planner.MatchRecognize:
		g.noTTL = append(g.noTTL, n.Describe()) // as in Flink, WITHIN bounds its state, not the TTL
		cfg := exec.MatchConfig{Partition: n.Partition, TimeCol: n.TimeCol, Order: n.Order, Types: fieldTypes(n.Input.Fields()),
			Elems: n.Elems, Defines: n.Defines, Measures: n.Measures, Slots: n.Slots, Skip: n.Skip, SkipElem: n.SkipElem,
			SkipName: n.Vars[n.SkipElem], Within: n.Within, ProcTime: n.ProcTime}
		if ok, err := g.exchangeMatch(n, cfg, out, j); ok || err != nil {
			return err // exchange_ops.go
		}
		op, err := exec.NewMatch(cfg, out)
		if err != nil {
			return err
		}
		return g.build(n.Input, g.op(n, op), j)
	case *planner.Rank:
		cfg := exec.RankConfig{Func: n.Func, Partition: n.Partition, Order: n.Order, Limit: n.Limit, RowNumber: true, Batch: n.Batch, TTL: g.ttl,
			InsertOnly: n.Input.Mode().IsInsertOnly(), KeepFirst: n.ProctimeFirst()}
		cfg.Types = fieldTypes(n.Input.Fields())
		if !n.Batch && !g.batch && len(n.Partition) > 0 {
			sd := exec.ExchangeSide{Keys: n.Partition}
			for _, c := range n.Partition {
				sd.KeyTypes = append(sd.KeyTypes, cfg.Types[c])
			}
			if ok, err := g.buildExchange(n, []exchangeInput{{node: n.Input, side: sd}}, func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
				r := exec.NewRank(cfg, o)
				return []changelog.Output{r}, r, nil
			}, out, j); ok || err != nil {
				return err // exchange.go
			}
		}
		return g.build(n.Input, g.op(n, exec.NewRank(cfg, out)), j)
	case *planner.WindowRank:
		cfg := exec.WindowRankConfig{Partition: n.Partition, Order: n.Order, Limit: n.Limit, EndCol: n.EndCol,
			Types: fieldTypes(n.Input.Fields()), LastOnTies: n.Dedup && n.Order[0].Desc, Func: n.Func}
		return g.build(n.Input, g.op(n, exec.NewWindowRank(cfg, out)), j)
	case *planner.WindowJoin:
		cfg := exec.WindowJoinConfig{Type: n.Type, LeftKeys: n.LeftKeys, RightKeys: n.RightKeys, Residual: n.Residual,
			LeftTypes: fieldTypes(n.Left.Fields()), RightTypes: fieldTypes(n.Right.Fields()), LeftEnd: n.LeftEnd, RightEnd: n.RightEnd, NullAware: n.NullAware}
		if ok, err := g.exchangeWindowJoin(n, cfg, out, j); ok || err != nil {
			return err // exchange_ops.go
		}
		l, r := exec.NewWindowJoin(cfg, out)
		if !g.batch {
			g.register(n, l) // both inputs share one operator: exec.StateOf finds it
		}
		return g.buildInputs(n, []changelog.Output{l, r}, j) // batch_mixed.go
	case *planner.LookupJoin:
		cfg := exec.LookupJoinConfig{LeftKeys: n.LeftKeys, RightWidth: len(n.Table.PhysicalColumns()), Outer: n.Outer, Source: g.lookupSource(n)}
		if out, in := fieldTypes(n.Fields()), len(n.Input.Fields()); len(out) == in+cfg.RightWidth {
			cfg.RightTypes = out[in:]
		}
		return g.build(n.Input, g.op(n, exec.NewLookupJoin(cfg, out)), j)
	case *planner.TemporalJoin:
		g.noTTL = append(g.noTTL, n.Describe())
		cfg := exec.TemporalJoinConfig{LeftKeys: n.LeftKeys, RightKeys: n.RightKeys, LeftTime: n.LeftTime, RightTime: n.RightTime, Outer: n.Outer}
		cfg.LeftTypes = fieldTypes(n.Left.Fields())
		cfg.RightTypes = fieldTypes(n.Right.Fields())
		if ok, err := g.exchangeTemporalJoin(n, cfg, out, j); ok || err != nil {
			return err // exchange_ops.go
		}
		l, r := exec.NewTemporalJoin(cfg, out)
		if !g.batch {
			g.register(n, l) // both inputs share one operator: exec.StateOf finds it
		}
		return g.buildInputs(n, []changelog.Output{l, r}, j) // batch_mixed.go
	case *planner.Join:
		cfg := exec.JoinConfig{Type: n.Type, LeftKeys: n.LeftKeys, RightKeys: n.RightKeys, Residual: n.Residual, Batch: n.Batch, Interval: n.Interval, TTL: g.ttl,
			LeftInsertOnly: n.LeftInsertOnly, RightInsertOnly: n.RightInsertOnly}
		if n.Batch && g.bsp != nil {
			cfg.FinalState = g.bsp.writer(n)
		}
		cfg.LeftTypes = fieldTypes(n.Left.Fields())
		cfg.RightTypes = fieldTypes(n.Right.Fields())
		if !n.Batch { // regular and interval joins
			if ok, err := g.buildExchange(n, joinExchangeInputs(n, cfg), func(o changelog.Output) ([]changelog.Output, changelog.Output, error) {
				l, r := exec.NewJoin(cfg, o)
				return []changelog.Output{l, r}, l, nil
			}, out, j); ok || err != nil {
				return err // exchange.go
			}
		}
		l, r := exec.NewJoin(cfg, out)
		if !g.batch {
			g.register(n, l) // both inputs share one operator: exec.StateOf finds it
		}
		return g.buildInputs(n, []changelog.Output{l, r}, j) // batch_mixed.go
	case *planner.Union:
		outs := exec.NewUnion(len(n.Ins), out)
		if !g.batch {
			g.register(n, outs[0])
		}
		return g.buildInputs(n, outs, j) // batch_mixed.go
	}
	return fmt.Errorf("engine: no operator for plan node %T", n)
}

// op registers a stateful operator built for n (when it is one) and returns it.
func (g *graph) op(n planner.Node, o changelog.Output) changelog.Output {
	if !g.batch {
		g.register(n, o)
	}
	return o
}

// endOnce makes End idempotent, so a cancelled job can flush its sinks without ending them twice. It
// records the first error of the sink (a sink's calls fail only on its own: it is opened without the job's
// context), so that a job ending after it publishes no final source positions (checkpoint.go final).
type endOnce struct {
	out    changelog.Output
	name   string // the sink table's name in streaming jobs (sink_failure.go)
	ended  bool
	failed atomic.Pointer[error]
}

func (e *endOnce) Push(b *changelog.Batch) error { return e.note(e.out.Push(b)) }
func (e *endOnce) Watermark(ts int64) error      { return e.note(e.out.Watermark(ts)) }
func (e *endOnce) End() error {
	if e.ended {
		return nil
	}
	e.ended = true
	return e.note(e.out.End())
}

// sinkFailure returns the first error a sink of g returned (endOnce), nil when none did.
func (g *graph) sinkFailure() error {
	for _, s := range g.sinks {
		if e := s.failed.Load(); e != nil {
			return *e
		}
	}
	return nil
}

// locked serializes a source's pushes into the shared downstream graph.
type locked struct {
	mu      *sync.Mutex
	out     changelog.Output
	stopped *bool        // the graph's stopped flag, read under mu
	failure *pushFailure // marked under mu when a push fails (push_failure.go)
}

func (l *locked) Push(b *changelog.Batch) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.stopped {
		return context.Canceled
	}
	return l.failure.mark(l.out.Push(b))
}

// PushThen pushes b and advances the source's position in the same critical section, so that a checkpoint
// (taken under the same lock) sees both or neither (connectors.PositionedOutput).
func (l *locked) PushThen(b *changelog.Batch, advance func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *l.stopped {
		return context.Canceled
	}
	if b.Len() > 0 {
		if err := l.out.Push(b); err != nil {
			return l.failure.mark(err)
		}
	}
	advance()
	return nil
}
func (l *locked) Watermark(ts int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure.mark(l.out.Watermark(ts))
}
func (l *locked) End() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failure.mark(l.out.End())
}

// runSource runs one source, converting a panic in connector code into an error so that it never reaches the
// user as a crash.
func runSource(ctx context.Context, sr sourceRun, out changelog.Output) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source %s: internal error: %v", sr.name, r)
		}
	}()
	err = sr.src.Run(ctx, out)
	if err != nil && !errors.Is(err, context.Canceled) && !isSinkError(err) { // a sink's error names the sink
		err = fmt.Errorf("source %s: %w", sr.name, err)
	}
	return err
}

// valuesSource emits the rows of a VALUES clause. Its position is whether it has emitted them.
type valuesSource struct {
	rows    [][]types.Value
	emitted bool // advanced under the graph lock
	skip    bool // restored from a checkpoint taken after the rows were emitted
}

func (v *valuesSource) SnapshotPosition() ([]byte, error) {
	if v.emitted || v.skip {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}
func (v *valuesSource) RestorePosition(b []byte) error {
	v.emitted, v.skip = false, len(b) == 1 && b[0] == 1
	return nil
}
func (v *valuesSource) CheckpointComplete(context.Context, []byte) error { return nil }

func (v *valuesSource) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (v *valuesSource) Bounded() bool                 { return true }
func (v *valuesSource) Run(ctx context.Context, out changelog.Output) error {
	var b changelog.Batch
	for _, r := range v.rows {
		b.Append(changelog.Insert, r)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if v.skip {
		return nil
	}
	return connectors.PushThen(out, &b, func() { v.emitted = true })
}

// safeEnd ends an input of the graph, turning a panic in an operator's End into the job's error.
func safeEnd(name string, out changelog.Output) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error at the end of input %s: %v (please report this)", name, r)
		}
	}()
	return out.End()
}

// fieldTypes returns the types of a node's fields.
func fieldTypes(fs []planner.Field) []types.Type {
	ts := make([]types.Type, len(fs))
	for i, f := range fs {
		ts[i] = f.Type
	}
	return ts
}

// keysOutsideWindow returns the group keys (and their types) but the window's start and end: the keys a
// slice-shared or session window aggregate's subtasks are partitioned by.
func keysOutsideWindow(keys []int, keyTypes []types.Type, startKey, endKey int) ([]int, []types.Type) {
	var pkeys []int
	var ptypes []types.Type
	for i, k := range keys {
		if i != startKey && i != endKey {
			pkeys, ptypes = append(pkeys, k), append(ptypes, keyTypes[i])
		}
	}
	return pkeys, ptypes
}
