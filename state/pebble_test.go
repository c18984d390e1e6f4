package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countKey and countValue are a COUNT/SUM-like state entry: an 8-byte big-endian id, and a count and a sum
// as varints (about 12 bytes).
func countKey(buf []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(buf[:0], id)
}

func countValue(buf []byte, id, gen uint64) []byte {
	buf = binary.AppendUvarint(buf[:0], 1000+id%1000+gen)
	buf = binary.AppendUvarint(buf, id*1000003+gen)
	return binary.AppendUvarint(buf, 7)
}

func fillCounts(t testing.TB, s Store, n, gen, step uint64) {
	t.Helper()
	var k, v []byte
	for id := uint64(0); id < n; id += step {
		k, v = countKey(k, id), countValue(v, id, gen)
		if err := s.Put(k, v); err != nil {
			t.Fatal(err)
		}
	}
}

// sharedSSTs counts the SSTables of dir b that are the same file (hard link) as one in dir a, and adds up
// the sizes of b's files that are not shared with a.
func sharedSSTs(t *testing.T, a, b string) (shared, total int, unshared int64) {
	t.Helper()
	ents, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		ib, err1 := os.Stat(filepath.Join(b, e.Name()))
		ia, err2 := os.Stat(filepath.Join(a, e.Name()))
		if err1 != nil {
			t.Fatal(err1)
		}
		if err2 == nil && os.SameFile(ia, ib) {
			shared++
		} else {
			unshared += ib.Size()
		}
		if strings.HasSuffix(e.Name(), ".sst") {
			total++
		}
	}
	return shared, total, unshared
}

