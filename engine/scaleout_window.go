package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// A scale-out window aggregate (TUMBLE, HOP, CUMULATE, or SESSION as scaleout_session.go says, over one
// kafka scan with a WATERMARK): stage 1 decodes, runs the Calcs up to the WATERMARK, tracks the watermark of
// each source partition it owns (the highest value of the WATERMARK expression, as Flink's Kafka source per
// partition), assigns the windows (exec.NewWindowAssigner: one row per window, so stage 2 aggregates per
// window) and produces each row to the
// repartition partition of its group key (window_start, window_end and the other keys). After the rows of a
// transaction, for every source partition whose watermark advanced, it writes a watermark record into every
// repartition partition (kind byte scaleOutWatermark, the source partition's id, the watermark), in the same
// transaction. Stage 2 keeps per repartition partition the latest watermark of each source partition and
// fires its windows (exec.NewWindowAgg) at the minimum over all partitions of the source topics (their
// count from metadata), as Flink's per-channel minimum: a source partition that sent nothing yet holds every
// window back. The state of a partition (the open windows' groups, the fired watermark and the source
// watermarks) is backed by the changelog topic: per transaction the member writes the entries of the groups
// that got a row or whose window fired (a tombstone for a group that went), noted by windowDirty
// (scaleout_window_dirty.go), and the partition's operator-wide entries that changed; a transaction costs in
// proportion to what it changed, not to the partition's open windows.

// scaleOutWatermark is the kind byte of a watermark record on the repartition topic (row kinds are 0-3).
const scaleOutWatermark = 0xFF

// scaleOutIdle is the kind byte of an idle record on the repartition topic: the source partition it names
// stops holding the watermark back until its next watermark record.
const scaleOutIdle = 0xFE

// nsSourceWatermark is the changelog namespace of a stage-2 partition's source watermarks (the window
// aggregate's own entries use 0 and 255).
const nsSourceWatermark = 0xFE

// scaleOutWindow is the part of a plan between the scan and the window aggregate.
type scaleOutWindow struct {
	agg  *planner.WindowAggregate
	tvf  *planner.WindowTVF
	wm   *planner.WatermarkAssigner
	mid  []*planner.Calc // between the WATERMARK and the window TVF, the scan's side first
	post []*planner.Calc // between the window TVF and the aggregate, the TVF's side first
	// keys are the aggregate's input columns a row is repartitioned by: the group keys, window columns
	// included; for SESSION the partition keys only (a session's rows have different windows until merged).
	keys []int
	// session: a SESSION window aggregate with running accumulators (exec.NewSessionWindowAgg), whose
	// window_start is the aggregate's key startKey.
	session  bool
	startKey int
	// idle is the table's 'scan.watermark.idle-timeout' when idleSet, else the session's
	// 'table.exec.source.idle-timeout' (submitScaleOut); 0: source partitions never go idle.
	idle    time.Duration
	idleSet bool
}

// cutScaleOutWindow cuts a plan whose sink's Calcs read a window aggregate: Scan -> Calcs -> WATERMARK ->
// Calcs -> window TVF (TUMBLE, HOP, CUMULATE, SESSION on an event-time attribute) -> Calcs -> WindowAggregate.
func cutScaleOutWindow(p *scaleOutPlan, w *planner.WindowAggregate, root planner.Node) (*scaleOutPlan, error) {
	win := &scaleOutWindow{agg: w, keys: w.Keys}
	if w.Spec.Kind == exec.Session {
		if err := cutScaleOutSession(win); err != nil { // scaleout_session.go
			return nil, err
		}
	}
	n := calcsDown(w.Input, &win.post)
	tvf, ok := n.(*planner.WindowTVF)
	if !ok {
		return nil, fmt.Errorf("the window aggregate's input is %s, not a window table function (TUMBLE, HOP, CUMULATE, SESSION) over a table scan", n.Describe())
	}
	if tvf.Proctime {
		return nil, fmt.Errorf("%s windows on a processing-time attribute; a scale-out job's windows run on event time: declare a WATERMARK on the source table and window on its rowtime column", tvf.Describe())
	}
	win.tvf = tvf
	n = calcsDown(tvf.Input, &win.mid)
	wa, ok := n.(*planner.WatermarkAssigner)
	if !ok {
		return nil, fmt.Errorf("the window table function's input is %s, not a source table with a WATERMARK", n.Describe())
	}
	win.wm = wa
	var pre []*planner.Calc
	n = calcsDown(wa.Input, &pre)
	scan, ok := n.(*planner.Scan)
	if !ok {
		return nil, fmt.Errorf("the WATERMARK's input is %s, not a table scan", n.Describe())
	}
	if !scan.Mode().IsInsertOnly() {
		return nil, fmt.Errorf("the window aggregate's input is not insert-only")
	}
	if ss, ok := scan.Source.(connectors.SplitSource); ok {
		win.idle, win.idleSet = ss.WatermarkIdleTimeout()
		if _, _, ok := ss.WatermarkAlignment(); ok {
			return nil, fmt.Errorf("table '%s' sets 'scan.watermark.alignment.group': a scale-out window job does not align watermarks; remove the option", scan.Table.Name)
		}
	}
	p.win = win
	p.branches = []*scaleOutBranch{{scan: scan, pre: pre}}
	p.fp = planFingerprint(root)
	return p, nil
}

