package filesystem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Readers honour the batch sink's commit manifests (sink_commit.go). A run killed during its commit leaves
// its manifest in '<path>/.sluice-staging/<uuid>/' and part of its files renamed to their final names.
// Until every file of the manifest is in place (the next sink opened on the path rolls the manifest forward,
// or the killed run renamed them all before it died), the source and the lookup source do not list that
// manifest's final files: they see none of the run's rows, then all of them.
//
// Readers never write: they do not roll a manifest forward themselves (as Flink's readers, which never
// commit a sink's files). A monitoring source ('source.monitor-interval') sees the files of a manifest that
// completes later as new files in a later listing, and reads each once, as any file that appears.
//
// The manifests are read before and after the directory is walked: a commit not complete after the walk
// shows none of its files; one that completes during the walk (its record removed or not) shows every file
// of it (those the walk missed are added). A live run whose commit begins (manifest written) and ends
// (record removed) within one walk may still be seen in part by that listing (the next listing sees it
// whole). Records without a manifest (runs still writing, or killed before their commit) own only hidden
// files, which readers skip anyway. A reader whose path is a directory below the sink path (a partition)
// does not see the manifests.

// commitFiles is what the manifests under a sink path say about its final files.
type commitFiles struct {
	hidden map[string]bool // final files (relative to the path) of commits not complete
	done   []string        // final files of complete commits whose record is still there
}

// readCommits reads the manifests of the runs recorded under path. A manifest that cannot be read stops
// the reader with an error naming it and saying how to fix it.
func readCommits(path string) (commitFiles, error) {
	var cf commitFiles
	staging := filepath.Join(path, stagingName)
	ents, err := os.ReadDir(staging)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return cf, fmt.Errorf("read the staging directory '%s' of the batch sink's commits: %w", staging, err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") { // '.new-' records have no manifest, '.done-' ones are complete
			continue
		}
		file := filepath.Join(staging, name, manifestName)
		m, err := parseManifest(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cf, fmt.Errorf("the commit manifest '%s' of a batch run that was committing into '%s' is not readable (%v), so which of its files are complete is unknown. Restore the file, or remove the directory '%s' to give that run's commit up (its files renamed so far are then read, the others stay hidden); a sink opened on the path reports the same", file, path, err, filepath.Dir(file))
		}
		complete := true
		for _, c := range m.Files {
			if _, err := os.Lstat(filepath.Join(path, c.Pending)); err == nil {
				complete = false
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return cf, fmt.Errorf("check the commit of '%s' (manifest '%s'): %w", filepath.Join(path, c.Final), file, err)
			}
		}
		for _, c := range m.Files {
			if complete {
				cf.done = append(cf.done, c.Final)
				continue
			}
			if cf.hidden == nil {
				cf.hidden = map[string]bool{}
			}
			cf.hidden[c.Final] = true
		}
	}
	return cf, nil
}
