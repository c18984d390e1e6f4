package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// Scale-out event-time temporal joins (`o JOIN r FOR SYSTEM_TIME AS OF o.rowtime ON o.k = r.k`, inner or
// LEFT, r a versioned table: a PRIMARY KEY and a WATERMARK). They run as interval joins do
// (scaleout_interval.go), with the exec temporal join in place of the interval join: stage 1 decodes each
// side, runs its Calcs up to the WATERMARK, raises the watermark of the source partition the rows came from
// (both sources' partitions are numbered together), runs the Calcs up to the join and produces each row
// (side byte, kind byte, row) to the repartition partition of its join key; after a transaction's rows it
// writes the watermark and idle records of its source partitions into every repartition partition. Stage 2
// runs one exec temporal join per repartition partition, given the minimum watermark over every source
// partition of both sources (a partition that sent nothing holds it back, idle ones do not count): the
// probe rows wait until it passes their time, then each is emitted with the version valid at its time (a
// LEFT JOIN pads a row without one with NULLs) and the versions no waiting row can need are dropped — as
// the P=1 operator, whose rows the job's equal as a multiset. The partition's state is backed by the
// changelog topic '<name>-join-changelog' in the join's own state encoding: one entry per join key for its
// waiting probe rows, one per join key for its versions, the join's watermarks; per transaction the member
// writes the entries of the keys that changed (exec.TemporalKeyedOf: a row came or was emitted, a version
// came or older ones were dropped; a tombstone for a key left without waiting rows) and the source
// watermarks that changed (writeIntervalChangelog). A member that takes a partition over restores the same
// waiting rows, versions and watermarks.

// scaleOutTemporal is the part of a plan around an event-time temporal join.
type scaleOutTemporal struct {
	join *planner.TemporalJoin
	wm   [2]*planner.WatermarkAssigner
	mid  [2][]*planner.Calc // between each side's WATERMARK and the join (or the normalize), the WATERMARK's side first
	// norm is the ChangelogNormalize of an upsert-kafka versioned table, run in stage 2 before the Calcs
	// post and the join's versioned input; repKeys are the normalize's input columns that the versioned
	// side is repartitioned by (the join's right keys, scaleout_temporal_upsert.go).
	norm    *planner.ChangelogNormalize
	post    []*planner.Calc
	repKeys []int
	// idle is the tables' 'scan.watermark.idle-timeout' when idleSet, else the session's
	// 'table.exec.source.idle-timeout' (submitScaleOut); 0: source partitions never go idle.
	idle    time.Duration
	idleSet bool
}

// cutScaleOutTemporal cuts a plan whose sink's Calcs read a temporal join: on each side Scan -> Calcs ->
// WATERMARK -> Calcs -> the join.
func cutScaleOutTemporal(p *scaleOutPlan, j *planner.TemporalJoin, root planner.Node) (*scaleOutPlan, error) {
	tj := &scaleOutTemporal{join: j}
	var idleTable string
	for i, in := range []planner.Node{j.Left, j.Right} {
		side := [2]string{"probe (left)", "versioned (right)"}[i]
		n := calcsDown(in, &tj.mid[i])
		if cn, ok := n.(*planner.ChangelogNormalize); ok && i == 1 {
			var err error
			if n, err = tj.cutNormalize(cn); err != nil { // scaleout_temporal_upsert.go
				return nil, err
			}
		}
		wa, ok := n.(*planner.WatermarkAssigner)
		if !ok {
			return nil, fmt.Errorf("the temporal join's %s input is %s, not a source table with a WATERMARK: a scale-out temporal join reads both sides from 'kafka' tables (a versioned view over a deduplication, or another operator between a table and the join, is not supported)", side, n.Describe())
		}
		tj.wm[i] = wa
		var pre []*planner.Calc
		n = calcsDown(wa.Input, &pre)
		scan, ok := n.(*planner.Scan)
		if !ok {
			return nil, fmt.Errorf("the temporal join's %s WATERMARK's input is %s, not a table scan", side, n.Describe())
		}
		if ss, ok := scan.Source.(connectors.SplitSource); ok {
			if d, set := ss.WatermarkIdleTimeout(); set {
				if tj.idleSet && d != tj.idle {
					return nil, fmt.Errorf("tables '%s' and '%s' set other 'scan.watermark.idle-timeout' values (%s, %s): a scale-out temporal join's watermark is the minimum over both sources' partitions, with one idle timeout; set the same value on both", idleTable, scan.Table.Name, tj.idle, d)
				}
				tj.idle, tj.idleSet, idleTable = d, true, scan.Table.Name
			}
			if _, _, ok := ss.WatermarkAlignment(); ok {
				return nil, fmt.Errorf("table '%s' sets 'scan.watermark.alignment.group': a scale-out temporal join does not align watermarks; remove the option", scan.Table.Name)
			}
		}
		// The versioned table may be a changelog (an upsert-kafka table, a changelog format): the exec
		// temporal join takes +I/+U as versions, -D as the end of its key's version, and ignores -U.
		p.branches = append(p.branches, &scaleOutBranch{scan: scan, pre: pre, changelog: i == 1})
	}
	lt, rt := fieldTypes(j.Left.Fields()), fieldTypes(j.Right.Fields())
	for i := range j.LeftKeys {
		if a, b := lt[j.LeftKeys[i]], rt[j.RightKeys[i]]; !a.EqualIgnoringNull(b) {
			return nil, fmt.Errorf("the temporal join's key %d has the type %s on the left and %s on the versioned table; CAST the left side's column to %s so that both have the same type", i+1, a.WithNullable(true), b.WithNullable(true), b.WithNullable(true))
		}
	}
	p.tmp = tj
	p.fp = planFingerprint(root)
	return p, nil
}

