package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// kinds are the backends every generic test runs against.
var kinds = []string{KindHashMap, KindRocksDB}

// openBackend opens an empty backend of kind with its working directory under t's temp dir.
func openBackend(t testing.TB, kind, workDir string) Backend {
	t.Helper()
	switch kind {
	case KindHashMap:
		return NewHashMap()
	case KindRocksDB:
		b, err := OpenPebble(workDir, PebbleOptions{BlockCacheBytes: 8 << 20, MemTableBytes: 4 << 20, WriteCacheBytes: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Fatalf("unknown kind %s", kind)
	return nil
}

// TestDataDriven runs testdata/backend_*: scripts of puts, deletes, scans, checkpoints, damage and restores.
//
//	open kind=K                     a fresh backend
//	put op=O  (input: "key value" lines)
//	delete op=O (input: keys)
//	get op=O key=K
//	scan op=O                       entries in Scan order with their key group, then len
//	checkpoint dir=D                the entry count
//	files dir=D                     the checkpoint's file names, sizes of .hm files
//	damage dir=D file=GLOB how=flip|remove|truncate|append
//	restore kind=K dir=D            closes the current backend and restores one from D
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		root := t.TempDir()
		var b Backend
		works := 0
		defer func() {
			if b != nil {
				b.Close()
			}
		}()
		newWorkDir := func() string {
			works++
			return filepath.Join(root, fmt.Sprintf("work%d", works))
		}
		store := func(d *datadriven.TestData) Store {
			var op string
			d.ScanArgs(t, "op", &op)
			s, err := b.Store(op)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		clean := func(err error) string {
			return strings.ReplaceAll(err.Error(), root, "$TMP") + "\n"
		}
		run := func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "open":
				var kind string
				d.ScanArgs(t, "kind", &kind)
				if b != nil {
					b.Close()
				}
				b = openBackend(t, kind, newWorkDir())
				return "ok\n"
			case "put":
				s := store(d)
				for _, line := range strings.Split(d.Input, "\n") {
					k, v, _ := strings.Cut(line, " ")
					if err := s.Put([]byte(k), []byte(v)); err != nil {
						return clean(err)
					}
				}
				return "ok\n"
			case "delete":
				s := store(d)
				for _, k := range strings.Split(d.Input, "\n") {
					if err := s.Delete([]byte(k)); err != nil {
						return clean(err)
					}
				}
				return "ok\n"
			case "get":
				s := store(d)
				var key string
				d.ScanArgs(t, "key", &key)
				v, ok, err := s.Get([]byte(key))
				if err != nil {
					return clean(err)
				}
				if !ok {
					return "not found\n"
				}
				return fmt.Sprintf("%q\n", v)
			case "scan":
				s := store(d)
				var out strings.Builder
				err := s.Scan(func(k, v []byte) error {
					fmt.Fprintf(&out, "kg=%03d %s=%q\n", KeyGroup(k, DefaultMaxParallelism), k, v)
					return nil
				})
				if err != nil {
					return clean(err)
				}
				fmt.Fprintf(&out, "len=%d\n", s.Len())
				return out.String()
			case "checkpoint":
				var dir string
				d.ScanArgs(t, "dir", &dir)
				st, err := b.Checkpoint(filepath.Join(root, dir))
				if err != nil {
					return clean(err)
				}
				return fmt.Sprintf("entries=%d\n", st.Entries)
			case "files":
				var dir string
				d.ScanArgs(t, "dir", &dir)
				ents, err := os.ReadDir(filepath.Join(root, dir))
				if err != nil {
					return clean(err)
				}
				var out strings.Builder
				for _, e := range ents {
					out.WriteString(e.Name())
					if strings.HasSuffix(e.Name(), ".hm") {
						info, _ := e.Info()
						fmt.Fprintf(&out, " %d", info.Size())
					}
					out.WriteString("\n")
				}
				return out.String()
			case "damage":
				var dir, glob, how string
				d.ScanArgs(t, "dir", &dir)
				d.ScanArgs(t, "file", &glob)
				d.ScanArgs(t, "how", &how)
				return damage(t, filepath.Join(root, dir), glob, how)
			case "restore":
				var kind, dir string
				d.ScanArgs(t, "kind", &kind)
				d.ScanArgs(t, "dir", &dir)
				if b != nil {
					b.Close()
					b = nil
				}
				nb, err := Restore(kind, filepath.Join(root, dir), newWorkDir())
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						return "error: " + clean(err)
					}
					return "corrupt: " + clean(err)
				}
				b = nb
				return "ok " + b.Name() + "\n"
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return normalize(run(t, d))
		})
	})
}