// refuseWindowOp names the window operators other than the window aggregate, which scale-out does not run.
func refuseWindowOp(n planner.Node) error {
	switch n.(type) {
	case *planner.WindowTVF:
		return fmt.Errorf("the sink's input is %s: a window table function without an aggregate is not supported; GROUP BY window_start, window_end", n.Describe())
	}
	return nil
}

// calcsDown walks down the Calcs from n, prepending each to *calcs (so the lowest comes first), and returns
// the first node that is not a Calc.
func calcsDown(n planner.Node, calcs *[]*planner.Calc) planner.Node {
	for c, ok := n.(*planner.Calc); ok; c, ok = n.(*planner.Calc) {
		*calcs = append([]*planner.Calc{c}, *calcs...)
		n = c.Input
	}
	return n
}

// winStage is a member's window state: stage 1's watermarks per source partition and stage 2's partitions.
type winStage struct {
	loc   *time.Location
	base  map[string]uint32 // a source topic's first source partition id (ids number the topics' partitions)
	nsrc  int               // source partitions of all source topics
	cur   uint32            // the id of the source partition whose rows are pushed
	srcWM map[uint32]int64  // stage 1: the watermark of each source partition read since the state was dropped
	sent  map[uint32]int64  // stage 1: the watermark last written for each source partition
	// Stage 1's idleness ('scan.watermark.idle-timeout'): idle is the timeout (0: never idle), owned the
	// source partitions assigned to this member with the time of their last record (or of the first poll
	// with records after the assignment: pending until then, since the offset fetch of a new assignment can
	// wait for a dead member's transaction to be aborted), idleSent those announced idle and without records
	// since. behind: the last poll was full ('sluice.scale-out.max-poll-records'), records are still
	// buffered, and no partition is announced idle.
	idle     time.Duration
	owned    map[uint32]time.Time
	idleSent map[uint32]bool
	pending  bool
	behind   bool

	parts   map[int32]*winPart // stage 2: the repartition partitions whose state is loaded
	touched map[int32]*winPart // stage 2: the partitions that got records in the open transaction
	wmBuf   []byte
}

// winPart is the stage-2 window aggregate of one repartition partition.
type winPart struct {
	agg     changelog.Output
	snap    state.Snapshotter
	srcWM   map[uint32]int64 // the latest watermark of each source partition
	idle    map[uint32]bool  // the source partitions announced idle and without a watermark record since
	applied int64            // the watermark given to agg
	// last are the entries outside namespace 0 that the changelog partition holds (namespace byte + key):
	// the operator-wide ones (the aggregate's meta entry, the source watermarks), compared with the current
	// ones per transaction. The aggregate's entries (namespace 0) are written as they change, by dirty.
	last  map[string][]byte
	dirty *windowDirty
}

