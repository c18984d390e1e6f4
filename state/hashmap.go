package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
)

// hashMapBackend keeps every Store in Go maps ('state.backend.type' = 'hashmap').
type hashMapBackend struct {
	mu     sync.Mutex
	stores map[string]*hashStore
}

var _ Backend = (*hashMapBackend)(nil)

// NewHashMap returns an empty in-memory backend.
func NewHashMap() Backend {
	return &hashMapBackend{stores: map[string]*hashStore{}}
}

func (b *hashMapBackend) Name() string { return KindHashMap }

func (b *hashMapBackend) Store(operatorID string) (Store, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stores == nil {
		return nil, fmt.Errorf("state store %q: the hashmap backend is closed", operatorID)
	}
	s := b.stores[operatorID]
	if s == nil {
		s = &hashStore{m: map[string][]byte{}}
		b.stores[operatorID] = s
	}
	return s, nil
}

func (b *hashMapBackend) Close() error {
	b.mu.Lock()
	b.stores = nil
	b.mu.Unlock()
	return nil
}

// hashStore is one operator's map. Values are owned by the map; Put overwrites a value in place when it fits.
type hashStore struct {
	m map[string][]byte
}

var _ Store = (*hashStore)(nil)

func (s *hashStore) Get(key []byte) ([]byte, bool, error) {
	v, ok := s.m[string(key)]
	return v, ok, nil
}

func (s *hashStore) Put(key, val []byte) error {
	if old, ok := s.m[string(key)]; ok && cap(old) >= len(val) {
		// Overwrite in place (old's capacity is its own: values never share a buffer with spare capacity). A
		// value of the same length needs no map write, so the common update allocates nothing.
		if len(old) == len(val) {
			copy(old, val)
			return nil
		}
		s.m[string(key)] = append(old[:0], val...)
		return nil
	}
	s.m[string(key)] = append(make([]byte, 0, len(val)), val...)
	return nil
}

func (s *hashStore) Delete(key []byte) error {
	delete(s.m, string(key))
	return nil
}

func (s *hashStore) Len() int64 { return int64(len(s.m)) }

