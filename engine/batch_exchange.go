package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Batch stages (Flink's blocking exchanges and region failover). With 'execution.batch-shuffle-mode' =
// 'ALL_EXCHANGES_BLOCKING' (the default) and a restart strategy that allows restarts, an INSERT job (or a
// SELECT: batch_select.go) in batch mode is cut into stages at the points where Flink has a blocking exchange:
//
//   - in front of every input of an operator that Flink feeds through a keyed or global exchange: aggregates
//     (GROUP BY, window aggregates), joins (regular and window), sort, rank and top-N, OVER aggregates and
//     ChangelogNormalize;
//   - in front of every sink (the sink stage restarts from its materialized input without recomputing it),
//     and in front of a SELECT's collect;
//   - after a node read by several parents (a reused source): it is computed once and read by each.
//
// A stage runs its operators from its sources (connector sources, or the intermediate result files of the
// stages before it) to its output: an Arrow IPC file (ipc_file.go) or a sink. A stage starts when all its
// input stages finished; independent stages run at the same time. When a stage fails it alone is restarted,
// reading its inputs' files again; a predecessor runs again only when its file is gone. Restarts follow
// 'restart-strategy' as the sink stage always did (batchRestartPolicy: attempts counted for the whole job).
// The files live in a directory per job under 'io.tmp.dirs' (else the system temporary directory); a stage's
// files are removed once no stage can read them any more (batch_free.go), the directory when the job ends.

// StageAttempt is one run of one batch stage.
type StageAttempt struct {
	Stage    int    // 1-based, in the order stages were planned (inputs first)
	Task     int    // 0-based index of the stage's task (batch_tasks.go)
	Tasks    int    // the stage's number of tasks
	Name     string // the stage's operators, inputs first ("Source: src -> Calc")
	Attempt  int    // 1 for the first run of the task
	RowsRead int64  // rows the stage read from its sources or its inputs' intermediate result files
	Err      error  // nil when the attempt succeeded
}

// StageAttempts lists the runs of a batch job's stages so far (nil for a job that is not cut into stages).
func (j *Job) StageAttempts() []StageAttempt {
	j.mu.Lock()
	g := j.graph
	j.mu.Unlock()
	if g == nil || g.staged == nil {
		return nil
	}
	sj := g.staged
	sj.mu.Lock()
	defer sj.mu.Unlock()
	return append([]StageAttempt(nil), sj.log...)
}

// stageFault, when set by a test, is called as a stage's task reads its inputs: after every batch (end
// false) and when an input ends (end true). An error fails the attempt. It is nil in production.
var stageFault func(st *batchStage, task, attempt int, rowsRead int64, end bool) error

// batchStage is one stage of a staged batch job.
type batchStage struct {
	id     int
	name   string
	root   planner.Node // a node whose result is cut off (its output goes to path), or a Sink
	path   string       // the intermediate result file ("" for a sink stage); with several files, their prefix (file)
	types  []types.Type
	inputs []*batchStage

	tasks    []*stageTask // batch_tasks.go
	split    []splitIn    // a source stage whose tasks read the splits of these scans' ParallelSources
	splitMu  sync.Mutex   // held while a split source stage runs (its tasks restart together)
	parts    int          // subpartitions of each task's result: the consumer's tasks (0, 1: one file)
	partKeys []int        // the consumer's key columns the subpartitions are hashed by (none: round-robin)
	sink     *stageSink   // a sink stage whose tasks write one Output (batch_sink.go)
	forward  bool         // task i reads only task i's file of its input (batch_sink.go)

	fused     []*batchStage               // forward stages whose tasks run in this stage's tasks (batch_fuse.go)
	fusedInto *batchStage                 // the stage whose tasks run this one's (batch_fuse.go)
	noFile    bool                        // every reader is fused into it: it writes no file of its own
	rowWise   bool                        // row-wise operators only, over inputs read unhashed (batch_fuse.go)
	hashed    []partitioning              // extra partitionings for keyed consumers of a reused result (batch_reuse.go)
	inParts   map[*batchStage][]int       // per input: the partitioning each edge reads, in the plan's order (0: ordinary)
	inEdges   map[*batchStage][]stageEdge // per input: the edges of inParts, same order (batch_mixed.go checks the build)
}

// stageRun is one attempt's graph.
type stageRun struct {
	g        *graph
	outs     []*ipcWriter         // one per subpartition
	rows     atomic.Int64         // rows read
	sinkRows atomic.Int64         // rows given to sinks
	fused    []fusedPart          // the fused stages' shares of the attempt (batch_fuse.go)
	lookups  []*taskLookup        // the attempt's lookup handles, closed when it ends (batch_lookup.go)
	spillers []exec.SpillReleaser // operators that may hold spill files, released when the attempt fails (batch_spill.go)
}

// stagedJob is a batch job cut into stages.
type stagedJob struct {
	g      *graph // the job's template graph (configuration, parts for the checkpointer)
	job    *Job
	cut    map[planner.Node]bool
	byRoot map[planner.Node]*batchStage
	stages []*batchStage
	dirs   []string   // per-job directories holding the files
	locks  []*os.File // their lock files, held while the job runs (jobdir_unix.go)

	query bool // a SELECT's (batch_select.go): its root is a batchCollect

	mu       sync.Mutex
	log      []StageAttempt
	restarts int
	flushErr error                                 // of a sink flushed when the job was cancelled (attemptStaged)
	finished map[*batchStage]bool                  // stages that ran to their end (batch_flush.go, batch_free.go)
	freed    map[*batchStage]bool                  // stages whose files were removed (batch_free.go)
	lookups  map[*planner.LookupJoin]*sharedLookup // the lookup sources of stages of several tasks (batch_lookup.go)
}

// stageBuild is set on the graph of one stage attempt: the build stops at cut nodes other than the root
// and reads their intermediate result files instead.
type stageBuild struct {
	sj      *stagedJob
	st      *batchStage
	task    *stageTask
	run     *stageRun
	attempt int
	rootNow bool  // the root has been reached
	err     error // of building the root when input built it (a sink stage's task: batch_sink.go)

	fusing   *fusedBranch        // the fused stage being built (batch_fuse.go)
	fuseRoot planner.Node        // its root, until it is built
	taken    map[*batchStage]int // edges of each input built so far (batch_reuse.go)
	building []planner.Node      // the operators being built, innermost last (batch_mixed.go)
	under    map[builtEdge]int   // per operator and input stage: edges built so far (batch_mixed.go)
	inputs   []builtInput        // the inputs buildInputs is building, innermost last (batch_mixed.go)
	orderErr error               // an input built for another edge than planned (batch_mixed.go)
}

// blockingNode reports operators that Flink feeds through a blocking exchange in batch mode.
func blockingNode(n planner.Node) bool {
	switch n.(type) {
	case *planner.Sink, *batchCollect, *planner.Aggregate, *planner.WindowAggregate, *planner.Join, *planner.WindowJoin, *planner.Sort,
		*planner.TopN, *planner.Rank, *planner.WindowRank, *planner.OverAggregate, *planner.ChangelogNormalize:
		return true
	}
	return false
}

// buildJob builds the graph of an INSERT job: cut into stages (batch, blocking exchanges, restarts allowed,
// no batch savepoint) or as one pipelined graph.
func (g *graph) buildJob(roots []planner.Node, j *Job, blocking bool) error {
	if !g.batch || !blocking || g.bsp != nil || g.restart.attempts <= 1 {
		if err := g.makePipelinedJobDir(j); err != nil { // batch_jobdir.go
			return err
		}
		for _, n := range roots {
			if err := g.build(n, nil, j); err != nil {
				return err
			}
		}
		return nil
	}
	if stageRootsHook != nil {
		stageRootsHook(roots) // batch_mixed.go
	}
	sj := &stagedJob{g: g, job: j, cut: map[planner.Node]bool{}, byRoot: map[planner.Node]*batchStage{}}
	seen := map[planner.Node]bool{}
	var mark func(n planner.Node)
	mark = func(n planner.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			if blockingNode(n) || g.parents[in] > 1 {
				sj.cut[in] = true
			}
			mark(in)
		}
	}
	for _, r := range roots {
		mark(r)
	}
	for _, r := range roots {
		sj.plan(r)
		_, c := r.(*batchCollect)
		sj.query = sj.query || c
	}
	sj.planTasks(g.subtasks)
	g.staged = sj
	if err := sj.openSinks(); err != nil {
		sj.abandon()
		return err
	}
	for _, st := range sj.stages {
		if st.fusedInto != nil {
			continue // built and run by its producer's tasks (batch_fuse.go)
		}
		for _, tk := range st.tasks {
			run, err := sj.build(tk, 1)
			if err != nil {
				sj.abandon()
				return err
			}
			tk.first = run
			if tk.index == 0 {
				g.parts = append(g.parts, run.g.parts...)
			}
		}
	}
	return nil
}

