package engine

import (
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
)

// A batch stage task's spilling operators (sorts, sorting OVER aggregates) unlink their files as they
// create them, so a failed attempt leaves no name behind, but the files keep their space while open: the
// failed attempt's operators were dropped with their runs open, and the space came back only when the
// garbage collector finalized them, typically while the rerun spilled as much again into the same job
// directory. The attempt now notes its spilling operators as they are built (an operator is the output its
// input is built into, stageBuild.input) and closes their files once the attempt failed
// (TestBatchFailedAttemptSpillsReleased counts the open run files per attempt).

// noteSpiller records out when it is an operator that may hold spill files.
func (b *stageBuild) noteSpiller(out changelog.Output) {
	if s, ok := out.(exec.SpillReleaser); ok {
		b.run.spillers = append(b.run.spillers, s)
	}
}

// releaseSpills closes the spill files of a failed attempt's operators (its sources have returned: nothing
// pushes into them any more).
func (r *stageRun) releaseSpills() {
	for _, s := range r.spillers {
		s.ReleaseSpills()
	}
	r.spillers = nil
}
