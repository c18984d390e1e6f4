package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// rankChunksCheck checks every rankChunks of rs: entries in order, counts and sizes as the books say, no
// empty chunk, every chunk within its capacity; it returns the keys of the partitions kept in one.
func rankChunksCheck(t *testing.T, what string, rs *rankStore) map[string]bool {
	t.Helper()
	big := map[string]bool{}
	f := rs.formAt()
	for i, v := range rs.st.slots {
		if v == 0 {
			continue
		}
		r := rs.st.record(i)
		if r.body[f] != rsFormBig {
			continue
		}
		big[string(r.key)] = true
		j, _ := binary.Uvarint(r.body[f+1:])
		bb := rs.bigs[j]
		total, size, ci := 0, 0, 0
		var prev []byte
		bb.eachChunk(func(c []byte, rows int32) {
			n := 0
			for q := 0; q < len(c); n++ {
				var e rEnt
				e, _, q = refEntAt(c, q)
				if prev != nil && bytes.Compare(prev, e.sk) >= 0 {
					t.Fatalf("%s: partition %q: entries out of order in chunk %d", what, r.key, ci)
				}
				prev = append(prev[:0], e.sk...)
			}
			if n == 0 || int32(n) != rows {
				t.Fatalf("%s: partition %q: chunk %d has %d entries, its count says %d", what, r.key, ci, n, rows)
			}
			total += n
			size += len(c)
			ci++
		})
		if total != bb.total || size != bb.size {
			t.Fatalf("%s: partition %q: %d entries of %d bytes, the books say %d of %d", what, r.key, total, size, bb.total, bb.size)
		}
		if err := rankChunksIndexCheck(bb); err != nil {
			t.Fatalf("%s: partition %q: %v", what, r.key, err)
		}
	}
	return big
}

// rankChunksIndexCheck checks a rankChunks' groups and their counted index: no empty group, at most
// rcGroupMax chunks a group, a count per chunk, each group's count the sum of its chunks', the index's count
// before every group the sum of the groups before it, and every position found in its group.
func rankChunksIndexCheck(bb *rankChunks) error {
	var before int64
	for g := range bb.groups {
		gr := &bb.groups[g]
		if len(gr.chunks) == 0 || len(gr.chunks) > rcGroupMax || len(gr.rows) != len(gr.chunks) {
			return fmt.Errorf("group %d has %d chunks and %d counts", g, len(gr.chunks), len(gr.rows))
		}
		n := 0
		for _, r := range gr.rows {
			n += int(r)
		}
		if n != gr.n {
			return fmt.Errorf("group %d: its chunks hold %d entries, its count says %d", g, n, gr.n)
		}
		if got := bb.index.before(bb.groups, g); got != before {
			return fmt.Errorf("group %d: the index counts %d entries before it, the groups %d", g, got, before)
		}
		for _, p := range []int64{before, before + int64(n) - 1} {
			if fg, k := bb.index.find(bb.groups, p); fg != g || k != p-before {
				return fmt.Errorf("position %d: the index finds group %d at %d, want group %d at %d", p, fg, k, g, p-before)
			}
		}
		before += int64(n)
	}
	if before != int64(bb.total) {
		return fmt.Errorf("the groups hold %d entries, the total says %d", before, bb.total)
	}
	return nil
}

