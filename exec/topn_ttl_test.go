package exec

import (
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestTopNTTL: the global Top-N (ORDER BY v LIMIT 2) is one partition for the state TTL: every row stored
// or retracted refreshes it, a retraction of an unknown row does not, and once no row reached it for an hour
// all its rows are forgotten (nothing emitted) and later rows start the order anew. Run uninterrupted and
// cut (snapshot/restore) before every phase, so the last-change time is part of the snapshot.
func TestTopNTTL(t *testing.T) {
	ts := []types.Type{types.BigIntType()}
	build := func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		op := NewTopNTTL([]SortKey{{Col: 0}}, 2, 0, time.Hour, now, out)
		return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
	}
	runTTLScenario(t, build, []ttlPhase{
		{0, 0, "+I[5]\n+I[3]"},
		{30, 0, "+I[9]"},         // outside the top 2, but stored: written at 30
		{89, 0, "+I[4]"},         // 59 min: all kept, 4 pushes 5 out
		{150, 0, "+I[7]"},        // 61 min: 3, 4, 5, 9 are forgotten, 7 is first
		{160, 0, "-D[3]"},        // unknown: ignored, no refresh
		{200, 0, "+I[6]"},        // 50 min after 150: kept
		{250, 0, "-D[7]"},        // found: refreshes
		{305, 0, "+I[8]\n+I[9]"}, // 55 min after 250: 6 kept, so 9 is third
		{366, 0, "+I[1]"},        // 61 min: forgotten, 1 alone (8 is not pushed out)
	}, `+I[5]
+I[3]
+I[4]
-D[5]
+I[7]
+I[6]
-D[7]
+I[8]
+I[1]
`)
}

// TestTopNNoTTLKeeps: without a TTL the same idle hours forget nothing.
func TestTopNNoTTLKeeps(t *testing.T) {
	ts := []types.Type{types.BigIntType()}
	build := func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		op := NewTopNTTL([]SortKey{{Col: 0}}, 2, 0, 0, now, out)
		return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
	}
	runTTLScenario(t, build, []ttlPhase{
		{0, 0, "+I[5]\n+I[3]"},
		{500, 0, "+I[7]"},
		{1000, 0, "+I[1]"},
	}, "+I[5]\n+I[3]\n+I[1]\n-D[5]\n")
}
