package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A second keyed stage (docs/ARCHITECTURE.md "Scale-out over Kafka", "Two keyed stages"): a GROUP BY over
// the changelog of the job's first keyed operator (a GROUP BY, or a regular, interval or event-time temporal
// join), e.g. a histogram
// `SELECT cnt, COUNT(*) FROM (SELECT user_id, COUNT(*) cnt FROM t GROUP BY user_id) GROUP BY cnt`.
// The first operator's output rows (-U/+U with their kind byte, then the row in types.AppendRowBinary)
// go through the Calcs between the two to the internal topic '<pipeline.name>-agg2-repartition',
// partition = the key-group range of the second GROUP BY key, produced in the transaction that writes
// the first operator's changelog and commits the offsets its rows came from. Members consume that topic
// too (read_committed): one GroupAggregate per partition, taking retractions, with its state in the
// compacted '<pipeline.name>-agg2-changelog' (the first stage's encoding and bookkeeping: per
// transaction the entries of the groups that got rows), restored, kept over a rebalance and dropped after
// an aborted transaction as the first stage's partitions are, with its own keepState. The output goes
// through the Calcs behind it to the sink. All of one key's changes come from the partition of the first
// operator that owns the row they change, produced in order by its one owner at a time (the next owner
// reads from the offsets committed with them), so a retraction reaches the second aggregate after the
// row it retracts. The first operator is a GROUP BY or a regular join (an outer join's output retracts
// its NULL-padded rows): any operator whose output is a changelog can feed the stage through m.stage2Out.
// An interval or temporal join's output is insert-only (an outer side's NULL-padded row is emitted once,
// when the watermark closes its interval, never retracted): the aggregate over it is an insert-only one
// (keyedStage.insertOnly), produced as the join emits rows, on rows and on watermark records, in the
// transaction that writes the join's changelog.
// Later stages chain (Nexmark q4: join -> GROUP BY -> GROUP BY): m.stages is a list, stage N's output going
// through the Calcs between to '<pipeline.name>-agg<N+1>-repartition', up to maxKeyedStages in all; each
// stage has its own changelog, keepState and stats (scaleOutStats.stage).

// maxKeyedStages is the most keyed stages a scale-out job chains: Nexmark q4's join -> GROUP BY -> GROUP BY.
const maxKeyedStages = 3

// scaleOutLater is a GROUP BY (or, as the last stage, a Top-N: scaleout_stage_rank.go) over the results of
// the keyed stage before it, through Calcs.
type scaleOutLater struct {
	agg  *planner.Aggregate
	rank *planner.Rank
	mid  []*planner.Calc // between the stage before and agg, agg's side last
}

// keyedStage is a member's later keyed stage (the second or third): a GROUP BY (or, the last, a Top-N) over
// the changelog of the stage before it; its output goes to the next stage (next) or, from the last, to the
// sink.
type keyedStage struct {
	n       int // the stage's number: 2 or 3 (topics '<name>-agg<n>-...', a Top-N's '<name>-rank<n>-...')
	agg     *planner.Aggregate
	rank    *planner.Rank   // a Top-N stage (agg nil; scaleout_stage_rank.go)
	keys    []int           // what the stage repartitions by: the GROUP BY keys or the PARTITION BY columns
	mid     []*planner.Calc // between the stage before and this aggregate, this side last
	next    *keyedStage
	rep, cl string
	inTypes []types.Type // the aggregate's input row (what the repartition records hold)
	// insertOnly: the stage's rows are +I only (a GROUP BY right over an interval or temporal join), so its
	// aggregate keeps insert-only accumulators (a MAX holds one value, not a multiset).
	insertOnly bool
	keyTypes   []types.Type
	parts      map[int32]*aggPart       // the partitions whose state is loaded
	touched    map[int32]*aggPart       // the partitions that got records in the open transaction
	rparts     map[int32]*stageRankPart // a Top-N stage's loaded partitions
	rtouched   map[int32]*stageRankPart // and those that got records in the open transaction
	keep       keepState
	stats      *scaleOutStats // the job's stats of this stage (scaleOutStats.stage)

	keyBuf, valBuf []byte
	arena          []types.Value
	batch          changelog.Batch
}

