package exec

import (
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// storedRows returns the rows side s of j holds, decoded, with their multiplicities and stored bodies.
func storedRows(j *joinOp, s int) (rows [][]types.Value, counts []int, bodies [][]byte) {
	st := &j.sides[s].st
	for i, v := range st.slots {
		if v == 0 {
			continue
		}
		r := st.record(i)
		kv := j.keyVals(r.key)
		for it := st.iter(&r); it.next(); {
			rows = append(rows, changelog.CopyVals(j.rowVals(s, it.row(), kv, 0)))
			counts = append(counts, it.count())
			bodies = append(bodies, append([]byte(nil), it.row()...))
		}
	}
	return rows, counts, bodies
}

// TestJoinRecords checks the join's row encoding: under integer keys a row's body leaves the key columns
// out, unless its key is NULL; every stored row decodes to the stored values, retractions find them, and a
// snapshot holds each row in the binary row encoding and restores to the same snapshot.
func TestJoinRecords(t *testing.T) {
	lt := []types.Type{types.BigIntType(), types.StringType(), types.BooleanType()}
	rt := []types.Type{types.BigIntType(), types.DoubleType()}
	cfg := JoinConfig{Type: FullJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: lt, RightTypes: rt}
	rec := &recorder{}
	left, right := NewJoin(cfg, rec)
	j := left.(*joinInput).j
	if j.kcats == nil || !j.sides[0].exact || j.sides[1].exact {
		t.Fatalf("compact keys %v, exact identity %t/%t; want compact, true/false", j.kcats, j.sides[0].exact, j.sides[1].exact)
	}
	lrows := [][]types.Value{
		{types.IntValue(1), types.StringValue("a"), types.BoolValue(true)},
		{types.IntValue(1), types.StringValue("nul\x00byte"), types.BoolValue(false)},
		{types.IntValue(-7), types.NullValue, types.NullValue},
		{types.NullValue, types.StringValue(""), types.BoolValue(true)},
	}
	rrows := [][]types.Value{{types.IntValue(1), types.FloatValue(2.5)}, {types.IntValue(-7), types.NullValue}}
	push := func(in changelog.Output, kind changelog.Kind, rows ...[]types.Value) {
		var b changelog.Batch
		for _, r := range rows {
			b.Append(kind, r)
		}
		if err := in.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	push(left, changelog.Insert, lrows...)
	push(left, changelog.Insert, lrows[0])
	push(right, changelog.Insert, rrows...)
	n := 0
	for s, want := range [][][]types.Value{lrows, rrows} {
		rows, counts, bodies := storedRows(j, s)
		for i, row := range rows {
			n++
			found := false
			for wi, w := range want {
				if string(appendRowBinary(nil, w)) != string(appendRowBinary(nil, row)) {
					continue
				}
				found = true
				wc := 1
				if s == 0 && wi == 0 {
					wc = 2
				}
				if counts[i] != wc {
					t.Fatalf("side %d: row %v has count %d, want %d", s, row, counts[i], wc)
				}
				whole := w[0].IsNull()
				if got := string(bodies[i]); got != string(j.encodeRow(s, w, whole, false)) {
					t.Fatalf("side %d: row %v is stored as %x", s, row, got)
				}
				// A whole body is the row's binary form without its count and without the tags of the
				// non-NULL values of tagless columns (join_dict_codec.go).
				wantLen := len(appendRowBinary(nil, w)) - 1
				for c, v := range w {
					if !v.IsNull() && j.sides[s].cols[c].kind != jcTagged {
						wantLen--
					}
				}
				if whole != (len(bodies[i]) == wantLen) {
					t.Fatalf("side %d: row %v (NULL key %t) has a body of %d bytes, the whole row takes %d", s, row, whole, len(bodies[i]), wantLen)
				}
			}
			if !found {
				t.Fatalf("side %d: a stored row decodes to %v, which was not stored", s, row)
			}
		}
	}
	if n != 6 {
		t.Fatalf("%d records, want 6", n)
	}
	snap := state.NewMemory()
	if err := j.SnapshotState(snap); err != nil {
		t.Fatal(err)
	}
	_, r2 := NewJoin(cfg, &recorder{})
	if err := r2.(*joinInput).j.RestoreState(snap.Reader()); err != nil {
		t.Fatal(err)
	}
	again := state.NewMemory()
	if err := r2.(*joinInput).j.SnapshotState(again); err != nil {
		t.Fatal(err)
	}
	if again.Len() != snap.Len() || again.Bytes() != snap.Bytes() {
		t.Fatalf("restored join snapshots %d entries of %d bytes, the original %d of %d", again.Len(), again.Bytes(), snap.Len(), snap.Bytes())
	}
	// Retractions find both kinds of record; the duplicate of row 0 stays once.
	rec.b.Reset()
	push(left, changelog.Delete, lrows[0], lrows[1], lrows[0])
	if got := rec.b.String(); got != "-D[1, a, TRUE, 1, 2.5]\n-D[1, nul\x00byte, FALSE, 1, 2.5]\n-D[1, a, TRUE, 1, 2.5]\n+I[NULL, NULL, NULL, 1, 2.5]\n" {
		t.Fatalf("retractions emitted\n%s", got)
	}
	rows, _, _ := storedRows(j, 0)
	for _, v := range rows {
		if v[0].T == types.TagInt && v[0].I == 1 {
			t.Fatalf("row %v is still in state after its retractions", v)
		}
	}
}
