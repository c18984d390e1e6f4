package filesystem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The commit of a batch run is whole or nothing, as Flink's FileSink committer: a committable is a pending
// (hidden) file and its final name, and committing one that is committed already is a no-op.
//
// Each batch output keeps a record in the staging area of the sink path, '<path>/.sluice-staging/<uuid>/'
// (<uuid>: the run's part file prefix): 'run.json' (the statement's identity, connectors.RunIdentitySink,
// and the prefix) and a lock file that the run's process holds (flock) while the output is open. End writes
// the commit manifest 'manifest.json' (every pending → final rename, and the partitions whose success file
// the commit writes) durably (temporary file, fsync, rename, fsync of the directories) before its first
// rename, then renames, then removes the record. A record is created and removed by renaming its
// directory ('.new-<uuid>' → '<uuid>' → '.done-<uuid>'), so under its own name it is always whole.
//
// A process killed with kill -9 leaves its record unlocked. The next sink opened on the path (batch or
// streaming, in any process) takes such records over first:
//   - without a manifest (killed before its commit): nothing of the run is visible; its hidden files are
//     removed, then its record;
//   - with a manifest (killed during or after its commit): the manifest is rolled forward (renames whose
//     pending file is still there are done; a final file already there is a committed one), so the run's
//     result is whole. The record stays until a batch run of the same statement (the same identity) opens
//     the sink: that run is the killed run's rerun, and writes nothing (its rows are there already); its
//     End removes the killed run's record, its Abort leaves it for the next rerun.
// Readers (the source, batch or streaming, and the lookup source) skip the staging area and hidden files,
// and honour the manifests (commit_read.go): the final files of a commit that is not complete are not
// listed, so between a kill during a commit and the next sink opened on the path they see none of the
// killed run's result.

const (
	stagingName   = ".sluice-staging" // the staging area under the sink path
	runLockName   = "lock"
	runFileName   = "run.json"
	manifestName  = "manifest.json"
	runNewPrefix  = ".new-"  // a record being created
	runDonePrefix = ".done-" // a record being removed
)

// runRecord is a batch run's 'run.json'.
type runRecord struct {
	// Identity is the identity of the statement that writes the sink (connectors.RunIdentitySink).
	Identity string `json:"identity"`
	// Prefix is the uuid of the run's part files.
	Prefix string `json:"prefix"`
	// Started is when the run opened the sink (RFC 3339), for notices.
	Started string `json:"started"`
}

// commitManifest is a batch run's 'manifest.json': what its commit does. Paths are relative to the sink
// path.
type commitManifest struct {
	Files []committable `json:"files"`
	// Partitions are the partition directories whose success file (SuccessFile) the commit writes.
	Partitions  []string `json:"partitions,omitempty"`
	SuccessFile string   `json:"successFile,omitempty"`
}

// committable is a pending file and its final name.
type committable struct {
	Pending string `json:"pending"`
	Final   string `json:"final"`
}

// batchRun is a run's record in the staging area, locked by this process.
type batchRun struct {
	path string // the sink path
	dir  string // the record's directory
	rec  runRecord
	lock *os.File
}

// startRun creates the record of a run writing part files 'part-<prefix>-...' into path, locked until
// the run is removed or released.
func startRun(path, identity, prefix string, now time.Time) (*batchRun, error) {
	staging := filepath.Join(path, stagingName)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, fmt.Errorf("filesystem sink: cannot create the staging directory '%s': %w", staging, err)
	}
	tmp := filepath.Join(staging, runNewPrefix+prefix)
	err := os.Mkdir(tmp, 0o755)
	for i := 0; i < 3 && errors.Is(err, fs.ErrNotExist); i++ { // another run removed the empty staging area
		if err = os.MkdirAll(staging, 0o755); err == nil {
			err = os.Mkdir(tmp, 0o755)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("filesystem sink: cannot create the run record '%s': %w", tmp, err)
	}
	lock, err := createRunLock(filepath.Join(tmp, runLockName))
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("filesystem sink: cannot lock the run record '%s': %w", tmp, err)
	}
	r := &batchRun{path: path, dir: filepath.Join(staging, prefix), lock: lock,
		rec: runRecord{Identity: identity, Prefix: prefix, Started: now.UTC().Format(time.RFC3339)}}
	err = writeJSON(filepath.Join(tmp, runFileName), r.rec, false)
	if err == nil {
		err = os.Rename(tmp, r.dir)
	}
	if err != nil {
		lock.Close()
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("filesystem sink: cannot write the run record '%s': %w", r.dir, err)
	}
	return r, nil
}

