package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// PebbleOptions tune the rocksdb backend (an embedded Pebble LSM). Zero values take the defaults.
type PebbleOptions struct {
	// BlockCacheBytes is the block cache ('state.backend.rocksdb.block.cache-size'); default 64 MiB.
	BlockCacheBytes int64
	// MemTableBytes is the size of a memtable ('state.backend.rocksdb.writebuffer.size'); default 32 MiB.
	MemTableBytes int64
	// Compression of SSTable blocks: "snappy" (default), "zstd" or "none".
	Compression string
	// WriteCacheBytes bounds each store's cache of recent writes (a Go map flushed into the LSM as one
	// batch); default 4 MiB.
	WriteCacheBytes int
}

// DefaultPebbleOptions returns the defaults of PebbleOptions, spelled out.
func DefaultPebbleOptions() PebbleOptions {
	return PebbleOptions{BlockCacheBytes: 64 << 20, MemTableBytes: 32 << 20, Compression: "snappy", WriteCacheBytes: 4 << 20}
}

// Keys inside the LSM:
//
//	operator state:  uvarint(store id ≥ 1) | key group (2 bytes big-endian) | user key
//	store ids:       0x00 0x01 | operator id           → uvarint(store id)
//	store key count: 0x00 0x02 | uvarint(store id)     → uvarint(keys), written at each checkpoint
//	format:          0x00 0x00                         → "sluice-rocksdb 1"
//
// uvarint is a prefix code, so one store's keys are exactly those between its prefix and the prefix with its
// last byte incremented, and they sort by key group first: a key-group range is one contiguous span.
var (
	metaFormatKey   = []byte{0, 0}
	metaStorePrefix = []byte{0, 1}
	metaCountPrefix = []byte{0, 2}
	metaEnd         = []byte{1}
)

const pebbleFormat = "sluice-rocksdb 1"

// pebbleBackend is 'state.backend.type' = 'rocksdb'.
type pebbleBackend struct {
	workDir    string
	db         *pebble.DB
	writeCache int // PebbleOptions.WriteCacheBytes

	mu     sync.Mutex
	stores map[string]*pebbleStore
	nextID uint64
	// prev are the files of the last checkpoint (written or restored), to tell shared files from new ones.
	prev map[string]prevFile
}

type prevFile struct {
	info os.FileInfo
	crc  uint32
}

var _ Backend = (*pebbleBackend)(nil)

// OpenPebble opens an empty rocksdb backend in workDir, a private working directory (created if missing; it
// must be empty, and Close removes it). State survives only through Checkpoint.
func OpenPebble(workDir string, opts PebbleOptions) (Backend, error) {
	if err := prepareWorkDir(workDir); err != nil {
		return nil, fmt.Errorf("open rocksdb state backend: %w", err)
	}
	b, err := openPebble(workDir, opts, false)
	if err != nil {
		os.RemoveAll(workDir)
		return nil, err
	}
	return b, nil
}

// quietLogger drops Pebble's informational messages and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Errorf(format string, args ...interface{}) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

func openPebble(workDir string, o PebbleOptions, existing bool) (*pebbleBackend, error) {
	def := DefaultPebbleOptions()
	if o.BlockCacheBytes <= 0 {
		o.BlockCacheBytes = def.BlockCacheBytes
	}
	if o.MemTableBytes <= 0 {
		o.MemTableBytes = def.MemTableBytes
	}
	if o.WriteCacheBytes <= 0 {
		o.WriteCacheBytes = def.WriteCacheBytes
	}
	var profile *sstable.CompressionProfile
	switch strings.ToLower(o.Compression) {
	case "", "snappy":
		profile = sstable.SnappyCompression
	case "zstd":
		profile = sstable.ZstdCompression
	case "none":
		profile = sstable.NoCompression
	default:
		return nil, fmt.Errorf("open rocksdb state backend: unknown compression %q (want one of snappy, zstd, none)", o.Compression)
	}
	// Pebble charges its memtables (the mutable one and one being flushed) to the block cache: add them, or
	// they would crowd out every block.
	cache := pebble.NewCache(o.BlockCacheBytes + 2*o.MemTableBytes)
	defer cache.Unref() // the DB holds its own reference
	popts := &pebble.Options{
		Cache:        cache,
		MemTableSize: uint64(o.MemTableBytes),
		// Durability comes from checkpoints (a flush, then hard links): no write-ahead log, no syncs.
		DisableWAL:          true,
		FormatMajorVersion:  pebble.FormatTableFormatV6,
		MaxManifestFileSize: 4 << 20, // each checkpoint copies the MANIFEST: keep it small
		// Every checkpoint flushes a small L0 table that overlaps the whole key range. Pebble's default (4)
		// compacts L0 into Lbase once two such tables stack up, which for state smaller than LBaseMaxBytes
		// rewrites all of it (Lbase is then L6): let 4 stack up instead, and keep Lbase small so that the
		// rewrite of an L0 compaction stays small too.
		L0CompactionThreshold: 8,
		LBaseMaxBytes:         8 << 20,
		Logger:                quietLogger{},
		ErrorIfNotExists:      existing,
	}
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10) // cheap misses: most new keys are looked up first
		popts.Levels[i].Compression = func() *sstable.CompressionProfile { return profile }
	}
	db, err := pebble.Open(workDir, popts)
	if err != nil {
		return nil, fmt.Errorf("open rocksdb state backend in %s: %w", workDir, err)
	}
	b := &pebbleBackend{workDir: workDir, db: db, stores: map[string]*pebbleStore{}, nextID: 1, writeCache: o.WriteCacheBytes}
	if err := b.loadMeta(existing); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

