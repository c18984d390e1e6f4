package exec

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// TestDistinctSetProperty runs random add/sub/get/del sequences against a distinctSet and a Go map, checking every
// returned count, the size, and the full contents (each) after every step. Key shapes: fixed 9-byte
// integer encodings only, then mixtures that move the set to bytes mode mid-way (strings, NULL markers,
// 9-byte keys with another first byte, empty keys); uint: non-negative integers, which a narrow set holds
// throughout (negative and non-negative keys differ in the high half). Each runs with narrow mode allowed
// and not; the shapes
// int+highbits (keys whose high 32 bits differ) and int+bigcount (counts past 2^32) move a narrow set to
// fixed mode mid-way.
func TestDistinctSetProperty(t *testing.T) {
	shapes := []string{"int", "uint", "int+string", "string", "int+otherprefix", "int+highbits", "int+bigcount"}
	for _, narrow := range []bool{false, true} {
		for _, shape := range shapes {
			for seed := uint64(1); seed <= 30; seed++ {
				t.Run(fmt.Sprintf("narrow=%t/%s/%d", narrow, shape, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 7))
					keySpace := 1 + rng.IntN(200)
					key := func(step int) []byte {
						i := rng.IntN(keySpace)
						switch {
						case shape == "string" || (shape == "int+string" && step > 100 && i%3 == 0):
							if i%17 == 0 {
								return nil // an empty key
							}
							return types.AppendKey(nil, types.StringValue(fmt.Sprintf("k%d\x00%d", i, i*i)), types.Type{})
						case shape == "int+otherprefix" && step > 150 && i%5 == 0:
							return binary.BigEndian.AppendUint64([]byte{0x7e}, uint64(i))
						case shape == "int+highbits" && step > 150 && i%5 == 0:
							return types.AppendKey(nil, types.IntValue(int64(i)<<36), types.BigIntType())
						case shape == "uint":
							return types.AppendKey(nil, types.IntValue(int64(i)), types.BigIntType())
						}
						return types.AppendKey(nil, types.IntValue(int64(i)-int64(keySpace/2)), types.BigIntType())
					}
					var s distinctSet
					s.narrowOK = narrow
					ref := map[string]int64{}
					for step := range 2000 {
						k := key(step)
						if r := rng.IntN(100); r < 5 {
							got, ok := s.get(k)
							want, wok := ref[string(k)]
							if got != want || ok != wok {
								t.Fatalf("step %d: get(%x) = %d %t, want %d %t", step, k, got, ok, want, wok)
							}
						} else if r < 10 {
							s.del(k)
							delete(ref, string(k))
						} else if r < 60 {
							d := int64(1)
							if rng.IntN(10) == 0 {
								d = 1 + rng.Int64N(5)
							}
							if shape == "int+bigcount" && step > 150 && rng.IntN(40) == 0 {
								d = 1 << 32
							}
							got := s.add(k, d)
							ref[string(k)] += d
							if got != ref[string(k)] {
								t.Fatalf("step %d: add(%x, %d) = %d, want %d", step, k, d, got, ref[string(k)])
							}
						} else {
							got := s.sub(k)
							want, ok := ref[string(k)]
							switch {
							case !ok:
								want = -1
							case want == 1:
								want = 0
								delete(ref, string(k))
							default:
								want--
								ref[string(k)] = want
							}
							if got != want {
								t.Fatalf("step %d: sub(%x) = %d, want %d", step, k, got, want)
							}
						}
						if s.len() != len(ref) {
							t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref))
						}
						if step%50 == 49 {
							checkDistinctSet(t, &s, ref)
						}
						if step == 1000 && rng.IntN(4) == 0 {
							s.reset()
							clear(ref)
						}
					}
					checkDistinctSet(t, &s, ref)
					if narrow && shape == "uint" && s.len() > 0 && s.narrow == nil {
						t.Fatal("a set of non-negative integers with small counts left narrow mode")
					}
				})
			}
		}
	}
}