// commit writes the manifest of the run's commit durably, then applies it: files are renamed to their
// final names, then the partitions' success files are written.
func (r *batchRun) commit(files []pendingFile, partitions []string, success string) error {
	m, err := r.writeManifest(files, partitions, success)
	if err != nil {
		return err
	}
	_, err = applyManifest(r.path, m)
	return err
}

// writeManifest writes the manifest of the run's commit durably: the files to rename, the partitions
// whose success file to write.
func (r *batchRun) writeManifest(files []pendingFile, partitions []string, success string) (*commitManifest, error) {
	m := &commitManifest{Partitions: partitions}
	if len(partitions) > 0 {
		m.SuccessFile = success
	}
	for _, p := range files {
		pending, err1 := filepath.Rel(r.path, p.Tmp)
		final, err2 := filepath.Rel(r.path, p.Final)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("filesystem sink: commit '%s': %w", p.Final, err)
		}
		m.Files = append(m.Files, committable{Pending: pending, Final: final})
	}
	file := filepath.Join(r.dir, manifestName)
	err := writeJSON(file, m, true)
	if err == nil {
		err = syncDir(r.dir)
	}
	if err == nil {
		err = syncDir(filepath.Dir(r.dir))
	}
	if err != nil {
		return nil, fmt.Errorf("filesystem sink: cannot write the commit manifest '%s': %w", file, err)
	}
	return m, nil
}

// remove removes the run's record (its commit is done, or it committed nothing) and unlocks it.
func (r *batchRun) remove() error {
	defer r.release()
	done := filepath.Join(filepath.Dir(r.dir), runDonePrefix+filepath.Base(r.dir))
	if err := os.Rename(r.dir, done); err != nil {
		return fmt.Errorf("filesystem sink: cannot remove the run record '%s': %w", r.dir, err)
	}
	if err := syncDir(filepath.Dir(r.dir)); err != nil {
		return fmt.Errorf("filesystem sink: remove the run record '%s': %w", r.dir, err)
	}
	_ = os.RemoveAll(done)             // the next sink opened on the path removes what is left
	_ = os.Remove(filepath.Dir(r.dir)) // the staging area, when no other record is in it
	return nil
}

// release unlocks the run's record and leaves it for the next sink opened on the path.
func (r *batchRun) release() {
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
}

// applyManifest makes m's files visible and writes its success files; a file already renamed is skipped.
// It returns how many files it renamed.
func applyManifest(path string, m *commitManifest) (int, error) {
	dirs := map[string]bool{}
	renamed := 0
	for _, c := range m.Files {
		pending, final := filepath.Join(path, c.Pending), filepath.Join(path, c.Final)
		err := os.Rename(pending, final)
		if err == nil {
			renamed++
			dirs[filepath.Dir(final)] = true
			continue
		}
		if _, serr := os.Lstat(pending); serr == nil || !errors.Is(err, fs.ErrNotExist) {
			return renamed, fmt.Errorf("filesystem sink: commit '%s': %w", final, err)
		}
		if _, serr := os.Lstat(final); serr != nil {
			return renamed, fmt.Errorf("filesystem sink: commit '%s': neither the file nor its pending file '%s' exists: %w", final, pending, errCommitGone)
		}
		// committed before
	}
	for _, p := range m.Partitions {
		dir := filepath.Join(path, p)
		if err := os.WriteFile(filepath.Join(dir, m.SuccessFile), nil, 0o644); err != nil {
			return renamed, fmt.Errorf("filesystem sink: commit partition '%s': %w", p, err)
		}
		dirs[dir] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			return renamed, fmt.Errorf("filesystem sink: commit into '%s': %w", dir, err)
		}
	}
	return renamed, nil
}

// errCommitGone: a file of a commit manifest is gone (removed after the run was killed).
var errCommitGone = errors.New("the file was removed")

