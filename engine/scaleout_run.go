package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
)

// planHeader is the record header that carries the plan fingerprint on internal records.
const planHeader = "sluice-plan"

// member is one process of a scale-out job: a member of the consumer group '<pipeline.name>' that consumes
// the source topics and the repartition topic, and ends a transaction every commit interval.
//
// Stage 1 (source partitions assigned to this member): decode, run the Calcs in front of the aggregate,
// produce each row to the repartition topic partition that owns its key group. Stage 2 (repartition
// partitions assigned to this member): one GroupAggregate per partition, restored from the partition of the
// changelog topic before its first row; its output goes through the Calcs behind it to the sink, its state
// changes to the changelog topic. Source offsets, repartition offsets, repartition records, sink records and
// changelog records of one interval commit in one transaction.
type member struct {
	s        scaleOutSettings
	plan     *scaleOutPlan
	restart  streamRestartPolicy // 'restart-strategy': a failed member leaves the group and joins again
	src      *kafka.GroupSource  // the first source table's: its connection options are every source's
	sinkInfo kafka.GroupSinkInfo
	job      *Job
	notice   io.Writer

	inTypes    []types.Type    // the aggregate's input row
	sideTypes  [2][]types.Type // a join's left and right input rows
	keyTypes   []types.Type
	repKeys    []int          // the aggregate's group keys or the Top-N's PARTITION BY columns: what stage 1 repartitions by
	insertOnly bool           // the aggregate's input carries +I rows only
	loc        *time.Location // 'table.local-time-zone', of a window plan's windows
	win        *winStage      // a window plan's stages (scaleout_window.go)
	stages     []*keyedStage  // later keyed stages: GROUP BYs over the first's changelog, each over the one before (scaleout_stage.go)

	// sinkOut is where the aggregates' output goes after the Calcs behind them (the sink); produce sends one
	// internal record (both set by prepare).
	sinkOut changelog.Output
	produce func(*kgo.Record)

	rep, cl   string                       // internal topics: '<name>-<op>-repartition', '<name>-<op>-changelog'
	srcTopics []string                     // the source tables' topics
	byTopic   map[string][]*scaleOutBranch // the branches that read each source topic
	nparts    int32                        // partitions of each internal topic
	topicIDs  map[string]kadm.TopicID      // of the internal topics: a topic deleted and created again has a new id

	sess *kgo.GroupTransactSession
	adm  *kadm.Client
	base *kgo.Client // non-group client of the admin requests

	sink   *kafka.GroupSink
	parts  map[int32]*aggPart  // stage 2: the repartition partitions whose state is loaded
	jparts map[int32]*joinPart // stage 2 of a join: the same
	rparts map[int32]*rankPart // stage 2 of a Top-N: the same
	// ivTouched are an interval join's partitions (in win.parts) that got records in the open transaction.
	ivTouched map[int32]*winPart
	// joinOut is what follows a join (its Calcs and the sink), shared by the partitions' joins.
	joinOut changelog.Output
	// keep decides which partitions' state a rebalance keeps (scaleout_keep.go).
	keep keepState

	mu       sync.Mutex
	revoked  bool               // a rebalance took partitions away: hold or drop the state (guarded by mu)
	assigned map[string][]int32 // the group's latest assignment to this member, not yet seen by step (guarded by mu)

	// runCtx is the member's run: done when the job is cancelled or stopped, or the member fails for good
	// (run's end, the topic watcher). The member's producer waits under it: a Produce blocked on the full
	// buffer, a transaction's flush and commit (EndTxn) end at once then, even when the brokers do not
	// answer; the transaction stays uncommitted (scaleout_cancel.go).
	runCtx  context.Context
	stopRun context.CancelFunc

	prodMu  sync.Mutex
	prodErr error // the first internal record that failed (guarded by prodMu)
	promise func(*kgo.Record, error)
	pool    sync.Pool // *kgo.Record of internal topics, with their buffers
	hdr     []kgo.RecordHeader
	// planNoted: a stateless plan's fingerprint is in its plan topic (scaleout_plan.go).
	planNoted bool

	// Reused buffers.
	keyBuf []byte
	valBuf []byte
	arena  []types.Value
	batch  changelog.Batch
	rowsIn int64 // source rows of the open transaction
	// rowsOut counts the sink rows of the open transaction; both are added to the job's counters when the
	// transaction commits, so the job's rows in/out are those of committed transactions.
	rowsOut atomic.Int64
}