// cutScaleOutStages cuts a GROUP BY (top) whose input, through Calcs, is another GROUP BY or a regular
// join, down the chain of GROUP BYs to the first keyed operator: a GROUP BY of a table scan (p.agg) or a
// join (p.join, p.ivl or p.tmp: keyedJoin). The GROUP BYs above it are p.later, at most maxKeyedStages in all.
func cutScaleOutStages(p *scaleOutPlan, top *planner.Aggregate, root planner.Node) error {
	var later []scaleOutLater
	agg := top
	for {
		_, last := cutScaleOutBranch(agg.Input)
		mid, err := calcsBetween(agg.Input, last)
		if err != nil {
			return err
		}
		later = append([]scaleOutLater{{agg: agg, mid: mid}}, later...)
		switch l := last.(type) {
		case *planner.Join, *planner.TemporalJoin:
			if !keyedJoin(l) {
				break
			}
			if len(later)+1 > maxKeyedStages {
				return fmt.Errorf("the aggregate's input is %s over %s: a join under %s GROUP BY levels is %s keyed stages (a scale-out job runs at most %s: a GROUP BY over a GROUP BY over a join or over a GROUP BY of a table scan); write an inner result to a kafka table and aggregate it in another job", agg.Describe(), l.Describe(), stageCount(len(later)), stageCount(len(later)+1), stageCount(maxKeyedStages))
			}
			if err := cutFirstJoin(p, l, root); err != nil {
				return err
			}
			p.agg, p.later = nil, later
			return nil
		case *planner.Aggregate:
			if err := checkScaleOutAgg(l); err != nil {
				return err
			}
			b, under := cutScaleOutBranch(l.Input)
			if b != nil {
				p.agg, p.later, p.branches = l, later, []*scaleOutBranch{b}
				return nil
			}
			if _, ok := under.(*planner.Aggregate); ok && len(later)+2 > maxKeyedStages {
				return fmt.Errorf("the aggregate's input is %s over %s: %s GROUP BY levels are %s keyed stages (a scale-out job runs at most %s: a GROUP BY over a GROUP BY over a GROUP BY of a table scan or over a join); write an inner aggregate's results to a kafka table and aggregate them in another job", l.Describe(), under.Describe(), stageCount(len(later)+2), stageCount(len(later)+2), stageCount(maxKeyedStages))
			}
			if keyedJoin(under) && len(later)+2 > maxKeyedStages {
				return fmt.Errorf("the aggregate's input is %s over %s: a join under %s GROUP BY levels is %s keyed stages (a scale-out job runs at most %s: a GROUP BY over a GROUP BY over a join or over a GROUP BY of a table scan); write an inner result to a kafka table and aggregate it in another job", l.Describe(), under.Describe(), stageCount(len(later)+1), stageCount(len(later)+2), stageCount(maxKeyedStages))
			}
			switch under.(type) {
			case *planner.Aggregate, *planner.Join, *planner.TemporalJoin:
				agg = l
				continue
			}
			return fmt.Errorf("the aggregate's input is %s over %s: a scale-out job runs keyed stages only as GROUP BYs over a GROUP BY of a table scan or over a regular, interval or temporal join of two; write the inner result to a kafka table and aggregate it in another job", l.Describe(), under.Describe())
		}
		return fmt.Errorf("the aggregate's input is %s over %s: a scale-out job runs keyed stages only as GROUP BYs over a GROUP BY of a table scan or over a regular, interval or temporal join of two; write the inner result to a kafka table and aggregate it in another job", agg.Describe(), last.Describe())
	}
}

// keyedJoin reports whether n is a join that runs as the first keyed stage under GROUP BYs: a streaming
// regular or interval join (scaleout_join.go, scaleout_interval.go) or an event-time temporal join
// (scaleout_temporal.go). Their output reaches the next stage through firstOutput.
func keyedJoin(n planner.Node) bool {
	switch j := n.(type) {
	case *planner.Join:
		return !j.Batch
	case *planner.TemporalJoin:
		return true
	}
	return false
}

