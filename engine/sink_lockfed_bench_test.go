package engine

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkLockFedSink: a GROUP BY (1000 keys) at parallelism 1 over a pre-filled 4-partition topic into an
// unbuffered upsert-kafka sink (JSON key and value, every input row emits -U/+U) with 'sink.parallelism' 1
// (the aggregate's instance writes the sink under the graph lock: what the job ran as before, with a warning,
// at any 'sink.parallelism') and 2 and 3 (sink subtasks fed from under the lock, exchange_sink.go).
// Records/cpu-s counts the whole process (the in-process broker included).
//
//	go test ./engine -run '^$' -bench LockFedSink -benchtime 3x
func BenchmarkLockFedSink(b *testing.B) {
	addr := sinkBenchTopic(b)
	run := 0
	for _, sinkPar := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("sink%d", sinkPar), func(b *testing.B) {
			var wall, cpu time.Duration
			for range b.N {
				run++
				fed := lockFedSinksBuilt.Load()
				w, c := runSinkBench(b, addr, 1, run, fmt.Sprintf("'sink.parallelism' = '%d'", sinkPar))
				wall, cpu = wall+w, cpu+c
				if n := lockFedSinksBuilt.Load() - fed; (sinkPar > 1) != (n == 1) {
					b.Fatalf("sink%d: %d sinks fed from under the lock", sinkPar, n)
				}
			}
			reportSinkBench(b, wall, cpu)
		})
	}
}
