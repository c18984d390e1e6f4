package state

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hashFile builds a hashmap store file from raw body bytes (after the magic), with a correct checksum.
func hashFile(body ...[]byte) []byte {
	data := []byte(hashMapMagic)
	for _, b := range body {
		data = append(data, b...)
	}
	return binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
}

// TestHashStoreFileErrors feeds damaged store files to the parser: each must fail with ErrCorrupt and say
// what is wrong (the checkpoint's file list also checks each file; this is the file's own check).
func TestHashStoreFileErrors(t *testing.T) {
	valid := hashFile([]byte{1, 2}, []byte("op"), []byte{1, 1}, []byte("k"), []byte{1}, []byte("v"))
	if id, s, err := parseHashStoreFile("f", valid); err != nil || id != "op" || s.Len() != 1 {
		t.Fatalf("valid file: %q %v %v", id, s, err)
	}
	flipped := append([]byte(nil), valid...)
	flipped[7] ^= 1
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"magic", append([]byte("XXXX"), valid[4:]...), "bad magic"},
		{"flipped", flipped, "checksum mismatch"},
		{"truncated", valid[:len(valid)-2], "checksum mismatch"},
		{"version", hashFile([]byte{2, 2}, []byte("op"), []byte{0}), "unknown version 2"},
		{"id", hashFile([]byte{1, 9}, []byte("op")), "truncated operator id"},
		{"count", hashFile([]byte{1, 2}, []byte("op")), "bad entry count"},
		{"entry", hashFile([]byte{1, 2}, []byte("op"), []byte{2, 1}, []byte("k"), []byte{1}, []byte("v")), "entry 2 of 2 is truncated"},
		{"trailing", hashFile([]byte{1, 2}, []byte("op"), []byte{1, 1}, []byte("k"), []byte{1}, []byte("v"), []byte{0}), "1 bytes after the last entry"},
		{"duplicate", hashFile([]byte{1, 2}, []byte("op"), []byte{2, 1}, []byte("k"), []byte{1}, []byte("v"), []byte{1}, []byte("k"), []byte{0}), "duplicate keys"},
	}
	for _, c := range cases {
		_, _, err := parseHashStoreFile("dir/store-0000.hm", c.data)
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "dir/store-0000.hm") {
			t.Errorf("%s: got %v, want an ErrCorrupt naming the file and saying %q", c.name, err, c.want)
		}
	}
}

// TestHashMapValuesDoNotAlias checks that restored values, carved from shared chunks, can grow and be
// overwritten in place without touching their neighbours.
func TestHashMapValuesDoNotAlias(t *testing.T) {
	root := t.TempDir()
	b := NewHashMap()
	s, _ := b.Store("op")
	for _, k := range []string{"a", "b", "c", "d"} {
		s.Put([]byte(k), []byte(k+k+k))
	}
	if _, err := b.Checkpoint(filepath.Join(root, "chk")); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(KindHashMap, filepath.Join(root, "chk"), "")
	if err != nil {
		t.Fatal(err)
	}
	s, _ = r.Store("op")
	s.Put([]byte("a"), []byte("XYZ"))        // same length: in place
	s.Put([]byte("b"), []byte("longer one")) // grows: must not spill into a neighbour
	v, _, _ := s.Get([]byte("b"))
	v[0] = 'L' // a caller that breaks the contract changes only its own key
	want := map[string]string{"a": "XYZ", "b": "Longer one", "c": "ccc", "d": "ddd"}
	for k, w := range want {
		if v, _, _ := s.Get([]byte(k)); string(v) != w {
			t.Errorf("%s = %q, want %q", k, v, w)
		}
	}
}

// TestCheckpointWriteErrors checks that a checkpoint into a directory that cannot be created fails naming
// the path, leaves nothing behind, and that the backend keeps working and checkpoints afterwards.
func TestCheckpointWriteErrors(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			blocker := filepath.Join(root, "not-a-dir")
			if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			b := openBackend(t, kind, filepath.Join(root, "w"))
			defer b.Close()
			s, _ := b.Store("op")
			s.Put([]byte("k"), []byte("v"))
			bad := filepath.Join(blocker, "chk-1")
			if _, err := b.Checkpoint(bad); err == nil || !strings.Contains(err.Error(), bad) {
				t.Fatalf("checkpoint under a file: %v, want an error naming %s", err, bad)
			}
			s.Put([]byte("k2"), []byte("v2"))
			good := filepath.Join(root, "chk-1")
			if st, err := b.Checkpoint(good); err != nil || st.Entries != 2 {
				t.Fatalf("checkpoint after a failed one: %+v %v", st, err)
			}
			r, err := Restore(kind, good, filepath.Join(root, "w2"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkContent(t, r, map[string]map[string]string{"op": {"k": "v", "k2": "v2"}})
		})
	}
}