// TestRankChunksProperty: partitions grow past rsSmallBytes (into a rankChunks: chunks that split) and
// shrink below half of it (back into their record: chunks that merge and empty) over and over, with
// random inserts, retractions and -U/+U pairs, ties, long sort keys (an entry longer than a chunk) and
// ROW_NUMBER/RANK/DENSE_RANK with and without a limit, against the reference Rank (rank_ref_test.go),
// push for push; the chunks' books (rankChunksCheck) and the row arena's (rankRowArenaCheck) must hold
// after every push.
func TestRankChunksProperty(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.StringType()}
	funcs := []string{"", "RANK", "DENSE_RANK"}
	limits := []int64{5, 40, -1}
	grew, shrank := 0, 0
	for seed := range uint64(16) { // all rounds under -race too: the test asserts it reaches both moves
		rng := rand.New(rand.NewPCG(seed, 0xc4c))
		cfg := RankConfig{Func: funcs[rng.IntN(3)], Partition: []int{0}, Limit: limits[rng.IntN(len(limits))],
			RowNumber: rng.IntN(4) != 0, Types: ts}
		cfg.Order = []SortKey{{Col: 1, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}
		if rng.IntN(3) == 0 { // a string sort key, sometimes longer than a chunk
			cfg.Order = append(cfg.Order, SortKey{Col: 2})
		}
		parts := 1 + rng.IntN(4)
		row := func() []types.Value {
			o := types.IntValue(int64(rng.IntN(60)))
			if rng.IntN(15) == 0 {
				o = types.NullValue
			}
			s := strings.Repeat("k", rng.IntN(12))
			if rng.IntN(40) == 0 {
				s = strings.Repeat("L", rcChunkCap+rng.IntN(200))
			}
			return []types.Value{types.StringValue(fmt.Sprint("p", rng.IntN(parts))), o, types.StringValue(s),
				types.StringValue(strings.Repeat("x", rng.IntN(30)))}
		}
		ch := &changes{rng: rng, update: seed%2 == 0}
		got, want := &recorder{}, &recorder{}
		op, ref := NewRank(cfg, got), newRefRank(cfg, want)
		rs := &op.(*rankOp).st
		wasBig := map[string]bool{}
		for i := range 1200 {
			// waves: mostly inserts (partitions grow to about 100 rows each), then mostly retractions
			ch.retract = 0.2
			if i/200%2 == 1 {
				ch.retract = 0.9
			}
			s := ch.next(0, row)
			b := &changelog.Batch{Rows: s.rows}
			if err := op.Push(b); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			if err := ref.Push(b); err != nil {
				t.Fatalf("seed %d step %d (reference): %v", seed, i, err)
			}
			what := fmt.Sprintf("seed %d step %d", seed, i)
			big := rankChunksCheck(t, what, rs)
			rankRowArenaCheck(t, what, rs)
			for k := range big {
				if !wasBig[k] {
					grew++
				}
			}
			for k := range wasBig {
				if _, found := rs.st.find([]byte(k), rs.st.hash([]byte(k))); found && !big[k] {
					shrank++ // back in its record (not deleted)
				}
			}
			wasBig = big
		}
		if got.b.String() != want.b.String() {
			t.Fatalf("seed %d (%+v): output differs\n got:\n%s\nwant:\n%s", seed, cfg, got.b.String(), want.b.String())
		}
		if got.pushes != want.pushes {
			t.Fatalf("seed %d: %d pushes, want %d", seed, got.pushes, want.pushes)
		}
	}
	if grew < 20 || shrank < 20 {
		t.Fatalf("partitions moved into chunks %d times and back %d times: the test does not reach both", grew, shrank)
	}
	t.Logf("partitions moved into chunks %d times and back %d times", grew, shrank)
}

// TestRankChunksIndex: a rankChunks grows to tens of thousands of entries (over ten groups of chunks), shrinks to
// a few and grows again, with random inserts, retractions and truncations; after each step the position
// every insertion and retraction returns, the entry at random positions (at), runs of entries
// (appendEnts) and the counted index (rankChunksIndexCheck) must agree with a sorted slice of the keys.
func TestRankChunksIndex(t *testing.T) {
	rs := &rankStore{}
	bb := &rankChunks{}
	rng := rand.New(rand.NewPCG(5, 21))
	var ref []string // sort keys with arrival numbers, in order
	var seq uint64
	maxGroups := 0
	for step := range 120_000 {
		grow := step/20_000%2 == 0
		switch r := rng.IntN(100); {
		case len(ref) > 0 && (r < 20 || !grow && r < 70):
			i := rng.IntN(len(ref))
			k := []byte(ref[i])
			_, pos, ok := bb.removeEqual(rs, k[:6], func(row []byte) bool { return string(row) == ref[i] })
			if !ok {
				t.Fatalf("step %d: %q not found", step, k)
			}
			if pos != int64(i) {
				t.Fatalf("step %d: retraction at %d, want %d", step, pos, i)
			}
			ref = append(ref[:i], ref[i+1:]...)
		case len(ref) > 10 && r == 99 && !grow:
			n := rng.IntN(len(ref))
			bb.truncate(rs, n)
			ref = ref[:n]
		default:
			seq++
			k := fmt.Appendf(nil, "k%05d", rng.IntN(30_000))
			ol := len(k) // 6
			k = appendSeq(k, seq)
			row := append([]byte(nil), k...)
			pos := bb.insert(rs, rEnt{sk: k, row: row, ol: ol})
			i := sort.SearchStrings(ref, string(k))
			if pos != int64(i) {
				t.Fatalf("step %d: insertion at %d, want %d", step, pos, i)
			}
			ref = append(ref, "")
			copy(ref[i+1:], ref[i:])
			ref[i] = string(k)
		}
		maxGroups = max(maxGroups, len(bb.groups))
		if step%997 != 0 && step%20_000 > 3 {
			continue
		}
		if bb.total != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, bb.total, len(ref))
		}
		if err := rankChunksIndexCheck(bb); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for range 20 {
			if len(ref) == 0 {
				break
			}
			p := rng.Int64N(int64(len(ref)))
			if e, ok := bb.at(p); !ok || string(e.sk) != ref[p] {
				t.Fatalf("step %d: at(%d) = %q, want %q", step, p, e.sk, ref[p])
			}
			ents := bb.appendEnts(nil, p, 70)
			if want := min(70, len(ref)-int(p)); len(ents) != want {
				t.Fatalf("step %d: appendEnts(%d, 70) gave %d entries, want %d", step, p, len(ents), want)
			}
			for j, e := range ents {
				if string(e.sk) != ref[int(p)+j] {
					t.Fatalf("step %d: appendEnts(%d)[%d] = %q, want %q", step, p, j, e.sk, ref[int(p)+j])
				}
			}
		}
	}
	if maxGroups < 8 {
		t.Fatalf("the chunks reached only %d groups", maxGroups)
	}
}
