//go:build !race

package exec

// raceEnabled reports a -race build (race_on_test.go).
const raceEnabled = false
