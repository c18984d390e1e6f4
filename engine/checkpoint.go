package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// participant is one stateful part of a job's graph: a source with a position, an operator with state, or a
// sink that pre-commits. Its id is derived from the plan (a hash of the node's subtree as EXPLAIN prints it),
// so the same query planned again in another run maps its state to the same parts.
type participant struct {
	id string
	// legacyID is the id older Sluice versions gave this part (see planIDs); restore falls back to it.
	legacyID string
	kind     string // "source", "operator", "sink"
	name     string
	src      connectors.Checkpointed
	op       state.Snapshotter
	sink     connectors.CheckpointedSink
	// store: an aggregate whose groups live in the rocksdb backend (checkpointed with the backend).
	store state.Store
	// shapeID is the id of the part in plans before the WATERMARK of an upsert scan went below its
	// ChangelogNormalize (watermarks.go: preShapeID); restore falls back to it too.
	shapeID string
}

// planID returns the stable id of a plan node: kind + a hash of its subtree as EXPLAIN prints it without
// changelog modes (a mode is derived from the plan, and a planner change that only refines a mode, e.g. a
// GroupAggregate over insert-only input becoming [I,UB,UA], must not orphan a savepoint's state); repeated
// subtrees (a self-join of one view) are told apart by their order in the graph.
func (g *graph) planID(kind string, n planner.Node) string {
	id, _ := g.planIDs(kind, n)
	return id
}

// planIDs returns planID and the id that Sluice before 2026-12 derived from the plan with its changelog
// modes, which restore still accepts so that older checkpoints and savepoints keep restoring.
func (g *graph) planIDs(kind string, n planner.Node) (id, legacy string) {
	if g.seenIDs == nil {
		g.seenIDs = map[string]int{}
	}
	count := func(id string) string {
		g.seenIDs[id]++
		if c := g.seenIDs[id]; c > 1 {
			id += "-" + strconv.Itoa(c)
		}
		return id
	}
	hash := func(modes bool) string {
		sum := sha256.Sum256([]byte(kind + "\n" + planner.Explain(n, modes)))
		return kind[:2] + "-" + hex.EncodeToString(sum[:8])
	}
	return count(hash(false)), count(hash(true))
}

// statefulNode reports plan nodes whose operators keep state in streaming mode.
func statefulNode(n planner.Node) bool {
	switch n := n.(type) {
	case *planner.WindowTVF:
		return n.Spec.Kind == exec.Session // TUMBLE/HOP/CUMULATE assign windows row by row
	case *planner.SinkMaterializer:
		return !n.ShuffleOnly
	case *planner.Aggregate, *planner.WindowAggregate, *planner.OverAggregate, *planner.MatchRecognize, *planner.Rank, *planner.WindowRank, *planner.WindowJoin,
		*planner.TopN, *planner.Sort, *planner.Limit, *planner.TemporalSort, *planner.Join, *planner.TemporalJoin, *planner.ChangelogNormalize:
		return true
	}
	return false
}

// register adds a stateful part for plan node n.
func (g *graph) register(n planner.Node, v any) {
	p := &participant{name: n.Describe()}
	switch n.(type) {
	case *planner.Scan, *planner.Values:
		src, ok := v.(connectors.Checkpointed)
		if !ok {
			return
		}
		p.kind, p.src = "source", src
	case *planner.Sink:
		sink, ok := v.(connectors.CheckpointedSink)
		if !ok {
			return
		}
		p.kind, p.sink = "sink", sink
	default:
		out, _ := v.(changelog.Output)
		op := exec.StateOf(out)
		if op == nil {
			if statefulNode(n) {
				g.unsnapshotted = append(g.unsnapshotted, n.Describe())
			}
			return
		}
		for _, q := range g.parts {
			if q.op == op {
				return // the inputs of a join or union share one operator
			}
		}
		p.kind, p.op = "operator", op
	}
	if id, ok := g.bsp.id(n); ok {
		p.id = id // a batch run writing a savepoint: the id of the streaming twin
	} else {
		p.id, p.legacyID = g.planIDs(p.kind, n)
		p.shapeID = g.preShapeID(p.kind, n)
	}
	g.parts = append(g.parts, p)
}