// setupWindow prepares the member's window stages (submitScaleOut): the source partition ids need the
// topics' partition counts.
func (m *member) setupWindow(loc *time.Location, counts map[string]int32) {
	ws := &winStage{loc: loc, base: map[string]uint32{}, srcWM: map[uint32]int64{}, sent: map[uint32]int64{},
		idle: m.plan.watermarkIdle(), owned: map[uint32]time.Time{}, idleSent: map[uint32]bool{},
		parts: map[int32]*winPart{}, touched: map[int32]*winPart{}}
	for _, t := range m.srcTopics {
		ws.base[t] = uint32(ws.nsrc)
		ws.nsrc += int(counts[t])
	}
	m.win = ws
	if m.plan.win != nil { // an interval join's sides have their own types (sideTypes)
		m.inTypes = fieldTypes(m.plan.win.agg.Input.Fields())
	}
}

// windowStage1 is the stage-1 output of a window plan's branch: the WATERMARK's tracker, the Calcs and the
// window assigner behind it, and the repartitioner.
func (m *member) windowStage1() changelog.Output {
	win := m.plan.win
	var out changelog.Output = &winRepartitioner{m: m}
	for i := len(win.post) - 1; i >= 0; i-- {
		out = exec.NewCalc(win.post[i].Projects, win.post[i].Filter, out)
	}
	if win.session {
		// every row gets its own window [t, t+gap), which stage 2 merges into the key's sessions
		out = exec.NewSliceAssigner(win.tvf.Spec, win.tvf.TimeCol, win.tvf.LTZ, m.win.loc, out)
	} else {
		out = exec.NewWindowAssigner(win.tvf.Spec, win.tvf.TimeCol, win.tvf.LTZ, m.win.loc, out)
	}
	for i := len(win.mid) - 1; i >= 0; i-- {
		out = exec.NewCalc(win.mid[i].Projects, win.mid[i].Filter, out)
	}
	return &wmTracker{ws: m.win, rowtime: win.wm.Expr, out: out}
}

// wmTracker evaluates the WATERMARK expression on every row and raises the watermark of the source
// partition whose rows these are (NULL results are ignored, as by the WATERMARK operator).
type wmTracker struct {
	ws      *winStage
	rowtime expr.Expr
	out     changelog.Output
}

func (t *wmTracker) Push(b *changelog.Batch) error {
	hi, any := int64(math.MinInt64), false
	for i := range b.Rows {
		v, err := t.rowtime.Eval(b.Rows[i].Vals)
		if err != nil {
			return fmt.Errorf("evaluate watermark %s: %w", t.rowtime.String(), err)
		}
		if v.T == types.TagNull {
			continue
		}
		hi, any = max(hi, v.I), true
	}
	if any {
		if cur, ok := t.ws.srcWM[t.ws.cur]; !ok || hi > cur {
			t.ws.srcWM[t.ws.cur] = hi
		}
	}
	return t.out.Push(b)
}
func (t *wmTracker) Watermark(int64) error { return nil }
func (t *wmTracker) End() error            { return nil }

// winRepartitioner produces each windowed row to the repartition partition of its group key.
type winRepartitioner struct{ m *member }

func (r *winRepartitioner) Push(b *changelog.Batch) error {
	m := r.m
	for i := range b.Rows {
		row := &b.Rows[i]
		m.valBuf = append(m.valBuf[:0], byte(row.Kind))
		m.repartition(row, m.inTypes, m.plan.win.keys)
	}
	return nil
}
func (r *winRepartitioner) Watermark(int64) error { return nil }
func (r *winRepartitioner) End() error            { return nil }

// sendWatermarks writes, for every source partition whose watermark advanced in this transaction (or that
// has records again after it was announced idle), a watermark record into every repartition partition, and
// for every owned source partition without records for the idle timeout, an idle record.
func (m *member) sendWatermarks(now time.Time) {
	ws := m.win
	for id, wm := range ws.srcWM {
		if sent, ok := ws.sent[id]; ok && sent >= wm {
			continue
		}
		ws.sent[id] = wm
		ws.wmBuf = binary.AppendUvarint(append(ws.wmBuf[:0], scaleOutWatermark), uint64(id))
		ws.wmBuf = binary.AppendVarint(ws.wmBuf, wm)
		m.broadcast(ws.wmBuf)
	}
	if ws.idle <= 0 || ws.pending || ws.behind {
		return
	}
	for id, last := range ws.owned {
		if ws.idleSent[id] || now.Sub(last) < ws.idle {
			continue
		}
		ws.idleSent[id] = true
		ws.wmBuf = binary.AppendUvarint(append(ws.wmBuf[:0], scaleOutIdle), uint64(id))
		m.broadcast(ws.wmBuf)
	}
}

