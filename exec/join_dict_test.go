package exec

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// dictJoin is a join under test with the rows it emitted for the last push.
type dictJoin struct {
	j    *joinOp
	in   [2]changelog.Output
	out  []string
	rows [][]types.Value // every emitted row, for the materialized result
	kind []changelog.Kind
}

func newDictJoin(t *testing.T, cfg JoinConfig, plain bool) *dictJoin {
	d := &dictJoin{}
	l, r := NewJoin(cfg, NewCollect(func(row changelog.Row) error {
		d.out = append(d.out, row.Kind.String()+fmt.Sprint(row.Vals))
		d.rows = append(d.rows, changelog.CopyVals(row.Vals))
		d.kind = append(d.kind, row.Kind)
		return nil
	}))
	d.j, d.in = l.(*joinInput).j, [2]changelog.Output{l, r}
	if plain {
		d.j.sides[0].dicts, d.j.sides[1].dicts = nil, nil // the path without dictionaries
	}
	return d
}

// push pushes one row into side s and returns the emitted rows, sorted (the order of the rows of a key
// depends on how they are stored).
func (d *dictJoin) push(t *testing.T, s int, kind changelog.Kind, row []types.Value) string {
	t.Helper()
	d.out = d.out[:0]
	if err := d.in[s].Push(&changelog.Batch{Rows: []changelog.Row{{Kind: kind, Vals: row}}}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(d.out)
	return strings.Join(d.out, "\n")
}

func (d *dictJoin) materialized(t *testing.T) string {
	m := changelog.NewMaterializer(nil)
	for i, row := range d.rows {
		if err := m.Apply(changelog.Row{Kind: d.kind[i], Vals: row}); err != nil {
			t.Fatal(err)
		}
	}
	lines := make([]string, 0, len(m.Rows()))
	for _, r := range m.Rows() {
		lines = append(lines, fmt.Sprint(r))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// storedBytes is the bytes of the row bodies side s holds.
func storedBytes(j *joinOp, s int) int {
	_, _, bodies := storedRows(j, s)
	n := 0
	for _, b := range bodies {
		n += len(b)
	}
	return n
}

// TestJoinDictMatchesPlain drives joins with dictionaries (join_dict.go) and the same joins without them
// with the same random inserts and retractions, and checks that every push emits the same rows. The left
// side (exact identity: the body) has a string column of few values, one of 20,000 (three in four drawn from
// 200 of them) and one of unique values; the right side (identity by key encoding: a DOUBLE column) a string
// column of few values. With the default limits the unique column's dictionary closes after the trial and
// is dropped (dropDicts: the side's rows are encoded anew); with small limits (small) the dictionaries of
// the 20,000 and the unique values close full at 300 values, with values in them and values stored in place
// both repeating after that, and the unique column's, which then finds few of the strings stored in it, is
// dropped. Two thirds in, the dictionary join is snapshotted and restored into a new one, which goes on in
// its place (its dictionaries rebuilt from the restored rows); both sides hold the same rows with the same
// counts at the end. Keys are compact (BIGINT) or key encodings (with a BOOLEAN key column: rows are whole);
// sides take retractions, or are insert-only (append-only stores).
func TestJoinDictMatchesPlain(t *testing.T) {
	for _, small := range []bool{false, true} {
		for _, compact := range []bool{true, false} {
			for _, insertOnly := range []bool{false, true} {
				for _, jt := range []JoinType{InnerJoin, LeftJoin, FullJoin} {
					if insertOnly && jt != FullJoin || small && (!compact || jt == LeftJoin) {
						continue // the slowest variants: every row stays
					}
					name := fmt.Sprintf("small=%t/compact=%t/insertOnly=%t/%s", small, compact, insertOnly, jt)
					t.Run(name, func(t *testing.T) {
						if small {
							defer func(l, r int) { joinDictLimit, joinDictReview = l, r }(joinDictLimit, joinDictReview)
							joinDictLimit, joinDictReview = 300, 1000
						}
						testJoinDictMatchesPlain(t, compact, insertOnly, small, jt, 1)
					})
				}
			}
		}
	}
}

func testJoinDictMatchesPlain(t *testing.T, compact, insertOnly, small bool, jt JoinType, seed uint64) {
	lt := []types.Type{types.BigIntType(), types.StringType(), types.StringType(), types.StringType(), types.BooleanType()}
	rt := []types.Type{types.BigIntType(), types.StringType(), types.DoubleType(), types.BooleanType()}
	cfg := JoinConfig{Type: jt, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: lt, RightTypes: rt,
		LeftInsertOnly: insertOnly, RightInsertOnly: insertOnly}
	if !compact {
		cfg.LeftKeys, cfg.RightKeys = []int{0, 4}, []int{0, 3}
	}
	dj, plain := newDictJoin(t, cfg, false), newDictJoin(t, cfg, true)
	if (dj.j.kcats != nil) != compact || !dj.j.sides[0].exact || dj.j.sides[1].exact {
		t.Fatalf("compact keys %v, exact identity %t/%t", dj.j.kcats, dj.j.sides[0].exact, dj.j.sides[1].exact)
	}
	rng := rand.New(rand.NewPCG(seed, uint64(jt)))
	low := []types.Value{types.StringValue("Google"), types.StringValue("Facebook"), types.StringValue("x"),
		types.StringValue(""), types.NullValue, types.StringValue("channel-1234")}
	key := func() types.Value {
		if rng.IntN(20) == 0 {
			return types.NullValue
		}
		if insertOnly {
			return types.IntValue(int64(rng.IntN(3000)))
		}
		return types.IntValue(int64(rng.IntN(300)))
	}
	url := func() int {
		if rng.IntN(4) != 0 {
			return rng.IntN(200)
		}
		return rng.IntN(20000)
	}
	var live [2][][]types.Value
	const steps = 9000
	uniq := 0
	for step := range steps {
		if step == steps*2/3 {
			checkDicts(t, dj.j, small)
			snap := state.NewMemory()
			if err := dj.j.SnapshotState(snap); err != nil {
				t.Fatal(err)
			}
			restored := newDictJoin(t, cfg, false)
			if err := restored.j.RestoreState(snap.Reader()); err != nil {
				t.Fatal(err)
			}
			restored.rows, restored.kind = dj.rows, dj.kind
			dj = restored
		}
		s := rng.IntN(2)
		kind := changelog.Insert
		var row []types.Value
		if !insertOnly && len(live[s]) > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(len(live[s]))
			row = live[s][i]
			live[s] = append(live[s][:i], live[s][i+1:]...)
			kind = changelog.Delete
		} else if s == 0 {
			uniq++
			row = []types.Value{key(), low[rng.IntN(len(low))], types.StringValue(fmt.Sprintf("https://www.nexmark.com/%04d/item.htm", url())),
				types.StringValue(fmt.Sprintf("unique-%d", uniq)), types.BoolValue(true)}
			if len(live[0]) > 0 && rng.IntN(5) == 0 {
				row = live[0][rng.IntN(len(live[0]))] // a duplicate
			}
			live[0] = append(live[0], row)
		} else {
			row = []types.Value{key(), low[rng.IntN(len(low))], types.FloatValue(float64(rng.IntN(3))), types.BoolValue(true)}
			live[1] = append(live[1], row)
		}
		if got, want := dj.push(t, s, kind, row), plain.push(t, s, kind, row); got != want {
			t.Fatalf("seed %d step %d: %s of %v on side %d emits\n%s\nwithout dictionaries\n%s", seed, step, kind, row, s, got, want)
		}
	}
	if got, want := dj.materialized(t), plain.materialized(t); got != want {
		t.Fatalf("seed %d: materialized results differ:\n%s\nwithout dictionaries\n%s", seed, got, want)
	}
	for s := range 2 {
		gr, gc, _ := storedRows(dj.j, s)
		pr, pc, _ := storedRows(plain.j, s)
		if g, w := rowsWithCounts(gr, gc), rowsWithCounts(pr, pc); g != w {
			t.Fatalf("seed %d: side %d holds\n%s\nwithout dictionaries\n%s", seed, s, g, w)
		}
	}
	checkDicts(t, dj.j, small)
	if g, p := storedBytes(dj.j, 0), storedBytes(plain.j, 0); g*10 > p*9 {
		t.Fatalf("left bodies take %d bytes, %d without dictionaries", g, p)
	}
}

// checkDicts checks the left dictionaries of testJoinDictMatchesPlain: the low column's is open and holds
// its 3 strings of 2 bytes or more; the unique column's was dropped; with small limits the url column's is
// closed full and kept, else it is open.
func checkDicts(t *testing.T, j *joinOp, small bool) {
	t.Helper()
	sd := &j.sides[0]
	low, url, uniq := sd.dicts[1], sd.dicts[2], sd.dicts[3]
	if low == nil || !low.open || len(low.vals) != 3 {
		t.Fatalf("the low column's dictionary is %s, want open with 3 values", dictState(low))
	}
	if uniq != nil || sd.dropped == 0 {
		t.Fatalf("the unique column's dictionary is %s (the side re-encoded %d times), want it dropped", dictState(uniq), sd.dropped)
	}
	if url == nil || url.open == small || small && len(url.vals) != joinDictLimit || !small && len(url.vals) < 200 {
		t.Fatalf("the url column's dictionary is %s", dictState(url))
	}
}

func dictState(d *joinDict) string {
	if d == nil {
		return "dropped"
	}
	return fmt.Sprintf("open %t, drop %t, %d values, %d stored while open", d.open, d.drop, len(d.vals), d.seen)
}

func rowsWithCounts(rows [][]types.Value, counts []int) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = fmt.Sprintf("%v x%d", r, counts[i])
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestJoinDictShrinksBids: q20-shaped bids (channel and url from 10,004 values each, as Nexmark's
// generator draws them; a unique 'extra') take at least a quarter fewer state bytes, dictionaries counted,
// than without dictionaries, and decode to the same rows.
func TestJoinDictShrinksBids(t *testing.T) {
	cfg := dictBidsCfg()
	var joins [2]*joinOp
	for i, plain := range []bool{false, true} {
		joins[i] = pushDictBids(t, cfg, plain, dictBids(60_000))
	}
	dict, plain := joinStateBytes(joins[0]), joinStateBytes(joins[1])
	if dict*4 > plain*3 {
		t.Fatalf("bids take %d bytes with dictionaries, %d without: want at least a quarter less", dict, plain)
	}
	dr, dc, _ := storedRows(joins[0], 0)
	pr, pc, _ := storedRows(joins[1], 0)
	if rowsWithCounts(dr, dc) != rowsWithCounts(pr, pc) {
		t.Fatal("the stored bids differ")
	}
	t.Logf("%d bytes with dictionaries, %d without", dict, plain)
}

func dictBidsCfg() JoinConfig {
	ts := []types.Type{types.BigIntType(), types.BigIntType(), types.BigIntType(), types.StringType(), types.StringType(),
		types.TimestampType(3), types.StringType()}
	return JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts,
		RightTypes: []types.Type{types.BigIntType(), types.StringType()}}
}

// dictBids returns n q20-shaped bids in batches of 256.
func dictBids(n int) []*changelog.Batch {
	rng := rand.New(rand.NewPCG(5, 6))
	var out []*changelog.Batch
	b := &changelog.Batch{}
	for i := range n {
		ch := rng.IntN(10_004)
		if rng.IntN(2) == 0 {
			ch = rng.IntN(4)
		}
		b.Append(changelog.Insert, []types.Value{types.IntValue(1000 + int64(rng.IntN(2000))), types.IntValue(rng.Int64N(100000)),
			types.IntValue(rng.Int64N(10_000_000)), types.StringValue(fmt.Sprintf("channel-%d", ch)),
			types.StringValue(fmt.Sprintf("https://www.nexmark.com/abcd/efg_h/ijk/item.htm?query=1&channel_id=%d", ch*7919)),
			types.TimestampValue(1_700_000_000_000+int64(i), 0), types.StringValue(fmt.Sprintf("extra-%d-%d", i, rng.Int64()))})
		if len(b.Rows) == 256 {
			out = append(out, b)
			b = &changelog.Batch{}
		}
	}
	return append(out, b)
}

func pushDictBids(tb testing.TB, cfg JoinConfig, plain bool, bids []*changelog.Batch) *joinOp {
	l, _ := NewJoin(cfg, &discardOut{})
	j := l.(*joinInput).j
	if plain {
		j.sides[0].dicts, j.sides[1].dicts = nil, nil
	}
	for _, b := range bids {
		if err := l.Push(b); err != nil {
			tb.Fatal(err)
		}
	}
	return j
}

// BenchmarkJoinDictBids stores q20-shaped bids (TestJoinDictShrinksBids) into a join side with and without
// dictionaries: ns/row of the pushes, B/row of the state (dictionaries counted).
func BenchmarkJoinDictBids(b *testing.B) {
	const n = 200_000
	bids := dictBids(n)
	cfg := dictBidsCfg()
	for _, plain := range []bool{true, false} {
		b.Run(fmt.Sprintf("dict=%t", !plain), func(b *testing.B) {
			var bytes int
			for range b.N {
				bytes = joinStateBytes(pushDictBids(b, cfg, plain, bids))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
			b.ReportMetric(float64(bytes)/n, "B/row")
		})
	}
}
