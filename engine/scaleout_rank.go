package engine

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// A scale-out Top-N or deduplication (ROW_NUMBER() OVER (PARTITION BY k ORDER BY ...) with WHERE rn <= N or
// rn = 1, over one insert-only kafka scan): stage 1 runs the scan's Calcs and produces each row to the
// repartition topic '<name>-rank-repartition', partition = the key-group range of its PARTITION BY key (as
// the aggregate's GROUP BY key); stage 2 runs one exec Top-N (exec.NewRank, as a P=1 job runs it) per
// repartition partition.
//
// State: the input is insert-only, so a partition key's Top-N state is exactly its current top rows (rows
// pushed out of the top can never come back and are not kept; without a limit every row is in the top).
// Those are the rank's output, so the compacted changelog '<name>-rank-changelog' holds the output: one
// entry per partition key and row number (key: the PARTITION BY key encoding and the row number, 8 bytes
// big-endian; value: the row in types.AppendRowBinary encoding), written when the rank emits +I for that
// number and tombstoned when it emits -D without a new row for it, in the transaction whose rows caused it.
// A partition is restored by replaying its rows, each key's in row-number order, into a new Top-N whose
// output is discarded: ties keep arrival order, and the replay gives the tied rows in the order they were
// numbered, so the restored Top-N numbers them alike. A transaction costs in proportion to the row numbers
// that changed, not to the partition's keys.

// cutScaleOutRank cuts a plan whose sink's Calcs read a streaming ROW_NUMBER() Top-N over one kafka scan.
func cutScaleOutRank(p *scaleOutPlan, r *planner.Rank, root planner.Node) (*scaleOutPlan, error) {
	switch {
	case r.Batch:
		return nil, fmt.Errorf("the Top-N runs in batch mode; scale-out runs streaming jobs")
	case r.Func != "" && r.Func != "ROW_NUMBER":
		return nil, fmt.Errorf("%s numbers rows with %s(); a scale-out job runs ROW_NUMBER() Top-N and deduplication (tied rows share a %s number, which its changelog cannot key); use ROW_NUMBER()", r.Describe(), r.Func, r.Func)
	case len(r.Partition) == 0:
		return nil, fmt.Errorf("%s has no PARTITION BY (a global Top-N cannot be split by key)", r.Describe())
	}
	b, last := cutScaleOutBranch(r.Input)
	if agg, ok := last.(*planner.Aggregate); ok && b == nil {
		return cutScaleOutRankStage(p, r, agg, root) // a Top-N over GROUP BY stages (scaleout_stage_rank.go)
	}
	if j, ok := last.(*planner.Join); ok && b == nil && j.Interval == nil && !j.Batch {
		return cutScaleOutRankOverJoin(p, r, j, root) // a Top-N over a regular join (scaleout_stage_rank.go)
	}
	if b == nil {
		return nil, fmt.Errorf("the Top-N's input is %s, not a table scan, a GROUP BY or a regular join (a scale-out job runs a Top-N over one kafka scan, over GROUP BY stages or over a regular join of two: write that result to a kafka table and rank it in another job)", last.Describe())
	}
	if !r.Input.Mode().IsInsertOnly() {
		return nil, fmt.Errorf("the Top-N's input, table '%s', is not insert-only", b.scan.Table.Name)
	}
	p.rank = r
	p.branches = []*scaleOutBranch{b}
	p.fp = planFingerprint(root)
	return p, nil
}

// opName names the internal topics of the plan's keyed operator ('<name>-<op>-repartition', ...).
func (p *scaleOutPlan) opName() string {
	switch {
	case p.join != nil, p.ivl != nil, p.tmp != nil, p.wj != nil:
		return "join"
	case p.rank != nil, p.wrank != nil:
		return "rank"
	}
	return "agg"
}

// rankPart is the stage-2 Top-N of one repartition partition.
type rankPart struct {
	op    changelog.Output
	track *rankTracker
}

// rankTracker is the Top-N's output (also a later stage's insert-only Top-N's: scaleout_stage_rank_append.go):
// it notes each changed row number of the open transaction for the changelog and passes the rows on (to the
// Calcs behind the Top-N and the sink, or to the next stage); while the partition is restored (not live) it
// drops them. The changes are kept in order in one reused buffer (no allocation per row) and written in that
// order, so the last one of a key wins in the compacted topic and in a restore; a -D directly followed by
// the +I of the same number (a row moving down or replaced) is written as the +I alone.
type rankTracker struct {
	live  bool
	dst   changelog.Output
	types []types.Type // the Top-N's input row (the row number follows it)
	part  []int        // the PARTITION BY columns
	cols  int          // len(types)
	buf   []byte       // the changes' keys and values
	ents  []rankChange // the changes of the open transaction, in order
	kb    []byte
}

// rankChange is one changelog entry in rankTracker.buf: key buf[k:v], value buf[v:end] (tomb: a tombstone).
type rankChange struct {
	k, v, end int
	tomb      bool
}