func (s *hashStore) Scan(fn func(key, val []byte) error) error {
	type entry struct {
		kg  uint16
		key string
	}
	entries := make([]entry, 0, len(s.m))
	for k := range s.m {
		entries = append(entries, entry{uint16(KeyGroup([]byte(k), DefaultMaxParallelism)), k})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.kg != b.kg {
			return int(a.kg) - int(b.kg)
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	var kbuf []byte
	for _, e := range entries {
		kbuf = append(kbuf[:0], e.key...)
		if err := fn(kbuf, s.m[e.key]); err != nil {
			return err
		}
	}
	return nil
}

// The file of one store in a hashmap checkpoint:
//
//	"SLHM" version(1 byte = 1) uvarint(len(operator id)) operator id uvarint(entries)
//	entries × (uvarint(len(key)) key uvarint(len(value)) value)
//	CRC-32C (Castagnoli) of everything before it, 4 bytes little-endian
const (
	hashMapMagic   = "SLHM"
	hashMapVersion = 1
)

// Checkpoint writes one file per store (store-NNNN.hm, in operator id order) and the checkpoint's file list.
func (b *hashMapBackend) Checkpoint(dir string) (st CheckpointStats, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stores == nil {
		return st, errors.New("checkpoint state: the hashmap backend is closed")
	}
	if _, err := os.Stat(dir); err == nil {
		return st, fmt.Errorf("checkpoint state: %s already exists", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("checkpoint state into %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir) // no partial checkpoint: it has no file list, but leave no clutter either
		}
	}()
	ids := make([]string, 0, len(b.stores))
	for id := range b.stores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	list := fileList{backend: KindHashMap}
	for i, id := range ids {
		name := fmt.Sprintf("store-%04d.hm", i)
		f, err := writeHashStoreFile(filepath.Join(dir, name), id, b.stores[id])
		if err != nil {
			return st, fmt.Errorf("checkpoint state of operator %q into %s: %w", id, dir, err)
		}
		f.name = name
		list.files = append(list.files, f)
		st.Files++
		st.TotalBytes += f.size
		st.Entries += int64(len(b.stores[id].m))
	}
	if err := writeFileList(dir, list); err != nil {
		return st, fmt.Errorf("checkpoint state into %s: %w", dir, err)
	}
	st.Files++
	if fi, err := os.Stat(filepath.Join(dir, fileListName)); err == nil {
		st.TotalBytes += fi.Size()
	}
	st.WrittenBytes = st.TotalBytes
	return st, nil
}

// crcWriter writes to a file and checksums what it wrote.
type crcWriter struct {
	f *os.File
	h hash.Hash32
	n int64
}

func (w *crcWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	return w.f.Write(p)
}

// writeHashStoreFile writes one store's file through a temporary name (fsynced, then renamed).
func writeHashStoreFile(path, operatorID string, s *hashStore) (checkpointFile, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return checkpointFile{}, err
	}
	fail := func(err error) (checkpointFile, error) {
		f.Close()
		os.Remove(tmp)
		return checkpointFile{}, err
	}
	cw := &crcWriter{f: f, h: crc32.New(castagnoli)}
	w := bufio.NewWriterSize(cw, 1<<20)
	var num [binary.MaxVarintLen64]byte
	w.WriteString(hashMapMagic)
	w.WriteByte(hashMapVersion)
	w.Write(binary.AppendUvarint(num[:0], uint64(len(operatorID))))
	w.WriteString(operatorID)
	w.Write(binary.AppendUvarint(num[:0], uint64(len(s.m))))
	for k, v := range s.m {
		w.Write(binary.AppendUvarint(num[:0], uint64(len(k))))
		w.WriteString(k)
		w.Write(binary.AppendUvarint(num[:0], uint64(len(v))))
		w.Write(v)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	sum := binary.LittleEndian.AppendUint32(num[:0], cw.h.Sum32())
	if _, err := cw.Write(sum); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return checkpointFile{}, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return checkpointFile{}, err
	}
	return checkpointFile{size: cw.n, crc: cw.h.Sum32()}, nil
}

// parseHashStoreFile decodes one store file (already read into memory) into a new store. Values are carved
// out of chunks of a few allocations rather than one allocation each.
func parseHashStoreFile(path string, data []byte) (string, *hashStore, error) {
	corrupt := func(why string) (string, *hashStore, error) {
		return "", nil, fmt.Errorf("restore state: %s: %s: %w", path, why, ErrCorrupt)
	}
	if len(data) < len(hashMapMagic)+1+4 || string(data[:len(hashMapMagic)]) != hashMapMagic {
		return corrupt("not a hashmap state file (bad magic)")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return corrupt(fmt.Sprintf("checksum mismatch (file says %08x, content has %08x)", sum, got))
	}
	if v := body[len(hashMapMagic)]; v != hashMapVersion {
		return corrupt(fmt.Sprintf("unknown version %d (want %d)", v, hashMapVersion))
	}
	p := body[len(hashMapMagic)+1:]
	next := func() ([]byte, bool) {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return nil, false
		}
		b := p[w : w+int(n)]
		p = p[w+int(n):]
		return b, true
	}
	id, ok := next()
	if !ok {
		return corrupt("truncated operator id")
	}
	count, w := binary.Uvarint(p)
	if w <= 0 || count > uint64(len(p)) {
		return corrupt("bad entry count")
	}
	p = p[w:]
	s := &hashStore{m: make(map[string][]byte, count)}
	var arena []byte
	for i := uint64(0); i < count; i++ {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return corrupt(fmt.Sprintf("entry %d of %d is truncated", i+1, count))
		}
		if len(arena) < len(v) {
			arena = make([]byte, max(64<<10, len(v)))
		}
		val := arena[:len(v):len(v)] // full slice expression: Put's in-place overwrite stays inside it
		arena = arena[len(v):]
		copy(val, v)
		s.m[string(k)] = val
	}
	if len(p) != 0 {
		return corrupt(fmt.Sprintf("%d bytes after the last entry", len(p)))
	}
	if int64(len(s.m)) != int64(count) {
		return corrupt("duplicate keys")
	}
	return string(id), s, nil
}

// restoreHashMap loads a checkpoint into a new hashmap backend. A rocksdb checkpoint is opened in workDir,
// copied into maps, and workDir removed.
func restoreHashMap(checkpointDir, workDir string) (Backend, error) {
	list, err := readFileList(checkpointDir)
	if err != nil {
		return nil, err
	}
	switch list.backend {
	case KindHashMap:
	case KindRocksDB:
		return convertPebbleToHashMap(checkpointDir, workDir)
	default:
		return nil, fmt.Errorf("restore state: %s was written by an unknown state backend %q: %w", checkpointDir, list.backend, ErrCorrupt)
	}
	b := &hashMapBackend{stores: map[string]*hashStore{}}
	for _, f := range list.files {
		data, err := verifyFile(checkpointDir, f, true)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(checkpointDir, f.name)
		id, s, err := parseHashStoreFile(path, data)
		if err != nil {
			return nil, err
		}
		if _, dup := b.stores[id]; dup {
			return nil, fmt.Errorf("restore state: %s: operator %q appears in two files: %w", path, id, ErrCorrupt)
		}
		b.stores[id] = s
	}
	return b, nil
}

// forEachHashStore visits every store of a verified hashmap checkpoint (used to convert it to rocksdb).
func forEachHashStore(checkpointDir string, list fileList, fn func(operatorID string, s *hashStore) error) error {
	for _, f := range list.files {
		data, err := verifyFile(checkpointDir, f, true)
		if err != nil {
			return err
		}
		id, s, err := parseHashStoreFile(filepath.Join(checkpointDir, f.name), data)
		if err != nil {
			return err
		}
		if err := fn(id, s); err != nil {
			return err
		}
	}
	return nil
}
