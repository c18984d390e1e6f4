//go:build !unix

package nexmark

import "time"

// processCPU is not measured on this platform: the benchmark's CPU metrics read 0.
func processCPU() time.Duration { return 0 }
