package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"sort"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// RankConfig configures a partitioned ROW_NUMBER() Top-N (Flink's Rank): rows are numbered from 1 per
// partition in the order of Order; only rows numbered 1..Limit are emitted (all when Limit < 0), each
// followed by its row number as an extra BIGINT column when RowNumber is set.
type RankConfig struct {
	// Func is ROW_NUMBER (default, ""), RANK (ties share a number, gaps follow) or DENSE_RANK (no gaps);
	// Limit then bounds the number, so ties may let more than Limit rows through.
	Func      string
	Partition []int
	Order     []SortKey
	Limit     int64
	RowNumber bool
	Types     []types.Type
	Batch     bool
	// InsertOnly: the input carries only +I rows (the planner's changelog mode), so rows numbered past Limit
	// can never come back into the top and are not kept (Flink's append-only Top-N); a retraction is then an
	// error. Batch input is always insert-only.
	InsertOnly bool
	// TTL ('table.exec.state.ttl'), in streaming mode: a partition whose top rows did not change and that
	// saw no retraction for this long (processing time) is dropped without emitting anything; a later row of
	// the partition starts it anew (ttl.go). 0 keeps state forever.
	TTL time.Duration
	// Now is the processing-time clock for TTL (time.Now when nil; tests inject their own).
	Now func() time.Time
	// KeepFirst, for a deduplication (streaming ROW_NUMBER() = 1 over an insert-only input): a partition's
	// first row to arrive stays and every later row of it is dropped, whatever its order values: Flink's
	// ProcTimeDeduplicateKeepFirstRow, for an order on processing time, whose values rows of several
	// channels bring out of arrival order. NewRank ignores it for any other Rank (the engine sets it only
	// for planner.Rank.ProctimeFirst).
	KeepFirst bool
}

// NewRank returns the Top-N operator. Streaming: after every input row it compares the partition's new top
// rows with its top rows before the row (what it emitted) and emits -D for rows (or numbers) that left and
// +I for those that came, so the materialized output is always the current top rows with their numbers;
// ties keep arrival order. The output carries +I and -D. Retractions remove a row equal to the retracted
// one (dropped when absent). Batch: the final top rows of every partition as +I at the end.
//
// State (rank_store.go): a partition's entries (sort key, arrival, row reference) in a byte arena, sorted
// by (sort key, arrival), and its rows in a row arena (rank_rows.go); with an insert-only input (or in
// batch) only the rows within Limit. An input row stores only its own row; with ROW_NUMBER it costs a
// comparison when it is numbered past the limit, else the positions from its own to Limit (rank_incr.go);
// RANK and DENSE_RANK compare the top rows, O(Limit).
func NewRank(cfg RankConfig, out changelog.Output) changelog.Output {
	r := &rankOp{cfg: cfg, out: out, warmSlots: rankWarmSlots}
	r.trim = (cfg.InsertOnly || cfg.Batch) && cfg.Limit >= 0
	r.exact = len(cfg.Types) > 0 && exactIdentity(cfg.Types)
	if !cfg.Batch {
		r.ttl = newStateTTL(cfg.TTL, cfg.Now)
	}
	r.st = rankStore{st: newJoinStore(false, false, maphash.MakeSeed()), ttl: r.ttl.on()}
	r.ptypes = partTypes(cfg)
	r.compactKey = compactPartKeys(cfg, r.ptypes)
	r.skCols = rankSortCols(cfg)
	r.incremental = incrementalRank(cfg)
	// deduplication: a partition keeps one row, in its record (rank_store.go)
	r.st.dedup = r.trim && !cfg.Batch && cfg.Limit == 1 && (cfg.Func == "" || cfg.Func == "ROW_NUMBER")
	r.keepFirst = cfg.KeepFirst && r.st.dedup
	r.st.seenOnly = r.keepFirst
	return r
}

