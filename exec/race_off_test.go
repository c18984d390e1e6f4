//go:build !race

package exec

// raceEnabled reports a -race build (race_on_test.go).
const raceEnabled = false

// propertyRounds is how many of a property test's n random rounds (seeds) run: all of them, except under
// -race (race_on_test.go).
func propertyRounds(n int) int { return n }