// cutFirstJoin cuts the join j (keyedJoin) as the job's first keyed stage.
func cutFirstJoin(p *scaleOutPlan, j planner.Node, root planner.Node) error {
	var err error
	switch j := j.(type) {
	case *planner.Join:
		_, err = cutScaleOutJoin(p, j, root) // an interval join: cutScaleOutInterval
	case *planner.TemporalJoin:
		_, err = cutScaleOutTemporal(p, j, root)
	}
	return err
}

// calcsBetween returns the Calcs from n down to op (op's side first): what lies between a keyed stage's
// operator op and the aggregate whose input is n.
func calcsBetween(n, op planner.Node) ([]*planner.Calc, error) {
	var mid []*planner.Calc
	for n != op {
		c, ok := n.(*planner.Calc)
		if !ok {
			return nil, fmt.Errorf("the aggregate's input is %s over %s, not Calcs over it", n.Describe(), op.Describe())
		}
		mid = append([]*planner.Calc{c}, mid...)
		n = c.Input
	}
	return mid, nil
}

// checkScaleOutAgg refuses an aggregate that cannot be split by key into a stage.
func checkScaleOutAgg(agg *planner.Aggregate) error {
	switch {
	case agg.Batch:
		return fmt.Errorf("the aggregate runs in batch mode; scale-out runs streaming jobs")
	case len(agg.Keys) == 0:
		return fmt.Errorf("%s has no group keys (a global aggregate cannot be split by key)", agg.Describe())
	case agg.MiniBatch != nil:
		return fmt.Errorf("%s is a mini-batch aggregate; unset 'table.exec.mini-batch.enabled'", agg.Describe())
	case agg.PartialFinal != "":
		return fmt.Errorf("%s is split into two levels ('table.optimizer.distinct-agg.split.enabled'); unset it", agg.Describe())
	}
	return nil
}

// newKeyedStages are the later stages of plan p, the second first (none without one).
func newKeyedStages(p *scaleOutPlan, name string) []*keyedStage {
	var ss []*keyedStage
	for i, l := range p.later {
		n := i + 2
		s := &keyedStage{n: n, agg: l.agg, rank: l.rank, mid: l.mid, rep: fmt.Sprintf("%s-agg%d-repartition", name, n), cl: fmt.Sprintf("%s-agg%d-changelog", name, n),
			parts: map[int32]*aggPart{}, touched: map[int32]*aggPart{}, rparts: map[int32]*stageRankPart{}, rtouched: map[int32]*stageRankPart{}}
		if l.rank != nil {
			s.rep, s.cl = fmt.Sprintf("%s-rank%d-repartition", name, n), fmt.Sprintf("%s-rank%d-changelog", name, n)
			s.inTypes, s.keys = fieldTypes(l.rank.Input.Fields()), l.rank.Partition
		} else {
			s.inTypes, s.keys = fieldTypes(l.agg.Input.Fields()), l.agg.Keys
			s.insertOnly = i == 0 && (p.ivl != nil || p.tmp != nil) && l.agg.Input.Mode().IsInsertOnly()
		}
		s.keyTypes = make([]types.Type, len(s.keys))
		for i, k := range s.keys {
			s.keyTypes[i] = s.inTypes[k]
		}
		if len(ss) > 0 {
			ss[len(ss)-1].next = s
		}
		ss = append(ss, s)
	}
	return ss
}

// stage2Out is where the first operator's output goes in a plan with later stages: into the second.
func (m *member) stage2Out() changelog.Output { return m.stageIn(m.stages[0]) }

// firstOutput is where the output of the first keyed operator (a regular, interval or temporal join, or a
// Top-N of a scan) goes: into the second stage, or (no later stage) through the Calcs behind it to the sink.
func (m *member) firstOutput() changelog.Output {
	if len(m.stages) > 0 {
		return m.stage2Out()
	}
	return m.postOutput()
}