type rankOp struct {
	cfg    RankConfig
	out    changelog.Output
	st     rankStore
	ptypes []types.Type
	trim   bool // rows past Limit are dropped (insert-only input)
	// keepFirst: a row of a partition that has its row is dropped unread (RankConfig.KeepFirst)
	keepFirst bool
	exact     bool // a row's encoding is its identity (exactIdentity)
	seq       uint64
	kbuf      []byte
	sbuf      []byte // snapshot and restore keys
	// compactKey: the key table holds compact partition keys (rank_key.go)
	compactKey bool
	// partition keys (pkeys[pkoff[i]:pkoff[i+1]]) and hashes of a push's rows, computed up front (rank_warm.go)
	pkeys     []byte
	pkoff     []int
	phash     []uint64
	warmSink  uint64
	warmSlots int     // tables with fewer slots are not warmed (rankWarmSlots; tests lower it)
	nbuf      []byte  // the entry of the row being inserted or retracted
	skCols    []uint8 // how the order columns are encoded in sort keys (rank_sortkey.go)
	ibuf      []byte  // identity scratch
	jbuf      []byte
	part      rankPart
	oldTop    []rEnt
	oldNum    []int64
	newTop    []rEnt
	newNum    []int64
	topKeys   []byte // sort keys of oldTop (keepTop)
	// incremental (rank_incr.go): a streaming ROW_NUMBER Rank; known: diff's tops differ only by the rows
	// with arrival numbers gone (old top only) and came (new top only), 0 for none
	incremental bool
	known       bool
	gone, came  uint64
	newSeq      uint64               // the arrival number of the row being inserted (0: none)
	newRow      []types.Value        // and its values
	dec         []types.Value        // decoding scratch
	recent      [rsRecent]rankRecent // the stored rows decoded last in this push (emitNum)
	recentAt    int
	ob          changelog.Batch
	arena       []types.Value
	ttl         stateTTL
	// columnar input (rank_vec.go)
	conv   *vec.RowConv
	colKey []types.Value // the partition and order values of a columnar row
	colRow []types.Value // a columnar row converted to be stored
}

// rankRecent is a stored row emitted in this push: its arrival number and its values in the output's arena.
type rankRecent struct {
	seq  uint64
	vals []types.Value // nil: none
}

const rsRecent = 4

func (r *rankOp) ident(dst []byte, vals []types.Value) []byte {
	for i, v := range vals {
		var t types.Type
		if i < len(r.cfg.Types) {
			t = r.cfg.Types[i]
		}
		dst = types.AppendKey(dst, v, t)
	}
	return dst
}

// sameRow reports whether two stored rows are the same row (as retractions and the diff without row
// numbers compare them).
func (r *rankOp) sameRow(a, b []byte) bool {
	if r.exact || bytes.Equal(a, b) {
		return bytes.Equal(a, b)
	}
	r.ibuf = r.ident(r.ibuf[:0], rankDecodeRow(a, r.dec))
	r.jbuf = r.ident(r.jbuf[:0], rankDecodeRow(b, r.dec))
	return bytes.Equal(r.ibuf, r.jbuf)
}

// emitNum appends row e to the output, with number num when the output has it. A stored row decodes
// straight into the output's arena: a row emitted again (a Top-N's row that moves down is retracted with
// its old number, and inserted with the next after the row below it is retracted) copies the values it
// decoded to, while it is one of the last rsRecent rows decoded in the push (recent).
func (r *rankOp) emitNum(kind changelog.Kind, e *rEnt, num int64) {
	seq := e.seq()
	var src []types.Value // the values to copy, when at hand
	if r.newSeq != 0 && seq == r.newSeq {
		src = r.newRow
	} else {
		for i := range r.recent {
			if x := &r.recent[i]; x.vals != nil && x.seq == seq {
				src = x.vals
				break
			}
		}
	}
	var cols int
	if src != nil {
		cols = len(src)
	} else {
		c, _ := binary.Uvarint(r.st.row(e))
		cols = int(c)
	}
	n := cols + 1
	if len(r.arena)+n > cap(r.arena) {
		// the full arena stays with the rows already emitted; the next is larger, so that a busy push
		// settles on one arena (reused by the pushes after it)
		r.arena = make([]types.Value, 0, min(max(1024, 4*n, 2*cap(r.arena)), 1<<16+4*n))
	}
	s := len(r.arena)
	if src != nil {
		r.arena = append(r.arena, src...)
	} else {
		r.arena = r.arena[:s+len(rankDecodeRow(e.row, r.arena[s:s:s+cols]))] // exactly cols values: no growth
		// the arena's values are not overwritten until the push ends (release): a full arena is replaced
		r.recent[r.recentAt] = rankRecent{seq: seq, vals: r.arena[s:len(r.arena):len(r.arena)]}
		r.recentAt = (r.recentAt + 1) % rsRecent
	}
	if r.cfg.RowNumber {
		r.arena = append(r.arena, types.IntValue(num))
	}
	r.ob.Append(kind, r.arena[s:len(r.arena):len(r.arena)])
}