// prepare creates the internal topics (or checks those that exist) and the member's group session.
func (m *member) prepare(ctx context.Context) error {
	m.runCtx, m.stopRun = context.WithCancel(ctx)
	m.byTopic = map[string][]*scaleOutBranch{}
	for _, b := range m.plan.branches {
		for _, t := range b.src.Topics() {
			if len(m.byTopic[t]) == 0 {
				m.srcTopics = append(m.srcTopics, t)
			}
			if !slices.Contains(m.byTopic[t], b) {
				m.byTopic[t] = append(m.byTopic[t], b)
			}
		}
	}
	// The names do not depend on the plan: a process of another plan started later under the same
	// 'pipeline.name' reads the job's topics and fails on their plan headers, instead of silently starting
	// from the source offsets that the group committed for the old plan.
	op := m.plan.opName()
	m.rep = m.s.name + "-" + op + "-repartition"
	m.cl = m.s.name + "-" + op + "-changelog"
	m.stages = newKeyedStages(m.plan, m.s.name)
	base, err := kgo.NewClient(m.src.ClientOpts()...)
	if err != nil {
		return err
	}
	m.base, m.adm = base, kadm.NewClient(base)
	fail := func(err error) error {
		base.Close()
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	td, err := m.adm.ListTopics(actx, m.srcTopics...)
	if err != nil {
		return fail(fmt.Errorf("list the source topics %v: %w", m.srcTopics, err))
	}
	counts := map[string]int32{}
	for _, t := range m.srcTopics {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return fail(fmt.Errorf("the source topic '%s' does not exist; scale-out reads existing topics (their partitions bound the job's parallelism)", t))
		}
		m.nparts = max(m.nparts, int32(len(d.Partitions)))
		counts[t] = int32(len(d.Partitions))
	}
	if m.plan.win != nil || m.plan.ivl != nil || m.plan.wj != nil || m.plan.wrank != nil {
		m.setupWindow(m.loc, counts)
	}
	if m.plan.tmp != nil {
		m.setupTemporal(counts) // scaleout_temporal.go
	}
	m.topicIDs = map[string]kadm.TopicID{}
	if m.stateless() {
		// A stateless plan has no repartition or changelog topic: each member reads its source partitions
		// and writes the sink in the transactions that commit its offsets. Its plan is checked against the
		// one recorded for the group's offsets (scaleout_plan.go).
		m.rep, m.cl = "", ""
		if err := m.checkStatelessPlan(actx); err != nil {
			return fail(err)
		}
	}
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	topics := []struct {
		name    string
		configs map[string]*string
	}{{m.rep, nil}, {m.cl, compact}}
	for _, s := range m.stages {
		topics = append(topics, struct {
			name    string
			configs map[string]*string
		}{s.rep, nil}, struct {
			name    string
			configs map[string]*string
		}{s.cl, compact})
	}
	for _, t := range topics {
		if t.name == "" {
			continue
		}
		if err := m.createTopic(actx, m.nparts, t.configs, t.name); err != nil {
			return fail(fmt.Errorf("create the internal topic '%s': %w", t.name, err))
		}
	}
	internal := m.internalTopics(m.internalNames())
	if len(internal) > 0 {
		td, err = m.adm.ListTopics(actx, internal...)
		if err != nil {
			return fail(fmt.Errorf("list the internal topics: %w", err))
		}
	}
	for _, t := range internal {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return fail(fmt.Errorf("the internal topic '%s' could not be created", t))
		}
		m.topicIDs[t] = d.ID
		if n := int32(len(d.Partitions)); n != m.nparts {
			return fail(fmt.Errorf("the internal topic '%s' has %d partitions, the source has %d: the job was started on another source; delete the job's internal topics ('%s-*') to start it anew", t, n, m.nparts, m.s.name))
		}
	}
	// The sink's topics are created as the kafka sink's producer would have them created (the member's
	// client does not auto-create topics, so that a deleted internal topic is noticed, not recreated empty).
	if len(m.sinkInfo.Topics) > 0 {
		td, err = m.adm.ListTopics(actx, m.sinkInfo.Topics...)
		if err != nil {
			return fail(fmt.Errorf("list the sink topics: %w", err))
		}
		for _, t := range m.sinkInfo.Topics {
			if d, ok := td[t]; ok && d.Err == nil {
				continue
			}
			if err := m.createTopic(actx, -1, nil, t); err != nil {
				return fail(fmt.Errorf("create the sink topic '%s': %w", t, err))
			}
		}
	}
	if err := m.open(m.runCtx); err != nil {
		return fail(err)
	}
	// Stage 1: each branch's Calcs, then repartitioning (an aggregate) or the Calcs behind the union and the
	// sink (a stateless plan; sinkRef follows the sink of the member's current session).
	var end changelog.Output = &repartitioner{m: m}
	if m.stateless() {
		end = m.postOutput()
	}
	if m.plan.join != nil {
		m.joinOut = m.firstOutput() // the sink, or a GROUP BY or Top-N over the join (scaleout_stage.go)
	}
	if m.plan.win != nil {
		end = m.windowStage1()
	}
	for side, b := range m.plan.branches {
		out := end
		if j := m.plan.join; j != nil {
			out = &joinRepartitioner{m: m, side: side, keys: [2][]int{j.LeftKeys, j.RightKeys}[side]}
		}
		if m.plan.ivl != nil {
			out = m.intervalStage1(side) // scaleout_interval.go
		}
		if m.plan.tmp != nil {
			out = m.temporalStage1(side) // scaleout_temporal.go
		}
		if m.plan.wj != nil {
			out = m.windowJoinStage1(side) // scaleout_window_join.go
		}
		if m.plan.wrank != nil {
			out = m.windowRankStage1() // scaleout_window_topn.go
		}
		for i := len(b.pre) - 1; i >= 0; i-- {
			c := b.pre[i]
			out = exec.NewCalc(c.Projects, c.Filter, out)
		}
		b.out = out
	}
	m.promise = m.delivered
	m.produce = func(r *kgo.Record) { m.sess.Produce(m.runCtx, r, m.promise) }
	m.hdr = []kgo.RecordHeader{{Key: planHeader, Value: []byte(m.plan.fp)}}
	m.parts = map[int32]*aggPart{}
	m.jparts = map[int32]*joinPart{}
	m.rparts = map[int32]*rankPart{}
	m.ivTouched = map[int32]*winPart{}
	m.keep.init(m.nparts, m.job.scaleOut)
	for _, s := range m.stages {
		s.stats = m.job.scaleOut.stage(s.n)
		s.keep.init(m.nparts, s.stats)
	}
	return nil
}

