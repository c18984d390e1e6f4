package exec

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Reading ahead in a large map of groups with DISTINCT sets. A row of a columnar push (pushMapColumns)
// looks its group up in the map, then walks the group's accumulators to its COUNT(DISTINCT) sets and
// probes each: a chain of dependent loads — map slot, group, accumulator array, accumulator, shared set,
// table slot — each a cache miss once the groups' state outgrows the caches (Nexmark q16: ten thousand
// channels per day, with sets that grow with the events), so that the cost per row grows with the event
// count. When the map holds mapWarmGroups groups or more, the push first walks a block of rows' chains,
// one level per loop over the block: the loads of one loop do not depend on one another, so the processor
// overlaps their misses (a prefetch: what is read is summed into a sink, never used). The rows are then
// processed as before, looking their groups up again in lines now cached, so a group created or dropped
// by a row of the block cannot leave a stale pointer behind.

// mapWarmRows is the number of rows per read-ahead block.
const mapWarmRows = 32

// mapWarmGroups is the number of groups from which a columnar push over map groups with DISTINCT sets reads
// ahead (a variable: TestGroupAggColumnsWarm reads ahead from the first group).
var mapWarmGroups = 1024

// mapWarmBlocks counts the blocks read ahead (tests check the path ran).
var mapWarmBlocks atomic.Int64

// mapWarmable reports whether pushMapColumns reads ahead: a COUNT(DISTINCT) call bound to a column and
// mapWarmGroups groups or more.
func (g *groupAgg) mapWarmable() bool {
	if len(g.groups) < mapWarmGroups {
		return false
	}
	for j := range g.cols {
		if g.cols[j].op == ccCountDistinct {
			return true
		}
	}
	return false
}

// warmMap reads ahead the groups of the physical rows b.Row(from..to-1), their accumulators and the slots
// their DISTINCT arguments probe.
func (g *groupAgg) warmMap(b *vec.Batch, from, to int) {
	g.wst = g.wst[:0]
	for q := from; q < to; q++ {
		g.keyBuf = g.appendColumnKey(g.keyBuf[:0], b, b.Row(q))
		g.wst = append(g.wst, g.groups[string(g.keyBuf)])
	}
	var sink uint64
	for _, st := range g.wst {
		if st != nil && len(st.accs) > 0 && len(st.prev) > 0 {
			sink += uint64(st.prev[0].T) + uint64(st.prev[len(st.prev)-1].T)
			if _, ok := st.accs[0].(*countAcc); ok {
				sink++
			}
		}
	}
	for _, st := range g.wst {
		if st == nil {
			continue
		}
		for j, acc := range st.accs {
			if a, ok := acc.(*distinctAcc); ok && g.cols[j].op == ccCountDistinct && (a.sh == nil || a.v == 0) {
				sink += uint64(len(a.buf))
				if a.sh != nil {
					sink += uint64(a.sh.idx.n)
				}
			}
		}
	}
	for q, st := range g.wst {
		if st == nil {
			continue
		}
		i := b.Row(from + q)
		for j, acc := range st.accs {
			cc := &g.cols[j]
			if cc.op != ccCountDistinct || cc.args[0].Nulls.Get(i) {
				continue
			}
			a, ok := acc.(*distinctAcc)
			if !ok || a.sh != nil && a.v != 0 {
				continue
			}
			set := &a.seen
			if a.sh != nil {
				set = &a.sh.idx
			}
			g.dkey = types.AppendKey(g.dkey[:0], keyValue(cc.args[0], i), a.s.argType)
			sink += set.touch(g.dkey)
		}
	}
	clear(g.wst)
	g.wsink += sink
	mapWarmBlocks.Add(1)
}