// Outputs vary from run to run in what a reader need not review: Pebble's file numbers and sizes (background
// compactions), and checksums (a hashmap file's entries follow Go's map order).
var (
	fileNumRE  = regexp.MustCompile(`\b\d{6}\.(sst|log)\b`)
	sizesRE    = regexp.MustCompile(`has \d+ bytes, STATE-FILES says \d+`)
	checksumRE = regexp.MustCompile(`says [0-9a-f]{8}, content has [0-9a-f]{8}`)
)

func normalize(s string) string {
	s = fileNumRE.ReplaceAllString(s, "NNNNNN.$1")
	s = sizesRE.ReplaceAllString(s, "has N bytes, STATE-FILES says M")
	return checksumRE.ReplaceAllString(s, "says X, content has Y")
}

// damage changes the first file of dir matching glob and returns its name.
func damage(t *testing.T, dir, glob, how string) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, glob))
	if err != nil || len(matches) == 0 {
		t.Fatalf("no file %s in %s", glob, dir)
	}
	sort.Strings(matches)
	path := matches[0]
	// Damage a private copy: the checkpoint's files may be hard links shared with a working directory.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	switch how {
	case "remove":
		return filepath.Base(path) + " removed\n"
	case "flip":
		data[len(data)/2] ^= 0x40
	case "truncate":
		data = data[:len(data)-3]
	case "append":
		data = append(data, 'x')
	default:
		t.Fatalf("unknown damage %s", how)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(path) + " " + how + "\n"
}

// TestModel applies random puts, overwrites and deletes to two stores and checks Get, Len and Scan against
// a map after every phase, across checkpoints and restores into both backends.
func TestModel(t *testing.T) {
	for _, from := range kinds {
		for _, to := range kinds {
			t.Run(from+"-to-"+to, func(t *testing.T) {
				root := t.TempDir()
				rng := rand.New(rand.NewSource(1))
				model := map[string]map[string]string{"agg": {}, "join/left": {}}
				b := openBackend(t, from, filepath.Join(root, "work0"))
				defer func() { b.Close() }()
				kind := from
				for phase := 0; phase < 3; phase++ {
					for op, m := range model {
						s, err := b.Store(op)
						if err != nil {
							t.Fatal(err)
						}
						for i := 0; i < 3000; i++ {
							k := fmt.Sprintf("k%d", rng.Intn(2000))
							if i == 0 {
								k = "" // the empty key is a valid key
							}
							switch r := rng.Intn(10); {
							case r < 2:
								if err := s.Delete([]byte(k)); err != nil {
									t.Fatal(err)
								}
								delete(m, k)
							case r < 4: // read-modify-write, as an aggregate does
								v, ok, err := s.Get([]byte(k))
								if err != nil {
									t.Fatal(err)
								}
								if want, wok := m[k]; ok != wok || string(v) != want {
									t.Fatalf("phase %d: Get(%q) = %q, %v; want %q, %v", phase, k, v, ok, want, wok)
								}
								nv := append(v, byte('a'+rng.Intn(26)))
								if err := s.Put([]byte(k), nv); err != nil {
									t.Fatal(err)
								}
								m[k] = string(nv)
							default:
								v := strings.Repeat("v", rng.Intn(40))
								if err := s.Put([]byte(k), []byte(v)); err != nil {
									t.Fatal(err)
								}
								m[k] = v
							}
						}
					}
					checkContent(t, b, model)
					dir := filepath.Join(root, fmt.Sprintf("chk-%d", phase))
					st, err := b.Checkpoint(dir)
					if err != nil {
						t.Fatal(err)
					}
					if want := int64(len(model["agg"]) + len(model["join/left"])); st.Entries != want {
						t.Fatalf("checkpoint entries = %d, want %d", st.Entries, want)
					}
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
					kind = to
					if b, err = Restore(kind, dir, filepath.Join(root, fmt.Sprintf("work%d", phase+1))); err != nil {
						t.Fatal(err)
					}
					if b.Name() != kind {
						t.Fatalf("restored backend is %s, want %s", b.Name(), kind)
					}
					checkContent(t, b, model)
				}
			})
		}
	}
}

// checkContent compares every store of model with the backend's: Len, Get of each key, and Scan (content
// and order: key group, then key).
func checkContent(t *testing.T, b Backend, model map[string]map[string]string) {
	t.Helper()
	for op, m := range model {
		s, err := b.Store(op)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != int64(len(m)) {
			t.Fatalf("%s %s: Len = %d, want %d", b.Name(), op, s.Len(), len(m))
		}
		for k, want := range m {
			v, ok, err := s.Get([]byte(k))
			if err != nil || !ok || string(v) != want {
				t.Fatalf("%s %s: Get(%q) = %q, %v, %v; want %q", b.Name(), op, k, v, ok, err, want)
			}
		}
		seen := 0
		var prevKG int
		var prevKey []byte
		err = s.Scan(func(k, v []byte) error {
			kg := KeyGroup(k, DefaultMaxParallelism)
			if seen > 0 && (kg < prevKG || kg == prevKG && bytes.Compare(prevKey, k) >= 0) {
				return fmt.Errorf("scan order: (%d, %q) after (%d, %q)", kg, k, prevKG, prevKey)
			}
			prevKG, prevKey = kg, append(prevKey[:0], k...)
			if want, ok := m[string(k)]; !ok || want != string(v) {
				return fmt.Errorf("scan: %q=%q, want %q (present %v)", k, v, want, ok)
			}
			seen++
			return nil
		})
		if err != nil {
			t.Fatalf("%s %s: %v", b.Name(), op, err)
		}
		if seen != len(m) {
			t.Fatalf("%s %s: scan saw %d entries, want %d", b.Name(), op, seen, len(m))
		}
	}
}