// broadcast writes an internal record with value v into every repartition partition.
func (m *member) broadcast(v []byte) {
	for p := range m.nparts {
		rec := m.record()
		rec.Topic, rec.Partition, rec.Headers = m.rep, p, m.hdr
		rec.Key = nil // not a group's record
		rec.Value = append(rec.Value, v...)
		m.produce(rec)
	}
}

// idleDue reports whether an owned source partition has had no records for the idle timeout and was not
// announced idle yet: the member then writes its idle record even in a poll without records.
func (ws *winStage) idleDue(now time.Time) bool {
	if ws.idle <= 0 || ws.pending {
		return false
	}
	for id, last := range ws.owned {
		if !ws.idleSent[id] && now.Sub(last) >= ws.idle {
			return true
		}
	}
	return false
}

// polled notes a poll with records: the assignment's offsets are known, idleness is measured from now.
func (ws *winStage) polled(now time.Time) {
	if !ws.pending {
		return
	}
	ws.pending = false
	for id := range ws.owned {
		ws.owned[id] = now
	}
}

// recordsOf notes that source partition id delivered records: it is active again, and a partition that was
// announced idle sends its watermark again (even one that did not advance) so that it counts again.
func (ws *winStage) recordsOf(id uint32, now time.Time) {
	ws.owned[id] = now
	if ws.idleSent[id] {
		delete(ws.idleSent, id)
		delete(ws.sent, id)
	}
}

// assign makes the source partitions of parts (topic -> partitions, the group's latest assignment to this
// member) the owned ones, pending until the first poll with records (polled).
func (ws *winStage) assign(parts map[string][]int32, now time.Time) {
	clear(ws.owned)
	clear(ws.idleSent)
	ws.pending = true
	for t, ps := range parts {
		base, ok := ws.base[t]
		if !ok {
			continue // the repartition topic
		}
		for _, p := range ps {
			ws.owned[base+uint32(p)] = now
		}
	}
}

// newWinPart builds the window aggregate of one partition; its output goes through the Calcs behind it to
// the sink of the member's current session.
func (m *member) newWinPart() (*winPart, error) {
	if m.plan.ivl != nil {
		return m.newIntervalPart() // scaleout_interval.go
	}
	if m.plan.tmp != nil {
		return m.newTemporalPart() // scaleout_temporal.go
	}
	if m.plan.wj != nil {
		return m.newWindowJoinPart(), nil // scaleout_window_join.go
	}
	if m.plan.wrank != nil {
		return m.newWindowRankPart() // scaleout_window_topn.go
	}
	a := m.plan.win.agg
	cfg := exec.GroupAggConfig{Keys: a.Keys, Aggs: a.Aggs, InTypes: m.inTypes}
	for _, k := range a.Keys {
		cfg.KeyTypes = append(cfg.KeyTypes, m.inTypes[k])
	}
	var agg changelog.Output
	var err error
	d := m.newWindowDirty(m.postOutput()) // scaleout_window_dirty.go
	w := m.plan.win
	if w.session {
		agg, err = exec.NewSessionWindowAgg(cfg, a.Spec, w.startKey, a.WindowEndKey, d)
	} else {
		agg, err = exec.NewWindowAgg(cfg, a.WindowEndKey, d)
	}
	if err != nil {
		return nil, err
	}
	snap, ok := agg.(state.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("internal error: the window aggregate has no state snapshots")
	}
	if w.session {
		d.session, ok = agg.(exec.KeyedSnapshotter)
	} else {
		d.window, ok = agg.(exec.WindowKeyedSnapshotter)
	}
	if !ok {
		return nil, fmt.Errorf("internal error: the window aggregate has no keyed state snapshots")
	}
	return &winPart{agg: agg, snap: snap, dirty: d, srcWM: map[uint32]int64{}, idle: map[uint32]bool{}, applied: math.MinInt64, last: map[string][]byte{}}, nil
}

