//go:build !race

package engine

// raceThin returns a test's variants: all of them, except under -race (race_on_test.go).
func raceThin[T any](variants []T) []T { return variants }
