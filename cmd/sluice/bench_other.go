//go:build !unix

package main

// cpuSeconds is not measured on this platform (the report shows 0 and no per-core figure).
func cpuSeconds() float64 { return 0 }

// resetPeakRSS does nothing on this platform.
func resetPeakRSS() {}

// peakRSS is unknown on this platform (the report shows "-").
func peakRSS() int64 { return 0 }