// loadMeta checks the format key (writing it into a new DB) and loads the stores and their key counts.
func (b *pebbleBackend) loadMeta(existing bool) error {
	if !existing {
		if err := b.db.Set(metaFormatKey, []byte(pebbleFormat), pebble.NoSync); err != nil {
			return fmt.Errorf("open rocksdb state backend: %w", err)
		}
		return nil
	}
	v, closer, err := b.db.Get(metaFormatKey)
	if err != nil {
		return fmt.Errorf("restore rocksdb state: no format marker (%v): %w", err, ErrCorrupt)
	}
	format := string(v)
	closer.Close()
	if format != pebbleFormat {
		return fmt.Errorf("restore rocksdb state: unknown format %q (want %q): %w", format, pebbleFormat, ErrCorrupt)
	}
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: metaStorePrefix, UpperBound: metaEnd})
	if err != nil {
		return fmt.Errorf("restore rocksdb state: %w", err)
	}
	defer it.Close()
	counts := map[uint64]int64{}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("restore rocksdb state: %w", err)
		}
		n, w := binary.Uvarint(v)
		if w <= 0 || w != len(v) {
			return fmt.Errorf("restore rocksdb state: bad metadata value under key %q: %w", k, ErrCorrupt)
		}
		switch {
		case bytes.HasPrefix(k, metaStorePrefix):
			id := string(k[len(metaStorePrefix):])
			b.stores[id] = b.newStore(n)
			b.nextID = max(b.nextID, n+1)
		case bytes.HasPrefix(k, metaCountPrefix):
			sid, w := binary.Uvarint(k[len(metaCountPrefix):])
			if w <= 0 {
				return fmt.Errorf("restore rocksdb state: bad metadata key %q: %w", k, ErrCorrupt)
			}
			counts[sid] = int64(n)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("restore rocksdb state: %w", err)
	}
	for _, s := range b.stores {
		s.count.Store(counts[s.id])
	}
	return nil
}

func (b *pebbleBackend) newStore(id uint64) *pebbleStore {
	prefix := binary.AppendUvarint(nil, id)
	upper := append([]byte(nil), prefix...)
	upper[len(upper)-1]++ // the last byte of a uvarint is < 0x80: no overflow
	return &pebbleStore{db: b.db, id: id, prefix: prefix, upper: upper, kbuf: append([]byte(nil), prefix...),
		dirty: map[string]dirtyEntry{}, limit: b.writeCache}
}

func (b *pebbleBackend) Name() string { return KindRocksDB }

func (b *pebbleBackend) Store(operatorID string) (Store, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil, fmt.Errorf("state store %q: the rocksdb backend is closed", operatorID)
	}
	if s := b.stores[operatorID]; s != nil {
		return s, nil
	}
	s := b.newStore(b.nextID)
	key := append(append([]byte(nil), metaStorePrefix...), operatorID...)
	if err := b.db.Set(key, binary.AppendUvarint(nil, s.id), pebble.NoSync); err != nil {
		return nil, fmt.Errorf("state store %q: %w", operatorID, err)
	}
	b.nextID++
	b.stores[operatorID] = s
	return s, nil
}

func (b *pebbleBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return nil
	}
	for _, s := range b.stores {
		if s.batch != nil {
			s.batch.Close()
			s.batch = nil
		}
	}
	err := b.db.Close()
	b.db = nil
	if rerr := os.RemoveAll(b.workDir); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("close rocksdb state backend: %w", err)
	}
	return nil
}

