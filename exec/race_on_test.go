//go:build race

package exec

// raceEnabled: the race detector's instrumentation allocates on some paths (3 per batch on the slice
// window's columnar path under -race), so allocation counts are asserted only without it.
const raceEnabled = true
