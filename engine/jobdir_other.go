//go:build !unix

package engine

import "os"

// Without flock, job directories are not locked and directories of killed processes are not swept.
func lockJobDir(string) (*os.File, error) { return nil, nil }

func sweepJobDirs(string) int { return 0 }
