package main

import (
	"runtime"
	"testing"
	"time"
)

var gcTestSink []byte

// TestGCMeterCoversTheWholeQuery: garbage at the start of a "query" and then long work without allocating.
// The /cpu/classes snapshot is as of the last GC cycle, which ran during the garbage; the meter must still
// count the busy CPU up to the end (the old reading divided by the time up to that last cycle only, which
// made a short startup's GC look like a large share), and count the cycles and bytes.
func TestGCMeterCoversTheWholeQuery(t *testing.T) {
	runtime.GC()
	m := startGCMeter()
	for i := 0; i < 64; i++ {
		gcTestSink = make([]byte, 1<<20)
	}
	gcTestSink = nil
	const spin = 300 * time.Millisecond
	t0 := time.Now()
	x := uint64(1)
	for time.Since(t0) < spin {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	st := m.stop()
	if x == 0 {
		t.Log(x) // keep the loop
	}
	if st.share < 0 {
		t.Skip("runtime/metrics without the /cpu/classes metrics")
	}
	if st.cycles == 0 || st.allocBytes < 64<<20 {
		t.Errorf("%d cycles, %d bytes allocated; want some cycles and at least 64 MiB", st.cycles, st.allocBytes)
	}
	if st.busy < 0.9*spin.Seconds() {
		t.Errorf("busy CPU %.3f s, want at least the %.1f s of work after the last cycle", st.busy, spin.Seconds())
	}
	if st.share > 0.5 {
		t.Errorf("GC share %.1f %%, want it small against the work", 100*st.share)
	}
}