// plan creates the stage of root after the stages of its inputs.
func (sj *stagedJob) plan(root planner.Node) *batchStage {
	if st := sj.byRoot[root]; st != nil {
		return st
	}
	st := &batchStage{root: root}
	var labels []string
	seen := map[planner.Node]bool{}
	var walk func(n planner.Node)
	walk = func(n planner.Node) {
		if seen[n] {
			return
		}
		seen[n] = true
		for _, in := range n.Inputs() {
			if sj.cut[in] {
				st.inputs = append(st.inputs, sj.plan(in))
				continue
			}
			walk(in)
		}
		labels = append(labels, stageLabel(n))
	}
	walk(root)
	sj.stages = append(sj.stages, st)
	st.id = len(sj.stages)
	st.name = strings.Join(labels, " -> ")
	switch root.(type) {
	case *planner.Sink, *batchCollect: // their output is a sink's, or the client's (batch_select.go)
	default:
		st.types = fieldTypes(root.Fields())
		st.path = fmt.Sprintf("stage-%d.arrow", st.id) // made absolute when the job's directories exist
	}
	sj.byRoot[root] = st
	return st
}

// stageLabel is the short name of an operator in a stage's name.
func stageLabel(n planner.Node) string {
	switch n := n.(type) {
	case *planner.Scan:
		return "Source: " + n.Table.Name
	case *planner.Sink:
		return "Sink: " + n.Table.Name
	case *planner.Aggregate:
		if n.Batch {
			return "SortAggregate"
		}
		return "GroupAggregate"
	case *planner.Join:
		if n.Batch {
			return "HashJoin"
		}
		return "Join"
	}
	d := n.Describe()
	if i := strings.IndexByte(d, '('); i > 0 {
		d = d[:i]
	}
	return d
}