// stageIn is where the output of the stage before s goes: the Calcs between the two, then s's
// repartitioning.
func (m *member) stageIn(s *keyedStage) changelog.Output {
	var out changelog.Output = &stageRepartitioner{m: m, s: s}
	for i := len(s.mid) - 1; i >= 0; i-- {
		c := s.mid[i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return out
}

// stageRepartitioner produces each row (with its kind: the stage's aggregate retracts) to the stage's
// repartition partition that owns the key group of its GROUP BY key.
type stageRepartitioner struct {
	m *member
	s *keyedStage
}

func (r *stageRepartitioner) Push(b *changelog.Batch) error {
	m, s := r.m, r.s
	for i := range b.Rows {
		row := &b.Rows[i]
		s.keyBuf = types.AppendRowKey(s.keyBuf[:0], row.Vals, s.inTypes, s.keys)
		part := exec.Subtask(state.KeyGroup(s.keyBuf, m.s.maxPar), m.s.maxPar, int(m.nparts))
		s.valBuf = types.AppendRowBinary(append(s.valBuf[:0], byte(row.Kind)), row.Vals, s.inTypes)
		rec := m.record()
		rec.Topic, rec.Partition, rec.Headers = s.rep, int32(part), m.hdr
		rec.Key = append(rec.Key, s.keyBuf...)
		rec.Value = append(rec.Value, s.valBuf...)
		m.produce(rec)
	}
	return nil
}

func (r *stageRepartitioner) Watermark(int64) error { return nil }
func (r *stageRepartitioner) End() error            { return nil }

// newPart builds the stage's aggregate of one partition; its output goes to the next stage or, from the
// last, through the Calcs behind it to the sink.
func (s *keyedStage) newPart(m *member) func(int32) (*aggPart, error) {
	return func(part int32) (*aggPart, error) {
		cfg := exec.GroupAggConfig{Keys: s.agg.Keys, Aggs: s.agg.Aggs, EmitUpdateBefore: true, InsertOnly: s.insertOnly,
			TTL: m.s.ttl, KeyTypes: s.keyTypes, InTypes: s.inTypes}
		return m.newGroupAggPart(part, cfg, s.output(m))
	}
}

// output is where the stage's operator's output goes: into the next stage or, from the last, through the
// Calcs behind it to the sink.
func (s *keyedStage) output(m *member) changelog.Output {
	if s.next != nil {
		return m.stageIn(s.next)
	}
	return m.postOutput()
}

// need notes the stage's partitions that get records in fetches and returns those whose state is not
// loaded.
func (s *keyedStage) need(fetches kgo.Fetches) []int32 {
	var need []int32
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic == s.rep && len(fp.Records) > 0 {
			s.keep.touch(fp.Partition)
			if !s.loaded(fp.Partition) {
				need = append(need, fp.Partition)
			}
		}
	})
	return need
}

// load keeps (scaleout_keep.go) or restores the stage's partitions need.
func (s *keyedStage) load(ctx context.Context, m *member, need []int32) error {
	need, err := m.reclaimOf(ctx, &s.keep, s.cl, need, s.load1)
	if err != nil || len(need) == 0 {
		return err
	}
	if s.rank != nil {
		return s.restoreRanks(ctx, m, need)
	}
	return m.restoreAggs(ctx, s.cl, &s.keep, need, s.newPart(m), s.parts)
}

// load1 makes h the loaded state of partition p.
func (s *keyedStage) load1(p int32, h heldPart) {
	if h.srank != nil {
		s.rparts[p] = h.srank
	} else if h.agg != nil {
		s.parts[p] = h.agg
	}
}

// loaded reports whether partition p's state is loaded.
func (s *keyedStage) loaded(p int32) bool { return s.parts[p] != nil || s.rparts[p] != nil }

// loadedParts returns the loaded partitions.
func (s *keyedStage) loadedParts() map[int32]heldPart {
	l := map[int32]heldPart{}
	for p, ap := range s.parts {
		l[p] = heldPart{agg: ap}
	}
	for p, rp := range s.rparts {
		l[p] = heldPart{srank: rp}
	}
	return l
}

// stageOf returns the later stage whose repartition topic is topic (nil if none).
func (m *member) stageOf(topic string) *keyedStage {
	for _, s := range m.stages {
		if s.rep == topic {
			return s
		}
	}
	return nil
}