// checkpointer runs a streaming job's checkpoints (and, with checkpointing off, its commit cycles: sinks
// flush, then sources commit the offsets of what the sinks acknowledged).
type checkpointer struct {
	g       *graph
	cfg     checkpointConfig
	job     *Job
	nextID  int64
	jobDir  string // <checkpoints dir>/<job id>, "" without a directory
	notice  func(format string, args ...any)
	mu      sync.Mutex // serializes cycles (periodic, savepoint, final)
	failed  int        // consecutive failed checkpoints
	latest  *state.Checkpoint
	stopped bool
	// stopCut: STOP ... WITH SAVEPOINT cut with barriers (the sources read past the cut; final publishes nothing)
	stopCut bool
	// runDone holds a channel (<-chan struct{}) closed when the job's current run ends (a cancel, or a
	// failure): a STOP's savepoint write stops holding the graph then (checkpoint_stop.go). Stored when a run
	// starts, while a STOP may read it (a STOP right after the submit, or during a restart).
	runDone atomic.Value
}

func newCheckpointer(g *graph, cfg checkpointConfig, j *Job, notice func(string, ...any)) *checkpointer {
	c := &checkpointer{g: g, cfg: cfg, job: j, nextID: 1, notice: notice}
	if cfg.dir != "" {
		c.jobDir = filepath.Join(cfg.dir, j.id)
	}
	if cfg.interval == 0 {
		// Without checkpoints, sinks flush and sources commit as often as the most eager source asks
		// (Kafka: 'properties.auto.commit.interval.ms').
		for _, p := range g.parts {
			if ci, ok := p.src.(interface{ CommitInterval() time.Duration }); ok && ci.CommitInterval() > 0 {
				c.cfg.commitEvery = min(c.cfg.commitEvery, ci.CommitInterval())
			}
		}
	}
	return c
}

// loop triggers a cycle every interval until ctx ends. A failed checkpoint beyond the tolerable number fails
// the job through fail.
func (c *checkpointer) loop(ctx context.Context, fail func(error)) {
	every := c.cfg.commitEvery
	if c.cfg.interval > 0 {
		every = c.cfg.interval
	}
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		_, err := c.cycle(ctx, c.cfg.interval > 0, false)
		if errors.Is(err, errSinkEnded) {
			// The sinks ended (the job is finishing, or STOP JOB stopped it): nothing is left to checkpoint,
			// and this is no failure. Counting it as one failed a finishing job, whose restart then replayed
			// input after its last checkpoint into sinks that had already committed it.
			return
		}
		if errors.Is(err, errJobFailed) {
			// A push failed (push_failure.go): the graph holds part of a batch and no later cut may complete.
			// The part that failed fails the job with its error; this makes sure the job does not run on.
			fail(err)
			return
		}
		if err != nil && ctx.Err() == nil {
			c.failed++
			c.job.metrics.failedCheckpoints.Add(1)
			if c.cfg.interval > 0 && c.failed > c.cfg.tolerable {
				fail(fmt.Errorf("checkpoint failed and 'execution.checkpointing.tolerable-failed-checkpoints' is %d: %w", c.cfg.tolerable, err))
				return
			}
			c.notice("[WARNING] job %s: %v\n", c.job.id, err)
		} else if err == nil {
			c.failed = 0
		}
		next := every - time.Since(start)
		if c.cfg.minPause > 0 {
			next = max(next, c.cfg.minPause)
		}
		t.Reset(max(next, time.Millisecond))
	}
}

// errSinkEnded skips a cycle that comes after the job's sinks ended (the job is finishing).
var errSinkEnded = errors.New("the job's sinks have ended")