// stateless reports whether the plan has neither an aggregate nor a join: no repartition or changelog topic, no state.
func (m *member) stateless() bool {
	return m.plan.agg == nil && m.plan.join == nil && m.plan.win == nil && m.plan.ivl == nil && m.plan.rank == nil && m.plan.tmp == nil && m.plan.wj == nil && m.plan.wrank == nil
}

// dropState forgets the state of every stage-2 partition (it is restored from the changelog when a row
// of the partition comes).
func (m *member) dropState() {
	clear(m.parts)
	clear(m.jparts)
	clear(m.rparts)
	clear(m.ivTouched)
	if m.win != nil {
		m.win.drop()
	}
	for _, s := range m.stages {
		s.drop()
	}
}

// open creates the member's group session (a new transactional id: a restarted member does not wait for
// the transactions of its previous session) and the sink writing through it.
func (m *member) open(ctx context.Context) error {
	txid := make([]byte, 8)
	_, _ = rand.Read(txid)
	part := &memberPartitioner{internal: map[string]bool{}, sink: m.sinkInfo.Partitioner}
	for _, t := range m.internalTopics(m.internalNames()) {
		part.internal[t] = true
	}
	opts := append(m.src.ClientOpts(),
		kgo.ConsumerGroup(m.s.name),
		kgo.ConsumeTopics(append(append([]string(nil), m.srcTopics...), m.consumedInternal()...)...),
		kgo.TransactionalID(m.txnPrefix()+"-"+hex.EncodeToString(txid)),
		kgo.TransactionTimeout(m.s.txnTimeout),
		kgo.SessionTimeout(m.s.sessionTimeout),
		kgo.HeartbeatInterval(max(m.s.sessionTimeout/4, 100*time.Millisecond)),
		kgo.Balancers(planBalancer{GroupBalancer: kgo.RangeBalancer(), name: "sluice-" + m.plan.fp}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(m.onRevoked),
		kgo.OnPartitionsLost(m.onRevoked),
		kgo.OnPartitionsAssigned(m.onAssigned),
		kgo.RecordPartitioner(part),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	)
	var err error
	m.sess, err = kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("the member's Kafka client: %w", err)
	}
	m.sink, err = kafka.OpenGroupSink(ctx, m.plan.sink.Sink, m.sess.Client())
	if err != nil {
		m.sess.Close()
		return err
	}
	m.sinkOut = m.sink
	return nil
}