// takeOver takes over the records of killed runs under path (see the top of this file). With match, the
// committed record of a run with the given identity (the first one found) is returned locked: this run is
// its rerun. notice gets a line for each commit completed.
func takeOver(path, identity string, match bool, notice func(format string, args ...any)) (*batchRun, error) {
	staging := filepath.Join(path, stagingName)
	ents, err := os.ReadDir(staging)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filesystem sink: read the staging directory '%s': %w", staging, err)
	}
	var rerunOf *batchRun
	fail := func(err error) (*batchRun, error) {
		if rerunOf != nil {
			rerunOf.release()
		}
		return nil, err
	}
	for _, e := range ents {
		name, dir := e.Name(), filepath.Join(staging, e.Name())
		switch {
		case !e.IsDir():
			continue
		case strings.HasPrefix(name, runDonePrefix):
			_ = os.RemoveAll(dir)
			continue
		case strings.HasPrefix(name, runNewPrefix):
			removeUnfinishedRecord(dir)
			continue
		}
		lock, ok, err := tryRunLock(filepath.Join(dir, runLockName))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a run record
		}
		if err != nil {
			return fail(fmt.Errorf("filesystem sink: lock the run record '%s': %w", dir, err))
		}
		if !ok {
			continue // its run is live
		}
		r := &batchRun{path: path, dir: dir, lock: lock}
		if r.rec, err = readRecord(r); err != nil {
			r.release()
			return fail(err)
		}
		m, err := readManifest(r)
		if errors.Is(err, fs.ErrNotExist) { // killed before its commit
			err = removeHidden(path, r.rec.Prefix)
			if err == nil {
				err = r.remove()
			}
			if err != nil {
				r.release()
				return fail(fmt.Errorf("filesystem sink: clean up after the run killed before its commit (record '%s'): %w", dir, err))
			}
			continue
		}
		if err != nil {
			r.release()
			return fail(err)
		}
		n, err := applyManifest(path, m)
		if err != nil {
			r.release()
			if errors.Is(err, errCommitGone) {
				return fail(fmt.Errorf("%w. The run (started %s) was killed while committing into '%s' and its result was changed since; remove the directory '%s' to forget that run (a rerun of its statement then writes its result again)", err, r.rec.Started, path, dir))
			}
			return fail(fmt.Errorf("filesystem sink: complete the commit of the run killed while committing into '%s' (record '%s'): %w", path, dir, err))
		}
		if match && rerunOf == nil && r.rec.Identity == identity {
			notice("[INFO] filesystem sink: the last run of this statement into '%s' (started %s) was killed after its commit began; its commit is complete (%d files made visible now) and this run writes no rows there, its result being there once. Run the statement again to append another result.", path, r.rec.Started, n)
			rerunOf = r
			continue
		}
		if n > 0 {
			notice("[INFO] filesystem sink: completed the commit of a run killed while committing into '%s' (started %s): %d files made visible; its record '%s' stays for the rerun of its statement, which will write no rows.", path, r.rec.Started, n, dir)
		}
		r.release()
	}
	return rerunOf, nil
}