// stageGraph returns an empty graph with the template's configuration for one stage attempt.
func (g *graph) stageGraph() *graph {
	return &graph{batch: true, tempDir: g.tempDir, sortMemory: g.sortMemory, loc: g.loc, restart: g.restart, notice: g.notice,
		maxPar: g.maxPar, subtasks: g.subtasks, idleTimeout: g.idleTimeout}
}

// spillDir is where a task's operators spill (sort runs, OVER queues): the job's directory under its share
// of 'io.tmp.dirs' (tasks take the directories in turn), not that directory itself. The job's directory is
// removed when the job ends and swept by the next staged job when a kill left it, so an attempt that failed
// before its sort ended (which removes its runs only then) or a killed process leaves none of them behind
// (TestBatchSpillFilesInJobDir). The directory is made once the job is submitted (makeDirs), before a task
// runs; the operators create their files only as they run.
func (sj *stagedJob) spillDir(tk *stageTask) string {
	dirs := sj.g.tmpDirs
	if len(dirs) == 0 {
		dirs = []string{sj.g.tempDir}
	}
	return filepath.Join(dirs[(tk.st.id+tk.index)%len(dirs)], "sluice-job-"+sj.job.id)
}

// build builds one attempt of a stage's task.
func (sj *stagedJob) build(tk *stageTask, attempt int) (*stageRun, error) {
	st := tk.st
	run := &stageRun{g: sj.g.stageGraph()}
	run.g.tempDir = sj.spillDir(tk)
	run.g.stage = &stageBuild{sj: sj, st: st, task: tk, run: run, attempt: attempt}
	var out changelog.Output
	if st.path != "" {
		var err error
		if out, err = sj.newStageOutput(run, tk); err != nil {
			return nil, err
		}
	}
	out, err := sj.buildFused(run, tk, attempt, out) // batch_fuse.go
	if err == nil {
		err = run.g.build(st.root, out, sj.job)
	}
	if err == nil {
		err = run.g.stage.err // of a sink or collect task built by input
	}
	if err == nil {
		err = run.g.stage.orderErr
	}
	if err != nil {
		run.g.abandon()
		return nil, err
	}
	cols := keylessAggColumns(st.root, sj.cut) // batch_input_vec.go
	for i := range run.g.sources {
		sr := &run.g.sources[i]
		sr.out = &stageInput{tk: tk, run: run, attempt: attempt, out: sr.out, cols: cols}
	}
	return run, nil
}

