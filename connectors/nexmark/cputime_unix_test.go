//go:build unix

package nexmark

import (
	"syscall"
	"time"
)

// processCPU is the user + system CPU time of the process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
