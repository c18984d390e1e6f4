package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// Scale-out over Kafka ('sluice.scale-out.enabled' = 'true'; docs/ARCHITECTURE.md "Scale-out over Kafka"):
// every Sluice process that runs the same INSERT with the same 'pipeline.name' joins one Kafka consumer
// group, and Kafka's group protocol, transactions and compacted topics do what a cluster manager would do.
// This file checks the plan and starts the member; scaleout_run.go is the member's loop, scaleout_state.go
// its changelog-backed state.

// scaleOutKey turns scale-out on.
const scaleOutKey = "sluice.scale-out.enabled"

// scaleOutShape is the plan shape scale-out supports, for error messages.
const scaleOutShape = "'kafka' source tables (one, or UNION ALL of several) -> optional projections/filters (Calc) -> a 'kafka' or 'upsert-kafka' sink, or a 'kafka' source -> optional Calc -> one GROUP BY aggregate with group keys (GroupAggregate) -> optional Calc -> such a sink, or two 'kafka' sources -> optional Calcs -> one regular equi-join (Join), or an event-time interval join (IntervalJoin) of two sources with a WATERMARK, or an event-time temporal join (TemporalJoin, FOR SYSTEM_TIME AS OF) of a source with a WATERMARK and a versioned 'kafka' or 'upsert-kafka' table (PRIMARY KEY and WATERMARK), or a window join (WindowJoin) of two sources with a WATERMARK, each through optional Calcs and a TUMBLE, HOP or CUMULATE window table function, or a window Top-N or deduplication (WindowRank) over such a function of one source -> optional Calc -> such a sink, or a 'kafka' source with a WATERMARK -> optional Calc -> a TUMBLE, HOP, CUMULATE or SESSION window table function -> optional Calc -> one window aggregate (WindowAggregate) -> optional Calc -> such a sink, or a 'kafka' source -> optional Calc -> one ROW_NUMBER() OVER (PARTITION BY ...) Top-N or deduplication (Rank) -> optional Calc -> such a sink, or a 'kafka' source -> optional Calc -> a GROUP BY aggregate, or two 'kafka' sources -> optional Calcs -> one regular equi-join (Join), -> optional Calc -> a (second) GROUP BY aggregate over its results -> optional Calc -> optionally a third GROUP BY over those, or a ROW_NUMBER() Top-N (Rank) over the last GROUP BY of up to two or directly over the join -> optional Calc -> such a sink, or such an interval join or temporal join -> optional Calc -> a GROUP BY over its results -> optional Calc -> optionally a second GROUP BY over those -> optional Calc -> such a sink, or a 'kafka' source or a regular join of two -> optional Calc -> a ROW_NUMBER() Top-N (Rank) -> optional Calc -> a GROUP BY over its results -> optional Calc -> such a sink"

// scaleOutPlan is an INSERT plan cut into the stages of a scale-out member. A plan without an aggregate is
// stateless: its branches end at the sink (through post), and the member has no repartition or changelog
// topic (only its plan topic, scaleout_plan.go).
type scaleOutPlan struct {
	sink     *planner.Sink
	post     []*planner.Calc // between the aggregate (or the union of the branches) and the sink, sink side last
	agg      *planner.Aggregate
	later    []scaleOutLater     // GROUP BYs over the first keyed operator's results, each over the one before (scaleout_stage.go)
	join     *planner.Join       // a regular join (scaleout_join.go); at most one of agg, join, win, ivl and rank is set
	rank     *planner.Rank       // a ROW_NUMBER() Top-N or deduplication (scaleout_rank.go)
	win      *scaleOutWindow     // a window aggregate (scaleout_window.go)
	ivl      *scaleOutInterval   // an interval join (scaleout_interval.go)
	tmp      *scaleOutTemporal   // an event-time temporal join (scaleout_temporal.go)
	wj       *scaleOutWindowJoin // a window join (scaleout_window_join.go)
	wrank    *scaleOutWindowRank // a window Top-N (scaleout_window_topn.go)
	branches []*scaleOutBranch   // the source scans: one with an aggregate, left and right of a join, one or more (UNION ALL) otherwise
	fp       string              // the plan's fingerprint: a hash of its EXPLAIN text
}

