package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// TestCompactGroupsMinMaxMatchGroups is TestCompactGroupsMatchGroups for an insert-only input with MIN and
// MAX of integer columns next to COUNT/SUM/AVG (the shape of Nexmark q4's and q17's aggregates): outputs and
// snapshots of compact groups match the map of *group; seed 5 sends odd key values and MIN/MAX arguments
// that move the compact operator to the map of *group.
func TestCompactGroupsMinMaxMatchGroups(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType(), types.DoubleType(), types.FloatType(),
		types.BooleanType(), types.IntType(), types.StringType()}
	aggs := aggCalls(t, in, "COUNT(*)", "MIN($2)", "MAX($2)", "MAX($1) FILTER $5", "MIN($6)", "SUM($2)",
		"AVG($2)", "COUNT(*) FILTER $5", "MIN($1)")
	for _, keys := range [][]int{{0}, {0, 1}, nil, {7}, {7, 0}} {
		for seed := range uint64(6) {
			name := fmt.Sprintf("keys=%v seed=%d", keys, seed)
			cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, InsertOnly: true, EmitUpdateBefore: seed%2 == 0}
			odd := seed == 5
			if compact := checkCompactRun(t, name, cfg, rand.New(rand.NewPCG(seed, 13)), odd); compact == odd {
				t.Fatalf("%s: compact groups at the end: %t", name, compact)
			}
		}
	}
}

// TestCompactGroupsMinMaxEligible checks which MIN/MAX calls compact groups take: integer arguments over an
// insert-only input only.
func TestCompactGroupsMinMaxEligible(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.DoubleType(), types.StringType()}
	for _, tc := range []struct {
		agg        string
		insertOnly bool
		want       bool
	}{
		{"MAX($0)", true, true},
		{"MIN($0)", true, true},
		{"MAX($0)", false, false}, // retractable MIN/MAX keep a multiset
		{"MAX($1)", true, false},
		{"MIN($2)", true, true}, // a string MIN: its value beside the slots (groupagg_compact_distinct.go)
		{"MIN($2)", false, false},
	} {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, tc.agg), InsertOnly: tc.insertOnly}, &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		if got := op.(*groupAgg).compact != nil; got != tc.want {
			t.Errorf("%s insert-only=%t: compact groups %t, want %t", tc.agg, tc.insertOnly, got, tc.want)
		}
	}
}
