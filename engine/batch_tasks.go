package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Batch stages as parallel tasks (Flink's batch job vertices at parallelism P behind blocking hash
// exchanges). A keyed stage runs as P = 'parallelism.default' (or 'table.exec.resource.default-parallelism')
// tasks: every operator at its bottom is a keyed blocking operator with keys (GROUP BY with keys, equi-joins,
// Rank with PARTITION BY, OVER with PARTITION BY, ChangelogNormalize, window aggregates, window joins other
// than the NULL-aware anti join, window ranks with PARTITION BY), the operators above them work row by row
// (Calc, Union, Expand, lookup joins, window TVFs other than SESSION), and each of its inputs is read by
// it by key (a result that other stages read too gets a partitioning per key: batch_reuse.go), or by a
// row-wise operator from an insert-only input dealt round-robin to the tasks, or from a changelog hashed by
// its upsert key (batch_mixed.go changelogRead). Task i owns the
// key groups kg with kg * P / maxParallelism = i, as keyed subtasks do in streaming.
// A source stage (no input stage) whose scans are of connectors.ParallelSources under row-wise operators runs
// as their Subtasks(P) tasks (splitScans: beside them, VALUES and a scan of another source, jdbc, are read
// whole by task 0). Every other stage (a global operator: keyless aggregates and joins, Sort, ORDER BY ...
// LIMIT, ranks without PARTITION BY; a keyed stage reading a changelog that no key keeps together, batch_mixed.go; the
// Collect stage of a SELECT, batch_select.go) runs as one task (Flink's Exchange(distribution=[single])); sink
// stages run as tasks of their own (batch_sink.go).
//
// The exchange: each task of a stage that feeds a P-task stage writes its result as P files, one per
// subpartition (stage-<n>-<task>-<subpartition>.arrow): its rows are routed by the hash of the consumer's key
// columns (state.KeyGroup of the key's encoding, as exec.Exchange routes). Task i of the consumer reads
// subpartition i of every task of each input, task after task. A stage with one task feeding a one-task
// stage writes one file, stage-<n>.arrow, as before. One file per subpartition (rather than one file with an
// index of row ranges) lets a task write every subpartition as it goes, without sorting or buffering its
// output, and lets a consumer task read only its own bytes; the cost is P files per producer task.
//
// Failover is per task: a failed task attempt discards its partial files and runs again alone, reading its
// subpartitions of its inputs' files; a producer task runs again only when one of its files that the
// consumer task needs is gone. A source task runs again alone from the start of its own splits when its source
// is a connectors.SubtaskRestarter (else its stage's tasks run again together). Restarts are counted over the job as before; Job.StageAttempts lists each
// task's attempts (StageAttempt.Task).

// stageTask is one task of a batch stage.
type stageTask struct {
	st    *batchStage
	index int // 0-based

	mu       sync.Mutex // held while the task runs
	attempts int
	flushed  bool      // its last attempt succeeded, or was cancelled and its sinks flushed their rows (under stagedJob.mu)
	written  []int64   // rows per subpartition of the last successful attempt (under stagedJob.mu)
	first    *stageRun // the first attempt, built at submit so that errors show up there
}

// what names the task after its stage in notices: "" for a stage with one task, else " task i/P" (1-based).
func (tk *stageTask) what() string {
	if len(tk.st.tasks) <= 1 {
		return ""
	}
	return fmt.Sprintf(" task %d/%d", tk.index+1, len(tk.st.tasks))
}

// file is the intermediate result file of task t's subpartition p.
func (st *batchStage) file(t, p int) string {
	if len(st.tasks) <= 1 && st.parts <= 1 {
		return st.path
	}
	return fmt.Sprintf("%s-%d-%d.arrow", strings.TrimSuffix(st.path, ".arrow"), t, p)
}

// subpartitions is the number of files each task of st writes.
func (st *batchStage) subpartitions() int { return max(1, st.parts) }

// batchHashKeys returns the columns by which keyed blocking operator n reads its input i; ok is false when n
// is not keyed (a global operator, a row-wise one, a sink).
func batchHashKeys(n planner.Node, i int) (keys []int, ok bool) {
	switch x := n.(type) {
	case *planner.Aggregate:
		keys = x.Keys
	case *planner.WindowAggregate:
		keys = x.Keys
	case *planner.Join:
		keys = x.LeftKeys
		if i == 1 {
			keys = x.RightKeys
		}
	case *planner.WindowJoin:
		if x.NullAware { // a right row with a NULL key concerns every left row
			return nil, false
		}
		keys = x.LeftKeys
		if i == 1 {
			keys = x.RightKeys
		}
	case *planner.Rank:
		keys = x.Partition
	case *planner.WindowRank:
		keys = x.Partition
	case *planner.OverAggregate:
		keys = x.Partition
	case *planner.ChangelogNormalize:
		keys = x.Keys
	}
	return keys, len(keys) > 0
}

// rowWise reports operators that may run in every task of a keyed stage: they work on each row alone.
func rowWise(n planner.Node) bool {
	switch x := n.(type) {
	case *planner.Calc, *planner.Union, *planner.Expand, *planner.Replicate, *planner.LookupJoin, *planner.WatermarkAssigner:
		return true
	case *planner.WindowTVF:
		return x.Spec.Kind != exec.Session
	}
	return false
}

// planTasks decides how many tasks each stage runs (p for keyed stages, else 1) and how each stage's result
// is partitioned for its consumer.
func (sj *stagedJob) planTasks(p int) {
	edges := map[*batchStage][]stageEdge{}
	reads := map[*batchStage]int{}
	keyed := map[*batchStage]bool{}
	for _, st := range sj.stages {
		ok := true
		seen := map[planner.Node]bool{}
		var walk func(n planner.Node)
		walk = func(n planner.Node) {
			if seen[n] {
				return
			}
			seen[n] = true
			_, hashed := batchHashKeys(n, 0)
			if !hashed && !rowWise(n) {
				ok = false
			}
			for i, in := range n.Inputs() {
				if sj.cut[in] {
					keys, hashed := batchHashKeys(n, i)
					edges[st] = append(edges[st], stageEdge{in: sj.byRoot[in], keys: keys, hashed: hashed, parent: n, index: i})
					reads[sj.byRoot[in]]++
					continue
				}
				walk(in)
			}
		}
		walk(st.root)
		keyed[st] = ok && len(edges[st]) > 0
		if len(edges[st]) == 0 {
			st.split = splitScans(st.root)
		}
	}
	for _, st := range sj.stages {
		n := 1
		for i := range st.split {
			s := &st.split[i]
			if s.n = 1; !s.single {
				s.n = s.scan.Source.(connectors.ParallelSource).Subtasks(p)
			}
			n = max(n, s.n)
		}
		if n <= 1 {
			st.split = nil
		}
		if p > 1 && keyed[st] {
			n = p
			for i, e := range edges[st] {
				keys, hashed, reason := changelogRead(e) // batch_mixed.go
				if reason != "" {
					fmt.Fprintf(sj.g.notice, "[INFO] Job %s: stage %d (%s) runs as one task: %s.\n", sj.job.id, st.id, st.name, reason)
				}
				if reason != "" || !hashed && !hashedEdge(edges[st]) {
					n = 1 // (a reused input read by key gets a partitioning of its own: batch_reuse.go)
				}
				edges[st][i].keys = keys
			}
		}
		if keyed[st] && forwardTasks(edges[st]) > 0 {
			st.rowWise = true // row-wise operators over unhashed inputs: may be fused into its input (batch_fuse.go)
		}
		if m := forwardTasks(edges[st]); keyed[st] && m > 1 {
			n, st.forward = m, true // row-wise operators over their inputs' tasks (a reused input: batch_forward.go)
		}
		if sk, ok := st.root.(*planner.Sink); ok && len(edges[st]) == 1 {
			in := edges[st][0].in
			if n, st.forward = sinkTasks(sk, in, reads[in], p); n > 1 && !st.forward {
				in.parts, in.partKeys = n, sinkShuffleKeys(sk) // rebalance, or by partition or key (batch_sink.go)
			}
		} else if n > 1 && !st.forward {
			st.inParts = map[*batchStage][]int{}
			st.inEdges = map[*batchStage][]stageEdge{}
			for _, e := range edges[st] {
				k := 0
				if reads[e.in] > 1 {
					// (an unhashed edge: no keys, the rows dealt round-robin to the tasks: batch_mixed.go)
					k = e.in.partitionBy(n, e.keys) // batch_reuse.go
				} else {
					e.in.parts, e.in.partKeys = n, e.keys
				}
				st.inParts[e.in] = append(st.inParts[e.in], k)
				st.inEdges[e.in] = append(st.inEdges[e.in], e)
			}
		}
		for i := range n {
			st.tasks = append(st.tasks, &stageTask{st: st, index: i})
		}
	}
	if planTasksHook != nil {
		planTasksHook(sj)
	}
	sj.planFusion() // batch_fuse.go
}

// splitIn is one scan of a split source stage: its source runs as n subtasks, subtask i in the stage's task i
// (tasks n and above read none of its splits).
type splitIn struct {
	scan   *planner.Scan
	n      int
	single bool // not a connectors.ParallelSource (jdbc): read whole by task 0 (n = 1), from its start on a rerun
}

// splitScans returns the scans of a source stage that can read their sources' splits as several tasks: one
// scan, or the UNION ALL of several, at least one of a connectors.ParallelSource, under row-wise operators
// only (no WATERMARK: its split listener is one per source; no scan read for two branches: source reuse),
// with VALUES beside them (read by task 0 alone); a scan of another source (jdbc) is read whole by task 0
// (single; a rerun of task 0 reads it again from its start); else nil.
func splitScans(root planner.Node) []splitIn {
	var scans []splitIn
	seen := map[planner.Node]bool{}
	srcs := map[connectors.Source]bool{}
	ok, parallel := true, false
	var walk func(n planner.Node)
	walk = func(n planner.Node) {
		if seen[n] { // a DAG: a result read by two branches
			ok = false
			return
		}
		seen[n] = true
		switch x := n.(type) {
		case *planner.Scan:
			if srcs[x.Source] {
				ok = false
			}
			srcs[x.Source] = true
			_, par := x.Source.(connectors.ParallelSource)
			scans = append(scans, splitIn{scan: x, single: !par})
			parallel = parallel || par
		case *planner.Values:
		case *planner.WatermarkAssigner:
			ok = false
		default:
			if !rowWise(n) {
				ok = false
			}
		}
		for _, in := range n.Inputs() {
			walk(in)
		}
	}
	walk(root)
	if !ok || !parallel {
		return nil
	}
	return scans
}

// splitTask is the source of one task of a split source stage: subtask i of n of the scan's source (none
// when i >= n: that scan's source runs fewer subtasks than the stage has tasks).
type splitTask struct {
	connectors.Source
	par  connectors.ParallelSource
	i, n int
}

func (s *splitTask) Run(ctx context.Context, out changelog.Output) error {
	if s.i >= s.n {
		return nil
	}
	return s.par.RunSubtask(ctx, out, s.i, s.n)
}

// splitInput adds to g the source of scan sc for this task of a split source stage (or VALUES: its rows in
// task 0 only). It reports whether n is such a node.
func (b *stageBuild) splitInput(g *graph, n planner.Node, out changelog.Output) bool {
	j := b.sj.job
	if v, ok := n.(*planner.Values); ok && len(b.st.split) > 0 {
		if b.task.index == 0 {
			return false // built as usual
		}
		vs := &valuesSource{}
		g.register(v, vs)
		g.sources = append(g.sources, sourceRun{name: "VALUES", src: vs, out: g.meter(v, out, j)})
		return true
	}
	sc, ok := n.(*planner.Scan)
	if !ok {
		return false
	}
	for _, s := range b.st.split {
		if s.scan != sc {
			continue
		}
		if s.single {
			if b.task.index == 0 {
				return false // built as usual: the whole table
			}
			es := &valuesSource{} // no rows
			g.register(sc, es)
			g.sources = append(g.sources, sourceRun{name: sc.Table.Name, src: es, out: g.meter(sc, out, j)})
			return true
		}
		out = g.meter(sc, out, j)
		g.register(sc, sc.Source)
		g.sources = append(g.sources, sourceRun{name: sc.Table.Name, out: exec.NewCounter(&j.rowsIn, out),
			src: &splitTask{Source: sc.Source, par: sc.Source.(connectors.ParallelSource), i: b.task.index, n: s.n}})
		return true
	}
	return false
}

// newStageOutput creates the files task tk writes its result into: one writer per slot (batch_reuse.go), the
// subpartitions of each partitioning behind a router; nil when the stage writes no file.
func (sj *stagedJob) newStageOutput(run *stageRun, tk *stageTask) (changelog.Output, error) {
	st := tk.st
	total := st.slots()
	for s := range total {
		w, err := newIPCWriter(st.slotFile(tk.index, s), st.types)
		if err != nil {
			return nil, fmt.Errorf("stage %d (%s): %w", st.id, st.name, err)
		}
		// A task's buffers stay near one file's: 256 KiB to write, 8192 rows in the record batch being built.
		w.bufSize, w.maxRows = max(32<<10, (256<<10)/total), max(1024, ipcBatchRows/total)
		run.outs = append(run.outs, w)
	}
	part := func(ws []*ipcWriter, keys []int) changelog.Output {
		if len(ws) == 1 {
			return ws[0]
		}
		return &partWriter{ws: ws, keys: keys, types: st.types, maxPar: sj.g.maxPar, bs: make([]changelog.Batch, len(ws)), next: tk.index}
	}
	var outs teeOutput
	at := st.primarySlots()
	if at > 0 {
		outs = append(outs, part(run.outs[:at], st.partKeys))
	}
	for _, h := range st.hashed {
		outs = append(outs, part(run.outs[at:at+h.parts], h.keys))
		at += h.parts
	}
	switch len(outs) {
	case 0:
		return nil, nil
	case 1:
		return outs[0], nil
	}
	return outs, nil
}

// partWriter routes a task's result rows into its subpartitions' files by the key group of the consumer's
// key columns.
type partWriter struct {
	ws     []*ipcWriter
	keys   []int
	types  []types.Type
	maxPar int
	bs     []changelog.Batch
	key    []byte
	next   int // without keys: the subpartition of the next row (round-robin, Flink's rebalance)
}

func (w *partWriter) Push(b *changelog.Batch) error {
	n := len(w.ws)
	for i := range b.Rows {
		r := &b.Rows[i]
		if len(w.keys) == 0 {
			w.next = (w.next + 1) % n
			w.bs[w.next].Append(r.Kind, r.Vals)
			continue
		}
		w.key = types.AppendRowKey(w.key[:0], r.Vals, w.types, w.keys)
		p := exec.Subtask(state.KeyGroup(w.key, w.maxPar), w.maxPar, n)
		w.bs[p].Append(r.Kind, r.Vals)
	}
	for p := range w.bs {
		if len(w.bs[p].Rows) == 0 {
			continue
		}
		err := w.ws[p].Push(&w.bs[p])
		w.bs[p].Reset()
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *partWriter) Watermark(int64) error { return nil }

// End completes every subpartition's file (an empty one too: its consumer task reads it).
func (w *partWriter) End() error {
	var err error
	for _, x := range w.ws {
		if e := x.End(); err == nil {
			err = e
		}
	}
	return err
}

// sharedSplits reports a split source stage whose source cannot run one subtask again alone
// (connectors.SubtaskRestarter): its tasks restart together, the source read again from its start.
func (st *batchStage) sharedSplits() bool {
	for _, s := range st.split {
		if _, ok := s.scan.Source.(connectors.SubtaskRestarter); !ok && !s.single {
			return true
		}
	}
	return false
}

// restartSplit lets the source of split source task tk read its own splits again (attempts after the first).
func (tk *stageTask) restartSplit() error {
	st := tk.st
	if tk.attempts <= 1 {
		return nil
	}
	for _, s := range st.split {
		r, ok := s.scan.Source.(connectors.SubtaskRestarter)
		if !ok || s.single || tk.index >= s.n {
			continue
		}
		if err := r.RestartSubtask(tk.index, s.n); err != nil {
			return fmt.Errorf("stage %d (%s)%s: source %s: %w", st.id, st.name, tk.what(), s.scan.Table.Name, err)
		}
	}
	return nil
}

// runStage runs a stage's tasks at the same time, each until it succeeds or the restart strategy gives up;
// the first task that fails for good cancels the others.
func (sj *stagedJob) runStage(ctx context.Context, st *batchStage) error {
	if st.fusedInto != nil {
		return nil // its files were written by its producer's tasks (batch_fuse.go)
	}
	if st.sharedSplits() {
		st.splitMu.Lock()
		defer st.splitMu.Unlock()
		return sj.runSplitLocked(ctx, st)
	}
	if len(st.tasks) == 1 {
		return sj.runTask(ctx, st.tasks[0])
	}
	if st.sink != nil {
		err := sj.runTasks(ctx, st)
		// A cancel or failure, now or during the stage's End, interrupts the sink (sink_interrupt.go).
		defer context.AfterFunc(ctx, st.sink.interrupt)()
		if err != nil {
			st.sink.interrupt()
		}
		return st.sink.finish(ctx, st, err) // batch_sink.go
	}
	return sj.runTasks(ctx, st)
}

// runTasks runs every task of st at the same time: each its own failover (runTask), or for a split source
// stage whose source cannot restart one subtask one attempt each (the stage restarts as a whole:
// runSplitLocked).
func (sj *stagedJob) runTasks(ctx context.Context, st *batchStage) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(st.tasks))
	var wg sync.WaitGroup
	for i, tk := range st.tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st.sharedSplits() {
				errs[i] = sj.attempt(ctx, tk)
			} else {
				errs[i] = sj.runTask(ctx, tk)
			}
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var err error
	for _, e := range errs {
		if err == nil || errors.Is(err, context.Canceled) && e != nil && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	return err
}

func (sj *stagedJob) runTask(ctx context.Context, tk *stageTask) error {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return sj.runLocked(ctx, tk)
}

// runSplitLocked runs split source stage st (its splitMu held) until it succeeds or the restart strategy
// gives up. Its source cannot read one subtask's splits again alone (no connectors.SubtaskRestarter), so
// the stage restarts all its tasks, the source read again from its start.
func (sj *stagedJob) runSplitLocked(ctx context.Context, st *batchStage) error {
	for {
		if st.tasks[0].attempts > 0 {
			for _, s := range st.split {
				if c, ok := s.scan.Source.(connectors.Checkpointed); ok {
					if err := c.RestorePosition(nil); err != nil { // read the source again from its start
						return fmt.Errorf("stage %d (%s): source %s: %w", st.id, st.name, s.scan.Table.Name, err)
					}
				}
			}
		}
		err := sj.runTasks(ctx, st)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if err := sj.backOff(ctx, err, failedWhat(err, fmt.Sprintf("stage %d (%s)", st.id, st.name)),
			fmt.Sprintf("stage %d with its %d tasks (they share the source's position)%s, from its sources", st.id, len(st.tasks), withFused(st, err))); err != nil {
			return err
		}
	}
}

// inputPart is the subpartition of input stage in that task tk reads.
func inputPart(in *batchStage, tk *stageTask) int {
	if in.parts > 1 {
		return tk.index
	}
	return 0
}

// ensure runs again the tasks of stage in whose files consumer task tk reads when such a file is gone (the
// tasks of in's producer when in is fused into it: batch_fuse.go).
func (sj *stagedJob) ensure(ctx context.Context, in *batchStage, tk *stageTask) error {
	prod := in.producer()
	slots := inputSlots(in, tk)
	if prod.sharedSplits() {
		for _, u := range inputTasks(in, tk) {
			if path := in.taskFileGone(u, slots); path != "" {
				prod.splitMu.Lock() // another consumer may be running it again already
				defer prod.splitMu.Unlock()
				if !fileGone(path) {
					return nil
				}
				fmt.Fprintf(sj.g.notice, "[WARNING] Job %s: the intermediate result of stage %d (%s) is gone (%s); running stage %d again for stage %d%s.\n",
					sj.job.id, in.id, in.name, path, prod.id, tk.st.id, tk.what())
				return sj.runSplitLocked(ctx, prod)
			}
		}
		return nil
	}
	for _, u := range inputTasks(in, tk) {
		path := in.taskFileGone(u, slots)
		if path == "" {
			continue
		}
		pu := prod.tasks[u.index]
		err := func() error {
			pu.mu.Lock() // another consumer may be running it again already
			defer pu.mu.Unlock()
			if !fileGone(path) {
				return nil
			}
			fmt.Fprintf(sj.g.notice, "[WARNING] Job %s: the intermediate result of stage %d (%s) is gone (%s); running stage %d%s again for stage %d%s.\n",
				sj.job.id, in.id, in.name, path, prod.id, pu.what(), tk.st.id, tk.what())
			return sj.runLocked(ctx, pu)
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// inputRows is the number of rows task tk reads from its inputs' files (for notices).
func (sj *stagedJob) inputRows(tk *stageTask) int64 {
	sj.mu.Lock()
	defer sj.mu.Unlock()
	var n int64
	seen := map[*batchStage]bool{}
	for _, in := range tk.st.inputs {
		if seen[in] {
			continue
		}
		seen[in] = true
		for _, part := range inputSlots(in, tk) {
			for _, u := range inputTasks(in, tk) {
				if part < len(u.written) {
					n += u.written[part]
				}
			}
		}
	}
	return n
}