// input is called by graph.build for every node of a stage attempt's graph: a cut node other than the root
// becomes a source reading its stage's intermediate result file. It reports whether it handled n.
func (b *stageBuild) input(g *graph, n planner.Node, out changelog.Output) bool {
	b.noteSpiller(out) // batch_spill.go
	if fused, done := b.fuseInput(n, out); fused {
		return done
	}
	if b.splitInput(g, n, out) {
		return true
	}
	if n == b.st.root && !b.rootNow {
		b.rootNow = true
		if sk, ok := n.(*planner.Sink); ok && b.st.sink != nil {
			b.err = b.sinkTask(g, sk) // batch_sink.go
			return true
		}
		if c, ok := n.(*batchCollect); ok {
			b.err = b.collectTask(g, c) // batch_select.go
			return true
		}
		return false
	}
	in := b.sj.byRoot[n]
	if in == nil || !b.sj.cut[n] {
		return false
	}
	slot, err := b.nextInputSlot(in)
	if err != nil {
		if b.orderErr == nil {
			b.orderErr = err // reported by build (batch_mixed.go)
		}
		return true
	}
	g.sources = append(g.sources, sourceRun{name: fmt.Sprintf("(the intermediate result of stage %d)", in.id),
		src: &ipcSource{st: in, part: slot, only: forwardTask(in, b.task)}, out: out})
	return true
}

// stageInput counts the rows a stage's task reads (and lets a test inject a fault).
type stageInput struct {
	tk      *stageTask
	run     *stageRun
	attempt int
	out     changelog.Output
	cols    bool        // the stage reads columns (batch_input_vec.go)
	conv    vec.RowConv // columns converted to rows where it does not
}

func (s *stageInput) Push(b *changelog.Batch) error {
	n := s.run.rows.Add(int64(len(b.Rows)))
	if err := s.out.Push(b); err != nil {
		return s.branchErr(err)
	}
	if stageFault != nil {
		return s.branchErr(stageFault(s.tk.st, s.tk.index, s.attempt, n, false))
	}
	return nil
}

func (s *stageInput) Watermark(ts int64) error { return s.branchErr(s.out.Watermark(ts)) }
func (s *stageInput) End() error {
	if stageFault != nil {
		if err := stageFault(s.tk.st, s.tk.index, s.attempt, s.run.rows.Load(), true); err != nil {
			return s.branchErr(err)
		}
	}
	return s.branchErr(s.out.End())
}

// makeDirs creates the job's directories, one under each of dirs, and places the stage files in them in turn.
func (sj *stagedJob) makeDirs(dirs []string) error {
	for _, d := range dirs {
		sweepJobDirs(d) // directories of killed processes' jobs
		jd, lock, err := makeJobDir(d, sj.job.id)
		if err != nil {
			sj.removeDirs()
			return err
		}
		sj.dirs = append(sj.dirs, jd)
		sj.locks = append(sj.locks, lock)
	}
	for i, st := range sj.stages {
		if st.path != "" {
			st.path = filepath.Join(sj.dirs[i%len(sj.dirs)], filepath.Base(st.path))
		}
	}
	for _, st := range sj.stages {
		for _, tk := range st.tasks {
			if tk.first == nil {
				continue
			}
			for p, w := range tk.first.outs {
				w.path = st.slotFile(tk.index, p)
			}
			for _, fp := range tk.first.fused {
				for p, w := range fp.run.outs {
					w.path = fp.tk.st.slotFile(fp.tk.index, p)
				}
			}
		}
	}
	return nil
}

// jobDirDonePrefix names a job directory being removed: sweeps remove such directories whatever their lock.
const jobDirDonePrefix = "sluice-done-"

// jobDirNewPrefix names a job directory before its lock file is locked (makeDirs).
const jobDirNewPrefix = "sluice-new-"

func (sj *stagedJob) removeDirs() {
	for i, d := range sj.dirs {
		removeJobDir(d, sj.locks[i])
	}
	sj.dirs, sj.locks = nil, nil
}

