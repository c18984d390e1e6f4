package engine

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// A Top-N as a later keyed stage (docs/ARCHITECTURE.md "Scale-out over Kafka"): a ROW_NUMBER() OVER
// (PARTITION BY ...) Top-N over the changelog of a GROUP BY stage (or directly over a regular join's), e.g. the top sellers per category by
// total, `SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY total DESC) rn FROM
// (SELECT category, seller, SUM(price) total FROM bids GROUP BY category, seller)) WHERE rn <= 3`. The
// aggregate's -U/+U rows go through the Calcs between to '<name>-rank<N>-repartition', partition = the
// key-group range of the PARTITION BY key (stageRepartitioner), and one retracting exec Rank runs per
// partition (as a P=1 job runs it over an updating input), its output through the Calcs behind it to the
// sink, or, over a join, to a GROUP BY stage over it (cutScaleOutAggOverRank).
//
// State (over an insert-only input, e.g. an INNER join of two insert-only scans, only the top rows:
// scaleout_stage_rank_append.go): over an updating input the Rank keeps every row of a partition key, not
// only its top rows (a retraction of a top row brings the next one back), ordered by the order columns and,
// among ties, by arrival. The member mirrors that multiset: per distinct input row (by its identity, types.AppendKey of
// each column, as the Rank compares rows) the arrival numbers of its copies and their rows. The compacted
// '<name>-rank<N>-changelog' holds one entry per distinct row (key: the identity; value: per copy, uvarint
// arrival number, uvarint length, the row in types.AppendRowBinary), written for the rows that changed in the
// transaction, a tombstone when the last copy was retracted. A retraction removes the copy with the lowest
// arrival number, as the Rank removes the earliest equal row. A partition is restored by replaying its rows
// in arrival order into a new Rank whose output is discarded: the restored Rank holds the same rows in the
// same order, ties included, so its later changes (with their row numbers) continue the ones the sink got.

// stageRankPart is a later stage's Top-N of one repartition partition.
type stageRankPart struct {
	op    changelog.Output // the Rank, its output through gate
	gate  *gateOutput
	rows  map[string]*stageRankRows // the Rank's rows by identity
	dirty []*stageRankRows          // the rows changed in the open transaction
	seq   uint64                    // the last arrival number
	// track, over an insert-only input, is the Rank's output and state instead of rows (only its top rows:
	// scaleout_stage_rank_append.go)
	track *rankTracker
}

// stageRankRows are the copies of one distinct input row of a stage Top-N: val is its changelog value.
type stageRankRows struct {
	key   string
	val   []byte // per copy, arrival number ascending: uvarint arrival number, uvarint length, row
	dirty bool
}

// gateOutput passes rows on to dst once live (a restore's replay is dropped).
type gateOutput struct {
	live bool
	dst  changelog.Output
}

func (g *gateOutput) Push(b *changelog.Batch) error {
	if !g.live {
		return nil
	}
	return g.dst.Push(b)
}

func (g *gateOutput) Watermark(int64) error { return nil }
func (g *gateOutput) End() error            { return nil }

// cutScaleOutRankStage cuts a Top-N whose input, through Calcs, is a GROUP BY (agg): the GROUP BY and what
// is under it are the job's first stages (a GROUP BY of a scan, GROUP BYs over it or over a regular join),
// the Top-N the last.
func cutScaleOutRankStage(p *scaleOutPlan, r *planner.Rank, agg *planner.Aggregate, root planner.Node) (*scaleOutPlan, error) {
	mid, err := calcsBetween(r.Input, agg)
	if err != nil {
		return nil, err
	}
	if err := checkScaleOutAgg(agg); err != nil {
		return nil, err
	}
	if b, under := cutScaleOutBranch(agg.Input); b != nil {
		p.agg, p.branches = agg, []*scaleOutBranch{b}
	} else {
		supported := false
		switch u := under.(type) {
		case *planner.Aggregate:
			supported = true
		case *planner.Join:
			supported = u.Interval == nil && !u.Batch
		}
		if !supported {
			return nil, fmt.Errorf("the Top-N's input is %s over %s: a scale-out job runs a Top-N only over a GROUP BY of a table scan, over GROUP BYs of one or over a regular join; write the aggregate's results to a kafka table and rank them in another job", agg.Describe(), under.Describe())
		}
		if err := cutScaleOutStages(p, agg, root); err != nil {
			return nil, err
		}
	}
	if n := len(p.later) + 2; n > maxKeyedStages {
		return nil, fmt.Errorf("the Top-N's input is %s: a Top-N over %s keyed stages is %s keyed stages (a scale-out job runs at most %s); write the aggregate's results to a kafka table and rank them in another job", agg.Describe(), stageCount(n-1), stageCount(n), stageCount(maxKeyedStages))
	}
	p.later = append(p.later, scaleOutLater{rank: r, mid: mid})
	p.fp = planFingerprint(root)
	return p, nil
}

