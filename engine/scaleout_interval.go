package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// A scale-out interval join (an event-time equi-join of two insert-only kafka scans with a WATERMARK whose
// ON condition bounds the sides' rowtimes: l.rt BETWEEN r.rt - INTERVAL .. AND r.rt + INTERVAL ..; inner,
// LEFT, RIGHT or FULL OUTER as the exec interval join runs them). Stage 1 is the window aggregate's
// (scaleout_window.go): each branch decodes, runs its Calcs up to the WATERMARK, raises the watermark of the
// source partition the rows came from (wmTracker; the partitions of both sources' topics are numbered
// together), runs the Calcs up to the join and produces each row, as a regular join does
// (joinRepartitioner: side byte, kind byte, row), to the repartition partition of its join key; after the
// rows of a transaction it writes the watermark and idle records of its source partitions into every
// repartition partition (sendWatermarks). Stage 2 runs one exec interval join per repartition partition in a
// winPart: the join gets the minimum watermark over every source partition of both sources
// (advanceWindow, combinedWatermark: a partition that sent nothing holds it back, idle ones do not count),
// which drops the rows no future row can match and emits, on outer sides, the unmatched ones NULL-padded.
// The partition's state is backed by the changelog topic '<name>-join-changelog' as a window aggregate's
// is (restoreWindow), in the join's own state encoding: one entry per join key, side and row time (the rows of
// that time with their match counts; exec/join_keyed.go) and the join's watermarks; per transaction the
// member writes the entries of the rows the join noted as changed (exec.JoinKeyed: rows stored or matched,
// rows expired; a tombstone for a time left without rows) and the source partitions' watermarks that changed
// (writeIntervalChangelog); a member that takes the partition over restores the same rows, match counts and
// watermarks. A changelog written before (one entry per join key and side, all its rows) restores too; its
// entries are rewritten per time, and deleted, at the next transaction.

// scaleOutInterval is the part of a plan around an interval join.
type scaleOutInterval struct {
	join *planner.Join
	wm   [2]*planner.WatermarkAssigner
	mid  [2][]*planner.Calc // between each side's WATERMARK and the join, the WATERMARK's side first
	// idle is the tables' 'scan.watermark.idle-timeout' when idleSet, else the session's
	// 'table.exec.source.idle-timeout' (submitScaleOut); 0: source partitions never go idle.
	idle    time.Duration
	idleSet bool
}

// cutScaleOutInterval cuts a plan whose sink's Calcs read an interval join: on each side Scan -> Calcs ->
// WATERMARK -> Calcs -> the join.
func cutScaleOutInterval(p *scaleOutPlan, j *planner.Join, root planner.Node) (*scaleOutPlan, error) {
	iv := &scaleOutInterval{join: j}
	var idleTable string
	for i, in := range []planner.Node{j.Left, j.Right} {
		side := [2]string{"left", "right"}[i]
		n := calcsDown(in, &iv.mid[i])
		wa, ok := n.(*planner.WatermarkAssigner)
		if !ok {
			return nil, fmt.Errorf("the interval join's %s input is %s, not a source table with a WATERMARK: a scale-out interval join runs on event time; declare a WATERMARK on the source table and bound the sides' rowtime columns", side, n.Describe())
		}
		iv.wm[i] = wa
		var pre []*planner.Calc
		n = calcsDown(wa.Input, &pre)
		scan, ok := n.(*planner.Scan)
		if !ok {
			return nil, fmt.Errorf("the interval join's %s WATERMARK's input is %s, not a table scan", side, n.Describe())
		}
		if !in.Mode().IsInsertOnly() {
			return nil, fmt.Errorf("the interval join's %s input is not insert-only", side)
		}
		if ss, ok := scan.Source.(connectors.SplitSource); ok {
			if d, set := ss.WatermarkIdleTimeout(); set {
				if iv.idleSet && d != iv.idle {
					return nil, fmt.Errorf("tables '%s' and '%s' set other 'scan.watermark.idle-timeout' values (%s, %s): a scale-out interval join's watermark is the minimum over both sources' partitions, with one idle timeout; set the same value on both", idleTable, scan.Table.Name, iv.idle, d)
				}
				iv.idle, iv.idleSet, idleTable = d, true, scan.Table.Name
			}
			if _, _, ok := ss.WatermarkAlignment(); ok {
				return nil, fmt.Errorf("table '%s' sets 'scan.watermark.alignment.group': a scale-out interval join does not align watermarks; remove the option", scan.Table.Name)
			}
		}
		p.branches = append(p.branches, &scaleOutBranch{scan: scan, pre: pre})
	}
	if err := checkJoinKeyTypes(j); err != nil {
		return nil, err
	}
	p.ivl = iv
	p.fp = planFingerprint(root)
	return p, nil
}

// watermarkIdle is the idle timeout of the source partitions of a plan with watermarks.
func (p *scaleOutPlan) watermarkIdle() time.Duration {
	if p.ivl != nil {
		return p.ivl.idle
	}
	if p.wj != nil {
		return p.wj.idle // scaleout_window_join.go
	}
	if p.wrank != nil {
		return p.wrank.idle // scaleout_window_topn.go
	}
	return p.win.idle
}

