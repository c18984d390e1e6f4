package exec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// insertOnlyCases are the flag combinations of a regular join's inputs (planner: their changelog modes).
var insertOnlyCases = []struct {
	name        string
	left, right bool
}{{"left insert-only", true, false}, {"right insert-only", false, true}, {"both insert-only", true, true}}

// TestJoinInsertOnlySidesMatchRecomputation drives regular joins of every type whose inputs are marked
// insert-only (append-only stores: repeated rows are separate entries, big buckets have no index) over
// exact, key-encoding and string shapes, with few values per key (rows repeat) and many (keys move to big buckets); a side that is not
// insert-only gets retractions. With stray, insert-only sides get a few retractions too (the store finds the
// row by a scan). The materialized output must equal a nested loop over the live rows, and an insert-only
// side's state must hold one entry per instance, without an index.
func TestJoinInsertOnlySidesMatchRecomputation(t *testing.T) {
	for _, sh := range []joinShape{joinShapes[0], joinShapes[4], joinShapes[6]} { // exact, key-encoding, string
		ts := []types.Type{sh.key, sh.val}
		for _, c := range insertOnlyCases {
			for _, size := range []struct{ steps, keys, vals int }{{200, 3, 2}, {400, 2, 60}} {
				for _, stray := range []bool{false, true} {
					for _, jt := range []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin} {
						seed := uint64(size.vals)*7 + uint64(jt)
						if stray {
							seed += 1000
						}
						name := fmt.Sprintf("%s, %s, %s, %d values, stray %t", sh.name, c.name, jt, size.vals, stray)
						runInsertOnlyJoin(t, name, sh, ts, jt, [2]bool{c.left, c.right}, stray, size.steps, size.keys, size.vals, seed)
					}
				}
			}
		}
	}
}

