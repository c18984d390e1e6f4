package main

import (
	"runtime"
	"runtime/metrics"
)

// gcSample is one reading of the runtime's GC accounting (runtime/metrics).
//
// The /cpu/classes metrics are not live: the runtime updates them only at the end of each GC cycle (the
// snapshot taken at mark termination), so a reading between cycles gives the values as of the last completed
// cycle, both the GC's time and the total. /cpu/classes/total is GOMAXPROCS integrated over wall time (idle Ps
// included), a stop-the-world pause counts as its wall time times GOMAXPROCS, and /cpu/classes/gc/total
// includes the idle-priority mark workers, which only run on Ps that have nothing else to do.
// /gc/heap/allocs:bytes and /gc/cycles/automatic:gc-cycles are current when read.
type gcSample struct {
	gcTotal, gcIdle, total, idle float64 // cpu-seconds, as of the last completed GC cycle
	allocBytes                   uint64  // heap bytes allocated since the process started
	cycles                       uint64  // GC cycles the runtime started by itself (not runtime.GC)
}

var gcSampleNames = []string{
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/cpu/classes/idle:cpu-seconds",
	"/gc/heap/allocs:bytes",
	"/gc/cycles/automatic:gc-cycles",
}

// readGC reads the runtime's GC accounting; ok is false when the runtime lacks one of the metrics.
func readGC() (s gcSample, ok bool) {
	m := make([]metrics.Sample, len(gcSampleNames))
	for i, n := range gcSampleNames {
		m[i].Name = n
	}
	metrics.Read(m)
	f := func(i int) float64 {
		if m[i].Value.Kind() != metrics.KindFloat64 {
			ok = false
			return 0
		}
		return m[i].Value.Float64()
	}
	u := func(i int) uint64 {
		if m[i].Value.Kind() != metrics.KindUint64 {
			ok = false
			return 0
		}
		return m[i].Value.Uint64()
	}
	ok = true
	s = gcSample{gcTotal: f(0), gcIdle: f(1), total: f(2), idle: f(3), allocBytes: u(4), cycles: u(5)}
	return s, ok
}

// gcStats is what the garbage collector cost one query.
type gcStats struct {
	share      float64 // GC CPU / the process's busy CPU over the query; <0 unknown
	busy       float64 // the process's busy CPU over the query, cpu-seconds (the runtime's estimate)
	cycles     uint64  // GC cycles the runtime started during the query
	allocBytes uint64  // heap bytes the query allocated
}

// gcMeter measures the GC's cost of one query: start after a runtime.GC (so that the /cpu/classes snapshot is
// current), stop when the query has ended.
type gcMeter struct {
	start gcSample
	ok    bool
}

func startGCMeter() gcMeter {
	s, ok := readGC()
	return gcMeter{start: s, ok: ok}
}

// stop forces one GC cycle to bring the /cpu/classes snapshot up to the query's end and returns the query's
// GC cost:
//   - GC CPU: the mark assists, the dedicated and fractional mark workers and the stop-the-world pauses of the
//     cycles that ran during the query (/cpu/classes/gc/total minus /cpu/classes/gc/mark/idle, read before the
//     forced cycle, whose snapshot is then the last cycle of the query). The idle mark workers are left out:
//     they only use Ps that would otherwise idle, so they cost no throughput and come and go with the
//     machine's load.
//   - busy CPU: /cpu/classes/total minus /cpu/classes/idle and the idle mark workers over the whole query (read
//     after the forced cycle), minus the forced cycle's own GC time.
//
// A cycle still marking when the query ends is counted as the forced cycle's (it finishes inside runtime.GC).
func (m gcMeter) stop() gcStats {
	end, ok1 := readGC()
	runtime.GC()
	after, ok2 := readGC()
	st := gcStats{share: -1}
	if !m.ok || !ok1 || !ok2 {
		return st
	}
	st.cycles = end.cycles - m.start.cycles
	st.allocBytes = end.allocBytes - m.start.allocBytes
	gc := (end.gcTotal - end.gcIdle) - (m.start.gcTotal - m.start.gcIdle)
	busy := (after.total - after.idle - after.gcIdle) - (m.start.total - m.start.idle - m.start.gcIdle)
	busy -= (after.gcTotal - after.gcIdle) - (end.gcTotal - end.gcIdle)
	st.busy = busy
	if busy > 0 && gc >= 0 {
		st.share = gc / busy
	}
	return st
}