// scaleOutBranch is one source scan and the Calcs behind it (up to the aggregate or the union).
type scaleOutBranch struct {
	scan *planner.Scan
	pre  []*planner.Calc // the scan's side first
	src  *kafka.GroupSource
	out  changelog.Output // the branch's Calcs and what follows them (set by member.prepare)
	// changelog: the scan may be an upsert-kafka table or a changelog format (a temporal join's versioned
	// table, scaleout_temporal_upsert.go).
	changelog bool
}

// scaleOutEnabled reports whether the session runs INSERTs as scale-out members.
func (s *Session) scaleOutEnabled() bool {
	on, ok, err := sessionBool(s.opts, scaleOutKey)
	return ok && err == nil && on
}

// cutScaleOut checks that root has a supported shape and cuts it into stages.
func cutScaleOut(root planner.Node) (*scaleOutPlan, error) {
	p := &scaleOutPlan{}
	sk, ok := root.(*planner.Sink)
	if !ok {
		return nil, fmt.Errorf("the plan's root is %s, not a sink", root.Describe())
	}
	p.sink = sk
	n := sk.Input
	for {
		c, ok := n.(*planner.Calc)
		if !ok {
			break
		}
		p.post = append([]*planner.Calc{c}, p.post...)
		n = c.Input
	}
	switch n.(type) {
	case *planner.GlobalGroupAggregate, *planner.MiniBatchAssigner, *planner.LocalGroupAggregate:
		return nil, fmt.Errorf("the aggregate is a mini-batch (two-phase) aggregate, %s; RESET 'table.exec.mini-batch.enabled'", n.Describe())
	}
	if j, ok := n.(*planner.Join); ok {
		return cutScaleOutJoin(p, j, root)
	}
	if tj, ok := n.(*planner.TemporalJoin); ok {
		return cutScaleOutTemporal(p, tj, root) // scaleout_temporal.go
	}
	if w, ok := n.(*planner.WindowAggregate); ok {
		return cutScaleOutWindow(p, w, root)
	}
	if wj, ok := n.(*planner.WindowJoin); ok {
		return cutScaleOutWindowJoin(p, wj, root) // scaleout_window_join.go
	}
	if wr, ok := n.(*planner.WindowRank); ok {
		return cutScaleOutWindowRank(p, wr, root) // scaleout_window_topn.go
	}
	if r, ok := n.(*planner.Rank); ok {
		return cutScaleOutRank(p, r, root)
	}
	if err := refuseWindowOp(n); err != nil {
		return nil, err
	}
	agg, ok := n.(*planner.Aggregate)
	if !ok {
		// Stateless: one branch, or a UNION ALL of branches.
		ins := flattenUnion(n, nil)
		for _, in := range ins {
			b, last := cutScaleOutBranch(in)
			if b == nil {
				what := last.Describe()
				if sm, ok := last.(*planner.SinkMaterializer); ok {
					// The materializer is there for what is under it: name that too.
					under := sm.Input
					for c, ok := under.(*planner.Calc); ok; c, ok = under.(*planner.Calc) {
						under = c.Input
					}
					what += " over " + under.Describe()
					if _, ok := under.(*planner.Rank); ok {
						what += " (key the sink by the PARTITION BY columns and the row number, or by the PARTITION BY columns alone for rn = 1, so that no upsert materializer is planned)"
					}
				}
				return nil, fmt.Errorf("the sink's input is %s, not a GroupAggregate, a table scan or a UNION ALL of table scans", what)
			}
			p.branches = append(p.branches, b)
		}
	} else {
		if err := checkScaleOutAgg(agg); err != nil {
			return nil, err
		}
		p.agg = agg
		b, last := cutScaleOutBranch(agg.Input)
		switch last := last.(type) {
		case *planner.Join, *planner.TemporalJoin:
			// A GROUP BY over a regular, interval or event-time temporal join: keyed stages (scaleout_stage.go).
			if err := cutScaleOutStages(p, agg, root); err != nil {
				return nil, err
			}
			p.fp = planFingerprint(root)
			return p, nil
		case *planner.Rank:
			return cutScaleOutAggOverRank(p, agg, last, root) // scaleout_stage_rank.go
		case *planner.Aggregate:
			// A GROUP BY over a GROUP BY: keyed stages (scaleout_stage.go).
			if err := cutScaleOutStages(p, agg, root); err != nil {
				return nil, err
			}
			p.fp = planFingerprint(root)
			return p, nil
		}
		if b == nil {
			return nil, fmt.Errorf("the aggregate's input is %s, not a table scan", last.Describe())
		}
		p.branches = []*scaleOutBranch{b}
	}
	p.fp = planFingerprint(root)
	return p, nil
}

