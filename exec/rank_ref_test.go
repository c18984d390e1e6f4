package exec

// The Rank as it was before its rows moved to rank_store.go (rows as Go values, every row kept): the oracle
// of TestRankStoreProperty.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// newRefRank returns the Top-N operator. Streaming: after every input row it compares the partition's new top
// rows with what it emitted and emits -D for rows (or numbers) that left and +I for those that came, so the
// materialized output is always the current top rows with their numbers; ties keep arrival order. The
// output carries +I and -D. Retractions remove a row equal to the retracted one (dropped when absent). Batch:
// the final top rows of every partition as +I at the end.
//
// Cost: each partition keeps all its rows (sorted); an input row costs O(log n) plus O(Limit) to compare the
// top rows.
func newRefRank(cfg RankConfig, out changelog.Output) changelog.Output {
	r := &refRank{cfg: cfg, out: out, parts: map[string]*refRankPart{}}
	return r
}

type refRankRow struct {
	sortKey string // order encoding + arrival sequence
	ident   string // full-row encoding, for retractions
	vals    []types.Value
}

type refRankPart struct {
	rows     []*refRankRow // sorted by sortKey
	emitted  []*refRankRow // what was emitted for positions 1..len(emitted)
	emitNums []int64       // and with which numbers
	touched  int64         // with a TTL: when a row last changed the top rows or was retracted (Unix ms)
}

type refRank struct {
	cfg   RankConfig
	out   changelog.Output
	parts map[string]*refRankPart
	seq   uint64
	kbuf  []byte
	ob    changelog.Batch
	arena []types.Value
}

func (r *refRank) ident(vals []types.Value) string {
	r.kbuf = r.kbuf[:0]
	for i, v := range vals {
		var t types.Type
		if i < len(r.cfg.Types) {
			t = r.cfg.Types[i]
		}
		r.kbuf = types.AppendKey(r.kbuf, v, t)
	}
	return string(r.kbuf)
}

func (r *refRank) emitNum(kind changelog.Kind, row *refRankRow, num int64) {
	n := len(row.vals)
	if r.cfg.RowNumber {
		n++
	}
	if len(r.arena)+n > cap(r.arena) {
		r.arena = make([]types.Value, 0, max(1024, 4*n))
	}
	s := len(r.arena)
	r.arena = append(r.arena, row.vals...)
	if r.cfg.RowNumber {
		r.arena = append(r.arena, types.IntValue(num))
	}
	r.ob.Append(kind, r.arena[s:len(r.arena):len(r.arena)])
}

// top returns the partition's rows in the output and their numbers (ROW_NUMBER, RANK or DENSE_RANK).
func (r *refRank) top(p *refRankPart) ([]*refRankRow, []int64) {
	var rows []*refRankRow
	var nums []int64
	var prev string
	var num, dense int64
	for i, row := range p.rows {
		key := row.sortKey[:len(row.sortKey)-8] // without the arrival sequence
		if i == 0 || key != prev {
			num, dense = int64(i+1), dense+1
		}
		prev = key
		n := int64(i + 1)
		switch r.cfg.Func {
		case "RANK":
			n = num
		case "DENSE_RANK":
			n = dense
		}
		if r.cfg.Limit >= 0 && n > r.cfg.Limit {
			break // numbers only grow along the sorted rows
		}
		rows, nums = append(rows, row), append(nums, n)
	}
	return rows, nums
}