// intervalStage1 is the stage-1 output of side's branch of an interval join, below the branch's Calcs under
// the WATERMARK: the watermark tracker, the Calcs above the WATERMARK and the repartitioner.
func (m *member) intervalStage1(side int) changelog.Output {
	iv := m.plan.ivl
	keys := [2][]int{iv.join.LeftKeys, iv.join.RightKeys}[side]
	var out changelog.Output = &joinRepartitioner{m: m, side: side, keys: keys}
	for i := len(iv.mid[side]) - 1; i >= 0; i-- {
		c := iv.mid[side][i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return &wmTracker{ws: m.win, rowtime: iv.wm[side].Expr, out: out}
}

// intervalInputs are a stage-2 interval join's two inputs; as a winPart's operator it takes the partition's
// combined watermark (for both sides).
type intervalInputs struct {
	in    [2]changelog.Output
	keyed exec.JoinKeyed // the join's changed entries
}

func (ii *intervalInputs) Push(*changelog.Batch) error {
	return fmt.Errorf("internal error: rows of an interval join go to one of its sides")
}

func (ii *intervalInputs) Watermark(w int64) error {
	if err := ii.in[0].Watermark(w); err != nil {
		return err
	}
	return ii.in[1].Watermark(w)
}
func (ii *intervalInputs) End() error { return nil }

// newIntervalPart builds the interval join of one repartition partition; its output goes through the Calcs
// behind it to the sink of the member's current session, or into a GROUP BY's stage (firstOutput).
func (m *member) newIntervalPart() (*winPart, error) {
	j := m.plan.ivl.join
	cfg := exec.JoinConfig{Type: j.Type, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Residual: j.Residual,
		Interval: j.Interval, LeftTypes: m.sideTypes[0], RightTypes: m.sideTypes[1],
		LeftInsertOnly: j.LeftInsertOnly, RightInsertOnly: j.RightInsertOnly}
	ii := &intervalInputs{}
	ii.in[0], ii.in[1] = exec.NewJoin(cfg, m.firstOutput())
	snap := exec.StateOf(ii.in[0])
	if ii.keyed = exec.JoinKeyedOf(ii.in[0]); snap == nil || ii.keyed == nil {
		return nil, fmt.Errorf("internal error: the interval join has no state snapshots")
	}
	ii.keyed.TrackChanges()
	return &winPart{agg: ii, snap: snap, srcWM: map[uint32]int64{}, idle: map[uint32]bool{}, applied: math.MinInt64, last: map[string][]byte{}}, nil
}

// intervalJoin decodes repartition records, pushes the rows into the partition's interval join (the
// consecutive rows of one side in one batch) and applies watermark and idle records.
func (m *member) intervalJoin(part int32, wp *winPart, recs []*kgo.Record) error {
	m.ivTouched[part] = wp
	ii := wp.agg.(*intervalInputs)
	w := max(len(m.sideTypes[0]), len(m.sideTypes[1]))
	if need := len(recs) * w; cap(m.arena) < need {
		m.arena = make([]types.Value, need)
	}
	m.batch.Reset()
	side := -1
	flush := func() error {
		if m.batch.Len() == 0 {
			return nil
		}
		err := ii.in[side].Push(&m.batch)
		m.batch.Reset()
		return err
	}
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		if k := rec.Value[0]; k == scaleOutWatermark || k == scaleOutIdle {
			id, wm, err := readWatermarkRecord(rec)
			if err != nil {
				return err
			}
			if err := flush(); err != nil { // the rows before the watermark go first
				return err
			}
			if err := m.advanceWindow(wp, id, wm, k == scaleOutIdle); err != nil {
				return err
			}
			continue
		}
		if len(rec.Value) < 2 || rec.Value[0] > 1 {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: unreadable record", rec.Topic, rec.Partition, rec.Offset)
		}
		s := int(rec.Value[0])
		if s != side {
			if err := flush(); err != nil {
				return err
			}
			side = s
		}
		ts := m.sideTypes[s]
		row := m.arena[i*w : i*w+len(ts) : i*w+len(ts)]
		if _, _, err := types.DecodeRowBinary(rec.Value[2:], ts, row[:0]); err != nil {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		m.batch.Append(changelog.Kind(rec.Value[1]), row)
	}
	return flush()
}

// readWatermarkRecord reads a watermark record (kind byte scaleOutWatermark, uvarint source partition id,
// varint watermark) or an idle record (scaleOutIdle, the id).
func readWatermarkRecord(rec *kgo.Record) (uint32, int64, error) {
	id, n := binary.Uvarint(rec.Value[1:])
	var wm int64
	n2 := 1
	if rec.Value[0] == scaleOutWatermark && n > 0 {
		wm, n2 = binary.Varint(rec.Value[1+n:])
	}
	if n <= 0 || n2 <= 0 || id > math.MaxUint32 {
		return 0, 0, fmt.Errorf("repartition topic '%s' partition %d offset %d: unreadable watermark record", rec.Topic, rec.Partition, rec.Offset)
	}
	return uint32(id), wm, nil
}

// writeIntervalChangelog writes, for every partition that got records in this transaction, the entries of
// the join keys and times whose rows changed (stored, matched, expired: tombstones for the times left without
// rows of a side), the join's watermarks and the source watermarks that changed. A transaction costs in
// proportion to the rows it changed, not to the rows the partition or a hot key holds.
func (m *member) writeIntervalChangelog() error {
	for p, wp := range m.ivTouched {
		ii := wp.agg.(*intervalInputs)
		if err := ii.keyed.SnapshotChanged(&changelogWriter{m: m, part: p}); err != nil {
			return fmt.Errorf("state of partition %d: %w", p, err)
		}
		cur := make(map[string][]byte, m.win.nsrc+1)
		wp.snapshotSources(cur)
		for k, v := range cur {
			if old, ok := wp.last[k]; !ok || !bytes.Equal(old, v) {
				m.produceEntry(p, []byte(k), v)
			}
		}
		wp.last = cur // source watermark entries are never deleted
	}
	clear(m.ivTouched)
	return nil
}