func runInsertOnlyJoin(t *testing.T, name string, sh joinShape, ts []types.Type, jt JoinType, insertOnly [2]bool, stray bool, steps, keys, vals int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	var got []changelog.Row
	l, r := NewJoin(JoinConfig{Type: jt, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
		LeftInsertOnly: insertOnly[0], RightInsertOnly: insertOnly[1]},
		NewCollect(func(row changelog.Row) error {
			got = append(got, changelog.Row{Kind: row.Kind, Vals: changelog.CopyVals(row.Vals)})
			return nil
		}))
	j := l.(*joinInput).j
	for s := range 2 {
		if j.sides[s].st.appendOnly != insertOnly[s] {
			t.Fatalf("%s: side %d append-only %t, want %t", name, s, j.sides[s].st.appendOnly, insertOnly[s])
		}
	}
	type lrow struct{ k, x int64 }
	var live [2][]lrow
	mk := func(lr lrow) []types.Value {
		k := types.NullValue
		if lr.k >= 0 {
			k = sh.value(sh.key, lr.k, false)
		}
		return []types.Value{k, sh.value(sh.val, lr.x, false)}
	}
	for range steps {
		side := rng.IntN(2)
		in := []changelog.Output{l, r}[side]
		var b changelog.Batch
		retract := len(live[side]) > 0 && rng.IntN(3) == 0
		if insertOnly[side] && !(stray && rng.IntN(4) == 0) {
			retract = false
		}
		if retract {
			i := rng.IntN(len(live[side]))
			b.Append(changelog.Delete, mk(live[side][i]))
			live[side] = append(live[side][:i], live[side][i+1:]...)
		} else {
			for range 1 + rng.IntN(2) {
				lr := lrow{int64(rng.IntN(keys)), int64(rng.IntN(vals))}
				if rng.IntN(10) == 0 {
					lr.k = -1
				}
				live[side] = append(live[side], lr)
				b.Append(changelog.Insert, mk(lr))
			}
		}
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	m := changelog.NewMaterializer(nil)
	for _, row := range got {
		if err := m.Apply(row); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var want [][]types.Value
	nulls := []types.Value{types.NullValue, types.NullValue}
	matched := make([]bool, len(live[1]))
	for _, a := range live[0] {
		n := 0
		for i, c := range live[1] {
			if a.k >= 0 && a.k == c.k {
				want = append(want, append(mk(a), mk(c)...))
				matched[i] = true
				n++
			}
		}
		if n == 0 && (jt == LeftJoin || jt == FullJoin) {
			want = append(want, append(mk(a), nulls...))
		}
	}
	for i, c := range live[1] {
		if !matched[i] && (jt == RightJoin || jt == FullJoin) {
			want = append(want, append(append([]types.Value{}, nulls...), mk(c)...))
		}
	}
	if g, w := canonRows(m.Rows()), canonRows(want); g != w {
		t.Fatalf("%s: materialized join differs from recomputation\ngot:\n%s\nwant:\n%s", name, g, w)
	}
	nl, nr := j.StateRows()
	n := [2]int{nl, nr}
	for s := range 2 {
		want := distinctRows(live[s])
		if insertOnly[s] {
			want = len(live[s]) // one entry per instance
		}
		if n[s] != want {
			t.Fatalf("%s: side %d holds %d entries, want %d", name, s, n[s], want)
		}
		if insertOnly[s] {
			for _, bb := range j.sides[s].st.bigs {
				if len(bb.idx) != 0 {
					t.Fatalf("%s: side %d is insert-only but a big bucket has an index of %d slots", name, s, len(bb.idx))
				}
			}
		}
	}
}

// TestJoinInsertOnlyNeedsNoTTL: with a state TTL, an insert-only side stays counted (a repeated row
// refreshes the write time of all its instances, as Flink's state TTL does); batch joins ignore the flags.
func TestJoinInsertOnlyNeedsNoTTL(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	for _, cfg := range []JoinConfig{
		{TTL: time.Hour},
		{Batch: true},
	} {
		cfg.LeftKeys, cfg.RightKeys, cfg.LeftTypes, cfg.RightTypes = []int{0}, []int{0}, ts, ts
		cfg.LeftInsertOnly, cfg.RightInsertOnly = true, true
		l, _ := NewJoin(cfg, &recorder{})
		j := l.(*joinInput).j
		if j.sides[0].st.appendOnly || j.sides[1].st.appendOnly {
			t.Fatalf("TTL %s, batch %t: sides are append-only", cfg.TTL, cfg.Batch)
		}
	}
}

// TestJoinInsertOnlyRestore: a checkpoint of a join whose sides were counted (main before the insert-only
// flags: a row stored twice is one entry of multiplicity 2, a key's many rows an indexed big bucket)
// restores into a join with insert-only sides, which snapshots the same entries and answers new rows and
// retractions of the other side as the join that wrote it; and a checkpoint of the insert-only join (a row
// stored twice is two entries under its key) restores into a counted join with the same answers.
func TestJoinInsertOnlyRestore(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()}
	base := JoinConfig{Type: FullJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts}
	flagged := base
	flagged.LeftInsertOnly = true
	var rows changelog.Batch
	for i := range 300 {
		key := int64(i % 3) // keys 0..2: big buckets
		if i%5 == 0 {
			key = 10 + int64(i) // keys of one row
		}
		if i%17 == 0 {
			rows.Append(changelog.Insert, []types.Value{types.NullValue, types.IntValue(int64(i)), types.StringValue("null key")})
			continue
		}
		rows.Append(changelog.Insert, []types.Value{types.IntValue(key), types.IntValue(int64(i % 40)), types.StringValue("bid")})
	}
	var right changelog.Batch
	for _, k := range []int64{1, 15, 99} {
		right.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(7), types.StringValue("r")})
	}
	for _, c := range []struct {
		name     string
		from, to JoinConfig
	}{{"counted to insert-only", base, flagged}, {"insert-only to counted", flagged, base}} {
		var rec1, rec2 recorder
		l1, r1 := NewJoin(c.from, &rec1)
		for range 2 { // every row twice
			if err := l1.Push(&rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := r1.Push(&right); err != nil {
			t.Fatal(err)
		}
		snap := state.NewMemory()
		if err := l1.(*joinInput).j.SnapshotState(snap); err != nil {
			t.Fatal(err)
		}
		l2, r2 := NewJoin(c.to, &rec2)
		j2 := l2.(*joinInput).j
		if err := j2.RestoreState(snap.Reader()); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if j2.sides[0].st.appendOnly != c.to.LeftInsertOnly {
			t.Fatalf("%s: the restored left side is append-only: %t", c.name, j2.sides[0].st.appendOnly)
		}
		// The same rows again, snapshotted in the restoring join's own way: compare them as multisets.
		again := state.NewMemory()
		if err := j2.SnapshotState(again); err != nil {
			t.Fatal(err)
		}
		if a, b := snapshotRows(t, l1.(*joinInput).j), snapshotRows(t, j2); a != b {
			t.Fatalf("%s: the restored join holds\n%s\nthe original\n%s", c.name, b, a)
		}
		rec1.b.Reset()
		var probe changelog.Batch
		for _, k := range []int64{0, 1, 2, 15, 20, 99} {
			probe.Append(changelog.Insert, []types.Value{types.IntValue(k), types.IntValue(20), types.StringValue("probe")})
		}
		for _, ins := range [][2]changelog.Output{{l1, r1}, {l2, r2}} {
			if err := ins[1].Push(&probe); err != nil {
				t.Fatal(err)
			}
			var del changelog.Batch
			for _, row := range right.Rows {
				del.Append(changelog.Delete, row.Vals)
			}
			if err := ins[1].Push(&del); err != nil {
				t.Fatal(err)
			}
		}
		a, b := sortedLines(rec1.b.String()), sortedLines(rec2.b.String())
		if a != b || strings.Count(a, "\n") < 400 {
			t.Fatalf("%s: after the restore the join emitted\n%s\nthe join that wrote the checkpoint\n%s", c.name, b, a)
		}
	}
}

// snapshotRows renders both sides' rows with their multiplicities and match counts, one line per instance,
// sorted: equal for a counted and an append-only store of the same rows.
func snapshotRows(t *testing.T, j *joinOp) string {
	t.Helper()
	var lines []string
	for s := range 2 {
		st := &j.sides[s].st
		for i, v := range st.slots {
			if v == 0 {
				continue
			}
			r := st.record(i)
			kv := j.keyVals(r.key)
			for it := st.iter(&r); it.next(); {
				for range it.count() {
					lines = append(lines, fmt.Sprintf("%d %v assoc=%d", s, j.rowVals(s, it.row(), kv, 0), it.assoc()))
				}
			}
		}
	}
	return sortedLines(strings.Join(lines, "\n"))
}

// bidShape pushes n q20-like bid rows (auction, bidder, price, channel, url, time, extra) into the left
// side of an inner join with auctions (insert-only or counted) and returns the join. Bids go to a few
// hundred hot auctions, so most keys hold big buckets.
func bidJoin(n int, insertOnly bool) (*joinOp, int) {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	l, _ := NewJoin(JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts,
		RightTypes: []types.Type{types.BigIntType(), types.StringType()}, LeftInsertOnly: insertOnly, RightInsertOnly: insertOnly},
		&discardOut{})
	j := l.(*joinInput).j
	rng := rand.New(rand.NewPCG(3, 4))
	raw := 0
	var b changelog.Batch
	for i := range n {
		row := []types.Value{types.IntValue(1000 + int64(rng.IntN(500))), types.IntValue(rng.Int64N(100000)),
			types.IntValue(rng.Int64N(10_000_000)), types.StringValue([]string{"Apple", "Google", "Facebook", "Baidu"}[rng.IntN(4)]),
			types.StringValue(fmt.Sprintf("https://www.nexmark.com/item.htm?query=1&channel_id=%d", rng.IntN(1<<20))),
			types.TimestampValue(1_700_000_000_000+int64(i), 0), types.StringValue("")}
		for _, v := range row {
			raw += 8
			if v.T == types.TagString {
				raw += len(v.S) - 8
			}
		}
		b.Append(changelog.Insert, row)
		if len(b.Rows) == 256 {
			_ = l.Push(&b)
			b.Reset()
		}
	}
	_ = l.Push(&b)
	return j, raw
}

