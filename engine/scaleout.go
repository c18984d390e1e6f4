package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

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
const scaleOutShape = "a 'kafka' source -> optional projections/filters (Calc) -> one GROUP BY aggregate with group keys (GroupAggregate) -> optional Calc -> a 'kafka' or 'upsert-kafka' sink"

// scaleOutPlan is an INSERT plan cut into the two stages of a scale-out member.
type scaleOutPlan struct {
	sink *planner.Sink
	post []*planner.Calc // between the aggregate and the sink, sink side last
	agg  *planner.Aggregate
	pre  []*planner.Calc // between the source and the aggregate, aggregate side last
	scan *planner.Scan
	fp   string // the plan's fingerprint: a hash of its EXPLAIN text
}

// scaleOutEnabled reports whether the session runs INSERTs as scale-out members.
func (s *Session) scaleOutEnabled() bool {
	on, ok, err := sessionBool(s.opts, scaleOutKey)
	return ok && err == nil && on
}

// cutScaleOut checks that root has the supported shape and cuts it into stages.
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
	agg, ok := n.(*planner.Aggregate)
	if !ok {
		return nil, fmt.Errorf("the sink's input is %s, not a GroupAggregate", n.Describe())
	}
	switch {
	case agg.Batch:
		return nil, fmt.Errorf("the aggregate runs in batch mode; scale-out runs streaming jobs")
	case len(agg.Keys) == 0:
		return nil, fmt.Errorf("%s has no group keys (a global aggregate cannot be split by key)", agg.Describe())
	case agg.MiniBatch != nil:
		return nil, fmt.Errorf("%s is a mini-batch aggregate; unset 'table.exec.mini-batch.enabled'", agg.Describe())
	case agg.PartialFinal != "":
		return nil, fmt.Errorf("%s is split into two levels ('table.optimizer.distinct-agg.split.enabled'); unset it", agg.Describe())
	}
	p.agg = agg
	n = agg.Input
	for {
		switch c := n.(type) {
		case *planner.Calc:
			p.pre = append([]*planner.Calc{c}, p.pre...)
			n = c.Input
			continue
		case *planner.WatermarkAssigner:
			// A GROUP BY does not use watermarks: the assigner passes rows through unchanged.
			n = c.Input
			continue
		}
		break
	}
	sc, ok := n.(*planner.Scan)
	if !ok {
		return nil, fmt.Errorf("the aggregate's input is %s, not a table scan", n.Describe())
	}
	p.scan = sc
	sum := sha256.Sum256([]byte(planner.Explain(root, false)))
	p.fp = hex.EncodeToString(sum[:8])
	return p, nil
}

// scaleOutSettings are the session's scale-out options.
type scaleOutSettings struct {
	name           string
	commitInterval time.Duration
	sessionTimeout time.Duration
	txnTimeout     time.Duration
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
	src, err := kafka.NewGroupSource(p.scan.Source)
	if err != nil {
		return refuse("supports %s; %v", scaleOutShape, err)
	}
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
	m := &member{s: st, plan: p, restart: restart, src: src, sinkInfo: sinkInfo, job: j, notice: s.cfg.Notice}
	m.inTypes = fieldTypes(p.agg.Input.Fields())
	m.insertOnly = p.agg.Input.Mode().IsInsertOnly()
	m.keyTypes = make([]types.Type, len(p.agg.Keys))
	for i, k := range p.agg.Keys {
		m.keyTypes[i] = m.inTypes[k]
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
