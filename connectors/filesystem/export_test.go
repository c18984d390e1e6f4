package filesystem

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/sluicesql/sluice/changelog"
)

// Hooks for the tests of the batch commit (sink_commit_test.go): a killed process, simulated in this one.

// KillBatchOutput stops a batch output as kill -9 stops its process: its files stay where they are (open
// ones closed, hidden), its records stay, their locks are dropped.
func KillBatchOutput(out changelog.Output) {
	o := out.(*output)
	for _, w := range o.writers() {
		for _, bk := range w.buckets {
			if bk.f != nil {
				bk.f.Close()
				bk.f, bk.w = nil, nil
			}
		}
	}
	o.releaseRuns()
	o.ended = true
}

// KillBatchOutputInCommit closes a batch output's files, writes its commit manifest and renames its first
// n files, then stops it as KillBatchOutput. It returns how many files the manifest lists.
func KillBatchOutputInCommit(out changelog.Output, n int) (int, error) {
	o := out.(*output)
	if err := o.rollAll(); err != nil {
		return 0, err
	}
	var parts []string
	if o.s.successFile {
		for dir := range o.parts {
			parts = append(parts, dir)
		}
		slices.Sort(parts)
	}
	m, err := o.run.writeManifest(o.pending, parts, o.s.successName)
	if err != nil {
		return 0, err
	}
	for _, c := range m.Files[:min(n, len(m.Files))] {
		if err := os.Rename(filepath.Join(o.s.path, c.Pending), filepath.Join(o.s.path, c.Final)); err != nil {
			return 0, err
		}
	}
	KillBatchOutput(out)
	return len(m.Files), nil
}
