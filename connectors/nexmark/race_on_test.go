//go:build race

package nexmark

// raceEnabled: the race detector's instrumentation allocates on the source's columnar path (~190 per batch
// under -race), so allocation counts are asserted only without it.
const raceEnabled = true