// planFingerprint is a hash of the plan's EXPLAIN text.
func planFingerprint(root planner.Node) string {
	return fingerprintOf(planner.Explain(root, false))
}

// fingerprintOf is the fingerprint of a plan's text.
func fingerprintOf(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:8])
}

// cutScaleOutJoin cuts a plan whose sink's Calcs read a join: a regular streaming equi-join of two
// insert-only scans whose join keys have the same types on both sides.
func cutScaleOutJoin(p *scaleOutPlan, j *planner.Join, root planner.Node) (*scaleOutPlan, error) {
	switch {
	case j.Batch:
		return nil, fmt.Errorf("the join runs in batch mode; scale-out runs streaming jobs")
	case len(j.LeftKeys) == 0:
		return nil, fmt.Errorf("%s has no equality condition between the sides (it cannot be split by key)", j.Describe())
	case j.Interval != nil:
		return cutScaleOutInterval(p, j, root) // scaleout_interval.go
	}
	for i, in := range []planner.Node{j.Left, j.Right} {
		b, last := cutScaleOutBranch(in)
		if b == nil {
			return nil, fmt.Errorf("the join's %s input is %s, not a table scan", [2]string{"left", "right"}[i], last.Describe())
		}
		if !in.Mode().IsInsertOnly() {
			return nil, fmt.Errorf("the join's %s input is not insert-only", [2]string{"left", "right"}[i])
		}
		p.branches = append(p.branches, b)
	}
	if err := checkJoinKeyTypes(j); err != nil {
		return nil, err
	}
	p.join = j
	p.fp = planFingerprint(root)
	return p, nil
}

// checkJoinKeyTypes refuses a join whose keys have other types on the two sides: stage 1 must give equal keys
// of both sides one encoding (so one repartition partition).
func checkJoinKeyTypes(j *planner.Join) error {
	return checkKeyTypes(j.Left, j.Right, j.LeftKeys, j.RightKeys)
}

// checkKeyTypes is checkJoinKeyTypes of a join of left and right on the given keys.
func checkKeyTypes(left, right planner.Node, lk, rk []int) error {
	lt, rt := fieldTypes(left.Fields()), fieldTypes(right.Fields())
	for i := range lk {
		if a, b := lt[lk[i]], rt[rk[i]]; !a.EqualIgnoringNull(b) {
			return fmt.Errorf("the join's key %d has the type %s on the left and %s on the right; CAST one side so that both have the same type", i+1, a, b)
		}
	}
	return nil
}

// flattenUnion appends the inputs of n (of nested UNION ALLs too) to ins, or n when it is no union.
func flattenUnion(n planner.Node, ins []planner.Node) []planner.Node {
	u, ok := n.(*planner.Union)
	if !ok {
		return append(ins, n)
	}
	for _, in := range u.Ins {
		ins = flattenUnion(in, ins)
	}
	return ins
}