func (t *rankTracker) Push(b *changelog.Batch) error {
	if !t.live {
		return nil
	}
	for i := range b.Rows {
		row := &b.Rows[i]
		if len(row.Vals) != t.cols+1 {
			return fmt.Errorf("internal error: a Top-N row has %d columns, want %d and the row number", len(row.Vals), t.cols)
		}
		t.kb = types.AppendRowKey(t.kb[:0], row.Vals, t.types, t.part)
		t.kb = binary.BigEndian.AppendUint64(t.kb, uint64(row.Vals[t.cols].Int()))
		tomb := row.Kind != changelog.Insert && row.Kind != changelog.UpdateAfter
		if n := len(t.ents); !tomb && n > 0 && t.ents[n-1].tomb && string(t.buf[t.ents[n-1].k:t.ents[n-1].v]) == string(t.kb) {
			t.buf = t.buf[:t.ents[n-1].k] // the -D of this number, replaced
			t.ents = t.ents[:n-1]
		}
		c := rankChange{k: len(t.buf), tomb: tomb}
		t.buf = append(t.buf, t.kb...)
		c.v = len(t.buf)
		if !tomb {
			t.buf = types.AppendRowBinary(t.buf, row.Vals[:t.cols], t.types)
		}
		c.end = len(t.buf)
		t.ents = append(t.ents, c)
	}
	return t.dst.Push(b)
}

func (t *rankTracker) Watermark(int64) error { return nil }
func (t *rankTracker) End() error            { return nil }

// newRankPart builds the Top-N of one partition, its output dropped until it is made live.
func (m *member) newRankPart() *rankPart {
	// the sink, or a GROUP BY over the Top-N (scaleout_stage_rank.go)
	op, t := newTopRank(m.plan.rank, m.inTypes, m.firstOutput())
	return &rankPart{op: op, track: t}
}

// newTopRank builds an insert-only Top-N r over rows of types ts (the first stage's of a scan, or a later
// stage's over an insert-only input: scaleout_stage_rank_append.go): rows past the limit are not kept, and
// its output goes through the returned tracker (its changelog entries) to out once the tracker is live. The
// state TTL is refused at submit (a partition key it dropped would stay in the changelog).
func newTopRank(r *planner.Rank, ts []types.Type, out changelog.Output) (changelog.Output, *rankTracker) {
	cfg := exec.RankConfig{Func: r.Func, Partition: r.Partition, Order: r.Order, Limit: r.Limit, RowNumber: true,
		Types: ts, InsertOnly: true, KeepFirst: r.ProctimeFirst()}
	t := &rankTracker{dst: out, types: ts, part: r.Partition, cols: len(ts)}
	return exec.NewRank(cfg, t), t
}

// restoreRank loads the Top-N of the given repartition partitions by replaying their changelog rows.
func (m *member) restoreRank(ctx context.Context, parts []int32) error {
	start := time.Now()
	entries, err := m.readChangelog(ctx, parts)
	if err != nil {
		return err
	}
	rows := 0
	for _, p := range parts {
		rp := m.newRankPart()
		n, err := replayTop(rp.op, entries[p], m.inTypes, m.cl, p)
		if err != nil {
			return err
		}
		rows += n
		rp.track.live = true
		m.rparts[p] = rp
	}
	fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': restored partitions %v from '%s' (%d entries) in %s.\n",
		m.s.name, parts, m.cl, rows, time.Since(start).Round(time.Millisecond))
	return nil
}

// rank decodes repartition records and pushes them into the partition's Top-N.
func (m *member) rank(rp *rankPart, recs []*kgo.Record) error {
	m.startBatch(len(recs))
	for i, rec := range recs {
		if err := m.checkRecord(rec); err != nil {
			return err
		}
		if err := m.appendRow(i, rec); err != nil {
			return err
		}
	}
	return rp.op.Push(&m.batch)
}

// writeRankChangelog produces the row numbers changed since the last transaction to the changelog, in the
// order they changed.
func (m *member) writeRankChangelog() {
	for p, rp := range m.rparts {
		rp.track.write(m, m.cl, p)
	}
}

// write produces the row numbers changed since the last transaction to partition p of the changelog topic
// cl, in the order they changed, and forgets them.
func (t *rankTracker) write(m *member, cl string, p int32) {
	for _, c := range t.ents {
		var v []byte
		if !c.tomb {
			v = t.buf[c.v:c.end]
		}
		m.produceEntryTo(cl, p, t.buf[c.k:c.v], v)
	}
	t.ents, t.buf = t.ents[:0], t.buf[:0]
	if cap(t.buf) > 1<<20 {
		t.buf, t.ents = nil, nil // a large transaction's buffers are not kept
	}
}

// replayTop loads a new insert-only Top-N (op, its output discarded) with the rows of one partition's
// changelog entries (key: PARTITION BY key and row number, 8 bytes big-endian; value: the row), each key's
// in row-number order, and returns how many it replayed. A key's entries differ only in their last 8 bytes:
// sorted, each key's rows come in row-number order (the order of different keys' rows does not matter).
func replayTop(op changelog.Output, entries map[string][]byte, ts []types.Type, cl string, p int32) (int, error) {
	var b changelog.Batch
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		v := entries[k]
		if len(k) <= 8 || len(v) == 0 {
			return 0, fmt.Errorf("restore partition %d from the changelog topic '%s': unreadable entry %q", p, cl, k)
		}
		row, _, err := types.DecodeRowBinary(v, ts, nil)
		if err != nil {
			return 0, fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, cl, err)
		}
		b.Append(changelog.Insert, row)
		if len(b.Rows) == 1024 {
			if err := op.Push(&b); err != nil {
				return 0, err
			}
			b.Reset()
		}
	}
	if len(b.Rows) > 0 {
		if err := op.Push(&b); err != nil {
			return 0, err
		}
	}
	return len(entries), nil
}