// cycle takes one consistent cut under the graph lock — source positions, operator state, sink pre-commits —
// then (durable=true) writes it as chk-<n>, commits the sinks and lets the sources publish their positions.
// With durable=false only sources and sinks take part (the commit cycle of a job without checkpointing).
// savepoint writes a savepoint under dir instead of a checkpoint. It returns the written directory.
func (c *checkpointer) cycle(ctx context.Context, durable bool, savepoint bool, dir ...string) (string, error) {
	return c.cut(ctx, durable, savepoint, false, false, dir...)
}

// cut is cycle with STOP JOB's extras: drain sends the maximum watermark through the graph before the cut
// (windows and timers fire), stop lets no row pass after the cut.
func (c *checkpointer) cut(ctx context.Context, durable, savepoint, drain, stop bool, dir ...string) (_ string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return "", errSinkEnded
	}
	g := c.g
	start := time.Now()
	id := c.nextID
	if err := g.checkFailed(id); err != nil { // push_failure.go
		return "", err
	}
	if drain {
		// from here the maximum watermark may reach the operators: a STOP WITH DRAIN that fails fails the
		// job (checkpoint_stop.go)
		defer func() { err = g.drainFailed(err) }()
	}
	md := &state.Metadata{Kind: "checkpoint", JobID: c.job.id, JobName: c.job.name, CheckpointID: id,
		Timestamp: start.UnixMilli(), RuntimeMode: ModeStreaming, Backend: c.cfg.backend, MaxParallelism: c.cfg.maxParallelism}
	if savepoint {
		md.Kind = "savepoint"
	}
	files := map[string]*state.FileWriter{}
	type pre struct {
		p   *participant
		pos []byte
	}
	var sources []pre
	var sinks []*participant
	var async []asyncPart
	pctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	// unaligned: periodic durable checkpoints only (savepoints are aligned, as in Flink; a commit cycle
	// writes no channel state)
	unaligned := g.barrierCheckpoints() && (c.cfg.unaligned || unalignedAll) && durable && !savepoint && !drain && !stop
	if unaligned {
		// exec.Exchange.StartOverdraft: a source subtask waiting for room in a keyed subtask's full queue
		// spills its rows and lets go of the gate (barrierCut ends the overdraft)
		g.startOverdraft()
	}
	// The gate (exchange.go): no source subtask routes into an exchange while the cut is taken, and none of
	// their rows is in flight.
	g.gate.Lock()
	var pause time.Duration
	openGate := sync.OnceFunc(func() {
		g.gate.Unlock()
		pause = time.Since(start) // the time the sources were held back
	})
	defer openGate()
	// Barriers (exchange_barrier.go): the sources continue while the keyed subtasks reach the cut; pos holds
	// the source positions recorded at it. Savepoints and STOP ... WITH SAVEPOINT too: with drain the
	// subtasks send the maximum watermark into their operators at their barriers; with stop the rows after
	// the cut stay queued behind the barriers and the job ends there. Otherwise quiesce: wait with the gate
	// closed until nothing is in flight.
	var pos map[*participant][]byte
	var gs gateState
	var gatePre map[*participant][]byte // sinks pre-committed at the gate (exchange_barrier.go)
	release := func() {}
	kept := false // STOP's cut was written: the keyed subtasks stay at their barriers until the job is cancelled
	if g.barrierCheckpoints() {
		var err error
		reopen := openGate
		if stop && len(g.gateSinks) > 0 {
			// source subtasks that write their sink themselves must not write past the cut: the gate stays
			// closed until the graph is stopping
			reopen = func() {}
		}
		pos, gs, gatePre, release, err = g.barrierCut(pctx, id, reopen, drain, unaligned)
		defer func() {
			if !kept {
				release()
			}
		}()
		if savepoint {
			barrierSavepoints.Add(1)
		}
		if err != nil {
			if errors.Is(err, errSinkEnded) {
				return "", err
			}
			return "", fmt.Errorf("checkpoint %d: %w", id, err)
		}
	} else if err := g.quiesce(drain); err != nil {
		return "", fmt.Errorf("checkpoint %d: %w", id, err)
	}
	g.mu.Lock()
	if g.sinksEnded() {
		g.mu.Unlock()
		return "", errSinkEnded
	}
	if drain {
		for _, sr := range g.sources {
			if err = g.failure.mark(sr.out.Watermark(changelog.MaxWatermark)); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = g.failure.mark(g.flushGraphLocals()) // twophase.go
	}
	if err == nil {
		err = g.waitLockFedSinks() // exchange_sink.go: every row of the cut in the sinks fed from under the lock
	}
	for _, p := range g.parts {
		if err != nil {
			break
		}
		ps := state.PartState{ID: p.id, Kind: p.kind, Name: p.name}
		switch {
		case p.src != nil:
			b, ok := pos[p]
			if !ok {
				if b, err = p.src.SnapshotPosition(); err != nil {
					err = fmt.Errorf("source %s: %w", p.name, err)
					break
				}
			}
			ps.Inline = b
			sources = append(sources, pre{p, b})
		case p.op != nil:
			if !durable {
				continue
			}
			w := state.NewFileWriter(c.cfg.maxParallelism)
			ps.File = p.id + ".state"
			files[ps.File] = w
			if es, ok := gs[p]; ok {
				// cut at the gate (exchange_barrier.go): the operator ran on in the source subtasks since
				for i := range es {
					if err = es[i].write(w); err != nil {
						err = fmt.Errorf("operator %s: %w", p.name, err)
						break
					}
				}
				if err != nil {
					break
				}
			} else if a, ok := p.op.(state.AsyncSnapshotter); ok {
				// The cut is taken now; the state is written after the lock is released.
				var write func(state.Writer) error
				if write, err = a.SnapshotAsync(); err != nil {
					err = fmt.Errorf("operator %s: %w", p.name, err)
					break
				}
				async = append(async, asyncPart{idx: len(md.Parts), name: p.name, w: w, write: write})
			} else if err = p.op.SnapshotState(w); err != nil {
				err = fmt.Errorf("operator %s: %w", p.name, err)
				break
			}
			ps.Entries, ps.Bytes = w.Entries(), w.Size()
		case p.store != nil:
			if !durable {
				continue
			}
		case p.sink != nil:
			st, ok := gatePre[p]
			if !ok {
				st, err = p.sink.PreCommit(pctx, id)
			}
			if err != nil {
				err = fmt.Errorf("sink %s: %w", p.name, err)
				break
			}
			ps.Inline = st
			sinks = append(sinks, p)
		}
		md.Parts = append(md.Parts, ps)
	}
	if err == nil {
		// A push that failed before this point (under this lock, or in a keyed subtask whose item the
		// waits above saw done) left part of its batch in the state just cut (push_failure.go).
		err = g.checkFailed(id)
	}
	if err == nil && stop && failStopAfterLock != nil {
		err = failStopAfterLock() // a test hook (reuse_hold.go)
	}
	backendDir := ""
	if err == nil && durable && g.backend != nil {
		parent := c.jobDir
		if savepoint {
			parent = dir[0]
		}
		if backendDir, err = g.backendCheckpoint(parent); err != nil {
			err = fmt.Errorf("state backend: %w", err)
		}
	}
	if err == nil {
		c.nextID++
	}
	w := cutWrite{id: id, start: start, md: md, files: files, async: async, backendDir: backendDir, durable: durable, savepoint: savepoint, dir: dir}
	abandoned := false // STOP: the job ended, or the caller gave up, during the write, which removes what it wrote (stopWrite)
	if backendDir != "" {
		defer func() {
			if !abandoned {
				_ = os.RemoveAll(backendDir) // moved into the checkpoint unless writing it failed
			}
		}()
	}
	path, werr := "", error(nil) // werr: the write's error, complete (cutWrite)
	if err == nil && stop {
		// STOP: the savepoint is written before the graph stops, with the lock (and the gate) still held, so
		// that no row passes the cut meanwhile and a failed write leaves the job running as if the STOP had
		// not been asked; a cancel or failure of the job meanwhile stops the graph at once (checkpoint_stop.go)
		path, werr = c.stopWrite(ctx, w)
		abandoned = errors.Is(werr, errStopCancelled) || errors.Is(werr, errStopAbandoned) // the write may still run
		if werr == nil || errors.Is(werr, errStopCancelled) {
			g.stopped = true
			g.stopping.Store(true)
			// Barriers: the rows the sources routed after the cut are queued behind them; the subtasks
			// that wait there are not released (they end with the job), nothing after the cut is
			// processed, and no later cycle or final() publishes positions past it.
			kept, c.stopped, c.stopCut = true, true, true
			g.endReusedHolds(false) // reuse_hold.go: what the reused scans' branches held is after the cut
		}
	}
	g.mu.Unlock()
	openGate()
	if !kept {
		release() // the keyed subtasks waiting at their barriers continue
	}
	if err == nil && !stop {
		// Operators that snapshot asynchronously write their cut now, while the pipeline runs.
		path, werr = c.write(w)
	}
	if err != nil {
		if errors.Is(err, errJobFailed) {
			return "", err
		}
		return "", fmt.Errorf("checkpoint %d: %w", id, err)
	}
	if werr != nil {
		return "", werr
	}
	if durable {
		c.job.noteCheckpoint(id, path, time.Since(start), pause, md)
	}
	for _, p := range sinks {
		if err := p.sink.Commit(ctx, id); err != nil {
			return path, fmt.Errorf("checkpoint %d: commit sink %s: %w", id, p.name, err)
		}
	}
	for _, s := range sources {
		if err := s.p.src.CheckpointComplete(ctx, s.pos); err != nil {
			c.notice("[WARNING] job %s: source %s: %v\n", c.job.id, s.p.name, err)
		}
	}
	return path, nil
}