// TestDistinctSetOrBits checks orBits (sharedDistinct's mask mode) against a Go map in every mode: fixed,
// narrow (widened by a bit past the 32nd or a key with other high bits) and bytes.
func TestDistinctSetOrBits(t *testing.T) {
	for _, narrow := range []bool{false, true} {
		for _, shape := range []string{"int", "int+highbits", "int+highbit", "int+string"} {
			for seed := uint64(1); seed <= 20; seed++ {
				t.Run(fmt.Sprintf("narrow=%t/%s/%d", narrow, shape, seed), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(seed, 11))
					var s distinctSet
					s.narrowOK = narrow
					ref := map[string]int64{}
					keySpace := 1 + rng.IntN(300)
					for step := range 3000 {
						i := rng.IntN(keySpace)
						k := types.AppendKey(nil, types.IntValue(int64(i)), types.BigIntType())
						bit := int64(1) << rng.IntN(4)
						switch {
						case shape == "int+highbits" && step > 1000 && i%7 == 0:
							k = types.AppendKey(nil, types.IntValue(int64(i)<<40), types.BigIntType())
						case shape == "int+highbit" && step > 1000 && i%7 == 0:
							bit = 1 << 40
						case shape == "int+string" && step > 1000 && i%7 == 0:
							k = types.AppendKey(nil, types.StringValue(fmt.Sprint(i)), types.Type{})
						}
						old := s.orBits(k, bit)
						if want := ref[string(k)]; old != want {
							t.Fatalf("step %d: orBits(%x, %x) = %x, want %x", step, k, bit, old, want)
						}
						ref[string(k)] |= bit
						if s.len() != len(ref) {
							t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref))
						}
					}
					checkDistinctSet(t, &s, ref)
					if narrow && shape == "int" && s.narrow == nil {
						t.Fatalf("a set of small integers and 4 bits left narrow mode")
					}
				})
			}
		}
	}
}

func checkDistinctSet(t *testing.T, s *distinctSet, ref map[string]int64) {
	t.Helper()
	seen := map[string]int64{}
	s.each(func(k []byte, n int64) {
		if _, dup := seen[string(k)]; dup {
			t.Fatalf("each: key %x twice", k)
		}
		seen[string(k)] = n
	})
	if len(seen) != len(ref) {
		t.Fatalf("each: %d keys, want %d", len(seen), len(ref))
	}
	for k, n := range ref {
		if seen[k] != n {
			t.Fatalf("each: key %x count %d, want %d", k, seen[k], n)
		}
	}
}

// TestDistinctAccStateRoundTrip writes the state of DISTINCT accumulators (fixed and bytes mode) and loads it
// into fresh ones: the sets and results match, and loading rejects a duplicate key and a zero multiplicity.
func TestDistinctAccStateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ  types.Type
		vals []types.Value
	}{
		{types.BigIntType(), []types.Value{types.IntValue(3), types.IntValue(-9), types.IntValue(3), types.IntValue(1 << 40)}},
		{types.StringType(), []types.Value{types.StringValue("a"), types.StringValue(""), types.StringValue("a\x00b"), types.StringValue("a")}},
	} {
		spec := &aggSpec{fn: "COUNT", args: []int{0}, argType: tc.typ, filter: -1, distinct: true, retract: true}
		a := spec.newAcc().(*distinctAcc)
		for _, v := range tc.vals {
			a.add([]types.Value{v})
		}
		st := a.appendState(nil)
		b := spec.newAcc().(*distinctAcc)
		rest, err := b.loadState(st)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%s: load: %v (%d bytes left)", tc.typ, err, len(rest))
		}
		if got, want := b.result(), a.result(); got.I != want.I || got.I != 3 {
			t.Fatalf("%s: restored COUNT(DISTINCT) %d, original %d, want 3", tc.typ, got.I, want.I)
		}
		// The snapshot lists the set in slot order, which can differ between two tables holding the same keys
		// (linear probing wraps around the end), so compare the contents, not the bytes.
		if got, want := distinctContents(b), distinctContents(a); !maps.Equal(got, want) {
			t.Fatalf("%s: restored set %v, original %v", tc.typ, got, want)
		}
		// Retract after restore: the multiplicities came back.
		b.retract([]types.Value{tc.vals[0]})
		if b.result().I != 3 {
			t.Fatalf("%s: retracting one of two copies changed the count to %d", tc.typ, b.result().I)
		}
		b.retract([]types.Value{tc.vals[0]})
		if b.result().I != 2 {
			t.Fatalf("%s: retracting the last copy left the count at %d", tc.typ, b.result().I)
		}
		// A key twice.
		k := types.AppendKey(nil, tc.vals[0], tc.typ)
		var dup []byte
		dup = binary.AppendUvarint(dup, 2)
		for range 2 {
			dup = appendString(dup, string(k))
			dup = binary.AppendVarint(dup, 1)
		}
		dup = binary.AppendVarint(dup, 1) // the inner COUNT
		if _, err := spec.newAcc().loadState(dup); err == nil {
			t.Fatalf("%s: a state with a key twice loaded", tc.typ)
		}
		var zero []byte
		zero = binary.AppendUvarint(zero, 1)
		zero = appendString(zero, string(k))
		zero = binary.AppendVarint(zero, 0)
		zero = binary.AppendVarint(zero, 1)
		if _, err := spec.newAcc().loadState(zero); err == nil {
			t.Fatalf("%s: a state with multiplicity 0 loaded", tc.typ)
		}
	}
}

