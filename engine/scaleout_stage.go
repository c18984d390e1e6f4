package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A second keyed stage (docs/ARCHITECTURE.md "Scale-out over Kafka", "Two keyed stages"): a GROUP BY over
// the changelog of the job's first keyed operator (a GROUP BY or a regular join), e.g. a histogram
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

// stage2Suffix names the second stage's topics: '<pipeline.name>-agg2-repartition', '-agg2-changelog'.
const stage2Suffix = "agg2"

// keyedStage is a member's second keyed stage: a GROUP BY over the first operator's changelog. A third
// stage would chain another keyedStage behind this one's output (not done: refused).
type keyedStage struct {
	agg      *planner.Aggregate
	mid      []*planner.Calc // between the first operator and this aggregate, this side last
	rep, cl  string
	inTypes  []types.Type // the aggregate's input row (what the repartition records hold)
	keyTypes []types.Type
	parts    map[int32]*aggPart // the partitions whose state is loaded
	touched  map[int32]*aggPart // the partitions that got records in the open transaction
	keep     keepState
	stats    *scaleOutStats

	keyBuf, valBuf []byte
	arena          []types.Value
	batch          changelog.Batch
}

// cutScaleOutAgg2 cuts a GROUP BY (outer) whose input, through Calcs, is another GROUP BY: the inner one
// is the first keyed stage, the outer the second (p.agg2).
func cutScaleOutAgg2(p *scaleOutPlan, outer, inner *planner.Aggregate, mid []*planner.Calc) error {
	if err := checkScaleOutAgg(inner); err != nil {
		return err
	}
	p.agg, p.agg2, p.mid = inner, outer, mid
	b, last := cutScaleOutBranch(inner.Input)
	if b != nil {
		p.branches = []*scaleOutBranch{b}
		return nil
	}
	switch last.(type) {
	case *planner.Aggregate:
		return fmt.Errorf("the aggregate's input is %s over %s: three GROUP BY levels are three keyed stages (a scale-out job runs at most two: a GROUP BY over a GROUP BY); write the innermost aggregate's results to a kafka table and aggregate them in another job", inner.Describe(), last.Describe())
	}
	return fmt.Errorf("the aggregate's input is %s over %s: a scale-out job runs two keyed stages only as a GROUP BY over a GROUP BY of a table scan or over a regular join of two; write the inner result to a kafka table and aggregate it in another job", inner.Describe(), last.Describe())
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

// newKeyedStage is the second stage of plan p (nil without one).
func newKeyedStage(p *scaleOutPlan, name string) *keyedStage {
	if p.agg2 == nil {
		return nil
	}
	s := &keyedStage{agg: p.agg2, mid: p.mid, rep: name + "-" + stage2Suffix + "-repartition", cl: name + "-" + stage2Suffix + "-changelog",
		inTypes: fieldTypes(p.agg2.Input.Fields()), parts: map[int32]*aggPart{}, touched: map[int32]*aggPart{}, stats: newScaleOutStats()}
	s.keyTypes = make([]types.Type, len(p.agg2.Keys))
	for i, k := range p.agg2.Keys {
		s.keyTypes[i] = s.inTypes[k]
	}
	return s
}

// stage2Out is where the first operator's output goes in a plan with a second stage: the Calcs between
// the two, then the second stage's repartitioning.
func (m *member) stage2Out() changelog.Output {
	var out changelog.Output = &stage2Repartitioner{m: m, s: m.s2}
	for i := len(m.s2.mid) - 1; i >= 0; i-- {
		c := m.s2.mid[i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return out
}

// stage2Repartitioner produces each row (with its kind: the second aggregate retracts) to the second
// stage's repartition partition that owns the key group of its GROUP BY key.
type stage2Repartitioner struct {
	m *member
	s *keyedStage
}

func (r *stage2Repartitioner) Push(b *changelog.Batch) error {
	m, s := r.m, r.s
	for i := range b.Rows {
		row := &b.Rows[i]
		s.keyBuf = types.AppendRowKey(s.keyBuf[:0], row.Vals, s.inTypes, s.agg.Keys)
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

func (r *stage2Repartitioner) Watermark(int64) error { return nil }
func (r *stage2Repartitioner) End() error            { return nil }

// newStage2Part builds the second aggregate of one partition; its output goes through the Calcs behind
// it to the sink.
func (m *member) newStage2Part(part int32) (*aggPart, error) {
	s := m.s2
	cfg := exec.GroupAggConfig{Keys: s.agg.Keys, Aggs: s.agg.Aggs, EmitUpdateBefore: true, InsertOnly: false,
		TTL: m.s.ttl, KeyTypes: s.keyTypes, InTypes: s.inTypes}
	return m.newGroupAggPart(part, cfg, m.postOutput())
}

// stage2Need notes the second stage's partitions that get records in fetches and returns those whose
// state is not loaded.
func (m *member) stage2Need(fetches kgo.Fetches) []int32 {
	var need []int32
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic == m.s2.rep && len(fp.Records) > 0 {
			m.s2.keep.touch(fp.Partition)
			if m.s2.parts[fp.Partition] == nil {
				need = append(need, fp.Partition)
			}
		}
	})
	return need
}

// loadStage2 keeps (scaleout_keep.go) or restores the second stage's partitions need.
func (m *member) loadStage2(ctx context.Context, need []int32) error {
	s := m.s2
	need, err := m.reclaimOf(ctx, &s.keep, s.cl, need, func(p int32, h heldPart) { s.parts[p] = h.agg })
	if err != nil || len(need) == 0 {
		return err
	}
	return m.restoreAggs(ctx, s.cl, &s.keep, need, m.newStage2Part, s.parts)
}

// aggregate2 decodes the second stage's repartition records and pushes them into the partition's
// aggregate.
func (s *keyedStage) aggregate(m *member, part int32, recs []*kgo.Record) error {
	p := s.parts[part]
	s.touched[part] = p
	w := len(s.inTypes)
	if need := len(recs) * w; cap(s.arena) < need {
		s.arena = make([]types.Value, need)
	}
	s.batch.Reset()
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		if _, ok := p.dirty[string(rec.Key)]; !ok {
			p.markDirty(string(rec.Key))
		}
		row := s.arena[i*w : (i+1)*w : (i+1)*w]
		if _, _, err := types.DecodeRowBinary(rec.Value[1:], s.inTypes, row[:0]); err != nil {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		s.batch.Append(changelog.Kind(rec.Value[0]), row)
	}
	return p.agg.Push(&s.batch)
}

// writeChangelog produces the entries of the second stage's groups changed in the open transaction.
func (s *keyedStage) writeChangelog(m *member) error {
	err := m.writeAggChangelog(s.cl, s.touched)
	clear(s.touched)
	return err
}

// hold moves the loaded partitions whose changelog end is known aside (a rebalance revoked every
// partition); the member's dropState drops the loaded ones.
func (s *keyedStage) hold() {
	for p, ap := range s.parts {
		if _, ok := s.keep.ends[p]; ok {
			s.keep.held[p] = heldPart{agg: ap}
		}
	}
}

// forgetEnds forgets the ends of the partitions neither loaded nor held.
func (s *keyedStage) forgetEnds() {
	for p := range s.keep.ends {
		if _, ok := s.keep.held[p]; !ok && s.parts[p] == nil {
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
func (s *keyedStage) dropAborted(loaded map[int32]*aggPart) {
	k := &s.keep
	touched := func(p int32) bool { return k.touched[p] || k.wrote[p].Load() != noWrite }
	clear(s.parts)
	clear(s.touched)
	for p, ap := range loaded {
		if !touched(p) {
			s.parts[p] = ap
		}
	}
	for p := range k.held {
		if touched(p) {
			delete(k.held, p)
		}
	}
	s.forgetEnds()
	k.beginTxn()
}

// drop forgets every loaded partition (dropState).
func (s *keyedStage) drop() {
	clear(s.parts)
	clear(s.touched)
}

// topics are the stage's internal topics.
func (s *keyedStage) topics() []string { return []string{s.rep, s.cl} }

// stage2Loaded returns the second stage's loaded partitions (nil without one).
func (m *member) stage2Loaded() map[int32]*aggPart {
	if m.s2 == nil {
		return nil
	}
	return maps.Clone(m.s2.parts)
}