// final publishes the sources' last positions after the sinks ended (flushed): a job that ends (bounded
// input, or cancelled) commits its Kafka offsets for everything its sinks wrote. It publishes nothing when
// the sinks may not have written everything the sources' positions cover: flushErr (a sink's End when the
// job was cancelled), a sink call that failed (endOnce), or a push that failed part-way (push_failure.go).
// A cancelled job's sinks used to be flushed with their errors ignored and the positions published anyway,
// so Kafka offsets were committed for records whose rows were never written (at-least-once then lost them
// on the next run from the group's offsets); now the last completed checkpoint's positions stay committed
// and the next run reads those records again.
func (c *checkpointer) final(ctx context.Context, flushErr error) {
	c.mu.Lock()
	c.stopped = true
	stopCut := c.stopCut
	c.mu.Unlock()
	if stopCut {
		return // the savepoint published the positions at its cut; the sources read past it
	}
	if flushErr == nil {
		flushErr = c.g.sinkFailure()
	}
	if flushErr == nil {
		flushErr = c.g.failure.load()
	}
	if flushErr != nil {
		if !c.publishesPositions() {
			return // no source commits a position outside the job: nothing to warn about
		}
		c.notice("[WARNING] job %s: the sources' final positions are not published (Kafka offsets not committed): a sink may not have written every row it was given: %v. The positions of the last completed checkpoint stay committed; a new run from them reads the rows after them again.\n", c.job.id, flushErr)
		return
	}
	for _, p := range c.g.parts {
		if p.src == nil {
			continue
		}
		pos, err := p.src.SnapshotPosition()
		if err == nil {
			err = p.src.CheckpointComplete(ctx, pos)
		}
		if err != nil {
			c.notice("[WARNING] job %s: source %s: %v\n", c.job.id, p.name, err)
		}
	}
}

