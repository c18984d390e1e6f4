package state

import "errors"

// DefaultMaxParallelism is Flink's default for 'pipeline.max-parallelism' in Sluice: the number of key groups.
const DefaultMaxParallelism = 128

// KeyGroup returns the key group of a state key: a stable hash (the same in every process and run) of the key
// bytes modulo maxParallelism. Keys are the operator's logical key encoding (e.g. the GROUP BY key), so that
// state for one key always lands in one key group whatever the parallelism.
func KeyGroup(key []byte, maxParallelism int) int {
	if maxParallelism <= 0 {
		maxParallelism = DefaultMaxParallelism
	}
	return int(Hash(key) % uint64(maxParallelism))
}

// Hash is the stable 64-bit hash behind KeyGroup: FNV-1a, finished with murmur3's fmix64 so that short keys
// that differ in one byte spread over all groups.
func Hash(key []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range key {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Writer receives an operator's state during a snapshot.
//
// Contract: Put copies key and value before it returns (the caller may reuse its buffers). ns is a namespace
// chosen by the operator (e.g. 0 = groups, 1 = left join side, 2 = right side, 255 = operator-wide values);
// key decides the entry's key group and must be the logical key of the state (nil or empty for state that is
// not keyed, such as a global aggregate or the current watermark).
type Writer interface {
	Put(ns uint8, key, value []byte) error
}

// Reader yields the entries a Writer received, in an unspecified order.
//
// Contract: Next returns ok=false at the end; the slices it returns are valid until the next call.
type Reader interface {
	Next() (ns uint8, key, value []byte, ok bool, err error)
}

// Snapshotter is implemented by stateful operators (and the engine's wrappers of sources and sinks).
//
// Contract: SnapshotState is called between pushes (never during one) and writes everything the operator
// needs to continue exactly where it is; RestoreState is called on a freshly built operator before its first
// Push and loads what a SnapshotState of the same operator (the same plan node) wrote. An error from
// RestoreState means the state does not fit the operator: the job must not start.
type Snapshotter interface {
	SnapshotState(w Writer) error
	RestoreState(r Reader) error
}

// ErrCorrupt is wrapped by errors about unreadable state files.
var ErrCorrupt = errors.New("corrupt state")

// AsyncSnapshotter is implemented by operators whose state is large enough that writing it while the job is
// held would stall the pipeline: they take the cut quickly and write the state afterwards.
//
// Contract: SnapshotAsync is called instead of SnapshotState, between pushes. It returns a function that
// writes, to w, the state as of the call (not as of the function's run). The engine runs the function without
// the job's lock while the operator keeps processing (the operator synchronizes with it and keeps the cut's
// values of what it changes in the meantime), and before the next SnapshotAsync.
type AsyncSnapshotter interface {
	SnapshotAsync() (func(w Writer) error, error)
}
