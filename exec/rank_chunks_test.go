package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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
		total, size := 0, 0
		var prev []byte
		for ci, c := range bb.chunks {
			n := 0
			for q := 0; q < len(c); n++ {
				var e rEnt
				e, _, q = refEntAt(c, q)
				if prev != nil && bytes.Compare(prev, e.sk) >= 0 {
					t.Fatalf("%s: partition %q: entries out of order in chunk %d", what, r.key, ci)
				}
				prev = append(prev[:0], e.sk...)
			}
			if n == 0 || int32(n) != bb.rows[ci] {
				t.Fatalf("%s: partition %q: chunk %d has %d entries, its count says %d", what, r.key, ci, n, bb.rows[ci])
			}
			total += n
			size += len(c)
		}
		if total != bb.total || size != bb.size || len(bb.rows) != len(bb.chunks) {
			t.Fatalf("%s: partition %q: %d entries of %d bytes, the books say %d of %d", what, r.key, total, size, bb.total, bb.size)
		}
	}
	return big
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
	for seed := range uint64(16) {
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