// top appends the partition's rows in the output and their numbers (ROW_NUMBER, RANK or DENSE_RANK).
func (r *rankOp) top(p *rankPart, rows []rEnt, nums []int64) ([]rEnt, []int64) {
	rows, nums = rows[:0], nums[:0]
	if p.big == nil && (r.cfg.Func == "" || r.cfg.Func == "ROW_NUMBER") {
		// the row numbers are the positions: the first Limit rows
		n := len(p.ents)
		if r.cfg.Limit >= 0 {
			n = int(min(int64(n), r.cfg.Limit))
		}
		rows = append(rows, p.ents[:n]...)
		for i := range n {
			nums = append(nums, int64(i+1))
		}
		return rows, nums
	}
	var prev []byte
	var num, dense int64
	i := 0
	p.each(func(e rEnt) bool {
		key := e.order()
		if i == 0 || !bytes.Equal(key, prev) {
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
			return false // numbers only grow along the sorted rows
		}
		rows, nums = append(rows, e), append(nums, n)
		i++
		return true
	})
	return rows, nums
}

// diff emits the changes between the partition's top rows before the change (old) and after it (cur).
func (r *rankOp) diff(old []rEnt, oldNums []int64, cur []rEnt, curNums []int64) {
	for i := 0; i < max(len(cur), len(old)); i++ {
		var o, c *rEnt
		var oldN, curN int64
		if i < len(old) {
			o, oldN = &old[i], oldNums[i]
		}
		if i < len(cur) {
			c, curN = &cur[i], curNums[i]
		}
		if o != nil && c != nil && o.seq() == c.seq() && (oldN == curN || !r.cfg.RowNumber) {
			continue
		}
		if !r.cfg.RowNumber && o != nil && c != nil && r.sameRow(r.st.row(o), r.st.row(c)) {
			continue
		}
		if o != nil && (r.cfg.RowNumber || !r.inTop(cur, o.seq(), r.gone)) {
			r.emitNum(changelog.Delete, o, oldN)
		}
		if c != nil && (r.cfg.RowNumber || !r.inTop(old, c.seq(), r.came)) {
			r.emitNum(changelog.Insert, c, curN)
		}
	}
}

func containsSeq(rows []rEnt, seq uint64) bool {
	for i := range rows {
		if rows[i].seq() == seq {
			return true
		}
	}
	return false
}

// keepTop copies the sort keys of top (entries of a rankChunks) to r.topKeys.
func (r *rankOp) keepTop(top []rEnt) {
	n := 0
	for i := range top {
		n += len(top[i].sk)
	}
	if cap(r.topKeys) < n {
		r.topKeys = make([]byte, 0, n)
	}
	b := r.topKeys[:0]
	for i := range top {
		s := len(b)
		b = append(b, top[i].sk...)
		top[i].sk = b[s:len(b):len(b)]
	}
	r.topKeys = b
}

// insertEntry puts e into p in order.
func (r *rankOp) insertEntry(p *rankPart, e rEnt) {
	if p.big != nil {
		p.big.insert(&r.st, e)
		return
	}
	i := sort.Search(len(p.ents), func(i int) bool { return bytes.Compare(p.ents[i].sk, e.sk) > 0 })
	p.ents = append(p.ents, rEnt{})
	copy(p.ents[i+1:], p.ents[i:])
	p.ents[i] = e
}

// removeEntry removes from p the earliest row with sort key order whose row is the same as row; it reports
// whether there was one.
func (r *rankOp) removeEntry(p *rankPart, order, row []byte) bool {
	if p.big == nil {
		i := sort.Search(len(p.ents), func(i int) bool { return bytes.Compare(p.ents[i].sk, order) >= 0 })
		for ; i < len(p.ents) && bytes.HasPrefix(p.ents[i].sk, order); i++ {
			if r.sameRow(r.st.row(&p.ents[i]), row) {
				r.st.dropRow(&p.ents[i])
				p.ents = append(p.ents[:i], p.ents[i+1:]...)
				return true
			}
		}
		return false
	}
	_, _, ok := p.big.removeEqual(&r.st, order, func(b []byte) bool { return r.sameRow(b, row) })
	return ok
}