// txnPrefix names the member's transactions: the sink table's 'sink.transactional-id-prefix' when it has
// one (an exactly-once kafka sink), else the job's name; a random suffix follows.
func (m *member) txnPrefix() string {
	if m.sinkInfo.TxnPrefix != "" {
		return m.sinkInfo.TxnPrefix
	}
	return m.s.name
}

// onRevoked runs in the group's goroutine when partitions are revoked or lost: before it processes anything
// of the next assignment, the member holds its stage-2 state aside (it keeps a partition's state that it owns
// again with its changelog unchanged, scaleout_keep.go) and drops the rest.
func (m *member) onRevoked(context.Context, *kgo.Client, map[string][]int32) {
	m.mu.Lock()
	m.revoked = true
	m.mu.Unlock()
}

// onAssigned runs in the group's goroutine when partitions are assigned: a window plan's stage 1 measures
// the idleness of its source partitions from then on.
func (m *member) onAssigned(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
	m.mu.Lock()
	m.assigned = parts
	m.mu.Unlock()
}

// run is the member's loop; it returns when ctx is cancelled (nil) or the job fails.
func (m *member) run(ctx context.Context) error {
	defer m.base.Close()
	defer func() { m.closeSession() }() // the session of the last restart
	if m.stateless() {
		fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s' (plan %s): member of consumer group '%s', a stateless plan (no repartition or changelog topic; its plan is recorded in '%s').\n",
			m.s.name, m.plan.fp, m.s.name, m.s.name+planTopicSuffix)
	} else if len(m.stages) > 0 {
		names := []string{m.rep, m.cl}
		for _, s := range m.stages {
			names = append(names, s.rep, s.cl)
		}
		fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s' (plan %s): member of consumer group '%s', %s keyed stages, internal topics '%s' and '%s' (%d partitions).\n",
			m.s.name, m.plan.fp, m.s.name, stageCount(len(m.stages)+1), strings.Join(names[:len(names)-1], "', '"), names[len(names)-1], m.nparts)
	} else {
		fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s' (plan %s): member of consumer group '%s', internal topics '%s' and '%s' (%d partitions).\n",
			m.s.name, m.plan.fp, m.s.name, m.rep, m.cl, m.nparts)
	}
	// A watcher checks every second that the internal topics still exist: a deleted topic shows in the
	// member's requests as errors of many kinds, or as records retried until the delivery timeout.
	wctx, stop := m.runCtx, m.stopRun
	defer stop()
	var topicErr error
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if m.stateless() {
			return // no repartition or changelog topic to watch
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if err := m.checkTopics(wctx); err != nil {
				topicErr = err
				stop()
				return
			}
		}
	}()
	restart := &streamRestart{policy: m.restart}
	for wctx.Err() == nil {
		err := m.step(wctx)
		if err == nil || wctx.Err() != nil {
			continue
		}
		if terr := m.checkTopics(ctx); terr != nil {
			return terr
		}
		var fatal *fatalError
		var delay time.Duration
		again := false
		if !errors.As(err, &fatal) {
			delay, again = restart.next()
		}
		if again {
			err = m.restartAfter(wctx, err, delay, restart)
		}
		if err != nil && wctx.Err() == nil {
			stop()
			<-watched
			return fmt.Errorf("scale-out job '%s': %w", m.s.name, err)
		}
	}
	stop()
	<-watched
	if ctx.Err() != nil {
		return nil
	}
	return topicErr
}