// removeUnfinishedRecord removes a record that a killed process was creating ('.new-<uuid>'); one whose
// lock is held, or without a lock file for less than a minute, is being created.
func removeUnfinishedRecord(dir string) {
	lock, ok, err := tryRunLock(filepath.Join(dir, runLockName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if info, err := os.Stat(dir); err == nil && time.Since(info.ModTime()) > time.Minute {
			_ = os.RemoveAll(dir)
		}
	case ok:
		_ = os.RemoveAll(dir)
		lock.Close()
	}
}

// readRecord reads r's 'run.json'.
func readRecord(r *batchRun) (runRecord, error) {
	file := filepath.Join(r.dir, runFileName)
	var rec runRecord
	data, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err == nil && (rec.Prefix == "" || strings.ContainsAny(rec.Prefix, `/\.`) || rec.Prefix != filepath.Base(r.dir)) {
		err = fmt.Errorf("its prefix '%s' is not the record's name", rec.Prefix)
	}
	if err != nil {
		return rec, fmt.Errorf("filesystem sink: the run record '%s' of a killed run into '%s' is not readable (%v). Remove the directory '%s' to forget that run (its hidden files stay; if it had begun its commit, part of its result may stay visible)", file, r.path, err, r.dir)
	}
	return rec, nil
}

// readManifest reads r's 'manifest.json' (fs.ErrNotExist: the run had not begun its commit). Every path
// must be relative and inside the sink path, and a pending file hidden next to its final name, so that a
// damaged manifest renames nothing else.
func readManifest(r *batchRun) (*commitManifest, error) {
	file := filepath.Join(r.dir, manifestName)
	m, err := parseManifest(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filesystem sink: the commit manifest '%s' of a run killed while committing its files into '%s' is not readable (%v). Restore the file, or remove the directory '%s' to give that run's commit up (its files renamed so far stay visible, the others stay hidden)", file, r.path, err, r.dir)
	}
	return m, err
}

// parseManifest reads and checks the manifest file (fs.ErrNotExist: there is none). The sink and the
// readers (commit_read.go) share it.
func parseManifest(file string) (*commitManifest, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var m commitManifest
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err == nil {
		err = m.check()
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// check reports the first path of m that a commit of this sink would not have written.
func (m *commitManifest) check() error {
	inside := func(p string) bool {
		return p != "" && !filepath.IsAbs(p) && filepath.Clean(p) == p && p != ".." && !strings.HasPrefix(p, ".."+string(filepath.Separator))
	}
	for _, c := range m.Files {
		if !inside(c.Pending) || !inside(c.Final) || filepath.Dir(c.Pending) != filepath.Dir(c.Final) ||
			!strings.HasPrefix(filepath.Base(c.Pending), ".") || strings.HasPrefix(filepath.Base(c.Final), ".") {
			return fmt.Errorf("the entry %q → %q is not a pending file and its final name", c.Pending, c.Final)
		}
	}
	if len(m.Partitions) > 0 && (m.SuccessFile == "" || strings.ContainsAny(m.SuccessFile, `/\`)) {
		return fmt.Errorf("the success file name %q is not a file name", m.SuccessFile)
	}
	for _, p := range m.Partitions {
		if !inside(filepath.Clean(p)) {
			return fmt.Errorf("the partition %q is not a directory of the path", p)
		}
	}
	return nil
}

// removeHidden removes the in-progress and pending files of the part file prefix under path.
func removeHidden(path, prefix string) error {
	marker := ".part-" + prefix + "-"
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == stagingName {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, marker) && strings.Contains(name, ".inprogress.") {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// writeJSON writes v to file through a temporary file renamed over it (durable: fsynced first).
func writeJSON(file string, v any, durable bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// syncDir makes the entries of directory dir durable (a file system that cannot sync directories is fine).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EBADF) {
		return nil
	}
	return err
}

// commitRun is a batch output's End: every file closed, the commit manifest written, the files renamed,
// the partitions committed, the record removed. A killed run's rerun commits nothing and removes the
// killed run's record. On an error the records stay, unlocked, for the next sink opened on the path (which
// completes the commit when the manifest was written).
func (o *output) commitRun() error {
	if err := o.rollAll(); err != nil {
		o.releaseRuns()
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rerunOf != nil {
		if err := o.rerunOf.remove(); err != nil {
			o.releaseRuns()
			return err
		}
		o.rerunOf = nil
		return o.run.remove()
	}
	var parts []string
	if o.s.successFile {
		for dir := range o.parts {
			parts = append(parts, dir)
		}
		slices.Sort(parts)
	}
	if err := o.run.commit(o.pending, parts, o.s.successName); err != nil {
		o.releaseRuns()
		return err
	}
	o.pending, o.parts = nil, map[string]*partState{}
	return o.run.remove()
}

// abortRun is the end of a batch output's Abort: its pending files are removed (nothing restores them),
// then its record; the record of the killed run whose rerun it is stays for the next rerun.
func (o *output) abortRun() error {
	o.mu.Lock()
	pending := o.pending
	o.pending = nil
	o.mu.Unlock()
	var errs []error
	for _, p := range pending {
		if err := os.Remove(p.Tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("filesystem sink: remove '%s': %w", p.Tmp, err))
		}
	}
	if o.rerunOf != nil {
		o.rerunOf.release()
		o.rerunOf = nil
	}
	if len(errs) > 0 {
		o.run.release() // the next sink opened on the path removes the files
		return errors.Join(errs...)
	}
	return o.run.remove()
}

// releaseRuns leaves the output's records for the next sink opened on the path.
func (o *output) releaseRuns() {
	o.run.release()
	if o.rerunOf != nil {
		o.rerunOf.release()
		o.rerunOf = nil
	}
}