// publishesPositions reports whether a source of the job publishes its positions outside it (Kafka offsets
// committed to a group: connectors.PositionPublisher).
func (c *checkpointer) publishesPositions() bool {
	for _, p := range c.g.parts {
		if pp, ok := p.src.(connectors.PositionPublisher); ok && pp.PublishesPositions() {
			return true
		}
	}
	return false
}

// stateIn returns the part's state in cp, found by its id or, for checkpoints written by older Sluice
// versions, by its legacy id.
func (p *participant) stateIn(cp *state.Checkpoint) (state.PartState, bool) {
	if ps, ok := cp.Part(p.id); ok {
		return ps, ok
	}
	if p.shapeID != "" {
		if ps, ok := cp.Part(p.shapeID); ok {
			return ps, ok
		}
	}
	if p.legacyID == "" {
		return state.PartState{}, false
	}
	return cp.Part(p.legacyID)
}

// restore loads a checkpoint or savepoint into a freshly built graph: every part of the checkpoint must map to
// a part of the plan (unless ignoreUnclaimed), and nothing runs when a part fails to load.
func (g *graph) restore(ctx context.Context, cp *state.Checkpoint, ignoreUnclaimed bool) error {
	byID := map[string]*participant{}
	for _, p := range g.parts {
		byID[p.id] = p
		if p.legacyID != "" {
			byID[p.legacyID] = p
		}
		if p.shapeID != "" {
			byID[p.shapeID] = p
		}
	}
	for _, ps := range cp.Metadata.Parts {
		if _, ok := byID[ps.ID]; !ok && !ignoreUnclaimed {
			return fmt.Errorf("%w: Failed to rollback to checkpoint/savepoint '%s'. Cannot map checkpoint/savepoint state for %s %s (id %s) to the new program, because the %s is not available in the new program (the query or a table it reads changed). If you want to allow to skip this, SET 'execution.savepoint.ignore-unclaimed-state' = 'true'",
				ErrValidation, cp.Dir, ps.Kind, ps.Name, ps.ID, ps.Kind)
		}
	}
	for _, p := range g.parts {
		ps, ok := p.stateIn(cp)
		switch {
		case p.src != nil:
			if ok {
				if err := p.src.RestorePosition(ps.Inline); err != nil {
					return fmt.Errorf("restore source %s from '%s': %w", p.name, cp.Dir, err)
				}
			}
		case p.op != nil:
			if !ok {
				continue
			}
			if ps.File == "" && cp.Metadata.Backend == state.KindRocksDB {
				return fmt.Errorf("%w: '%s' keeps the state of %s in the rocksdb state backend; restore it with SET 'state.backend.type' = 'rocksdb'", ErrValidation, cp.Dir, p.name)
			}
			r, err := cp.Reader(ps)
			if err != nil {
				return fmt.Errorf("restore %s from '%s': %w", p.name, cp.Dir, err)
			}
			if r == nil {
				continue
			}
			if err := p.op.RestoreState(exec.GuardChannelState(p.op, r)); err != nil {
				return fmt.Errorf("restore %s from '%s': %w", p.name, cp.Dir, err)
			}
		case p.store != nil:
			if !ok || ps.File == "" {
				continue // restored with the backend (or no state)
			}
			r, err := cp.Reader(ps)
			if err == nil {
				err = loadIntoStore(r, p.store)
			}
			if err != nil {
				return fmt.Errorf("restore %s from '%s' into the rocksdb backend: %w", p.name, cp.Dir, err)
			}
		case p.sink != nil:
			var st []byte
			id := int64(0)
			if ok {
				st, id = ps.Inline, cp.Metadata.CheckpointID
			}
			if err := p.sink.Restore(ctx, st, id); err != nil {
				return fmt.Errorf("restore sink %s from '%s': %w", p.name, cp.Dir, err)
			}
		}
	}
	g.dropChannelState(cp.Metadata.CheckpointID) // exchange_barrier.go
	g.noteRestoredChannels(cp.Dir)               // exchange_unaligned_restore.go
	return nil
}