// restartAfter restarts the member after cause: it leaves the group (its open transaction was aborted,
// or the brokers abort it after the transaction timeout), drops its state and, after delay, joins again with
// a new session; the partitions it is given are restored from the changelog, and the source and repartition
// rows after the last committed offsets are read again.
func (m *member) restartAfter(ctx context.Context, cause error, delay time.Duration, r *streamRestart) error {
	of := ""
	if r.policy.kind == "fixed-delay" && r.policy.attempts >= 0 {
		of = fmt.Sprintf(" of %d", r.policy.attempts)
	}
	how := fmt.Sprintf("restores its partitions from '%s'", m.cl)
	if len(m.stages) > 0 {
		cls := []string{m.cl}
		for _, s := range m.stages {
			cls = append(cls, s.cl)
			s.keep.reset()
		}
		how = fmt.Sprintf("restores its partitions from '%s' and '%s'", strings.Join(cls[:len(cls)-1], "', '"), cls[len(cls)-1])
	}
	if m.stateless() {
		how = "reads its partitions from the committed offsets"
	}
	fmt.Fprintf(m.notice, "[WARNING] Scale-out job '%s': the member failed: %v\n[WARNING] Restarting the member in %s (restart %d%s, 'restart-strategy' = '%s'): it rejoins the group and %s.\n",
		m.s.name, cause, delay.Round(time.Millisecond), r.restarts, of, r.policy.kind, how)
	m.job.metrics.restarts.Add(1)
	m.sess.Close()
	m.mu.Lock()
	m.revoked = false
	m.assigned = nil
	m.mu.Unlock()
	m.dropState()
	m.keep.reset()
	if m.win != nil {
		m.win.assign(nil, time.Now()) // the new session's assignment comes through onAssigned
	}
	m.rowsIn = 0
	m.rowsOut.Store(0)
	_ = m.produceErr(true) // records of the closed session
	t := time.NewTimer(delay)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil
	case <-t.C:
	}
	if err := m.open(ctx); err != nil {
		return fmt.Errorf("restart the member: %w", err)
	}
	return nil
}

// fatalError is a failure that a restart cannot cure: another plan's group or records.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }
func (f *fatalError) Unwrap() error { return f.err }

