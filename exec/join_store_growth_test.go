package exec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestJoinStoreGrowth stores 120,000 keys (one to three rows each, some rows twice) on the counted left side
// of a join, with a TTL, and checks that the key table doubles whenever it grows (at most 85 % full, so a
// key is moved about once in all), then that a restore of the grown state snapshots the same entries, that
// retractions of half the rows emit the same rows in the original and the restored join, that the table
// shrinks once most keys are gone, and that after the TTL no stored row joins any more.
func TestJoinStoreGrowth(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	now := time.Unix(1000, 0)
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ts, RightTypes: ts,
		TTL: time.Hour, Now: func() time.Time { return now }}
	var rec1, rec2 recorder
	l1, r1 := NewJoin(cfg, &rec1)
	j := l1.(*joinInput).j
	const keys = 120_000
	var left [][]types.Value
	grows, last := 0, 0
	for k := 0; k < keys; {
		var b changelog.Batch
		for ; k < keys && len(b.Rows) < 1000; k++ {
			for r := range 1 + k%3 {
				row := []types.Value{types.IntValue(int64(k) * 7919), types.StringValue(fmt.Sprintf("row %d of key %d", r, k))}
				left = append(left, row)
				b.Append(changelog.Insert, row)
				if k%10 == 0 && r == 0 {
					b.Append(changelog.Insert, row) // the same row twice: a count of 2
					left = append(left, row)
				}
			}
		}
		if err := l1.Push(&b); err != nil {
			t.Fatal(err)
		}
		st := &j.sides[0].st
		if n := len(st.slots); n != last {
			if last != 0 && n < 2*last {
				t.Fatalf("at %d keys the key table grew from %d to %d slots; want it doubled", st.keys, last, n)
			}
			grows++
			last = n
		}
		if st.keys*20 > len(st.slots)*17 {
			t.Fatalf("%d keys in %d slots: more than 85 %% full", st.keys, len(st.slots))
		}
	}
	if st := &j.sides[0].st; st.keys != keys || grows > 14 {
		t.Fatalf("%d keys, %d growths of the key table (want %d keys, at most 14 growths from 16 slots)", st.keys, grows, keys)
	}
	var right changelog.Batch
	for k := 0; k < keys; k += 10 {
		right.Append(changelog.Insert, []types.Value{types.IntValue(int64(k) * 7919), types.StringValue("r")})
	}
	if err := r1.Push(&right); err != nil {
		t.Fatal(err)
	}
	joined, retracted := 0, 0 // rows of keys 0 mod 10, of keys 0 mod 20
	for _, row := range left {
		if k := row[0].I / 7919; k%10 == 0 {
			joined++
			if k%20 == 0 {
				retracted++
			}
		}
	}
	if n := strings.Count(rec1.b.String(), "\n"); n != joined {
		t.Fatalf("the right rows joined %d rows; want %d", n, joined)
	}

	snap := state.NewMemory()
	if err := j.SnapshotState(snap); err != nil {
		t.Fatal(err)
	}
	l2, r2 := NewJoin(cfg, &rec2)
	j2 := l2.(*joinInput).j
	if err := j2.RestoreState(snap.Reader()); err != nil {
		t.Fatal(err)
	}
	again := state.NewMemory()
	if err := j2.SnapshotState(again); err != nil {
		t.Fatal(err)
	}
	if a, b := strings.Join(stateEntries(t, snap), "\n"), strings.Join(stateEntries(t, again), "\n"); a != b {
		t.Fatal("the restored join snapshots other entries than the original")
	}
	if j2.sides[0].st.keys != keys {
		t.Fatalf("the restored left side holds %d keys; want %d", j2.sides[0].st.keys, keys)
	}

	// Retract all but every tenth key's rows, on both joins: the rows of keys 0 mod 10 that the right side
	// joined are retracted with them, the same in both.
	rec1.b.Reset()
	for _, in := range []changelog.Output{l1, l2} {
		var b changelog.Batch
		for _, row := range left {
			if row[0].I/7919%10 != 0 || row[0].I/7919%20 == 0 {
				b.Append(changelog.Delete, row)
			}
		}
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := sortedLines(rec1.b.String()), sortedLines(rec2.b.String()); a != b || strings.Count(a, "-D") != retracted {
		t.Fatalf("retractions emitted %d rows in the original join, %d in the restored one (want %d in both, the same)",
			strings.Count(a, "-D"), strings.Count(b, "-D"), retracted)
	}
	for _, jj := range []*joinOp{j, j2} {
		if st := &jj.sides[0].st; st.keys != keys/20 || len(st.slots) > 8*st.keys {
			t.Fatalf("after the retractions: %d keys in %d slots (want %d keys, the table shrunk)", st.keys, len(st.slots), keys/20)
		}
	}

	// Past the TTL no stored row joins: the right side's new rows for the remaining keys emit nothing.
	now = now.Add(2 * time.Hour)
	rec1.b.Reset()
	rec2.b.Reset()
	for _, in := range []changelog.Output{r1, r2} {
		var b changelog.Batch
		for k := 10; k < keys; k += 20 {
			b.Append(changelog.Insert, []types.Value{types.IntValue(int64(k) * 7919), types.StringValue("late")})
		}
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	if rec1.b.Len() != 0 || rec2.b.Len() != 0 {
		t.Fatalf("rows past the TTL joined:\n%.300s\n%.300s", rec1.b.String(), rec2.b.String())
	}
}