// cutScaleOutRankOverJoin cuts a Top-N whose input, through Calcs, is a regular join (j): the join is the
// job's first keyed stage (scaleout_join.go), the Top-N the second. The join's output (an outer join's
// retracts its NULL-padded rows) goes through the Calcs between to the Top-N's repartition topic, as a GROUP
// BY's does.
func cutScaleOutRankOverJoin(p *scaleOutPlan, r *planner.Rank, j *planner.Join, root planner.Node) (*scaleOutPlan, error) {
	mid, err := calcsBetween(r.Input, j)
	if err != nil {
		return nil, err
	}
	if _, err := cutScaleOutJoin(p, j, root); err != nil {
		return nil, err
	}
	p.later = []scaleOutLater{{rank: r, mid: mid}}
	p.fp = planFingerprint(root)
	saltTopRankState(p)
	return p, nil
}

// cutScaleOutAggOverRank cuts a GROUP BY (agg) whose input, through Calcs, is a ROW_NUMBER() Top-N (r) of one
// table scan or of a regular join. Over a scan the Top-N is the job's first keyed stage (scaleout_rank.go,
// its changelog of output rows), the GROUP BY the second; over a join the join is the first, the Top-N the
// second (a later stage's Top-N, its output going on as a GROUP BY's does) and the GROUP BY the third. The
// GROUP BY takes the Top-N's changes (a row pushed out of the top is retracted) through the Calcs between. A
// Top-N over anything else under a GROUP BY is refused.
func cutScaleOutAggOverRank(p *scaleOutPlan, agg *planner.Aggregate, r *planner.Rank, root planner.Node) (*scaleOutPlan, error) {
	b, under := cutScaleOutBranch(r.Input)
	j, overJoin := under.(*planner.Join)
	overJoin = overJoin && b == nil && j.Interval == nil && !j.Batch
	if b == nil && !overJoin {
		return nil, fmt.Errorf("the aggregate's input is %s over %s: a scale-out job runs a GROUP BY over a Top-N only when the Top-N reads one table scan or a regular join (a Top-N over GROUP BY stages is the last stage); write the Top-N's results to a kafka table and aggregate them in another job", r.Describe(), under.Describe())
	}
	mid, err := calcsBetween(agg.Input, r)
	if err != nil {
		return nil, err
	}
	p.agg = nil
	if _, err := cutScaleOutRank(p, r, root); err != nil {
		return nil, err
	}
	// Over a join: join, Top-N, GROUP BY are three keyed stages (maxKeyedStages).
	p.later = append(p.later, scaleOutLater{agg: agg, mid: mid})
	p.fp = planFingerprint(root)
	saltTopRankState(p)
	return p, nil
}

// newRankPart builds the stage's Top-N of one partition, its output dropped until it is made live.
func (s *keyedStage) newRankPart(m *member) *stageRankPart {
	r := s.rank
	out := s.output(m) // the sink, or a GROUP BY over the Top-N
	if r.Input.Mode().IsInsertOnly() {
		return s.newTopRankPart(out)
	}
	// The input retracts: the Rank keeps every row. The state TTL is refused at submit (rows it dropped
	// would stay in the changelog).
	cfg := exec.RankConfig{Func: r.Func, Partition: r.Partition, Order: r.Order, Limit: r.Limit, RowNumber: true,
		Types: s.inTypes, InsertOnly: false}
	g := &gateOutput{dst: out}
	return &stageRankPart{op: exec.NewRank(cfg, g), gate: g, rows: map[string]*stageRankRows{}}
}