// step polls once and, when records came, processes them in one transaction. A poll takes at most
// 'sluice.scale-out.max-poll-records' records, so that a member behind a backlog works it off in several
// transactions instead of one that outlives 'sluice.scale-out.transaction-timeout' (the session's End commits
// the offsets of exactly the records polled, all processed in the transaction).
func (m *member) step(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, m.s.commitInterval)
	fetches := m.sess.PollRecords(pctx, m.s.maxPoll)
	cancel()
	defer m.sess.AllowRebalance()
	if ctx.Err() != nil {
		return nil
	}
	now := time.Now()
	m.mu.Lock()
	if m.revoked {
		m.revoked = false
		m.hold()
		if m.win != nil {
			m.win.assign(nil, now) // until the next assignment it owns no source partition
		}
	}
	if m.assigned != nil {
		m.assignedHeld(m.assigned)
		if m.win != nil {
			m.win.assign(m.assigned, now)
		}
		m.assigned = nil
	}
	m.mu.Unlock()
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue
		}
		if errors.Is(fe.Err, kerr.InconsistentGroupProtocol) {
			return &fatalError{fmt.Errorf("consumer group '%s' runs another plan than this process (plan %s): the processes of one job must run the same INSERT over the same tables. Stop the other processes, or give this job another 'pipeline.name'",
				m.s.name, m.plan.fp)}
		}
		if (m.rep != "" && fe.Topic == m.rep) || m.stageOf(fe.Topic) != nil || errors.Is(fe.Err, kerr.UnknownTopicOrPartition) || errors.Is(fe.Err, kerr.UnknownTopicID) {
			if terr := m.checkTopics(ctx); terr != nil {
				return terr
			}
		}
		return fmt.Errorf("consume topic '%s' partition %d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	// A window plan's source partition that went idle is announced even when nothing came. A full poll
	// leaves records buffered in the client, perhaps of a partition that this poll did not reach: no
	// partition is announced idle until a poll takes all that is buffered.
	if m.win != nil && fetches.NumRecords() > 0 {
		m.win.polled(now)
	}
	if m.win != nil {
		m.win.behind = m.s.maxPoll > 0 && fetches.NumRecords() >= m.s.maxPoll
	}
	if fetches.NumRecords() == 0 && (m.win == nil || !m.win.idleDue(now)) {
		return nil
	}
	if err := m.sess.Begin(); err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	began := now
	m.keep.beginTxn()
	for _, s := range m.stages {
		s.keep.beginTxn()
	}
	touched, err := m.process(ctx, fetches, now)
	if err == nil && m.win != nil {
		m.sendWatermarks(now)
		err = m.writeWindowChangelog()
	}
	if err == nil && (m.plan.ivl != nil || m.plan.tmp != nil || m.plan.wj != nil || m.plan.wrank != nil) {
		err = m.writeIntervalChangelog() // scaleout_interval.go
	}
	if err == nil {
		m.sink.Finish()
		m.writeRankChangelog()
		err = m.writeChangelog(touched)
	}
	for _, s := range m.stages {
		if err == nil {
			err = s.writeChangelog(m)
		}
	}
	if err == nil {
		err = m.sink.Err()
	}
	if err == nil {
		err = m.produceErr(false)
	}
	if err != nil {
		m.rowsIn = 0
		m.rowsOut.Store(0)
		m.sink.Discard()
		m.abort(ctx)
		return m.timedOut(err, began)
	}
	committed, err := m.sess.End(ctx, kgo.TryCommit)
	if err != nil {
		return m.timedOut(fmt.Errorf("commit the transaction: %w", err), began)
	}
	if !committed {
		// A rebalance aborted the transaction: the state of the partitions it touched includes rows whose
		// transaction was aborted; it is reloaded from the changelog (the rows are fetched again).
		m.dropAborted()
		m.sink.ResetErr()
		_ = m.produceErr(true)
		m.rowsIn = 0
		m.rowsOut.Store(0)
		return nil
	}
	m.keep.committed()
	for _, s := range m.stages {
		s.keep.committed()
	}
	m.job.rowsIn.Add(m.rowsIn)
	m.job.rowsOut.Add(m.rowsOut.Swap(0))
	m.rowsIn = 0
	m.notePlan(ctx)
	return nil
}