// Checkpoint records the key counts, flushes the memtable (there is no WAL), and lets Pebble link the live
// SSTables into dir (copying only the MANIFEST, OPTIONS and markers). SSTables are immutable, so one that was
// in the previous checkpoint is shared, not written again.
func (b *pebbleBackend) Checkpoint(dir string) (st CheckpointStats, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.db == nil {
		return st, errors.New("checkpoint state: the rocksdb backend is closed")
	}
	if _, err := os.Stat(dir); err == nil {
		return st, fmt.Errorf("checkpoint state: %s already exists", dir)
	}
	for id, s := range b.stores {
		if err := s.flush(); err != nil {
			return st, fmt.Errorf("checkpoint state of operator %q: %w", id, err)
		}
	}
	batch := b.db.NewBatch()
	var key, val []byte
	for _, s := range b.stores {
		n := s.count.Load()
		st.Entries += n
		key = binary.AppendUvarint(append(key[:0], metaCountPrefix...), s.id)
		val = binary.AppendUvarint(val[:0], uint64(n))
		batch.Set(key, val, nil)
	}
	if err := b.db.Apply(batch, pebble.NoSync); err != nil {
		batch.Close()
		return st, fmt.Errorf("checkpoint state: %w", err)
	}
	batch.Close()
	if err := b.db.Flush(); err != nil {
		return st, fmt.Errorf("checkpoint state: flush: %w", err)
	}
	if err := b.db.Checkpoint(dir); err != nil {
		return st, fmt.Errorf("checkpoint state into %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir) // Pebble wrote it; a checkpoint without its file list is no checkpoint
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return st, fmt.Errorf("checkpoint state into %s: %w", dir, err)
	}
	list := fileList{backend: KindRocksDB}
	next := make(map[string]prevFile, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return st, fmt.Errorf("checkpoint state: %w", err)
		}
		if !info.Mode().IsRegular() {
			return st, fmt.Errorf("checkpoint state: unexpected %s in %s", e.Name(), dir)
		}
		f := checkpointFile{name: e.Name(), size: info.Size()}
		if p, ok := b.prev[f.name]; ok && os.SameFile(p.info, info) {
			f.crc = p.crc // the same immutable file (hard link): its checksum is known
		} else {
			size, crc, err := fileCRC(filepath.Join(dir, f.name))
			if err != nil {
				return st, fmt.Errorf("checkpoint state: %w", err)
			}
			f.size, f.crc = size, crc
			st.WrittenBytes += size
		}
		st.Files++
		st.TotalBytes += f.size
		list.files = append(list.files, f)
		next[f.name] = prevFile{info: info, crc: f.crc}
	}
	if err := writeFileList(dir, list); err != nil {
		return st, fmt.Errorf("checkpoint state into %s: %w", dir, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, fileListName)); err == nil {
		st.Files++
		st.TotalBytes += fi.Size()
		st.WrittenBytes += fi.Size()
	}
	b.prev = next
	return st, nil
}

// immutableFile tells the files Pebble never changes after writing them (SSTables and blob files), which a
// restore may hard-link instead of copying.
func immutableFile(name string) bool {
	return strings.HasSuffix(name, ".sst") || strings.HasSuffix(name, ".blob")
}