// restoreRanks loads the stage's Top-N of the given partitions by replaying their rows in arrival order.
func (s *keyedStage) restoreRanks(ctx context.Context, m *member, parts []int32) error {
	start := time.Now()
	entries, err := m.readChangelogOf(ctx, s.cl, &s.keep, parts)
	if err != nil {
		return err
	}
	type copyOf struct {
		seq uint64
		row []byte
	}
	n := 0
	var b changelog.Batch
	var copies []copyOf
	for _, p := range parts {
		rp := s.newRankPart(m)
		if rp.track != nil {
			rows, err := replayTop(rp.op, entries[p], s.inTypes, s.cl, p)
			if err != nil {
				return err
			}
			n += rows
			rp.track.live = true
			s.rparts[p] = rp
			continue
		}
		copies = copies[:0]
		for k, v := range entries[p] {
			rp.rows[k] = &stageRankRows{key: k, val: v}
			for rest := v; len(rest) > 0; {
				seq, a := binary.Uvarint(rest)
				l, c := uint64(0), 0
				if a > 0 {
					l, c = binary.Uvarint(rest[a:])
				}
				if a <= 0 || c <= 0 || uint64(len(rest)-a-c) < l {
					return fmt.Errorf("restore partition %d from the changelog topic '%s': unreadable entry %q", p, s.cl, k)
				}
				copies = append(copies, copyOf{seq: seq, row: rest[a+c : a+c+int(l)]})
				rest = rest[a+c+int(l):]
				rp.seq = max(rp.seq, seq)
			}
		}
		slices.SortFunc(copies, func(a, b copyOf) int { return cmp.Compare(a.seq, b.seq) })
		b.Reset()
		for _, c := range copies {
			row, _, err := types.DecodeRowBinary(c.row, s.inTypes, nil)
			if err != nil {
				return fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, s.cl, err)
			}
			b.Append(changelog.Insert, row)
			if len(b.Rows) == 1024 {
				if err := rp.op.Push(&b); err != nil {
					return err
				}
				b.Reset()
			}
		}
		if len(b.Rows) > 0 {
			if err := rp.op.Push(&b); err != nil {
				return err
			}
		}
		n += len(entries[p])
		rp.gate.live = true
		s.rparts[p] = rp
	}
	fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': restored partitions %v from '%s' (%d entries) in %s.\n",
		m.s.name, parts, s.cl, n, time.Since(start).Round(time.Millisecond))
	return nil
}

// rankRecords decodes the stage's repartition records, notes their rows in the partition's mirror and
// pushes them into its Top-N.
func (s *keyedStage) rankRecords(m *member, part int32, recs []*kgo.Record) error {
	p := s.rparts[part]
	s.rtouched[part] = p
	if p.track != nil { // the Rank's output is its changelog (scaleout_stage_rank_append.go)
		if err := s.decodeRecords(m, recs, func(*kgo.Record, changelog.Kind, []types.Value) {}); err != nil {
			return err
		}
		return p.op.Push(&s.batch)
	}
	err := s.decodeRecords(m, recs, func(rec *kgo.Record, kind changelog.Kind, row []types.Value) {
		s.note(p, kind.IsAccumulate(), row, rec.Value[1:])
	})
	if err != nil {
		return err
	}
	return p.op.Push(&s.batch)
}

// note applies one input row (its values and its types.AppendRowBinary encoding) to the partition's mirror
// of the Rank's rows: a new copy with the next arrival number, or a retraction of the earliest copy (none:
// the Rank ignores it too).
func (s *keyedStage) note(p *stageRankPart, insert bool, row []types.Value, enc []byte) {
	s.keyBuf = s.keyBuf[:0]
	for i, v := range row {
		s.keyBuf = types.AppendKey(s.keyBuf, v, s.inTypes[i])
	}
	e := p.rows[string(s.keyBuf)]
	if insert {
		if e == nil {
			e = &stageRankRows{key: string(s.keyBuf)}
			p.rows[e.key] = e
		}
		p.seq++
		e.val = binary.AppendUvarint(e.val, p.seq)
		e.val = binary.AppendUvarint(e.val, uint64(len(enc)))
		e.val = append(e.val, enc...)
	} else {
		if e == nil || len(e.val) == 0 {
			return
		}
		_, a := binary.Uvarint(e.val)
		l, c := binary.Uvarint(e.val[a:])
		e.val = append(e.val[:0], e.val[a+c+int(l):]...)
	}
	if !e.dirty {
		e.dirty = true
		p.dirty = append(p.dirty, e)
	}
}

// writeRankChangelog produces the entries of the rows changed in the open transaction (a tombstone for a
// row without copies left).
func (s *keyedStage) writeRankChangelog(m *member) {
	for part, p := range s.rtouched {
		if p.track != nil {
			p.track.write(m, s.cl, part)
			continue
		}
		for _, e := range p.dirty {
			rec := m.record()
			rec.Topic, rec.Partition, rec.Headers = s.cl, part, m.hdr
			rec.Key = append(rec.Key, e.key...)
			if len(e.val) > 0 {
				rec.Value = append(rec.Value, e.val...)
			} else {
				rec.Value = nil
				delete(p.rows, e.key)
			}
			e.dirty = false
			m.produce(rec)
		}
		clear(p.dirty)
		p.dirty = p.dirty[:0]
	}
	clear(s.rtouched)
}