// restoreFresh lets two-phase sinks clean up after a crashed run that used the same transactional prefix
// when a job starts without a checkpoint.
func (g *graph) restoreFresh(ctx context.Context) error {
	for _, p := range g.parts {
		if p.sink != nil {
			if err := p.sink.Restore(ctx, nil, 0); err != nil {
				return fmt.Errorf("start sink %s: %w", p.name, err)
			}
		}
	}
	return nil
}

// prepareState reads the session's checkpoint options for a job whose graph was just built, restores the
// graph from 'execution.savepoint.path' when set (all parts or nothing), attaches the checkpointer, and
// returns the job's restart strategy (nil: no restarts).
func (s *Session) prepareState(ctx context.Context, g *graph, j *Job, nodes []planner.Node, batch bool) (*streamRestart, error) {
	cfg, err := s.checkpointConfig()
	if err != nil {
		return nil, err
	}
	if !batch {
		s.noteIneffectiveState(g, cfg)
	}
	if !batch && cfg.interval > 0 && cfg.dir == "" {
		// As Flink's JobManager checkpoint storage: checkpoints that serve in-process restarts only.
		tmp := s.cfg.TempDir
		if tmp == "" {
			tmp = os.TempDir()
		}
		if cfg.dir, err = os.MkdirTemp(tmp, "sluice-checkpoints-"); err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		j.ephemeralDir = cfg.dir
	}
	if !batch && (cfg.interval > 0 || cfg.restorePath != "") && len(g.unsnapshotted) > 0 {
		return nil, fmt.Errorf("%w: checkpoints and savepoints do not hold the state of %s yet, so a restore would give wrong results; run this query without 'execution.checkpointing.interval' and 'execution.savepoint.path'", planner.ErrUnsupported, g.unsnapshotted[0])
	}
	notice := func(format string, args ...any) { fmt.Fprintf(s.cfg.Notice, format, args...) }
	c := newCheckpointer(g, cfg, j, notice)
	g.ckpt = c
	if cfg.restorePath != "" && !batch {
		cp := g.restoreCP
		if cp == nil {
			if cp, err = state.Load(cfg.restorePath); err != nil {
				return nil, fmt.Errorf("'execution.savepoint.path': %w", err)
			}
		}
		if err := g.restore(ctx, cp, cfg.ignoreUnclaimed); err != nil {
			return nil, err
		}
		c.nextID = cp.Metadata.CheckpointID + 1
		j.restoredFrom = cp.Dir
	} else if err := g.restoreFresh(ctx); err != nil {
		return nil, err
	}
	if batch {
		return nil, nil
	}
	policy, err := s.streamRestartPolicy(cfg.interval > 0)
	if err != nil || policy.kind == "none" {
		return nil, err
	}
	return &streamRestart{policy: policy, nodes: nodes, template: g, cfg: cfg, notice: notice}, nil
}

