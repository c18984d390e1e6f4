package state

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The benchmarks measure once per run (use -benchtime 1x) and report their numbers as metrics:
//
//	go test ./state/ -run '^$' -bench . -benchtime 1x
//
// State is COUNT/SUM-like: key = 8-byte big-endian id, value = three varints (about 12 bytes).

var benchSizes = []int{100_000, 1_000_000}

func benchName(kind string, n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%s/%dM", kind, n/1_000_000)
	}
	return fmt.Sprintf("%s/%dK", kind, n/1000)
}

// openBenchBackend opens a backend with the default options (the tests' openBackend uses small ones).
func openBenchBackend(b *testing.B, kind, workDir string) Backend {
	if kind == KindHashMap {
		return NewHashMap()
	}
	be, err := OpenPebble(workDir, benchPebbleOptions(kind))
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// benchPebbleOptions are the defaults, with zstd for the pseudo-kind "rocksdb-zstd".
func benchPebbleOptions(kind string) PebbleOptions {
	o := DefaultPebbleOptions()
	if kind == KindRocksDB+"-zstd" {
		o.Compression = "zstd"
	}
	return o
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkStateOps reports per-operation costs on a store of n keys: insert (load), get of a present key,
// blind put over a present key, and read-modify-write (get + put, as an aggregate does), in ns and
// allocations per operation.
func BenchmarkStateOps(b *testing.B) {
	const ops = 200_000
	for _, kind := range kinds {
		for _, n := range benchSizes {
			b.Run(benchName(kind, n), func(b *testing.B) {
				be := openBenchBackend(b, kind, filepath.Join(b.TempDir(), "w"))
				defer be.Close()
				s, _ := be.Store("agg")
				var k, v []byte
				start, m0 := time.Now(), mallocs()
				for id := uint64(0); id < uint64(n); id++ {
					k, v = countKey(k, id), countValue(v, id, 0)
					if err := s.Put(k, v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "insert-ns/op")
				b.ReportMetric(float64(mallocs()-m0)/float64(n), "insert-allocs/op")
				rng := rand.New(rand.NewSource(1))
				ids := make([]uint64, ops)
				for i := range ids {
					ids[i] = uint64(rng.Intn(n))
				}
				measure := func(name string, op func(id uint64)) {
					start, m0 := time.Now(), mallocs()
					for _, id := range ids {
						op(id)
					}
					b.ReportMetric(float64(time.Since(start).Nanoseconds())/ops, name+"-ns/op")
					b.ReportMetric(float64(mallocs()-m0)/ops, name+"-allocs/op")
				}
				measure("get", func(id uint64) {
					k = countKey(k, id)
					if _, ok, err := s.Get(k); !ok || err != nil {
						b.Fatalf("get %d: %v %v", id, ok, err)
					}
				})
				measure("put", func(id uint64) {
					k, v = countKey(k, id), countValue(v, id, 1)
					if err := s.Put(k, v); err != nil {
						b.Fatal(err)
					}
				})
				measure("rmw", func(id uint64) {
					k = countKey(k, id)
					old, _, err := s.Get(k)
					if err != nil {
						b.Fatal(err)
					}
					v = append(v[:0], old...)
					v[0]++
					if err := s.Put(k, v); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkCheckpoint reports, for a store of n keys: the memory per key (hashmap: heap growth while
// loading), a full checkpoint's duration, size and bytes per key, an incremental checkpoint after updating 1%
// of the keys (bytes written), the mean over ten such checkpoints, and the time to restore the last one.
func BenchmarkCheckpoint(b *testing.B) {
	for _, kind := range append(kinds, KindRocksDB+"-zstd") {
		for _, n := range benchSizes {
			b.Run(benchName(kind, n), func(b *testing.B) {
				root := b.TempDir()
				h0 := heapAlloc()
				be := openBenchBackend(b, kind, filepath.Join(root, "w0"))
				s, _ := be.Store("agg")
				fillCounts(b, s, uint64(n), 0, 1)
				if kind == KindHashMap {
					b.ReportMetric(float64(heapAlloc()-h0)/float64(n), "heap-B/key")
				}
				start := time.Now()
				st1, err := be.Checkpoint(filepath.Join(root, "chk-1"))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ckpt-ms")
				b.ReportMetric(float64(st1.TotalBytes), "ckpt-bytes")
				b.ReportMetric(float64(st1.TotalBytes)/float64(n), "disk-B/key")
				fillCounts(b, s, uint64(n), 1, 100)
				start = time.Now()
				st2, err := be.Checkpoint(filepath.Join(root, "chk-2"))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ckpt2-ms")
				b.ReportMetric(float64(st2.WrittenBytes), "ckpt2-written-bytes")
				b.ReportMetric(float64(st2.TotalBytes), "ckpt2-bytes")
				// Ten more rounds of 1% updates: compactions come and go, the mean is the steady cost.
				var written int64
				for round := uint64(2); round < 12; round++ {
					fillCounts(b, s, uint64(n), round, 100)
					st, err := be.Checkpoint(filepath.Join(root, fmt.Sprintf("chk-%d", round+1)))
					if err != nil {
						b.Fatal(err)
					}
					written += st.WrittenBytes
				}
				b.ReportMetric(float64(written)/10, "ckpt-1%-mean-written-bytes")
				be.Close()
				start = time.Now()
				var r Backend
				if kind == KindHashMap {
					r, err = Restore(kind, filepath.Join(root, "chk-12"), "")
				} else {
					r, err = RestorePebble(filepath.Join(root, "chk-12"), filepath.Join(root, "w1"), benchPebbleOptions(kind))
				}
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "restore-ms")
				rs, _ := r.Store("agg")
				if rs.Len() != int64(n) {
					b.Fatalf("restored %d keys, want %d", rs.Len(), n)
				}
				r.Close()
			})
		}
	}
}