// windowAggregate decodes repartition records, pushes rows into the partition's window aggregate and
// applies watermark records: the aggregate's watermark is the minimum over every source partition.
func (m *member) windowAggregate(part int32, wp *winPart, recs []*kgo.Record) error {
	m.win.touched[part] = wp
	m.startBatch(len(recs))
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		if k := rec.Value[0]; k == scaleOutWatermark || k == scaleOutIdle {
			id, n := binary.Uvarint(rec.Value[1:])
			var wm int64
			n2 := 1
			if k == scaleOutWatermark {
				wm, n2 = binary.Varint(rec.Value[1+max(n, 0):])
			}
			if n <= 0 || n2 <= 0 {
				return fmt.Errorf("repartition topic '%s' partition %d offset %d: unreadable watermark record", rec.Topic, rec.Partition, rec.Offset)
			}
			// The rows before the watermark go first.
			if m.batch.Len() > 0 {
				if err := wp.agg.Push(&m.batch); err != nil {
					return err
				}
				m.batch.Reset()
			}
			if err := m.advanceWindow(wp, uint32(id), wm, k == scaleOutIdle); err != nil {
				return err
			}
			continue
		}
		if err := m.appendRow(i, rec); err != nil {
			return err
		}
		wp.dirty.markRow(rec.Key, m.batch.Rows[len(m.batch.Rows)-1].Vals)
	}
	if m.batch.Len() == 0 {
		return nil
	}
	return wp.agg.Push(&m.batch)
}

// advanceWindow notes the watermark wm of source partition id (or, with idle, that it went idle) and gives
// the aggregate the minimum over the source partitions that count when it advanced.
func (m *member) advanceWindow(wp *winPart, id uint32, wm int64, idle bool) error {
	if int(id) >= m.win.nsrc {
		return fmt.Errorf("a watermark record names source partition %d, the source topics have %d partitions: the job was started on another source; delete the job's internal topics ('%s-*') to start it anew", id, m.win.nsrc, m.s.name)
	}
	if idle {
		if wp.idle[id] {
			return nil
		}
		wp.idle[id] = true
	} else {
		cur, ok := wp.srcWM[id]
		wasIdle := wp.idle[id]
		if ok && cur >= wm && !wasIdle {
			return nil
		}
		delete(wp.idle, id)
		if !ok || wm > cur {
			wp.srcWM[id] = wm
		}
	}
	combined, ok := m.combinedWatermark(wp)
	if !ok || combined <= wp.applied {
		return nil
	}
	wp.applied = combined
	return wp.agg.Watermark(combined)
}

// combinedWatermark is the minimum of the watermarks of the source partitions that count, when every source
// partition has sent a watermark or is idle, and one counts. An idle partition does not count; nor does one
// that became active again behind the watermark already given, until it catches up (Flink's
// StatusWatermarkValve: such a channel is not aligned; its rows meanwhile are late). When every partition is
// idle the watermark does not move.
func (m *member) combinedWatermark(wp *winPart) (int64, bool) {
	lo, counted := int64(math.MaxInt64), false
	for id := range uint32(m.win.nsrc) {
		if wp.idle[id] {
			continue
		}
		wm, ok := wp.srcWM[id]
		if !ok {
			return 0, false
		}
		if wm < wp.applied {
			continue
		}
		lo, counted = min(lo, wm), true
	}
	return lo, counted
}

// restoreWindow loads the window aggregates of the given repartition partitions from their changelog
// partitions.
func (m *member) restoreWindow(ctx context.Context, parts []int32) error {
	start := time.Now()
	entries, err := m.readChangelog(ctx, parts)
	if err != nil {
		return err
	}
	keys := 0
	for _, p := range parts {
		wp, err := m.newWinPart()
		if err != nil {
			return err
		}
		r := &entryReader{}
		for k, v := range entries[p] {
			if len(k) == 0 {
				continue
			}
			if k[0] == nsSourceWatermark {
				if err := wp.restoreSourceEntry(k, v); err != nil {
					return fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, m.cl, err)
				}
				continue
			}
			r.keys = append(r.keys, k)
			r.vals = append(r.vals, v)
		}
		if len(r.keys) > 0 {
			r.sortMetaFirst()
			if err := wp.snap.RestoreState(r); err != nil {
				return fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, m.cl, err)
			}
		}
		if _, ok := entries[p][string([]byte{nsSourceWatermark})]; !ok {
			if c, ok := m.combinedWatermark(wp); ok {
				wp.applied = c
			}
		}
		for k, v := range entries[p] {
			if len(k) > 0 && k[0] != 0 {
				wp.last[k] = v
			}
		}
		keys += len(entries[p])
		m.win.parts[p] = wp
	}
	fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': restored partitions %v from '%s' (%d entries) in %s.\n",
		m.s.name, parts, m.cl, keys, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeWindowChangelog writes, for every partition that got records in this transaction, the entries of the
