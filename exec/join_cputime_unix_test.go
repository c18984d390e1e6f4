//go:build unix

package exec

import (
	"syscall"
	"time"
)

// processCPU is the user + system CPU time of the process (benchmarks on a shared machine report it next
// to the wall-clock time).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