// diff emits the changes between what partition p emitted and its current top rows.
func (r *refRank) diff(p *refRankPart) {
	top, nums := r.top(p)
	for i := 0; i < max(len(top), len(p.emitted)); i++ {
		var old, cur *refRankRow
		var oldN, curN int64
		if i < len(p.emitted) {
			old, oldN = p.emitted[i], p.emitNums[i]
		}
		if i < len(top) {
			cur, curN = top[i], nums[i]
		}
		if old == cur && (oldN == curN || !r.cfg.RowNumber) {
			continue
		}
		if !r.cfg.RowNumber && old != nil && cur != nil && old.ident == cur.ident {
			continue
		}
		if old != nil && (r.cfg.RowNumber || !refContains(top, old)) {
			r.emitNum(changelog.Delete, old, oldN)
		}
		if cur != nil && (r.cfg.RowNumber || !refContains(p.emitted, cur)) {
			r.emitNum(changelog.Insert, cur, curN)
		}
	}
	p.emitted = append(p.emitted[:0], top...)
	p.emitNums = append(p.emitNums[:0], nums...)
}

func refContains(rows []*refRankRow, x *refRankRow) bool {
	for _, r := range rows {
		if r == x {
			return true
		}
	}
	return false
}

func (r *refRank) Push(b *changelog.Batch) error {
	r.ob.Reset()
	r.arena = r.arena[:0]
	now := int64(0)
	for _, row := range b.Rows {
		r.kbuf = appendGroupKey(r.kbuf[:0], row.Vals, r.cfg.Partition, partTypes(r.cfg))
		pk := string(r.kbuf)
		p := r.parts[pk]
		if row.Kind.IsAccumulate() {
			if p == nil {
				p = &refRankPart{}
				r.parts[pk] = p
			}
			r.seq++
			sk := appendSortKey(nil, row.Vals, r.cfg.Order)
			sk = append(sk, byte(r.seq>>56), byte(r.seq>>48), byte(r.seq>>40), byte(r.seq>>32), byte(r.seq>>24), byte(r.seq>>16), byte(r.seq>>8), byte(r.seq))
			nr := &refRankRow{sortKey: string(sk), ident: r.ident(row.Vals), vals: changelog.CopyVals(row.Vals)}
			i := sort.Search(len(p.rows), func(i int) bool { return p.rows[i].sortKey > nr.sortKey })
			p.rows = append(p.rows, nil)
			copy(p.rows[i+1:], p.rows[i:])
			p.rows[i] = nr
		} else {
			if r.cfg.Batch {
				return fmt.Errorf("rank: batch input carries a %s row", row.Kind)
			}
			if p == nil {
				continue
			}
			prefix := string(appendSortKey(nil, row.Vals, r.cfg.Order))
			id := r.ident(row.Vals)
			i := sort.Search(len(p.rows), func(i int) bool { return p.rows[i].sortKey >= prefix })
			found := -1
			for ; i < len(p.rows) && strings.HasPrefix(p.rows[i].sortKey, prefix); i++ {
				if p.rows[i].ident == id {
					found = i
					break
				}
			}
			if found < 0 {
				continue
			}
			p.rows = append(p.rows[:found], p.rows[found+1:]...)
			p.touched = now
		}
		if !r.cfg.Batch {
			n := len(r.ob.Rows)
			r.diff(p)
			if len(r.ob.Rows) != n {
				p.touched = now
			}
			if len(p.rows) == 0 && len(p.emitted) == 0 {
				delete(r.parts, pk)
			}
		}
	}
	if len(r.ob.Rows) == 0 {
		return nil
	}
	return r.out.Push(&r.ob)
}

func (r *refRank) Watermark(ts int64) error {
	if r.cfg.Batch {
		return nil
	}
	return r.out.Watermark(ts)
}

func (r *refRank) End() error {
	if r.cfg.Batch {
		keys := make([]string, 0, len(r.parts))
		for k := range r.parts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := r.parts[k]
			r.ob.Reset()
			r.arena = r.arena[:0]
			rows, nums := r.top(p)
			for i, row := range rows {
				r.emitNum(changelog.Insert, row, nums[i])
			}
			if len(r.ob.Rows) > 0 {
				if err := r.out.Push(&r.ob); err != nil {
					return err
				}
			}
		}
		if err := r.out.Watermark(changelog.MaxWatermark); err != nil {
			return err
		}
	}
	return r.out.End()
}