// abandon ends the sinks of a graph that will not run (its restore failed), so their clients close.
func (g *graph) abandon() {
	for _, s := range g.sinks {
		_ = s.End()
	}
	if g.staged != nil {
		g.staged.abandon() // the stage graphs built at submit (batch_exchange.go)
	}
	g.closeSubtasks()
	if g.backend != nil {
		_ = g.backend.Close()
		g.backend = nil
	}
	g.removePipelinedJobDir() // batch_jobdir.go
}

// Stop stops a running streaming job as Flink's STOP JOB does: with savepointDir set, it first writes a
// savepoint there (with drain, after the maximum watermark has flushed windows and timers) and lets no row
// pass after it, then cancels the job and waits for it. It returns the savepoint's path.
func (j *Job) Stop(ctx context.Context, savepointDir string, drain bool) (string, error) {
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if j.Status() != JobRunning || g == nil {
		return "", fmt.Errorf("%w: job '%s' is %s, not running", ErrValidation, j.id, j.Status())
	}
	path := ""
	if savepointDir != "" {
		if g.batch || g.ckpt == nil {
			return "", fmt.Errorf("%w: job '%s' runs in batch mode; STOP JOB ... WITH SAVEPOINT needs a streaming job (a batch job writes its savepoint at its end with 'sluice.batch.savepoint-dir')", ErrValidation, j.id)
		}
		var err error
		if path, err = g.ckpt.cut(ctx, true, true, drain, true, savepointDir); err != nil {
			waitDiscarded(err)               // checkpoint_stop.go
			return "", stopFailed(j.id, err) // checkpoint_stop.go
		}
	}
	j.Cancel()
	return path, nil
}

