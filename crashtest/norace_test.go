//go:build !race

package crashtest

// clientFlags are the go build flags of the sql-client under test (race_test.go: -race in a race build).
var clientFlags []string