// setupTemporal prepares the member's watermark stages of a temporal join (as setupWindow does a window
// plan's): the source partition ids need the topics' partition counts.
func (m *member) setupTemporal(counts map[string]int32) {
	ws := &winStage{loc: m.loc, base: map[string]uint32{}, srcWM: map[uint32]int64{}, sent: map[uint32]int64{},
		idle: m.plan.tmp.idle, owned: map[uint32]time.Time{}, idleSent: map[uint32]bool{},
		parts: map[int32]*winPart{}, touched: map[int32]*winPart{}}
	for _, t := range m.srcTopics {
		ws.base[t] = uint32(ws.nsrc)
		ws.nsrc += int(counts[t])
	}
	m.win = ws
}

// temporalStage1 is the stage-1 output of side's branch of a temporal join, below the branch's Calcs under
// the WATERMARK: the watermark tracker, the Calcs above the WATERMARK and the repartitioner.
func (m *member) temporalStage1(side int) changelog.Output {
	tj := m.plan.tmp
	keys := [2][]int{tj.join.LeftKeys, tj.join.RightKeys}[side]
	if side == 1 && tj.norm != nil {
		keys = tj.repKeys
	}
	var out changelog.Output = &joinRepartitioner{m: m, side: side, keys: keys}
	for i := len(tj.mid[side]) - 1; i >= 0; i-- {
		c := tj.mid[side][i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return &wmTracker{ws: m.win, rowtime: tj.wm[side].Expr, out: out}
}

// newTemporalPart builds the temporal join of one repartition partition; its output goes through the Calcs
// behind it to the sink of the member's current session, or into a GROUP BY's stage (firstOutput). Its
// inputs are an interval join's (intervalInputs): intervalJoin feeds them and writeIntervalChangelog writes
// their changed entries.
func (m *member) newTemporalPart() (*winPart, error) {
	j := m.plan.tmp.join
	cfg := exec.TemporalJoinConfig{LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, LeftTime: j.LeftTime, RightTime: j.RightTime,
		LeftTypes: m.sideTypes[0], RightTypes: m.sideTypes[1], Outer: j.Outer}
	if m.plan.tmp.norm != nil {
		cfg.RightTypes = fieldTypes(j.Right.Fields())
	}
	ii := &intervalInputs{}
	ii.in[0], ii.in[1] = exec.NewTemporalJoin(cfg, m.firstOutput())
	var snap state.Snapshotter = exec.StateOf(ii.in[0])
	if ii.keyed = exec.TemporalKeyedOf(ii.in[0]); snap == nil || ii.keyed == nil {
		return nil, fmt.Errorf("internal error: the temporal join has no state snapshots")
	}
	if m.plan.tmp.norm != nil {
		var err error
		if snap, err = m.normalizeVersions(ii, snap); err != nil { // scaleout_temporal_upsert.go
			return nil, err
		}
	}
	ii.keyed.TrackChanges()
	return &winPart{agg: ii, snap: snap, srcWM: map[uint32]int64{}, idle: map[uint32]bool{}, applied: math.MinInt64, last: map[string][]byte{}}, nil
}