// abandon releases the graphs of stages that never ran, and drops the rows of sinks that did not finish.
func (sj *stagedJob) abandon() {
	for _, st := range sj.stages {
		st.sink.abort()
		for _, tk := range st.tasks {
			if tk.first != nil {
				tk.first.g.abort()
				tk.first.g.closeSubtasks()
				tk.first = nil
			}
		}
	}
}

// run runs the stages, inputs first, independent stages at the same time; the files are removed at the end.
func (sj *stagedJob) run(ctx context.Context) (JobStatus, error) {
	defer sj.removeDirs()
	defer sj.abandon()
	if err := sj.makeDirs(sj.g.tmpDirs); err != nil {
		return JobFailed, fmt.Errorf("job %s failed: %w", sj.job.id, err)
	}
	done := map[*batchStage]bool{}
	for len(done) < len(sj.stages) {
		var wave []*batchStage
		for _, st := range sj.stages {
			ready := !done[st]
			for _, in := range st.inputs {
				ready = ready && done[in]
			}
			if ready {
				wave = append(wave, st)
			}
		}
		wctx, cancel := context.WithCancel(ctx)
		errs := make([]error, len(wave))
		var wg sync.WaitGroup
		for i, st := range wave {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if errs[i] = sj.runStage(wctx, st); errs[i] != nil {
					cancel()
				} else {
					sj.stageFinished(st) // batch_free.go
				}
			}()
		}
		wg.Wait()
		cancel()
		var err error
		for _, e := range errs {
			if err == nil || errors.Is(err, context.Canceled) && e != nil && !errors.Is(e, context.Canceled) {
				err = e
			}
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, context.Canceled) {
				return JobCancelled, nil
			}
			return JobFailed, fmt.Errorf("job %s failed: %w", sj.job.id, err)
		}
		for _, st := range wave {
			done[st] = true
		}
	}
	return JobFinished, nil
}

// runLocked runs task tk (its lock held) until it succeeds or the restart strategy gives up.
func (sj *stagedJob) runLocked(ctx context.Context, tk *stageTask) error {
	st := tk.st
	for {
		for _, in := range st.inputs {
			if err := sj.ensure(ctx, in, tk); err != nil {
				return err
			}
		}
		err := sj.attempt(ctx, tk)
		if err == nil || ctx.Err() != nil {
			return err
		}
		what := "from its sources"
		if len(st.split) > 0 {
			what = "from the start of its own splits (the other tasks' results are kept)"
		}
		if len(st.inputs) > 0 {
			what = fmt.Sprintf("from the intermediate results of its inputs (%d rows)", sj.inputRows(tk))
		}
		if err := sj.backOff(ctx, err, failedWhat(err, fmt.Sprintf("stage %d (%s)%s", st.id, st.name, tk.what())),
			fmt.Sprintf("stage %d%s alone%s, %s", st.id, tk.what(), withFused(st, err), what)); err != nil {
			return err
		}
	}
}

// backOff counts a failed attempt (of what failed, with err) against the job's restart strategy. When a
// restart is left it announces it (what restarts, and from where) and waits the strategy's delay; else it
// returns the error to fail the job with (or ctx's, when the job ends while it waits).
func (sj *stagedJob) backOff(ctx context.Context, err error, failed, restarting string) error {
	err = unnameSink(err, failed) // sink_failure.go
	sj.mu.Lock()
	sj.restarts++
	n := sj.restarts
	sj.mu.Unlock()
	policy := sj.g.restart
	if n >= policy.attempts {
		if sj.query {
			return err // as the query run in one piece fails (the warnings above named the stage)
		}
		return fmt.Errorf("%s: %w", failed, err)
	}
	fmt.Fprintf(sj.g.notice, "[WARNING] Job %s: %s failed: %v\n[WARNING] Restarting %s, in %s (restart %d of %d).\n",
		sj.job.id, failed, err, restarting, policy.delay, n, policy.attempts-1)
	t := time.NewTimer(policy.delay)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
	}
	return nil
}