// aggregate that changed (windowDirty: a tombstone for one that went, a fired window's group or session) and
// the operator-wide entries that differ from what its changelog partition holds.
func (m *member) writeWindowChangelog() error {
	for p, wp := range m.win.touched {
		c := &entryCollector{cur: make(map[string][]byte, len(wp.last))}
		if err := wp.dirty.meta(c); err != nil {
			return fmt.Errorf("state of partition %d: %w", p, err)
		}
		wp.snapshotSources(c.cur)
		for k, v := range c.cur {
			if old, ok := wp.last[k]; !ok || !bytes.Equal(old, v) {
				m.produceEntry(p, []byte(k), v)
			}
		}
		for k := range wp.last {
			if _, ok := c.cur[k]; !ok {
				m.produceEntry(p, []byte(k), nil)
			}
		}
		wp.last = c.cur
		if err := wp.dirty.write(&changelogWriter{m: m, part: p}); err != nil {
			return fmt.Errorf("state of partition %d: %w", p, err)
		}
	}
	clear(m.win.touched)
	return nil
}

// entryCollector collects a snapshot's entries (keys: namespace byte + entry key; values copied).
type entryCollector struct {
	cur map[string][]byte
	kb  []byte
}

func (c *entryCollector) Put(ns uint8, key, value []byte) error {
	c.kb = append(append(c.kb[:0], ns), key...)
	c.cur[string(c.kb)] = bytes.Clone(value)
	return nil
}

// drop forgets the window state of both stages (dropState).
func (ws *winStage) drop() {
	clear(ws.parts)
	clear(ws.touched)
	clear(ws.srcWM)
	clear(ws.sent)
	// The owned partitions stay (a rebalance assigns them anew); an idle announcement may have been in an
	// aborted transaction, so idleness is measured again from now.
	clear(ws.idleSent)
	now := time.Now()
	for id := range ws.owned {
		ws.owned[id] = now
	}
}

// Source watermark entries of a stage-2 partition (namespace nsSourceWatermark): key namespace byte +
// uvarint source partition id, value varint watermark (math.MinInt64: none yet) followed by 1 when the
// partition is idle; key namespace byte alone, value varint the watermark given to the aggregate.

// snapshotSources puts the partition's source watermark entries into cur.
func (wp *winPart) snapshotSources(cur map[string][]byte) {
	put := func(id uint32, wm int64) {
		k := binary.AppendUvarint([]byte{nsSourceWatermark}, uint64(id))
		v := binary.AppendVarint(nil, wm)
		if wp.idle[id] {
			v = append(v, 1)
		}
		cur[string(k)] = v
	}
	for id, wm := range wp.srcWM {
		put(id, wm)
	}
	for id := range wp.idle {
		if _, ok := wp.srcWM[id]; !ok {
			put(id, math.MinInt64)
		}
	}
	cur[string([]byte{nsSourceWatermark})] = binary.AppendVarint(nil, wp.applied)
}

// restoreSourceEntry loads one source watermark entry.
func (wp *winPart) restoreSourceEntry(k string, v []byte) error {
	wm, n2 := binary.Varint(v)
	if n2 <= 0 {
		return fmt.Errorf("unreadable source watermark entry %x", k)
	}
	if len(k) == 1 {
		wp.applied = wm
		return nil
	}
	id, n := binary.Uvarint([]byte(k[1:]))
	if n <= 0 {
		return fmt.Errorf("unreadable source watermark entry %x", k)
	}
	idle := n2 < len(v) && v[n2] == 1
	if idle {
		wp.idle[uint32(id)] = true
	}
	if wm != math.MinInt64 || !idle {
		wp.srcWM[uint32(id)] = wm
	}
	return nil
}
