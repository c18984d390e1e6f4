//go:build race

package exec

// raceEnabled: the race detector's instrumentation allocates on some paths (3 per batch on the slice
// window's columnar path under -race), so allocation counts are asserted only without it.
const raceEnabled = true

// propertyRounds runs a quarter of a property test's n random rounds under -race: the tests phase runs
// them all without it; the race phase checks the same code paths for races, and the whole rounds took
// ~17 min of a 2-core machine there (the instrumentation is 5-10× slower).
func propertyRounds(n int) int { return max(1, (n+3)/4) }