// attempt runs one attempt of task tk.
func (sj *stagedJob) attempt(ctx context.Context, tk *stageTask) error {
	st := tk.st
	tk.attempts++
	run := tk.first
	tk.first = nil
	if tk.attempts > 1 || run == nil {
		if err := tk.restartSplit(); err != nil {
			return err
		}
		var err error
		if run, err = sj.build(tk, tk.attempts); err != nil {
			return err
		}
		for _, sr := range run.g.sources {
			if c, ok := sr.src.(connectors.Checkpointed); ok {
				if err := c.RestorePosition(nil); err != nil { // read the source again from its start
					run.g.abort()
					return err
				}
			}
		}
		if err := run.g.restoreFresh(ctx); err != nil {
			run.g.abort()
			return err
		}
	}
	for _, fp := range run.fused {
		fp.tk.attempts++
	}
	stopInterrupt := run.g.interruptOnCancel(ctx) // sink_interrupt.go
	err := runSources(ctx, run.g)
	stopInterrupt()
	if err != nil || ctx.Err() != nil {
		run.g.interruptSinks() // cancelled or failed: the End or Abort below do not wait on silent brokers
	}
	run.closeLookups()
	if err != nil && ctx.Err() != nil && len(run.g.sinks) > 0 {
		// Cancelled: flush what the sinks were given, as a pipelined job does. A sink that fails then (or
		// failed before) keeps the sources from publishing their final positions (checkpoint.go final).
		run.g.mu.Lock()
		for _, s := range run.g.sinks {
			_ = s.End()
		}
		run.g.mu.Unlock()
		if ferr := run.g.sinkFailure(); ferr != nil {
			sj.noteFlushErr(ferr)
		} else {
			sj.mu.Lock()
			tk.flushed = true
			sj.mu.Unlock()
		}
	}
	if err != nil {
		run.g.abort()
		run.releaseSpills() // batch_spill.go
		for _, w := range run.outs {
			w.discard()
		}
		sj.job.rowsOut.Add(-run.sinkRows.Load()) // the job's rows out are those of the successful attempts
	}
	run.g.closeSubtasks()
	sj.mu.Lock()
	sj.log = append(sj.log, StageAttempt{Stage: st.id, Task: tk.index, Tasks: len(st.tasks), Name: st.name, Attempt: tk.attempts,
		RowsRead: run.rows.Load(), Err: err})
	if err == nil {
		tk.flushed = true
	}
	if err == nil && len(run.outs) > 0 {
		tk.written = tk.written[:0]
		for _, w := range run.outs {
			tk.written = append(tk.written, w.rows)
		}
	}
	sj.endFused(run, err)
	sj.mu.Unlock()
	return err
}

// runSources runs the sources of a graph to their end (or the first error) and returns the first error.
func runSources(ctx context.Context, g *graph) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(g.sources))
	for _, sr := range g.sources {
		wg.Add(1)
		go func(sr sourceRun) {
			defer wg.Done()
			out := &locked{mu: &g.mu, out: sr.out, stopped: &g.stopped, failure: &g.failure}
			err := runSource(ctx, sr, out)
			if err == nil {
				err = safeEnd(sr.name, out)
			}
			if err != nil {
				errs <- err
				cancel()
			}
		}(sr)
	}
	wg.Wait()
	close(errs)
	var err error
	for e := range errs {
		if err == nil || errors.Is(err, context.Canceled) && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	return err
}

// attemptStaged runs a staged batch job (graph.attempt hands it over).
func (j *Job) attemptStaged(ctx context.Context, g *graph) (JobStatus, error) {
	status, err := g.staged.run(ctx)
	if status != JobFailed && g.ckpt != nil {
		// The sinks have ended (flushed): the sources may publish their final positions, unless a sink
		// failed to flush at the cancellation.
		g.ckpt.final(context.WithoutCancel(ctx), g.staged.flushFailure())
	}
	return status, err
}

// tmpDirs is 'io.tmp.dirs' split as Flink splits it (',', '|' or ':'); else the session's temporary
// directory, else the system's.
func (s *Session) tmpDirs() []string {
	var dirs []string
	for _, d := range strings.FieldsFunc(s.opts["io.tmp.dirs"], func(r rune) bool { return r == ',' || r == '|' || r == os.PathListSeparator }) {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) > 0 {
		return dirs
	}
	if s.cfg.TempDir != "" {
		return []string{s.cfg.TempDir}
	}
	return []string{os.TempDir()}
}

// blockingExchanges reports whether batch jobs cut their plans at blocking exchanges
// ('execution.batch-shuffle-mode' = 'ALL_EXCHANGES_BLOCKING', the default).
func (s *Session) blockingExchanges() bool {
	v, ok := s.opts["execution.batch-shuffle-mode"]
	return !ok || v == "ALL_EXCHANGES_BLOCKING"
}