// process runs the fetched records through stage 1 or stage 2; it returns the stage-2 partitions whose
// state changed.
func (m *member) process(ctx context.Context, fetches kgo.Fetches, now time.Time) (map[int32]*aggPart, error) {
	touched := map[int32]*aggPart{}
	var need []int32
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if m.rep != "" && fp.Topic == m.rep && len(fp.Records) > 0 {
			m.keep.touch(fp.Partition)
			if !m.loaded(fp.Partition) {
				need = append(need, fp.Partition)
			}
		}
	})
	later := make([][]int32, len(m.stages))
	for i, s := range m.stages {
		later[i] = s.need(fetches)
	}
	need, err := m.reclaim(ctx, need) // the partitions whose state was kept over a rebalance (scaleout_keep.go)
	if err != nil {
		return nil, err
	}
	for i, s := range m.stages {
		if len(later[i]) > 0 {
			start := time.Now()
			if err := s.load(ctx, m, later[i]); err != nil {
				return nil, err
			}
			m.keep.stats.addTime(time.Since(start))
		}
	}
	if len(need) > 0 {
		restore := m.restore
		if m.plan.join != nil {
			restore = m.restoreJoin
		}
		if m.win != nil {
			restore = m.restoreWindow
		}
		if m.plan.rank != nil {
			restore = m.restoreRank
		}
		start := time.Now()
		if err := restore(ctx, need); err != nil {
			return nil, err
		}
		m.keep.stats.addTime(time.Since(start))
	}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil || len(fp.Records) == 0 {
			return
		}
		if s := m.stageOf(fp.Topic); s != nil {
			err = s.aggregate(m, fp.Partition, fp.Records)
			return
		}
		if m.rep != "" && fp.Topic == m.rep && (m.plan.ivl != nil || m.plan.tmp != nil || m.plan.wj != nil || m.plan.wrank != nil) { // a temporal or window join's (or window Top-N's) inputs are an interval join's
			err = m.intervalJoin(fp.Partition, m.win.parts[fp.Partition], fp.Records)
			return
		}
		if m.rep != "" && fp.Topic == m.rep && m.win != nil {
			err = m.windowAggregate(fp.Partition, m.win.parts[fp.Partition], fp.Records)
			return
		}
		if m.rep != "" && fp.Topic == m.rep && m.plan.rank != nil {
			err = m.rank(m.rparts[fp.Partition], fp.Records)
			return
		}
		if m.rep != "" && fp.Topic == m.rep && m.plan.join != nil {
			err = m.join(fp.Partition, m.jparts[fp.Partition], fp.Records)
			return
		}
		if m.rep != "" && fp.Topic == m.rep {
			p := m.parts[fp.Partition]
			touched[fp.Partition] = p
			err = m.aggregate(p, fp.Records)
			return
		}
		if m.win != nil {
			m.win.cur = m.win.base[fp.Topic] + uint32(fp.Partition)
			m.win.recordsOf(m.win.cur, now)
		}
		for _, br := range m.byTopic[fp.Topic] {
			for i, rec := range fp.Records {
				// A cancelled or failed member stops in the middle of a poll (its transaction is aborted):
				// the rest of the poll took seconds under load (TestScaleOutMemberInterrupted).
				if i%64 == 0 {
					if err = ctx.Err(); err != nil {
						return
					}
					if scaleOutSlowRecords != nil {
						scaleOutSlowRecords() // a test's slow member (scaleout_backlog_test.go)
					}
				}
				b, derr := br.src.Decode(rec)
				if derr != nil {
					err = derr
					return
				}
				if b.Len() == 0 {
					continue
				}
				m.rowsIn += int64(b.Len())
				if err = br.out.Push(b); err != nil {
					return
				}
			}
		}
	})
	return touched, err
}

// scaleOutSlowRecords, when set (by a test, before its members start), runs before every 64th source record
// a member decodes.
var scaleOutSlowRecords func()
