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
	"github.com/sluicesql/sluice/types"
)

// A scale-out join (a regular streaming equi-join of two insert-only kafka scans): stage 1 produces each row
// of either side to the one internal topic '<name>-join-repartition', partition = the key-group range of its
// join key (both sides' keys have the same types, so equal keys meet in one partition); the value is the
// side (0 left, 1 right), the row kind and the row in types.AppendRowBinary encoding. Stage 2 runs one
// exec join per repartition partition. Its state is the multiset of both sides' rows (inputs are
// insert-only; 'table.exec.state.ttl' is refused), so the changelog '<name>-join-changelog' holds each
// input row once, keyed by side and repartition offset (unique in the partition) and written in the
// transaction that consumes it; a partition is restored by replaying its changelog rows, left side first,
// into a new join whose output is discarded: a regular join's state (rows and, for outer sides, their
// match counts) depends only on the rows it was given.

// joinPart is the stage-2 join of one repartition partition.
type joinPart struct {
	in  [2]changelog.Output // the join's left and right inputs
	out *switchOutput       // the join's output: discarded while restoring, then the Calcs and the sink
}

// switchOutput forwards to dst (nil: drops the rows).
type switchOutput struct{ dst changelog.Output }

func (s *switchOutput) Push(b *changelog.Batch) error {
	if s.dst == nil {
		return nil
	}
	return s.dst.Push(b)
}
func (s *switchOutput) Watermark(int64) error { return nil }
func (s *switchOutput) End() error            { return nil }

// newJoinPart builds the join of one partition, its output discarded until live is called.
func (m *member) newJoinPart() *joinPart {
	j := m.plan.join
	// The planner's insert-only flags (both sides are insert-only kafka scans): each side's store is
	// append-only, without the per-row index that only retractions would use.
	cfg := exec.JoinConfig{Type: j.Type, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys, Residual: j.Residual,
		LeftTypes: m.sideTypes[0], RightTypes: m.sideTypes[1],
		LeftInsertOnly: j.LeftInsertOnly, RightInsertOnly: j.RightInsertOnly}
	jp := &joinPart{out: &switchOutput{}}
	jp.in[0], jp.in[1] = exec.NewJoin(cfg, jp.out)
	return jp
}

// postOutput is what follows the join (or a stateless plan's union): its Calcs, the rows-out counter and
// the sink of the member's current session.
func (m *member) postOutput() changelog.Output {
	var out changelog.Output = exec.NewCounter(&m.rowsOut, sinkRef{m})
	for i := len(m.plan.post) - 1; i >= 0; i-- {
		c := m.plan.post[i]
		out = exec.NewCalc(c.Projects, c.Filter, out)
	}
	return out
}

// restoreJoin loads the joins of the given repartition partitions by replaying their changelog rows.
func (m *member) restoreJoin(ctx context.Context, parts []int32) error {
	start := time.Now()
	entries, err := m.readChangelog(ctx, parts)
	if err != nil {
		return err
	}
	rows := 0
	var b changelog.Batch
	for _, p := range parts {
		jp := m.newJoinPart()
		keys := slices.Sorted(maps.Keys(entries[p])) // side 0 first, then by offset
		for _, k := range keys {
			v := entries[p][k]
			if len(k) != 9 || k[0] > 1 || len(v) < 2 || v[0] != k[0] {
				return fmt.Errorf("restore partition %d from the changelog topic '%s': unreadable entry %q", p, m.cl, k)
			}
			side := int(k[0])
			row, _, err := types.DecodeRowBinary(v[2:], m.sideTypes[side], nil)
			if err != nil {
				return fmt.Errorf("restore partition %d from the changelog topic '%s': %w", p, m.cl, err)
			}
			b.Reset()
			b.Append(changelog.Kind(v[1]), row)
			if err := jp.in[side].Push(&b); err != nil {
				return err
			}
			rows++
		}
		jp.out.dst = m.joinOut
		m.jparts[p] = jp
	}
	fmt.Fprintf(m.notice, "[INFO] Scale-out job '%s': restored partitions %v from '%s' (%d entries) in %s.\n",
		m.s.name, parts, m.cl, rows, time.Since(start).Round(time.Millisecond))
	return nil
}

// join pushes repartition records into the partition's join and writes each to the changelog.
func (m *member) join(p int32, jp *joinPart, recs []*kgo.Record) error {
	var kb [9]byte
	for _, rec := range recs {
		if err := m.checkPlan(rec); err != nil {
			return err
		}
		if len(rec.Value) < 2 || rec.Value[0] > 1 {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: unreadable record", rec.Topic, rec.Partition, rec.Offset)
		}
		side := int(rec.Value[0])
		w := len(m.sideTypes[side])
		if cap(m.arena) < w {
			m.arena = make([]types.Value, w)
		}
		row, _, err := types.DecodeRowBinary(rec.Value[2:], m.sideTypes[side], m.arena[:0:w])
		if err != nil {
			return fmt.Errorf("repartition topic '%s' partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
		m.batch.Reset()
		m.batch.Append(changelog.Kind(rec.Value[1]), row)
		if err := jp.in[side].Push(&m.batch); err != nil {
			return err
		}
		kb[0] = byte(side)
		binary.BigEndian.PutUint64(kb[1:], uint64(rec.Offset))
		m.produceEntry(p, kb[:], rec.Value)
	}
	return nil
}

// joinRepartitioner ends stage 1 of one side of a join: it produces each row to the repartition partition
// that owns its join key's key group.
type joinRepartitioner struct {
	m    *member
	side int
	keys []int
}

func (r *joinRepartitioner) Push(b *changelog.Batch) error {
	m := r.m
	ts := m.sideTypes[r.side]
	for i := range b.Rows {
		row := &b.Rows[i]
		m.valBuf = append(m.valBuf[:0], byte(r.side), byte(row.Kind))
		m.repartition(row, ts, r.keys)
	}
	return nil
}

func (r *joinRepartitioner) Watermark(int64) error { return nil }
func (r *joinRepartitioner) End() error            { return nil }