// BenchmarkDistinctSetBytesPerKey reports the live heap bytes per key of a COUNT(DISTINCT bigint) set of 1M
// keys and of the map[string]*int64 it replaced (runtime.MemStats.HeapAlloc after a GC, before and after).
func BenchmarkDistinctSetBytesPerKey(b *testing.B) {
	const n = 1 << 20
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for range b.N {
		h0 := heap()
		var s distinctSet
		var kb []byte
		for i := range n {
			kb = types.AppendKey(kb[:0], types.IntValue(int64(i)*7919), types.BigIntType())
			s.add(kb, 1)
		}
		h1 := heap()
		m := map[string]*int64{}
		for i := range n {
			kb = types.AppendKey(kb[:0], types.IntValue(int64(i)*7919), types.BigIntType())
			c := new(int64)
			*c = 1
			m[string(kb)] = c
		}
		h2 := heap()
		b.ReportMetric(float64(h1-h0)/n, "B/key")
		b.ReportMetric(float64(h2-h1)/n, "map-B/key")
		runtime.KeepAlive(&s)
		runtime.KeepAlive(m)
	}
}

// distinctContents returns the values of a DISTINCT accumulator's set with their multiplicities.
func distinctContents(a *distinctAcc) map[string]int64 {
	m := map[string]int64{}
	a.seen.each(func(k []byte, n int64) { m[string(k)] = n })
	return m
}

// BenchmarkDistinctSetManyGroups: COUNT(DISTINCT) adds spread over 10,000 groups' sets, as Nexmark q16's
// small channels at 1M events (25 values per group) and 10M events (250), into fixed (16-byte) and narrow
// (8-byte) slots: once the sets outgrow the caches, an add's probe is a cache miss whose cost grows with the
// bytes the sets span.
func BenchmarkDistinctSetManyGroups(b *testing.B) {
	const groups = 10000
	for _, perGroup := range []int{25, 250} {
		for _, narrow := range []bool{false, true} {
			b.Run(fmt.Sprintf("values=%d/narrow=%t", perGroup, narrow), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				sets := make([]distinctSet, groups)
				vals := make([][]int64, groups)
				var kb []byte
				for g := range sets {
					sets[g].narrowOK = narrow
					for range perGroup {
						v := 1000 + rng.Int64N(10_000_000)
						vals[g] = append(vals[g], v)
						kb = types.AppendKey(kb[:0], types.IntValue(v), types.BigIntType())
						sets[g].orBits(kb, 1)
					}
				}
				b.ResetTimer()
				for i := range b.N {
					g := rng.IntN(groups)
					kb = types.AppendKey(kb[:0], types.IntValue(vals[g][i%perGroup]), types.BigIntType())
					sets[g].orBits(kb, 2)
				}
			})
		}
	}
}
