package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Backend kinds, the values of Flink's 'state.backend.type' (and the 1.12 name 'state.backend').
const (
	KindHashMap = "hashmap"
	KindRocksDB = "rocksdb" // Sluice's embedded LSM (Pebble); the name is Flink's
)

// Store is one operator's live keyed state.
//
// Contract: a Store is used by one goroutine at a time (the operator's), and never while its Backend's
// Checkpoint runs. Keys and values passed in may be reused by the caller once the call returns.
type Store interface {
	// Get returns the value of key. val is valid until the next call on the Store and must not be modified.
	Get(key []byte) (val []byte, ok bool, err error)
	Put(key, val []byte) error
	Delete(key []byte) error
	// Scan visits every entry, ordered by key group (KeyGroup with DefaultMaxParallelism), then by key bytes.
	// fn's slices are valid during the call only; fn must not call the Store. An error from fn stops the scan
	// and is returned.
	Scan(fn func(key, val []byte) error) error
	// Len is the number of keys (exact in both backends: the LSM backend counts inserts and deletes).
	Len() int64
}

// Backend holds the Stores of a job's operators and checkpoints them together.
//
// Contract: Store and Name may be called from any goroutine. Checkpoint and Close must be called while no
// Store is in use (between pushes). After Close, nothing may be called.
type Backend interface {
	Name() string // KindHashMap or KindRocksDB
	// Store returns the Store of operatorID (a stable id from the plan), creating it empty on first use. The
	// same id always returns the same Store.
	Store(operatorID string) (Store, error)
	// Checkpoint writes every Store's state into dir, which must not exist yet; Restore loads it. The
	// directory is complete once Checkpoint returns nil (its file list STATE-FILES is written last).
	Checkpoint(dir string) (CheckpointStats, error)
	// Close releases the backend; a backend with a working directory removes it.
	Close() error
}

// CheckpointStats describes one Checkpoint for metrics.
type CheckpointStats struct {
	Files        int   // files in the checkpoint directory
	TotalBytes   int64 // their total size
	WrittenBytes int64 // bytes newly written by this checkpoint (rocksdb: excludes files shared by hard link with the previous checkpoint)
	Entries      int64 // keys in all stores
}

// fileListName is the file, written last, that lists every file of a checkpoint with its size and CRC-32C.
const fileListName = "STATE-FILES"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Restore opens a backend of kind (KindHashMap or KindRocksDB) from a directory written by Checkpoint, which
// it never modifies. workDir is the private working directory of a rocksdb backend (it must not exist or be
// empty; ignored by hashmap). A checkpoint written by the other kind is converted (Flink's canonical format
// allows the same switch). The rocksdb backend gets DefaultPebbleOptions; use RestorePebble to choose them.
func Restore(kind, checkpointDir, workDir string) (Backend, error) {
	switch kind {
	case KindHashMap:
		return restoreHashMap(checkpointDir, workDir)
	case KindRocksDB:
		return RestorePebble(checkpointDir, workDir, DefaultPebbleOptions())
	}
	return nil, fmt.Errorf("restore state from %s: unknown state backend %q (want one of %s, %s)", checkpointDir, kind, KindHashMap, KindRocksDB)
}

// checkpointFile is one line of a checkpoint's file list.
type checkpointFile struct {
	name string
	size int64
	crc  uint32
}

// fileList is the parsed STATE-FILES of a checkpoint.
type fileList struct {
	backend string
	files   []checkpointFile
}

// writeFileList writes dir/STATE-FILES (through a temporary name, fsynced, renamed, directory fsynced). Its
// last line is the CRC-32C of the lines before it.
func writeFileList(dir string, l fileList) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "sluice-state 1\nbackend %s\n", l.backend)
	for _, f := range l.files {
		fmt.Fprintf(&b, "file %s %d %08x\n", f.name, f.size, f.crc)
	}
	fmt.Fprintf(&b, "crc32c %08x\n", crc32.Checksum(b.Bytes(), castagnoli))
	return writeFileAtomic(dir, fileListName, b.Bytes())
}