// TestScanStopsOnError checks that an error from the callback ends Scan and is returned as is.
func TestScanStopsOnError(t *testing.T) {
	for _, kind := range kinds {
		b := openBackend(t, kind, filepath.Join(t.TempDir(), "work"))
		s, _ := b.Store("op")
		for i := 0; i < 10; i++ {
			s.Put([]byte{byte(i)}, []byte("v"))
		}
		stop := errors.New("stop")
		calls := 0
		err := s.Scan(func(k, v []byte) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("%s: Scan returned %v after %d calls, want stop after 1", kind, err, calls)
		}
		b.Close()
	}
}

// treeState records every file of a directory: name, size, mode, modification time and content checksum.
func treeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		_, crc, err := fileCRC(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprintf("%d %v %v %08x", info.Size(), info.Mode(), info.ModTime().UnixNano(), crc)
	}
	return out
}

// TestRestoreLeavesCheckpointAlone restores from a checkpoint, then overwrites and deletes every key,
// compacts, checkpoints again and closes: the checkpoint directory must be byte for byte what it was, and
// restoring it again gives the original content.
func TestRestoreLeavesCheckpointAlone(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			b := openBackend(t, kind, filepath.Join(root, "w0"))
			s, _ := b.Store("op")
			model := map[string]map[string]string{"op": {}}
			for i := 0; i < 5000; i++ {
				k, v := fmt.Sprintf("key%05d", i), fmt.Sprintf("value%d", i)
				s.Put([]byte(k), []byte(v))
				model["op"][k] = v
			}
			chk := filepath.Join(root, "chk-1")
			if _, err := b.Checkpoint(chk); err != nil {
				t.Fatal(err)
			}
			b.Close()
			before := treeState(t, chk)
			r, err := Restore(kind, chk, filepath.Join(root, "w1"))
			if err != nil {
				t.Fatal(err)
			}
			s, _ = r.Store("op")
			for i := 0; i < 5000; i++ {
				k := fmt.Sprintf("key%05d", i)
				if i%2 == 0 {
					s.Delete([]byte(k))
				} else {
					s.Put([]byte(k), []byte("changed"))
				}
			}
			if pb, ok := r.(*pebbleBackend); ok {
				if err := pb.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Checkpoint(filepath.Join(root, "chk-2")); err != nil {
				t.Fatal(err)
			}
			r.Close()
			after := treeState(t, chk)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("checkpoint directory changed:\nbefore %v\nafter  %v", before, after)
			}
			r, err = Restore(kind, chk, filepath.Join(root, "w2"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			checkContent(t, r, model)
		})
	}
}

// TestStoresInParallel runs one goroutine per operator, each creating and writing its own store, as the
// engine's operators do; the checkpoint after them holds every write.
func TestStoresInParallel(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			b := openBackend(t, kind, filepath.Join(root, "w"))
			defer b.Close()
			const ops, keys = 8, 500
			errs := make(chan error, ops)
			for i := 0; i < ops; i++ {
				go func(op string) {
					s, err := b.Store(op)
					if err != nil {
						errs <- err
						return
					}
					for k := 0; k < keys; k++ {
						if err := s.Put([]byte(fmt.Sprint(k)), []byte(op)); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}(fmt.Sprintf("op%d", i))
			}
			for i := 0; i < ops; i++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			st, err := b.Checkpoint(filepath.Join(root, "chk"))
			if err != nil || st.Entries != ops*keys {
				t.Fatalf("checkpoint: %+v %v, want %d entries", st, err, ops*keys)
			}
			r, err := Restore(kind, filepath.Join(root, "chk"), filepath.Join(root, "w2"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for i := 0; i < ops; i++ {
				op := fmt.Sprintf("op%d", i)
				s, _ := r.Store(op)
				v, ok, _ := s.Get([]byte("7"))
				if s.Len() != keys || !ok || string(v) != op {
					t.Fatalf("%s: Len %d, 7=%q", op, s.Len(), v)
				}
			}
		})
	}
}