// aggregate decodes the stage's repartition records and pushes them into the partition's
// aggregate.
func (s *keyedStage) aggregate(m *member, part int32, recs []*kgo.Record) error {
	if s.rank != nil {
		return s.rankRecords(m, part, recs)
	}
	p := s.parts[part]
	s.touched[part] = p
	err := s.decodeRecords(m, recs, func(rec *kgo.Record, _ changelog.Kind, _ []types.Value) {
		if _, ok := p.dirty[string(rec.Key)]; !ok {
			p.markDirty(string(rec.Key))
		}
	})
	if err != nil {
		return err
	}
	return p.agg.Push(&s.batch)
}

// decodeRecords decodes the stage's repartition records (a kind byte, then the row's
// types.AppendRowBinary) into s.batch, the rows in s.arena, calling each with every record as decoded.
func (s *keyedStage) decodeRecords(m *member, recs []*kgo.Record, each func(rec *kgo.Record, kind changelog.Kind, row []types.Value)) error {
	w := len(s.inTypes)
	if need := len(recs) * w; cap(s.arena) < need {
		s.arena = make([]types.Value, need)
	}
	s.batch.Reset()
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		row := s.arena[i*w : (i+1)*w : (i+1)*w]
		if _, _, err := types.DecodeRowBinary(rec.Value[1:], s.inTypes, row[:0]); err != nil {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		kind := changelog.Kind(rec.Value[0])
		each(rec, kind, row)
		s.batch.Append(kind, row)
	}
	return nil
}

// writeChangelog produces the entries of the stage's groups changed in the open transaction.
func (s *keyedStage) writeChangelog(m *member) error {
	if s.rank != nil {
		s.writeRankChangelog(m)
		return nil
	}
	err := m.writeAggChangelog(s.cl, s.touched)
	clear(s.touched)
	return err
}

// hold moves the loaded partitions whose changelog end is known aside (a rebalance revoked every
// partition); the member's dropState drops the loaded ones.
func (s *keyedStage) hold() {
	for p, h := range s.loadedParts() {
		if _, ok := s.keep.ends[p]; ok {
			s.keep.held[p] = h
		}
	}
}

// forgetEnds forgets the ends of the partitions neither loaded nor held.
func (s *keyedStage) forgetEnds() {
	for p := range s.keep.ends {
		if _, ok := s.keep.held[p]; !ok && !s.loaded(p) {
			delete(s.keep.ends, p)
		}
	}
}

// assignedHeld drops the held partitions that the new assignment did not give this member.
func (s *keyedStage) assignedHeld(parts map[string][]int32) {
	own := parts[s.rep]
	for p := range s.keep.held {
		if !slices.Contains(own, p) {
			delete(s.keep.held, p)
			delete(s.keep.ends, p)
		}
	}
}

// dropAborted drops, after an aborted transaction, the partitions that got records or changelog records
// in it, and keeps the others loaded (loaded: the partitions loaded before the member's dropState).
func (s *keyedStage) dropAborted(loaded map[int32]heldPart) {
	s.drop()
	s.keep.keepUntouched(loaded, s.load1)
	s.forgetEnds()
	s.keep.beginTxn()
}

// drop forgets every loaded partition (dropState).
func (s *keyedStage) drop() {
	clear(s.parts)
	clear(s.touched)
	clear(s.rparts)
	clear(s.rtouched)
}

// topics are the stage's internal topics.
func (s *keyedStage) topics() []string { return []string{s.rep, s.cl} }

// stagesLoaded returns the later stages' loaded partitions, one map per stage.
func (m *member) stagesLoaded() []map[int32]heldPart {
	var l []map[int32]heldPart
	for _, s := range m.stages {
		l = append(l, s.loadedParts())
	}
	return l
}

// stageCount spells a number of keyed stages or GROUP BY levels for messages.
func stageCount(n int) string {
	if n >= 1 && n <= 5 {
		return []string{"one", "two", "three", "four", "five"}[n-1]
	}
	return fmt.Sprint(n)
}