// readFileList reads and verifies dir/STATE-FILES.
func readFileList(dir string) (fileList, error) {
	path := filepath.Join(dir, fileListName)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, statErr := os.Stat(dir); errors.Is(statErr, os.ErrNotExist) {
				return fileList{}, fmt.Errorf("restore state: checkpoint directory %s: %w", dir, os.ErrNotExist)
			} else if statErr != nil {
				return fileList{}, fmt.Errorf("restore state: %w", statErr)
			}
			return fileList{}, fmt.Errorf("restore state: %s has no %s: it is not a complete state checkpoint (written by a checkpoint that did not finish?); restore from another checkpoint", dir, fileListName)
		}
		return fileList{}, fmt.Errorf("restore state: %w", err)
	}
	corrupt := func(why string) (fileList, error) {
		return fileList{}, fmt.Errorf("restore state: %s: %s: %w", path, why, ErrCorrupt)
	}
	body, last, ok := cutLastLine(data)
	if !ok || !strings.HasPrefix(last, "crc32c ") {
		return corrupt("no checksum line at the end")
	}
	want, err := strconv.ParseUint(strings.TrimPrefix(last, "crc32c "), 16, 32)
	if err != nil {
		return corrupt("bad checksum line")
	}
	if got := crc32.Checksum(body, castagnoli); uint32(want) != got {
		return corrupt(fmt.Sprintf("checksum mismatch (file says %08x, content has %08x)", want, got))
	}
	var l fileList
	sc := bufio.NewScanner(bytes.NewReader(body))
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		switch {
		case line == 1:
			if sc.Text() != "sluice-state 1" {
				return corrupt(fmt.Sprintf("unknown header %q (want \"sluice-state 1\")", sc.Text()))
			}
		case len(f) == 2 && f[0] == "backend":
			l.backend = f[1]
		case len(f) == 4 && f[0] == "file":
			size, err1 := strconv.ParseInt(f[2], 10, 64)
			crc, err2 := strconv.ParseUint(f[3], 16, 32)
			if err1 != nil || err2 != nil || size < 0 || f[1] != filepath.Base(f[1]) || f[1] == fileListName {
				return corrupt(fmt.Sprintf("bad line %d %q", line, sc.Text()))
			}
			l.files = append(l.files, checkpointFile{name: f[1], size: size, crc: uint32(crc)})
		default:
			return corrupt(fmt.Sprintf("bad line %d %q", line, sc.Text()))
		}
	}
	if l.backend == "" {
		return corrupt("no backend line")
	}
	return l, nil
}

// cutLastLine splits data ending in "\n" into everything before its last line and that line.
func cutLastLine(data []byte) (body []byte, last string, ok bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}

// verifyFile checks that dir/f exists with f's size and checksum, and returns the file's content when keep is
// set (nil otherwise).
func verifyFile(dir string, f checkpointFile, keep bool) ([]byte, error) {
	path := filepath.Join(dir, f.name)
	file, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("restore state: %s is missing (listed in %s): the checkpoint is incomplete; restore from another checkpoint: %w", path, fileListName, ErrCorrupt)
		}
		return nil, fmt.Errorf("restore state: %w", err)
	}
	defer file.Close()
	h := crc32.New(castagnoli)
	var buf bytes.Buffer
	var w io.Writer = h
	if keep {
		buf.Grow(int(f.size))
		w = io.MultiWriter(h, &buf)
	}
	n, err := io.Copy(w, file)
	if err != nil {
		return nil, fmt.Errorf("restore state: read %s: %w", path, err)
	}
	if n != f.size {
		return nil, fmt.Errorf("restore state: %s has %d bytes, %s says %d: %w", path, n, fileListName, f.size, ErrCorrupt)
	}
	if got := h.Sum32(); got != f.crc {
		return nil, fmt.Errorf("restore state: %s: checksum mismatch (%s says %08x, content has %08x): %w", path, fileListName, f.crc, got, ErrCorrupt)
	}
	if keep {
		return buf.Bytes(), nil
	}
	return nil, nil
}

// fileCRC returns the size and CRC-32C of a file.
func fileCRC(path string) (int64, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	return n, h.Sum32(), err
}

// writeFileAtomic writes dir/name through a temporary file that is fsynced and renamed, then fsyncs dir.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that the names created in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// prepareWorkDir makes sure workDir exists and is empty, so that Close may remove it.
func prepareWorkDir(workDir string) error {
	if workDir == "" {
		return errors.New("no working directory given")
	}
	entries, err := os.ReadDir(workDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(workDir, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("working directory %s is not empty (it must be private to one backend)", workDir)
	}
	return nil
}
