package exec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestNormalizeSnapshotChanged: after every step of random upserts, duplicates and deletes (of known and
// unknown keys), the entries SnapshotChanged wrote so far (a Delete removing one) are exactly those of a
// full SnapshotState, so a restore from them equals the running normalize.
func TestNormalizeSnapshotChanged(t *testing.T) {
	bt := types.BigIntType()
	ts := []types.Type{bt, bt}
	n := NewNormalize(NormalizeConfig{Keys: []int{0}, Types: ts}, &recorder{})
	keyed := NormalizeKeyedOf(n)
	if keyed == nil || NormalizeKeyedOf(NewNormalize(NormalizeConfig{Keys: []int{0}, Types: ts, Batch: true}, &recorder{})) != nil {
		t.Fatal("NormalizeKeyedOf: want the keyed changes of a streaming normalize only")
	}
	keyed.TrackChanges()
	rng := rand.New(rand.NewPCG(3, 5))
	delta := deltaEntries{}
	for step := range 300 {
		var b changelog.Batch
		for range rng.IntN(5) {
			kind := changelog.UpdateAfter
			if rng.IntN(4) == 0 {
				kind = changelog.Delete
			}
			b.Append(kind, []types.Value{types.IntValue(int64(rng.IntN(8))), types.IntValue(int64(rng.IntN(3)))})
		}
		if err := n.Push(&b); err != nil {
			t.Fatal(err)
		}
		if err := keyed.SnapshotChanged(delta); err != nil {
			t.Fatal(err)
		}
		full := deltaEntries{}
		if err := n.(*normalize).SnapshotState(full); err != nil {
			t.Fatal(err)
		}
		for k, v := range delta {
			if v == nil {
				delete(delta, k) // deleted
			}
		}
		if got, want := fmt.Sprint(len(delta)), fmt.Sprint(len(full)); got != want {
			t.Fatalf("step %d: %s entries written, the state has %s", step, got, want)
		}
		for k, v := range full {
			if !bytes.Equal(delta[k], v) {
				t.Fatalf("step %d: entry %x is %x, the state's is %x", step, k, delta[k], v)
			}
		}
	}
}