// cutScaleOutBranch returns the scan under n and the Calcs between, or nil and the first node that is
// neither a Calc, a watermark assigner nor a scan.
func cutScaleOutBranch(n planner.Node) (*scaleOutBranch, planner.Node) {
	b := &scaleOutBranch{}
	for {
		switch c := n.(type) {
		case *planner.Calc:
			b.pre = append([]*planner.Calc{c}, b.pre...)
			n = c.Input
			continue
		case *planner.WatermarkAssigner:
			// Neither a GROUP BY nor a stateless plan uses watermarks (a kafka sink ignores them): the
			// assigner passes rows through unchanged.
			n = c.Input
			continue
		case *planner.Scan:
			b.scan = c
			return b, nil
		}
		return nil, n
	}
}

// scaleOutSettings are the session's scale-out options.
type scaleOutSettings struct {
	name           string
	commitInterval time.Duration
	sessionTimeout time.Duration
	txnTimeout     time.Duration
	maxPoll        int // records per poll, so per transaction ('sluice.scale-out.max-poll-records')
	maxPar         int
	ttl            time.Duration
}

// scaleOutOptions reads and checks the options a scale-out member depends on.
func (s *Session) scaleOutOptions() (scaleOutSettings, error) {
	st := scaleOutSettings{commitInterval: 100 * time.Millisecond, sessionTimeout: 10 * time.Second, txnTimeout: 10 * time.Second}
	name := strings.TrimSpace(s.opts["pipeline.name"])
	if name == "" {
		return st, fmt.Errorf("'%s' = 'true' needs 'pipeline.name': the processes of a job find each other by it (it names their consumer group and internal topics). SET 'pipeline.name' = 'my-job' first", scaleOutKey)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return st, fmt.Errorf("'pipeline.name' = '%s' cannot name Kafka topics with scale-out: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	st.name = name
	for key, dst := range map[string]*time.Duration{
		"sluice.scale-out.commit-interval":     &st.commitInterval,
		"sluice.scale-out.session-timeout":     &st.sessionTimeout,
		"sluice.scale-out.transaction-timeout": &st.txnTimeout,
	} {
		if d, ok, err := sessionDuration(s.opts, key); err != nil {
			return st, err
		} else if ok {
			*dst = d
		}
	}
	n, _, err := sessionInt(s.opts, "sluice.scale-out.max-poll-records")
	if err != nil {
		return st, err
	}
	st.maxPoll = int(n)
	if d, ok, _ := sessionDuration(s.opts, "execution.checkpointing.interval"); ok && d > 0 {
		return st, fmt.Errorf("'execution.checkpointing.interval' cannot be used with '%s': a scale-out job keeps its state in Kafka changelog topics and commits every 'sluice.scale-out.commit-interval'; RESET 'execution.checkpointing.interval'", scaleOutKey)
	}
	if b, ok, _ := sessionEnum(s.opts, "state.backend.type"); ok && b == "rocksdb" {
		return st, fmt.Errorf("'state.backend.type' = 'rocksdb' cannot be used with '%s': a scale-out member keeps its groups in memory, backed by a compacted changelog topic", scaleOutKey)
	}
	if p := s.parallelism(); p > 1 {
		return st, fmt.Errorf("'parallelism.default' = '%d' cannot be used with '%s': each process is one member of the job; start more processes to use more cores", p, scaleOutKey)
	}
	if _, ok := s.opts["execution.savepoint.path"]; ok {
		return st, fmt.Errorf("'execution.savepoint.path' cannot be used with '%s': a scale-out job restores its state from its changelog topics", scaleOutKey)
	}
	st.maxPar = state.DefaultMaxParallelism
	if cfg, err := s.checkpointConfig(); err == nil {
		st.maxPar, st.ttl = cfg.maxParallelism, cfg.ttl
	}
	return st, nil
}

// submitScaleOut starts inserts as a member of the scale-out job named by 'pipeline.name'.
func (s *Session) submitScaleOut(ctx context.Context, inserts []*sql.Insert, nodes []planner.Node, batch bool, text string) (*Result, error) {
	pos := inserts[0].Position()
	refuse := func(format string, args ...any) (*Result, error) {
		return nil, sql.Errorf(pos, ErrValidation, "scale-out ('%s' = 'true'): %s", scaleOutKey, fmt.Sprintf(format, args...))
	}
	if batch {
		return refuse("runs streaming jobs only; SET 'execution.runtime-mode' = 'streaming'")
	}
	if len(nodes) != 1 {
		return refuse("a job is one INSERT; this statement set has %d", len(nodes))
	}
	st, err := s.scaleOutOptions()
	if err != nil {
		return refuse("%v", err)
	}
	p, err := cutScaleOut(nodes[0])
	if err != nil {
		return refuse("supports %s; %v", scaleOutShape, err)
	}
	for _, b := range p.branches {
		newSource := kafka.NewGroupSource
		if b.changelog {
			newSource = kafka.NewGroupChangelogSource
		}
		if b.src, err = newSource(b.scan.Source); err != nil {
			return refuse("supports %s; %v", scaleOutShape, err)
		}
		if f := p.branches[0].src; b.src.ConnKey() != f.ConnKey() {
			return refuse("the source tables '%s' and '%s' have other connection options ('properties.bootstrap.servers', 'properties.security.*', 'properties.sasl.*', 'properties.ssl.*'); a member reads all its sources with one client", f.Table(), b.src.Table())
		}
	}
	src := p.branches[0].src
	sinkInfo, err := kafka.SinkInfo(p.sink.Sink)
	if err != nil {
		return refuse("supports %s; %v", scaleOutShape, err)
	}
	if sinkInfo.Servers != src.Servers() {
		return refuse("the sink table '%s' is on other brokers ('%s') than the source ('%s'); one Kafka transaction must cover both", p.sink.Table.Name, sinkInfo.Servers, src.Servers())
	}
	// A member's state is as durable as a checkpoint (its changelog), so Flink's default for a job with
	// checkpointing applies: fixed-delay, unlimited attempts, 1 s apart.
	restart, err := s.streamRestartPolicy(true)
	if err != nil {
		return refuse("%v", err)
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	name := st.name
	j := &Job{id: newJobID(), name: name, cancel: cancel, done: make(chan struct{}), status: JobRunning, start: time.Now()}
	j.origin, j.stmt = originOf(ctx, pos), text
	j.scaleOut = newScaleOutStats()
	m := &member{s: st, plan: p, restart: restart, src: src, sinkInfo: sinkInfo, job: j, notice: s.cfg.Notice}
	if p.join != nil {
		if st.ttl > 0 {
			return refuse("'table.exec.state.ttl' cannot be used with a scale-out join: its changelog keeps every input row; RESET 'table.exec.state.ttl'")
		}
		m.sideTypes = [2][]types.Type{fieldTypes(p.join.Left.Fields()), fieldTypes(p.join.Right.Fields())}
	}
	if p.rank != nil {
		if st.ttl > 0 {
			return refuse("'table.exec.state.ttl' cannot be used with a scale-out Top-N: a partition key the TTL dropped would stay in its changelog; RESET 'table.exec.state.ttl'")
		}
		m.inTypes = fieldTypes(p.rank.Input.Fields())
		m.repKeys = p.rank.Partition
	}
	if p.agg != nil {
		m.repKeys = p.agg.Keys
		m.inTypes = fieldTypes(p.agg.Input.Fields())
		m.insertOnly = p.agg.Input.Mode().IsInsertOnly()
		m.keyTypes = make([]types.Type, len(p.agg.Keys))
		for i, k := range p.agg.Keys {
			m.keyTypes[i] = m.inTypes[k]
		}
	}
	if l := len(p.later); l > 0 && p.later[l-1].rank != nil && st.ttl > 0 {
		return refuse("'table.exec.state.ttl' cannot be used with a scale-out Top-N over a GROUP BY: a row the TTL dropped would stay in its changelog; RESET 'table.exec.state.ttl'")
	}
	if p.tmp != nil {
		if st.ttl > 0 {
			return refuse("'table.exec.state.ttl' cannot be used with a scale-out temporal join: it does not expire the join's state (nor does the P=1 join; its state is bounded by the watermark); RESET 'table.exec.state.ttl'")
		}
		m.sideTypes = [2][]types.Type{fieldTypes(p.tmp.join.Left.Fields()), fieldTypes(p.tmp.join.Right.Fields())}
		if p.tmp.norm != nil { // the repartitioned versioned rows are the normalize's input (scaleout_temporal_upsert.go)
			m.sideTypes[1] = fieldTypes(p.tmp.norm.Input.Fields())
		}
	}
	var idle *time.Duration // of a plan with watermarks: a window aggregate, an interval or a temporal join
	idleSet := false
	if p.win != nil {
		idle, idleSet = &p.win.idle, p.win.idleSet
	}
	if p.ivl != nil {
		idle, idleSet = &p.ivl.idle, p.ivl.idleSet
		m.sideTypes = [2][]types.Type{fieldTypes(p.ivl.join.Left.Fields()), fieldTypes(p.ivl.join.Right.Fields())}
	}
	if p.tmp != nil {
		idle, idleSet = &p.tmp.idle, p.tmp.idleSet
	}
	if p.wj != nil {
		if st.ttl > 0 {
			return refuse("'table.exec.state.ttl' cannot be used with a scale-out window join: it does not expire the join's state (nor does the P=1 join; a window's rows are dropped when it fires); RESET 'table.exec.state.ttl'")
		}
		idle, idleSet = &p.wj.idle, p.wj.idleSet
		m.sideTypes = [2][]types.Type{fieldTypes(p.wj.join.Left.Fields()), fieldTypes(p.wj.join.Right.Fields())}
	}
	if p.wrank != nil {
		if st.ttl > 0 {
			return refuse("'table.exec.state.ttl' cannot be used with a scale-out window Top-N: it does not expire the Top-N's state (nor does the P=1 operator; a window's rows are dropped when it fires); RESET 'table.exec.state.ttl'")
		}
		idle, idleSet = &p.wrank.idle, p.wrank.idleSet
		m.sideTypes = [2][]types.Type{fieldTypes(p.wrank.rank.Input.Fields()), nil}
	}
	if idle != nil {
		if !idleSet {
			if d, ok, _ := sessionDuration(s.opts, "table.exec.source.idle-timeout"); ok {
				*idle = d
			}
		}
		if *idle > 0 {
			// Every member must mark idle partitions alike: the timeout is part of the plan the group checks.
			p.fp = fingerprintOf(p.fp + " idle-timeout=" + idle.String())
		}
		m.loc = s.location()
	}
	if err := m.prepare(jctx); err != nil {
		cancel()
		return refuse("%v", err)
	}
	switch sinkInfo.Guarantee {
	case "none", "at-least-once":
		// Honest as a warning: the sink's records must be in the member's transactions (with the state changes
		// and source offsets they follow from), or a rebalance would write them twice or lose them.
		fmt.Fprintf(s.cfg.Notice, "[WARNING] Scale-out job '%s': table '%s' sets '%s' = '%s', but a scale-out member writes its sink exactly-once: the sink's records are part of the member's Kafka transactions (with its state changes and source offsets), committed every 'sluice.scale-out.commit-interval'. Consumers reading with 'isolation.level' = 'read_committed' see each change once; 'read_uncommitted' ones may also see records of aborted transactions. Set the option to 'exactly-once' or remove it to silence this warning.\n",
			name, p.sink.Table.Name, sinkInfo.GuaranteeKey, sinkInfo.Guarantee)
	}
	s.jobs = append(s.jobs, j)
	s.noteJob(j)
	if s.cfg.OnSubmit != nil {
		s.cfg.OnSubmit(j)
	}
	go func() {
		err := m.run(jctx)
		status := JobFailed
		switch {
		case err == nil, jctx.Err() != nil:
			status, err = JobCancelled, nil
		}
		j.mu.Lock()
		j.err, j.status, j.end = err, status, time.Now()
		j.mu.Unlock()
		close(j.done)
	}()
	if s.opts["table.dml-sync"] == "true" {
		s.mu.Unlock()
		err := j.Wait(ctx)
		s.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
	return &Result{Kind: ResultJob, Job: j, Message: "Job ID: " + j.id}, nil
}
