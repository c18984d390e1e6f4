package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetadataFile is the name of a checkpoint's metadata file, as Flink's.
const MetadataFile = "_metadata"

// MetadataFormat is the version of the _metadata layout this Sluice writes and reads.
const MetadataFormat = 1

// Metadata describes one checkpoint or savepoint: which job wrote it and, per stateful part of the plan, its
// state (a data file for operators, inline bytes for source positions and sink pre-commits).
type Metadata struct {
	Format         int            `json:"format"`
	Kind           string         `json:"kind"` // "checkpoint" or "savepoint"
	JobID          string         `json:"job_id"`
	JobName        string         `json:"job_name"`
	CheckpointID   int64          `json:"checkpoint_id"`
	Timestamp      int64          `json:"timestamp_ms"`
	RuntimeMode    string         `json:"runtime_mode"` // the mode of the run that wrote it
	Backend        string         `json:"backend"`
	MaxParallelism int            `json:"max_parallelism"`
	Parts          []PartState    `json:"parts"`
	Extra          map[string]any `json:"extra,omitempty"`
}

// PartState is the state of one source, operator or sink, matched to the plan by ID.
type PartState struct {
	ID      string `json:"id"`   // stable id derived from the plan
	Kind    string `json:"kind"` // "source", "operator" or "sink"
	Name    string `json:"name"` // for messages, e.g. "GroupAggregate(groupBy=[user_id], ...)"
	File    string `json:"file,omitempty"`
	Entries int64  `json:"entries,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Inline  []byte `json:"inline,omitempty"` // source position or sink state
}

// Checkpoint is a complete checkpoint directory.
type Checkpoint struct {
	Dir      string
	Metadata Metadata
}

// Reader opens the data file of a part (nil reader when the part has no file).
func (c *Checkpoint) Reader(p PartState) (*FileReader, error) {
	if p.File == "" {
		return nil, nil
	}
	return OpenFile(filepath.Join(c.Dir, p.File))
}

// Part returns the part with the given id.
func (c *Checkpoint) Part(id string) (PartState, bool) {
	for _, p := range c.Metadata.Parts {
		if p.ID == id {
			return p, true
		}
	}
	return PartState{}, false
}

// Write writes a checkpoint to <parent>/<name> atomically: files and _metadata go into a temporary directory
// that is fsynced and then renamed, so that a crash leaves either the previous checkpoints or the new complete
// one (plus possibly a *.inprogress directory that Prune removes). files maps each part's File to its writer.
func Write(parent, name string, md *Metadata, files map[string]*FileWriter) (string, error) {
	return WriteWithDirs(parent, name, md, files, nil)
}

// WriteWithDirs is Write that also moves the directories of dirs (name inside the checkpoint → an existing
// directory on the same file system, e.g. a state backend's own checkpoint) into the checkpoint before it is
// completed.
func WriteWithDirs(parent, name string, md *Metadata, files map[string]*FileWriter, dirs map[string]string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(parent, name+".inprogress-"+hex.EncodeToString(rnd[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		_ = os.RemoveAll(tmp)
		return "", err
	}
	for fname, w := range files {
		if err := w.WriteFile(filepath.Join(tmp, fname)); err != nil {
			return fail(err)
		}
	}
	for dname, src := range dirs {
		if err := os.Rename(src, filepath.Join(tmp, dname)); err != nil {
			return fail(err)
		}
	}
	md.Format = MetadataFormat
	data, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := writeFileSync(filepath.Join(tmp, MetadataFile), append(data, '\n')); err != nil {
		return fail(err)
	}
	if err := syncDir(tmp); err != nil {
		return fail(err)
	}
	final := filepath.Join(parent, name)
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	if err := syncDir(parent); err != nil {
		return final, err
	}
	return final, nil
}

// ErrNoCheckpoint is wrapped when a path holds no complete checkpoint or savepoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// Load reads and verifies a checkpoint or savepoint directory: its _metadata and every data file it names
// (checksums), so that a job never starts with part of its state.
func Load(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: '%s' does not exist", ErrNoCheckpoint, dir)
		}
		return nil, err
	}
	if !st.IsDir() {
		if filepath.Base(dir) == MetadataFile {
			dir = filepath.Dir(dir)
		} else {
			return nil, fmt.Errorf("%w: '%s' is a file; give the chk-<n> or savepoint directory", ErrNoCheckpoint, dir)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, MetadataFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			hint := ""
			if latest, lerr := Latest(dir); lerr == nil {
				hint = fmt.Sprintf("; the latest complete checkpoint under it is '%s'", latest)
			} else if strings.Contains(filepath.Base(dir), ".inprogress") {
				hint = "; it is a checkpoint that was being written when the job stopped: use the previous chk-<n> directory"
			}
			return nil, fmt.Errorf("%w: '%s' has no %s file, so it is not a complete checkpoint or savepoint%s", ErrNoCheckpoint, dir, MetadataFile, hint)
		}
		return nil, err
	}
	c := &Checkpoint{Dir: dir}
	if err := json.Unmarshal(data, &c.Metadata); err != nil {
		return nil, fmt.Errorf("%w: %s: %s is not readable: %v", ErrCorrupt, dir, MetadataFile, err)
	}
	if c.Metadata.Format != MetadataFormat {
		return nil, fmt.Errorf("%w: %s: %s has format %d; this Sluice reads format %d", ErrCorrupt, dir, MetadataFile, c.Metadata.Format, MetadataFormat)
	}
	for _, p := range c.Metadata.Parts {
		if p.File == "" {
			continue
		}
		r, err := c.Reader(p)
		if err != nil {
			return nil, fmt.Errorf("%s: state of %s: %w", dir, p.Name, err)
		}
		var n int64
		for {
			_, _, _, ok, err := r.Next()
			if err != nil {
				return nil, fmt.Errorf("%s: state of %s: %w", dir, p.Name, err)
			}
			if !ok {
				break
			}
			n++
		}
		if n != p.Entries {
			return nil, fmt.Errorf("%w: %s: state of %s has %d entries, %s says %d", ErrCorrupt, dir, p.Name, n, MetadataFile, p.Entries)
		}
	}
	return c, nil
}

// checkpointNumber returns n for a directory named chk-<n>.
func checkpointNumber(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "chk-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil && n > 0
}

// Latest returns the newest complete chk-<n> directory (one with a _metadata file) under dir, looking one
// level down too (dir may be the checkpoints directory holding one directory per job id).
func Latest(dir string) (string, error) {
	best, bestN, bestT := "", int64(-1), time.Time{}
	consider := func(d string) {
		entries, err := os.ReadDir(d)
		if err != nil {
			return
		}
		for _, e := range entries {
			n, ok := checkpointNumber(e.Name())
			if !ok || !e.IsDir() {
				continue
			}
			st, err := os.Stat(filepath.Join(d, e.Name(), MetadataFile))
			if err != nil {
				continue
			}
			if st.ModTime().After(bestT) || st.ModTime().Equal(bestT) && n > bestN {
				best, bestN, bestT = filepath.Join(d, e.Name()), n, st.ModTime()
			}
		}
	}
	consider(dir)
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				if _, ok := checkpointNumber(e.Name()); !ok {
					consider(filepath.Join(dir, e.Name()))
				}
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no complete chk-<n> directory under '%s'", ErrNoCheckpoint, dir)
	}
	return best, nil
}

// Prune keeps the newest retain complete chk-<n> directories of a job's checkpoint directory and removes
// older ones and leftovers of interrupted checkpoints (except keep, the newest).
func Prune(jobDir string, retain int) error {
	entries, err := os.ReadDir(jobDir)
	if err != nil {
		return err
	}
	var nums []int64
	for _, e := range entries {
		if n, ok := checkpointNumber(e.Name()); ok && e.IsDir() {
			nums = append(nums, n)
		} else if strings.HasPrefix(e.Name(), "chk-") && strings.Contains(e.Name(), ".inprogress-") {
			_ = os.RemoveAll(filepath.Join(jobDir, e.Name()))
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
	var first error
	for i, n := range nums {
		if i < retain {
			continue
		}
		if err := os.RemoveAll(filepath.Join(jobDir, "chk-"+strconv.FormatInt(n, 10))); err != nil && first == nil {
			first = err
		}
	}
	return first
}