// pastLimit reports, when the stored rows are the top rows (trim), whether a row with sort key and arrival
// sk would be numbered past the limit (it sorts after every stored row of its sort key).
func (r *rankOp) pastLimit(sk []byte, ol int) bool {
	top, nums := r.oldTop, r.oldNum
	i := sort.Search(len(top), func(i int) bool { return bytes.Compare(top[i].sk, sk) > 0 })
	n := int64(i + 1)
	if i > 0 && (r.cfg.Func == "RANK" || r.cfg.Func == "DENSE_RANK") {
		switch {
		case bytes.Equal(top[i-1].order(), sk[:ol]):
			n = nums[i-1]
		case r.cfg.Func == "DENSE_RANK":
			n = nums[i-1] + 1
		}
	}
	return n > r.cfg.Limit
}

// truncatePart keeps the first n rows of p (of store rs).
func truncatePart(rs *rankStore, p *rankPart, n int) {
	if p.big != nil {
		p.big.truncate(rs, n)
	} else if n < len(p.ents) {
		for i := n; i < len(p.ents); i++ {
			rs.dropRow(&p.ents[i])
		}
		p.ents = p.ents[:n]
	}
}

func (r *rankOp) Push(b *changelog.Batch) error {
	r.begin()
	warmed := r.warm(b.Rows)
	for ri, row := range b.Rows {
		insert := row.Kind.IsAccumulate()
		if !insert && (r.cfg.Batch || r.cfg.InsertOnly) {
			return fmt.Errorf("rank: the input was planned as insert-only but carries a %s row", row.Kind)
		}
		if !keyColsFit(row.Vals, r.cfg.Partition) || !sortColsFit(row.Vals, r.cfg.Order) {
			return fmt.Errorf("rank: a row has %d columns, fewer than the operator reads", len(row.Vals))
		}
		var key []byte
		var h uint64
		if ri < warmed {
			key, h = r.warmKey(ri)
		} else {
			r.kbuf = r.partKey(r.kbuf[:0], row.Vals)
			key, h = r.kbuf, r.st.st.hash(r.kbuf)
		}
		r.apply(insert, key, h, r.sortKey(r.nbuf[:0], row.Vals), row.Vals, nil, 0)
	}
	return r.finish()
}

// begin starts a push.
func (r *rankOp) begin() {
	r.ob.Reset()
	r.arena = r.arena[:0]
	r.recent = [rsRecent]rankRecent{}
	r.tickTTL()
}

// finish ends a push: the store is tidied and the output pushed.
func (r *rankOp) finish() error {
	r.st.tidy()
	var err error
	if len(r.ob.Rows) > 0 {
		err = r.out.Push(&r.ob)
	}
	r.release()
	return err
}

