package exec

import "github.com/sluicesql/sluice/changelog"

// topNBenchOp returns the global Top-N of the benchmarks (a copy of them measures the version before with
// NewTopN, which keeps every row whatever its input).
func topNBenchOp(keys []SortKey, limit, offset int64, insertOnly bool) changelog.Output {
	return NewTopNOf(TopNConfig{Keys: keys, Limit: limit, Offset: offset, InsertOnly: insertOnly}, &discard{})
}