type discardOut struct{}

func (discardOut) Push(*changelog.Batch) error { return nil }
func (discardOut) Watermark(int64) error       { return nil }
func (discardOut) End() error                  { return nil }

// TestJoinInsertOnlyStateSmaller: the same bids take fewer bytes on an insert-only side (no per-row index in
// the big buckets) than on a counted one.
func TestJoinInsertOnlyStateSmaller(t *testing.T) {
	counted, _ := bidJoin(50_000, false)
	flat, _ := bidJoin(50_000, true)
	c, f := joinStateBytes(counted), joinStateBytes(flat)
	idx := 0
	for _, bb := range flat.sides[0].st.bigs {
		idx += len(bb.idx)
	}
	if idx != 0 || f >= c || c-f < 50_000*8 {
		t.Fatalf("insert-only side: %d bytes (index slots %d), counted side: %d bytes; want at least 8 bytes a row less", f, idx, c)
	}
}

// BenchmarkJoinStateSize reports the bytes a join holds per stored bid row (key table, arena, big buckets'
// chunks and index) against the row's raw size (8 bytes a number, a string's bytes), counted and insert-only.
func BenchmarkJoinStateSize(b *testing.B) {
	for _, insertOnly := range []bool{false, true} {
		b.Run(fmt.Sprintf("insertOnly=%t", insertOnly), func(b *testing.B) {
			const n = 200_000
			var bytes, raw int
			for range b.N {
				j, r := bidJoin(n, insertOnly)
				bytes, raw = joinStateBytes(j), r
			}
			b.ReportMetric(float64(bytes)/n, "B/row")
			b.ReportMetric(float64(raw)/n, "raw-B/row")
		})
	}
}
