package exec

import (
	"bytes"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestJoinRecords checks the join's record encoding: rows whose values decode from their identity keep no
// second encoding, others (a string with a NUL byte, a DOUBLE side) keep the binary row encoding; both
// decode to the stored values, retractions find them, and a snapshot holds each row in the binary row
// encoding and restores to the same snapshot.
func TestJoinRecords(t *testing.T) {
	lt := []types.Type{types.BigIntType(), types.StringType(), types.BooleanType()}
	rt := []types.Type{types.BigIntType(), types.DoubleType()}
	cfg := JoinConfig{Type: FullJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: lt, RightTypes: rt}
	rec := &recorder{}
	left, right := NewJoin(cfg, rec)
	j := left.(*joinInput).j
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
	wantEnc := map[string]bool{"a": false, "nul\x00byte": true}
	n := 0
	for s := range 2 {
		for _, bk := range j.sides[s].state {
			for _, r := range bk.recs {
				n++
				vals := j.recVals(s, r, 0)
				want := rrows[0]
				if s == 0 {
					for _, lr := range lrows {
						if string(appendRowBinary(nil, lr)) == string(appendRowBinary(nil, vals)) {
							want = lr
						}
					}
				} else if vals[0].I == -7 {
					want = rrows[1]
				}
				if !bytes.Equal(appendRowBinary(nil, vals), appendRowBinary(nil, want)) {
					t.Fatalf("side %d: a record decodes to %v, want %v", s, vals, want)
				}
				hasEnc := r.split != len(r.data)
				if s == 1 && !hasEnc {
					t.Fatalf("a DOUBLE row keeps no binary encoding")
				}
				if w, ok := wantEnc[vals[1].S]; s == 0 && ok && w != hasEnc {
					t.Fatalf("row %v: binary encoding kept %t, want %t", vals, hasEnc, w)
				}
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
	for _, bk := range j.sides[0].state {
		for _, r := range bk.recs {
			if v := j.recVals(0, r, 0); v[0].T == types.TagInt && v[0].I == 1 {
				t.Fatalf("row %v is still in state after its retractions", v)
			}
		}
	}
}