// retain applies 'execution.checkpointing.externalized-checkpoint-retention' when the job ends: as Flink,
// NO_EXTERNALIZED_CHECKPOINTS removes the job's checkpoints when it finishes or is cancelled,
// DELETE_ON_CANCELLATION when it is cancelled, RETAIN_ON_CANCELLATION never. A failed (or killed) job keeps
// them, so that it can be restored.
func (c *checkpointer) retain(status JobStatus) {
	del := false
	switch c.cfg.retention {
	case "NO_EXTERNALIZED_CHECKPOINTS", "":
		del = status == JobFinished || status == JobCancelled
	case "DELETE_ON_CANCELLATION":
		del = status == JobCancelled
	}
	if del {
		_ = os.RemoveAll(c.jobDir)
	}
}

// prepareBackend opens the rocksdb backend of a streaming job before its graph is built (its aggregates take
// their Stores from it), restored from 'execution.savepoint.path' when that checkpoint used it.
func (s *Session) prepareBackend(g *graph, j *Job) error {
	if g.batch {
		return nil
	}
	cfg, err := s.checkpointConfig()
	if err != nil || cfg.backend != state.KindRocksDB {
		return err
	}
	if cfg.restorePath != "" {
		if g.restoreCP, err = state.Load(cfg.restorePath); err != nil {
			return fmt.Errorf("'execution.savepoint.path': %w", err)
		}
	}
	g.backend, _, err = openBackend(g.tempDir, j.id, g.restoreCP)
	return err
}

// noteIneffectiveState warns about state settings that a streaming job accepts but that cannot act on it, so
// that nothing is silently ignored.
func (s *Session) noteIneffectiveState(g *graph, cfg checkpointConfig) {
	warn := func(format string, args ...any) { fmt.Fprintf(s.cfg.Notice, "[WARNING] "+format+"\n", args...) }
	if v, set := s.opts["execution.checkpointing.incremental"]; set {
		switch {
		case cfg.backend == state.KindRocksDB && v == "false":
			warn("'execution.checkpointing.incremental' = 'false' has no effect: checkpoints of the rocksdb backend are always incremental (unchanged SSTables are hard links)")
		case cfg.backend != state.KindRocksDB && v == "true":
			warn("'execution.checkpointing.incremental' = 'true' has no effect with the hashmap backend: its checkpoints are full snapshots (use 'state.backend.type' = 'rocksdb')")
		}
	}
	if cfg.backend == state.KindRocksDB && cfg.maxParallelism != state.DefaultMaxParallelism {
		warn("'pipeline.max-parallelism' = '%d' does not apply to the GROUP BY state in the rocksdb backend, which groups keys into %d key groups", cfg.maxParallelism, state.DefaultMaxParallelism)
	}
	if _, set := s.opts["sluice.batch.savepoint-dir"]; set {
		warn("'sluice.batch.savepoint-dir' applies to BATCH runs; this job runs in streaming mode and writes no batch savepoint")
	}
	if cfg.unaligned && cfg.interval > 0 {
		g.noteUnaligned(warn) // exchange_barrier.go
	}
	if cfg.ttl > 0 {
		for _, n := range g.noTTL {
			warn("'table.exec.state.ttl' does not expire the state of %s yet", n)
		}
	}
}
