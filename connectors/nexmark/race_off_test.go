//go:build !race

package nexmark

// raceEnabled reports a -race build (race_on_test.go).
const raceEnabled = false