// TestPebbleIncrementalCheckpoint checks that a checkpoint after a 1% update shares the unchanged SSTables
// with the previous one (hard links) and counts only the new bytes, also across a restore, and that every
// checkpoint still restores its own content.
func TestPebbleIncrementalCheckpoint(t *testing.T) {
	const n = 50000
	root := t.TempDir()
	b := openBackend(t, KindRocksDB, filepath.Join(root, "w0"))
	s, _ := b.Store("agg")
	fillCounts(t, s, n, 0, 1)
	// Compact into the bottom level first, as a long-running job's state is: then the small flushes of the
	// updates below stay in L0 and no background compaction rewrites the big SSTable during the test.
	if err := b.(*pebbleBackend).db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	st1, err := b.Checkpoint(filepath.Join(root, "chk-1"))
	if err != nil {
		t.Fatal(err)
	}
	if st1.WrittenBytes != st1.TotalBytes || st1.Entries != n {
		t.Fatalf("first checkpoint: %+v, want everything written and %d entries", st1, n)
	}
	fillCounts(t, s, n, 1, 100) // 1% of the keys
	st2, err := b.Checkpoint(filepath.Join(root, "chk-2"))
	if err != nil {
		t.Fatal(err)
	}
	if st2.WrittenBytes*5 > st1.TotalBytes {
		t.Fatalf("incremental checkpoint wrote %d bytes of %d (first checkpoint %d): not incremental", st2.WrittenBytes, st2.TotalBytes, st1.TotalBytes)
	}
	shared, total, unshared := sharedSSTs(t, filepath.Join(root, "chk-1"), filepath.Join(root, "chk-2"))
	if shared == 0 || shared == total {
		t.Fatalf("chk-2 shares %d of its %d SSTables with chk-1, want some but not all", shared, total)
	}
	if unshared != st2.WrittenBytes {
		t.Fatalf("chk-2: WrittenBytes = %d, but its files not shared with chk-1 have %d bytes", st2.WrittenBytes, unshared)
	}
	b.Close()

	r, err := Restore(KindRocksDB, filepath.Join(root, "chk-2"), filepath.Join(root, "w1"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ = r.Store("agg")
	fillCounts(t, s, n, 2, 100)
	st3, err := r.Checkpoint(filepath.Join(root, "chk-3"))
	if err != nil {
		t.Fatal(err)
	}
	if st3.WrittenBytes*5 > st1.TotalBytes {
		t.Fatalf("checkpoint after restore wrote %d bytes of %d: not incremental", st3.WrittenBytes, st3.TotalBytes)
	}
	shared, _, unshared = sharedSSTs(t, filepath.Join(root, "chk-2"), filepath.Join(root, "chk-3"))
	if shared == 0 {
		t.Fatal("chk-3 shares no SSTable with the checkpoint it was restored from")
	}
	if unshared != st3.WrittenBytes {
		t.Fatalf("chk-3: WrittenBytes = %d, but its files not shared with chk-2 have %d bytes", st3.WrittenBytes, unshared)
	}
	r.Close()

	for gen, dir := range []string{"chk-1", "chk-2", "chk-3"} {
		r, err := Restore(KindRocksDB, filepath.Join(root, dir), filepath.Join(root, "check-"+dir))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := r.Store("agg")
		if s.Len() != n {
			t.Fatalf("%s: Len = %d, want %d", dir, s.Len(), n)
		}
		var k, want []byte
		for id := uint64(0); id < n; id += 7 {
			k = countKey(k, id)
			g := uint64(0)
			if id%100 == 0 {
				g = uint64(gen)
			}
			want = countValue(want, id, g)
			v, ok, err := s.Get(k)
			if err != nil || !ok || string(v) != string(want) {
				t.Fatalf("%s: Get(%d) = %x, %v, %v; want %x", dir, id, v, ok, err, want)
			}
		}
		r.Close()
	}
}

// TestPebbleLenIsExact counts through blind puts, overwrites, deletes of missing keys and read-modify-writes.
func TestPebbleLenIsExact(t *testing.T) {
	b := openBackend(t, KindRocksDB, filepath.Join(t.TempDir(), "w"))
	defer b.Close()
	s, _ := b.Store("op")
	steps := []struct {
		do   func()
		want int64
	}{
		{func() { s.Put([]byte("a"), []byte("1")) }, 1},
		{func() { s.Put([]byte("a"), []byte("2")) }, 1},
		{func() { s.Put([]byte("b"), []byte("1")) }, 2},
		{func() { s.Delete([]byte("zz")) }, 2},
		{func() { s.Get([]byte("a")); s.Put([]byte("a"), []byte("3")) }, 2},
		{func() { s.Get([]byte("c")); s.Put([]byte("c"), []byte("1")) }, 3},
		{func() { s.Get([]byte("c")); s.Delete([]byte("c")) }, 2},
		{func() { s.Delete([]byte("c")) }, 2},
		{func() { s.Get([]byte("a")); s.Put([]byte("b"), []byte("x")) }, 2},
		{func() { s.Get([]byte("a")); s.Delete([]byte("b")) }, 1},
	}
	for i, st := range steps {
		st.do()
		if got := s.Len(); got != st.want {
			t.Fatalf("step %d: Len = %d, want %d", i, got, st.want)
		}
	}
}

// TestPebbleStoresAreSeparate checks that operators do not see each other's keys, that a store created after
// a restore gets a fresh prefix, and that operator ids need no escaping.
func TestPebbleStoresAreSeparate(t *testing.T) {
	root := t.TempDir()
	b := openBackend(t, KindRocksDB, filepath.Join(root, "w0"))
	ids := []string{"a", "b", "node 3/Join(left)", "ü\x00x"}
	for i := 0; i < 200; i++ { // enough stores for two-byte prefixes
		ids = append(ids, fmt.Sprintf("op-%d", i))
	}
	for i, id := range ids[:150] {
		s, _ := b.Store(id)
		s.Put([]byte("k"), []byte(id))
		s.Put([]byte(fmt.Sprint(i)), []byte("x"))
	}
	if _, err := b.Checkpoint(filepath.Join(root, "chk")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	r, err := Restore(KindRocksDB, filepath.Join(root, "chk"), filepath.Join(root, "w1"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, id := range ids {
		s, _ := r.Store(id)
		if i >= 150 {
			if s.Len() != 0 {
				t.Fatalf("new store %q has %d keys", id, s.Len())
			}
			s.Put([]byte("k"), []byte(id))
			continue
		}
		if s.Len() != 2 {
			t.Fatalf("store %q has %d keys, want 2", id, s.Len())
		}
	}
	for _, id := range ids {
		s, _ := r.Store(id)
		v, ok, _ := s.Get([]byte("k"))
		if !ok || string(v) != id {
			t.Fatalf("store %q: k = %q, %v", id, v, ok)
		}
	}
}

// TestPebbleOptionErrors checks the errors of a bad compression name and of a working directory in use.
func TestPebbleOptionErrors(t *testing.T) {
	root := t.TempDir()
	_, err := OpenPebble(filepath.Join(root, "w"), PebbleOptions{Compression: "lz5"})
	if err == nil || !strings.Contains(err.Error(), `unknown compression "lz5" (want one of snappy, zstd, none)`) {
		t.Fatalf("bad compression: %v", err)
	}
	busy := filepath.Join(root, "busy")
	os.MkdirAll(busy, 0o755)
	os.WriteFile(filepath.Join(busy, "mine.txt"), []byte("keep"), 0o644)
	_, err = OpenPebble(busy, PebbleOptions{})
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("non-empty work dir: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(busy, "mine.txt")); string(data) != "keep" {
		t.Fatal("OpenPebble touched a file of a non-empty directory")
	}
	if _, err := Restore("memory", root, ""); err == nil || !strings.Contains(err.Error(), `unknown state backend "memory" (want one of hashmap, rocksdb)`) {
		t.Fatalf("unknown kind: %v", err)
	}
	for _, c := range []string{"snappy", "zstd", "none"} {
		b, err := OpenPebble(filepath.Join(root, c), PebbleOptions{Compression: c})
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		s, _ := b.Store("x")
		fillCounts(t, s, 1000, 0, 1)
		if _, err := b.Checkpoint(filepath.Join(root, c+"-chk")); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		b.Close()
		if _, err := os.Stat(filepath.Join(root, c)); !os.IsNotExist(err) {
			t.Fatalf("Close left the working directory %s: %v", c, err)
		}
	}
}

// TestPebblePutOfAGotValue writes the value that Get returned under another key, which exists in the LSM: the
// existence lookup of the second key must not clobber the value being written.
func TestPebblePutOfAGotValue(t *testing.T) {
	root := t.TempDir()
	b := openBackend(t, KindRocksDB, filepath.Join(root, "w"))
	defer b.Close()
	s, _ := b.Store("op")
	s.Put([]byte("k1"), []byte("one"))
	s.Put([]byte("k2"), []byte("two"))
	if _, err := b.Checkpoint(filepath.Join(root, "chk")); err != nil { // flushes the write cache
		t.Fatal(err)
	}
	v, ok, err := s.Get([]byte("k1"))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := s.Put([]byte("k2"), v); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.Get([]byte("k2")); string(v) != "one" {
		t.Fatalf("k2 = %q, want \"one\"", v)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
}