// RestorePebble opens a rocksdb backend from a Checkpoint directory, which it never modifies: every file is
// verified against the checkpoint's file list, SSTables are hard-linked into workDir (copied across file
// systems) and the other files copied. A hashmap checkpoint is converted.
func RestorePebble(checkpointDir, workDir string, opts PebbleOptions) (Backend, error) {
	list, err := readFileList(checkpointDir)
	if err != nil {
		return nil, err
	}
	switch list.backend {
	case KindRocksDB:
	case KindHashMap:
		return convertHashMapToPebble(checkpointDir, list, workDir, opts)
	default:
		return nil, fmt.Errorf("restore state: %s was written by an unknown state backend %q: %w", checkpointDir, list.backend, ErrCorrupt)
	}
	for _, f := range list.files {
		if _, err := verifyFile(checkpointDir, f, false); err != nil {
			return nil, err
		}
	}
	if err := prepareWorkDir(workDir); err != nil {
		return nil, fmt.Errorf("restore rocksdb state: %w", err)
	}
	prev := make(map[string]prevFile, len(list.files))
	for _, f := range list.files {
		src, dst := filepath.Join(checkpointDir, f.name), filepath.Join(workDir, f.name)
		if immutableFile(f.name) {
			err = os.Link(src, dst)
			if err != nil {
				err = copyFile(src, dst)
			}
		} else {
			err = copyFile(src, dst)
		}
		if err != nil {
			os.RemoveAll(workDir)
			return nil, fmt.Errorf("restore rocksdb state from %s: %w", checkpointDir, err)
		}
		if info, err := os.Stat(src); err == nil {
			prev[f.name] = prevFile{info: info, crc: f.crc}
		}
	}
	b, err := openPebble(workDir, opts, true)
	if err != nil {
		os.RemoveAll(workDir)
		return nil, fmt.Errorf("restore state from %s: %w", checkpointDir, err)
	}
	b.prev = prev
	return b, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// convertHashMapToPebble loads a hashmap checkpoint into a new rocksdb backend.
func convertHashMapToPebble(checkpointDir string, list fileList, workDir string, opts PebbleOptions) (Backend, error) {
	bk, err := OpenPebble(workDir, opts)
	if err != nil {
		return nil, err
	}
	b := bk.(*pebbleBackend)
	err = forEachHashStore(checkpointDir, list, func(id string, hs *hashStore) error {
		st, err := b.Store(id)
		if err != nil {
			return err
		}
		s := st.(*pebbleStore)
		batch := b.db.NewBatch()
		defer func() { batch.Close() }()
		for k, v := range hs.m {
			if err := batch.Set(s.key([]byte(k)), v, nil); err != nil {
				return err
			}
			if batch.Len() >= 4<<20 {
				if err := b.db.Apply(batch, pebble.NoSync); err != nil {
					return err
				}
				batch.Close()
				batch = b.db.NewBatch()
			}
		}
		s.count.Store(int64(len(hs.m)))
		return b.db.Apply(batch, pebble.NoSync)
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("restore hashmap state from %s into the rocksdb backend: %w", checkpointDir, err)
	}
	return b, nil
}

// convertPebbleToHashMap loads a rocksdb checkpoint (opened in workDir, then removed) into a hashmap backend.
func convertPebbleToHashMap(checkpointDir, workDir string) (Backend, error) {
	if workDir == "" {
		return nil, fmt.Errorf("restore state from %s: it was written by the rocksdb backend; the hashmap backend needs a working directory to convert it", checkpointDir)
	}
	pb, err := RestorePebble(checkpointDir, workDir, DefaultPebbleOptions())
	if err != nil {
		return nil, err
	}
	defer pb.Close()
	b := &hashMapBackend{stores: map[string]*hashStore{}}
	ids := make([]string, 0)
	for id := range pb.(*pebbleBackend).stores {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		src, err := pb.Store(id)
		if err != nil {
			return nil, err
		}
		dst := &hashStore{m: make(map[string][]byte, src.Len())}
		if err := src.Scan(func(k, v []byte) error { return dst.Put(k, v) }); err != nil {
			return nil, fmt.Errorf("restore rocksdb state from %s into the hashmap backend: %w", checkpointDir, err)
		}
		b.stores[id] = dst
	}
	return b, nil
}

// pebbleStore is one operator's key range in the LSM.
//
// Writes go first into a write cache, a Go map of the store's recent writes (values in one arena), which Get
// consults first and which goes into the LSM as one batch when it holds writeCacheBytes, and before a Scan or
// a Checkpoint. A hot key updated many times between flushes costs one LSM write, and a write costs no
// commit of its own.
type pebbleStore struct {
	db     *pebble.DB
	id     uint64
	prefix []byte // uvarint(id)
	upper  []byte // the first key after the store's range
	count  atomic.Int64

	dirty      map[string]dirtyEntry
	arena      []byte // the values of dirty
	dirtyBytes int    // approximate memory of dirty
	limit      int    // flush dirty when dirtyBytes reaches it
	batch      *pebble.Batch

	kbuf []byte // prefix | key group | key of the current call
	vbuf []byte // the value Get returned from the LSM

	// The outcome of the last lookup in the LSM, so that the Get+Put of a read-modify-write of a key that is
	// not cached knows whether the key existed (for Len) without a second lookup.
	lastKey    []byte
	lastKnown  bool
	lastExists bool
}

// dirtyEntry is a cached write: a value at arena[off:off+n], or a deletion.
type dirtyEntry struct {
	off, n  uint32
	deleted bool
}

// dirtyEntryOverhead approximates a cache entry's memory besides its key and value bytes.
const dirtyEntryOverhead = 48

var _ Store = (*pebbleStore)(nil)

func (s *pebbleStore) key(key []byte) []byte {
	kg := KeyGroup(key, DefaultMaxParallelism)
	s.kbuf = append(s.kbuf[:len(s.prefix)], byte(kg>>8), byte(kg))
	s.kbuf = append(s.kbuf, key...)
	return s.kbuf
}

func (s *pebbleStore) remember(key []byte, exists bool) {
	s.lastKey = append(s.lastKey[:0], key...)
	s.lastKnown, s.lastExists = true, exists
}

// lookup reads key from the LSM (not the cache) into vbuf.
func (s *pebbleStore) lookup(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(s.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		s.remember(key, false)
		return nil, false, nil
	}
	if err != nil {
		s.lastKnown = false
		return nil, false, fmt.Errorf("state get: %w", err)
	}
	s.vbuf = append(s.vbuf[:0], v...)
	closer.Close()
	s.remember(key, true)
	return s.vbuf, true, nil
}

func (s *pebbleStore) Get(key []byte) ([]byte, bool, error) {
	if e, ok := s.dirty[string(key)]; ok {
		if e.deleted {
			return nil, false, nil
		}
		return s.arena[e.off : e.off+e.n : e.off+e.n], true, nil
	}
	return s.lookup(key)
}

// exists tells whether key is present: from the cache, from the last lookup when it was about key, or by a
// lookup.
func (s *pebbleStore) exists(key []byte) (bool, error) {
	if e, ok := s.dirty[string(key)]; ok {
		return !e.deleted, nil
	}
	if s.lastKnown && bytes.Equal(s.lastKey, key) {
		return s.lastExists, nil
	}
	// Not s.lookup: the value being written may be the one the last Get returned, in vbuf.
	_, closer, err := s.db.Get(s.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state get: %w", err)
	}
	closer.Close()
	return true, nil
}

func (s *pebbleStore) Put(key, val []byte) error {
	existed, err := s.exists(key)
	if err != nil {
		return err
	}
	if !existed {
		s.count.Add(1)
	}
	if e, ok := s.dirty[string(key)]; ok && !e.deleted && int(e.n) == len(val) {
		copy(s.arena[e.off:], val) // same length: in place, no map write
		return nil
	}
	if len(s.arena)+len(val) > 1<<32-1 {
		if err := s.flush(); err != nil {
			return err
		}
	}
	e := dirtyEntry{off: uint32(len(s.arena)), n: uint32(len(val))}
	s.arena = append(s.arena, val...)
	s.setDirty(key, e)
	return s.maybeFlush()
}

func (s *pebbleStore) Delete(key []byte) error {
	existed, err := s.exists(key)
	if err != nil {
		return err
	}
	if !existed {
		return nil
	}
	s.count.Add(-1)
	s.setDirty(key, dirtyEntry{deleted: true})
	return s.maybeFlush()
}

func (s *pebbleStore) setDirty(key []byte, e dirtyEntry) {
	if _, ok := s.dirty[string(key)]; !ok {
		s.dirtyBytes += len(key) + dirtyEntryOverhead
	}
	s.dirtyBytes += int(e.n)
	s.dirty[string(key)] = e
	if s.lastKnown && bytes.Equal(s.lastKey, key) {
		s.lastKnown = false // the cache knows better now
	}
}

func (s *pebbleStore) maybeFlush() error {
	if s.dirtyBytes < s.limit {
		return nil
	}
	return s.flush()
}

// flush writes the cached writes into the LSM as one batch and empties the cache.
func (s *pebbleStore) flush() error {
	if len(s.dirty) == 0 {
		return nil
	}
	if s.batch == nil {
		s.batch = s.db.NewBatch()
	}
	b := s.batch
	for k, e := range s.dirty {
		var err error
		if e.deleted {
			err = b.Delete(s.key([]byte(k)), nil)
		} else {
			err = b.Set(s.key([]byte(k)), s.arena[e.off:e.off+e.n], nil)
		}
		if err != nil {
			b.Reset()
			return fmt.Errorf("state write: %w", err)
		}
	}
	err := s.db.Apply(b, pebble.NoSync)
	b.Reset()
	if err != nil {
		return fmt.Errorf("state write: %w", err)
	}
	clear(s.dirty)
	s.arena = s.arena[:0]
	s.dirtyBytes = 0
	s.lastKnown = false
	return nil
}

func (s *pebbleStore) Len() int64 { return s.count.Load() }

func (s *pebbleStore) Scan(fn func(key, val []byte) error) error {
	if err := s.flush(); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: s.prefix, UpperBound: s.upper})
	if err != nil {
		return fmt.Errorf("state scan: %w", err)
	}
	skip := len(s.prefix) + 2
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("state scan: %w", err)
		}
		if err := fn(it.Key()[skip:], v); err != nil {
			it.Close()
			return err
		}
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state scan: %w", err)
	}
	return nil
}
