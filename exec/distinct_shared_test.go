package exec

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/sluicesql/sluice/types"
)

// Rows [x BIGINT, s STRING, f1 BOOLEAN, f2 BOOLEAN, f3 BOOLEAN]: DISTINCT aggregates of x or s under the
// filters f1..f3 (or none).
var sdTypes = []types.Type{types.BigIntType(), types.StringType(), types.BooleanType(), types.BooleanType(), types.BooleanType()}

// sdSpecs compiles a random list of DISTINCT (and a few plain) aggregates over x and s with random filters.
func sdSpecs(t *testing.T, rng *rand.Rand, retract bool) []*aggSpec {
	var specs []string
	for range 2 + rng.IntN(6) {
		fn := []string{"COUNT", "SUM", "COUNT", "MAX"}[rng.IntN(4)]
		arg := rng.IntN(2)
		if fn != "COUNT" {
			arg = 0
		}
		d := "DISTINCT "
		if rng.IntN(6) == 0 {
			d = ""
		}
		s := fmt.Sprintf("%s(%s$%d)", fn, d, arg)
		if f := rng.IntN(4); f > 0 {
			s += fmt.Sprintf(" FILTER $%d", f+1)
		}
		specs = append(specs, s)
	}
	var out []*aggSpec
	for _, c := range aggCalls(t, sdTypes, specs...) {
		s, err := compileAgg(c, sdTypes, retract)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func sdAccs(specs []*aggSpec, share bool) []accumulator {
	accs := make([]accumulator, len(specs))
	for i, s := range specs {
		accs[i] = s.newAcc()
	}
	if share {
		shareDistinct(accs)
	}
	return accs
}

func sdFeed(specs []*aggSpec, accs []accumulator, row []types.Value, add bool) {
	for i, a := range accs {
		if f := specs[i].filter; f >= 0 && !isTrue(row[f]) {
			continue
		}
		if add {
			a.add(row)
		} else {
			a.retract(row)
		}
	}
}

// sdView decodes an accumulator's state into a comparable form: a DISTINCT aggregate's values as a map
// from encoding to multiplicity (the set's order is a hash table's), then the rest as bytes.
func sdView(t *testing.T, a accumulator, multiplicities bool) string {
	b := a.appendState(nil)
	d, ok := a.(*distinctAcc)
	if !ok {
		return fmt.Sprintf("%x", b)
	}
	dec := stateDec{b: b}
	m := map[string]int64{}
	for range dec.count() {
		k := dec.bytes()
		c := dec.varint()
		if !multiplicities {
			c = 1
		}
		m[string(k)] = c
	}
	if dec.err != nil {
		t.Fatalf("%s DISTINCT state does not decode: %v", d.s.fn, dec.err)
	}
	return fmt.Sprint(m, fmt.Sprintf("%x", dec.b))
}

// TestSharedDistinctMatchesSeparateSets: a group's DISTINCT aggregates sharing one set per argument give,
// after every insertion or retraction, the results separate sets give, and the same state per aggregate
// (multiplicities too when the input retracts); snapshots restore across the two both ways (an unshared
// snapshot is the format before sharing) and the runs go on equal; resets (group reuse) empty them.
func TestSharedDistinctMatchesSeparateSets(t *testing.T) {
	shared := 0
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 97))
		retract := rng.IntN(2) == 0
		specs := sdSpecs(t, rng, retract)
		sep, sh := sdAccs(specs, false), sdAccs(specs, true)
		for _, a := range sh {
			if d, ok := a.(*distinctAcc); ok && d.sh != nil {
				shared++
				break
			}
		}
		var live [][]types.Value
		b := func(p float64) types.Value { return types.BoolValue(rng.Float64() < p) }
		check := func(step int, what string) {
			for i := range specs {
				if g, w := sh[i].result(), sep[i].result(); g.IsNull() != w.IsNull() || (!g.IsNull() && !types.Equal(g, w, specs[i].resType)) {
					t.Fatalf("seed %d step %d (%s) aggregate %d %s: shared %v, separate %v", seed, step, what, i, specs[i].fn, g, w)
				}
				if g, w := sdView(t, sh[i], retract), sdView(t, sep[i], retract); g != w {
					t.Fatalf("seed %d step %d (%s) aggregate %d: shared state %s, separate %s", seed, step, what, i, g, w)
				}
			}
		}
		for step := range 150 {
			switch r := rng.IntN(40); {
			case r == 0: // reset: the group is recycled
				for i := range specs {
					sh[i].reset()
					sep[i].reset()
				}
				live = live[:0]
				check(step, "reset")
			case r == 2 || r == 3: // one aggregate alone is reset (the shared set clears its variant only)
				i := rng.IntN(len(specs))
				sh[i].reset()
				sep[i].reset()
				check(step, "reset one")
			case r == 1: // snapshot one side, restore into fresh accumulators of the other kind
				toShared := rng.IntN(2) == 0
				from, to := sep, sdAccs(specs, true)
				if !toShared {
					from, to = sh, sdAccs(specs, false)
				}
				for i := range specs {
					rest, err := to[i].loadState(from[i].appendState(nil))
					if err != nil || len(rest) != 0 {
						t.Fatalf("seed %d step %d: restore aggregate %d: %v (%d bytes left)", seed, step, i, err, len(rest))
					}
				}
				if toShared {
					sh = to
				} else {
					sep = to
				}
				check(step, "restore")
			case retract && len(live) > 0 && r < 16:
				k := rng.IntN(len(live))
				row := live[k]
				live = append(live[:k], live[k+1:]...)
				sdFeed(specs, sh, row, false)
				sdFeed(specs, sep, row, false)
				check(step, "retract")
			default:
				x := types.IntValue(int64(rng.IntN(12)))
				if rng.IntN(10) == 0 {
					x = types.NullValue
				}
				s := types.StringValue(fmt.Sprint("v", rng.IntN(9)))
				row := []types.Value{x, s, b(0.5), b(0.3), b(0.8)}
				live = append(live, row)
				sdFeed(specs, sh, row, true)
				sdFeed(specs, sep, row, true)
				check(step, "add")
			}
		}
	}
	if shared < 200 {
		t.Fatalf("only %d of 500 seeds share a set", shared)
	}
}