// apply applies an input row to its partition (key, hash h); nb holds the row's sort key (in r.nbuf's
// storage). The row is vals, or, when vals is nil, row i of the columns cb, converted (r.colRow) only when
// it is stored (rank_vec.go).
func (r *rankOp) apply(insert bool, key []byte, h uint64, nb []byte, vals []types.Value, cb *vec.Batch, i int) {
	st := &r.st
	now := r.ttl.now
	p := &r.part
	slot, found := st.st.find(key, h)
	if found {
		st.load(slot, p)
		if r.ttl.expired(p.touched) { // expired, not dropped by a scan yet
			st.deletePart(slot)
			found = false
		}
	}
	if found && insert && r.keepFirst {
		r.nbuf = nb
		return // the partition's first row stays: no comparison, nothing emitted or stored
	}
	if !found {
		if !insert {
			r.nbuf = nb
			return
		}
		*p = rankPart{slot: -1, ents: p.ents[:0]}
	}
	if r.incremental {
		r.applyRowNumber(insert, key, h, nb, vals, cb, i, p)
		return
	}
	if !r.cfg.Batch || r.trim {
		r.oldTop, r.oldNum = r.top(p, r.oldTop, r.oldNum)
		if p.big != nil {
			r.keepTop(r.oldTop) // the change moves the bytes of its chunk
		}
	}
	ol := len(nb)
	r.newSeq, r.newRow = 0, nil
	if insert {
		r.seq++
		nb = appendSeq(nb, r.seq)
		sl := len(nb)
		if r.trim && r.pastLimit(nb, ol) {
			r.nbuf = nb
			return // it would be numbered past the limit: nothing changes
		}
		if vals == nil {
			vals = r.colRowAt(cb, i)
		}
		nb = appendRowBinary(nb, vals)
		r.nbuf = nb
		r.newSeq, r.newRow = r.seq, vals
		r.insertEntry(p, rEnt{sk: nb[:sl:sl], row: nb[sl:], ol: ol})
	} else {
		if vals == nil {
			vals = r.colRowAt(cb, i)
		}
		nb = appendRowBinary(nb, vals)
		r.nbuf = nb
		if !r.removeEntry(p, nb[:ol], nb[ol:]) {
			return
		}
		p.touched = now
	}
	changed := !insert
	if r.cfg.Batch {
		if r.trim {
			r.newTop, r.newNum = r.top(p, r.newTop, r.newNum)
			truncatePart(&r.st, p, len(r.newTop))
			changed = containsSeq(r.newTop, r.newSeq)
		} else {
			changed = true
		}
	} else {
		r.newTop, r.newNum = r.top(p, r.newTop, r.newNum)
		if r.trim {
			truncatePart(&r.st, p, len(r.newTop))
		}
		n := len(r.ob.Rows)
		r.diff(r.oldTop, r.oldNum, r.newTop, r.newNum)
		if len(r.ob.Rows) != n {
			p.touched = now
			changed = true
		} else if insert && !r.trim {
			changed = true // kept outside the top
		} else if insert && containsSeq(r.newTop, r.newSeq) {
			changed = true
		}
	}
	if changed {
		st.save(key, h, p)
	}
	r.newSeq, r.newRow = 0, nil
}

// release drops the references the operator's scratch holds into its arena's chunks (decoded strings,
// parsed entries), so that chunks that compaction left behind are not kept alive by them.
func (r *rankOp) release() {
	clear(r.ob.Rows)
	r.ob.Reset()
	clear(r.arena)
	r.arena = r.arena[:0]
	r.recent = [rsRecent]rankRecent{}
	clear(r.dec)
	clear(r.colRow)
	clear(r.oldTop)
	clear(r.newTop)
	clear(r.part.ents[:cap(r.part.ents)])
	r.part = rankPart{ents: r.part.ents[:0]}
}

func partTypes(cfg RankConfig) []types.Type {
	ts := make([]types.Type, len(cfg.Partition))
	for i, c := range cfg.Partition {
		if c < len(cfg.Types) {
			ts[i] = cfg.Types[c]
		}
	}
	return ts
}

// tickTTL reads the clock for the rank's TTL and drops the expired partitions when a scan is due.
func (r *rankOp) tickTTL() {
	if !r.ttl.tick() {
		return
	}
	st := &r.st
	for i := 0; i < len(st.st.slots); {
		if st.st.slots[i] != 0 && r.ttl.expired(st.touchedAt(i)) {
			st.deletePart(i) // a later entry may shift into slot i: look at it again
			continue
		}
		i++
	}
	st.tidy()
}

func (r *rankOp) Watermark(ts int64) error {
	if r.cfg.Batch {
		return nil
	}
	r.tickTTL()
	return r.out.Watermark(ts)
}

// slotsByKey returns the occupied slots in the order of their partition keys.
func (r *rankOp) slotsByKey() []int {
	st := &r.st.st
	var out []int
	for i, v := range st.slots {
		if v != 0 {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return bytes.Compare(st.record(out[a]).key, st.record(out[b]).key) < 0 })
	return out
}

func (r *rankOp) End() error {
	if r.cfg.Batch {
		for _, slot := range r.slotsByKey() {
			p := &r.part
			r.st.load(slot, p)
			r.ob.Reset()
			r.arena = r.arena[:0]
			r.recent = [rsRecent]rankRecent{}
			r.newTop, r.newNum = r.top(p, r.newTop, r.newNum)
			for i := range r.newTop {
				r.emitNum(changelog.Insert, &r.newTop[i], r.newNum[i])
			}
			if len(r.ob.Rows) > 0 {
				if err := r.out.Push(&r.ob); err != nil {
					return err
				}
			}
			r.release()
		}
		if err := r.out.Watermark(changelog.MaxWatermark); err != nil {
			return err
		}
	}
	return r.out.End()
}