// TestSharedDistinctDuplicateRefused: a snapshot that lists a value twice is refused by a shared aggregate
// as by an unshared one.
func TestSharedDistinctDuplicateRefused(t *testing.T) {
	for _, retract := range []bool{false, true} {
		specs := []*aggSpec{}
		for _, c := range aggCalls(t, sdTypes, "COUNT(DISTINCT $0)", "COUNT(DISTINCT $0) FILTER $2") {
			s, err := compileAgg(c, sdTypes, retract)
			if err != nil {
				t.Fatal(err)
			}
			specs = append(specs, s)
		}
		accs := sdAccs(specs, true)
		key := types.AppendKey(nil, types.IntValue(7), types.BigIntType())
		var b []byte
		b = binary.AppendUvarint(b, 2)
		for range 2 {
			b = binary.AppendUvarint(b, uint64(len(key)))
			b = append(b, key...)
			b = binary.AppendVarint(b, 1)
		}
		b = accs[0].(*distinctAcc).inner.appendState(b)
		if _, err := accs[1].loadState(b); err == nil {
			t.Fatalf("retract=%v: a value listed twice was accepted", retract)
		}
	}
}

// sdStateBytes is the live heap per distinct value of a group with COUNT(DISTINCT x) under no filter and
// three FILTERs (Nexmark q15's bidders), for n values each seen by every variant with probability 1/2.
func sdStateBytes(b *testing.B, n int, share bool) float64 {
	specs := []*aggSpec{}
	in := sdTypes
	for _, c := range aggCalls(b, in, "COUNT(DISTINCT $0)", "COUNT(DISTINCT $0) FILTER $2", "COUNT(DISTINCT $0) FILTER $3", "COUNT(DISTINCT $0) FILTER $4") {
		s, err := compileAgg(c, in, false)
		if err != nil {
			b.Fatal(err)
		}
		specs = append(specs, s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	accs := sdAccs(specs, share)
	row := make([]types.Value, 5)
	for i := range n {
		row[0] = types.IntValue(int64(i) * 7919)
		for f := 2; f < 5; f++ {
			row[f] = types.BoolValue(rng.IntN(2) == 0)
		}
		sdFeed(specs, accs, row, true)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(accs)
	return float64(int64(ms.HeapAlloc)-int64(base)) / float64(n)
}

// BenchmarkSharedDistinctState reports the live heap per distinct value (B/value) of four COUNT(DISTINCT x)
// FILTER variants over 1M values on insert-only input, sharing one set (shared) or one set each (separate).
func BenchmarkSharedDistinctState(b *testing.B) {
	for _, share := range []bool{true, false} {
		b.Run(map[bool]string{true: "shared", false: "separate"}[share], func(b *testing.B) {
			var per float64
			for range b.N {
				per = sdStateBytes(b, 1_000_000, share)
			}
			b.ReportMetric(per, "B/value")
		})
	}
}
