package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// Left: k BIGINT, s STRING, v STRING, d DECIMAL(10, 2), t TIMESTAMP; right: k BIGINT, s STRING, w BIGINT,
// d DECIMAL(10, 2), t TIMESTAMP.
var (
	joinVecLeft  = []types.Type{types.BigIntType(), types.StringType(), types.StringType(), types.DecimalType(10, 2), types.TimestampType(3)}
	joinVecRight = []types.Type{types.BigIntType(), types.StringType(), types.BigIntType(), types.DecimalType(10, 2), types.TimestampType(3)}
)

// joinVecRow is a random row of side s with NULLs (keys included) and repeated key values.
func joinVecRow(rng *rand.Rand, s int, now int64) []types.Value {
	null := func(v types.Value) types.Value {
		if rng.IntN(10) == 0 {
			return types.NullValue
		}
		return v
	}
	third := types.StringValue(fmt.Sprint("v", rng.IntN(50)))
	if s == 1 {
		third = types.IntValue(int64(rng.IntN(50)))
	}
	return []types.Value{null(types.IntValue(int64(rng.IntN(6)))), null(types.StringValue(fmt.Sprint("s", rng.IntN(4)))),
		null(third), null(types.DecimalValue(int64(rng.IntN(5)*25), 2)), null(types.TimestampValue(now-int64(rng.IntN(8)), 0))}
}

// TestJoinColumns: a regular join whose inputs get columnar batches emits exactly what it emits for the same
// rows (values, kinds, order, pushes) and holds the same state (snapshot entries, byte for byte, after every
// step), for inner and outer joins, compact keys (integer, string, both) and encoded keys (DECIMAL), NULL
// keys and values, strings, selection vectors, a side that retracts (rows into a columnar input too),
// interval joins with watermarks, and warmed lookups.
func TestJoinColumns(t *testing.T) {
	keySets := [][2][]int{{{0}, {0}}, {{1}, {1}}, {{0, 1}, {0, 1}}, {{3}, {3}}}
	before := JoinColumnBatches()
	for seed := range propertyRounds(96) {
		rng := rand.New(rand.NewPCG(uint64(seed), 17))
		keys := keySets[seed%len(keySets)]
		jt := []JoinType{InnerJoin, LeftJoin, RightJoin, FullJoin}[seed/len(keySets)%4]
		interval := seed/16%3 == 2
		insertOnly := [2]bool{true, seed%3 != 1}
		if interval {
			insertOnly = [2]bool{true, true}
		}
		warm := rng.IntN(2) == 0
		cfg := JoinConfig{Type: jt, LeftKeys: keys[0], RightKeys: keys[1], LeftTypes: joinVecLeft, RightTypes: joinVecRight,
			LeftInsertOnly: insertOnly[0], RightInsertOnly: insertOnly[1]}
		if interval {
			cfg.Interval = &IntervalBounds{LeftTime: 4, RightTime: 4, Lower: -3, Upper: 3}
		}
		name := fmt.Sprintf("seed %d (%s, keys %v, interval %v, insert-only %v, warm %v)", seed, jt, keys, interval, insertOnly, warm)
		rowRec, colRec := &recorder{}, &recorder{}
		rl, rr := NewJoin(cfg, rowRec)
		cl, cr := NewJoin(cfg, colRec)
		if warm {
			rl.(*joinInput).j.warmSlots, cl.(*joinInput).j.warmSlots = 1, 1
		}
		if (cl.(*joinInput).j.kcats == nil) != (keys[0][0] == 3) {
			t.Fatalf("%s: compact keys %v", name, cl.(*joinInput).j.kcats)
		}
		rowIns, colIns := [2]changelog.Output{rl, rr}, [2]changelog.Output{cl, cr}
		for s := range 2 {
			if got := colIns[s].(vec.Output).AcceptsColumns(); got != insertOnly[s] {
				t.Fatalf("%s: side %d takes columns %v", name, s, got)
			}
		}
		var live [2][][]types.Value
		now := int64(0)
		for step := range 60 {
			s := rng.IntN(2)
			var err error
			switch {
			case step == 59:
				for s := range 2 {
					if err = rowIns[s].End(); err == nil {
						err = colIns[s].End()
					}
					if err != nil {
						break
					}
				}
			case rng.IntN(6) == 0:
				wm := now - int64(rng.IntN(4))
				if err = rowIns[s].Watermark(wm); err == nil {
					err = colIns[s].Watermark(wm)
				}
			default:
				now += int64(rng.IntN(2))
				var rows []changelog.Row
				for range 1 + rng.IntN(8) {
					if !insertOnly[s] && len(live[s]) > 0 && rng.IntN(3) == 0 {
						k := rng.IntN(len(live[s]))
						rows = append(rows, changelog.Row{Kind: changelog.Delete, Vals: live[s][k]})
						live[s] = append(live[s][:k], live[s][k+1:]...)
						continue
					}
					vals := joinVecRow(rng, s, now)
					live[s] = append(live[s], vals)
					rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: vals})
				}
				ts := [2][]types.Type{joinVecLeft, joinVecRight}[s]
				var vb vec.Batch
				if !vec.FromRows(&vb, rows, ts, nil) {
					t.Fatal("rows without a columnar form")
				}
				var b changelog.Batch
				if rng.IntN(3) == 0 { // a selection vector
					vb.Sel = []int32{}
					for k, r := range rows {
						if r.Kind.IsRetract() || rng.IntN(3) != 0 {
							vb.Sel = append(vb.Sel, int32(k))
							b.Append(r.Kind, r.Vals)
						} else {
							live[s] = removeVals(live[s], r.Vals)
						}
					}
				} else {
					b.Rows = rows
				}
				if err = rowIns[s].Push(&b); err != nil {
					break
				}
				if rng.IntN(6) == 0 {
					err = colIns[s].Push(&b)
				} else {
					err = colIns[s].(vec.Output).PushColumns(&vb)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rs, cs := joinSnapshotText(t, StateOf(rl)), joinSnapshotText(t, StateOf(cl)); rs != cs {
				t.Fatalf("%s: after step %d the columnar join's snapshot differs\ncolumns:\n%s\nrows:\n%s", name, step, cs, rs)
			}
		}
		if len(rowRec.rows) == 0 {
			t.Fatalf("%s: no output", name)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
	}
	if JoinColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// removeVals removes the last row of rows identical to vals (a row not pushed after all).
func removeVals(rows [][]types.Value, vals []types.Value) [][]types.Value {
	for k := len(rows) - 1; k >= 0; k-- {
		if &rows[k][0] == &vals[0] {
			return append(rows[:k], rows[k+1:]...)
		}
	}
	return rows
}

// joinSnapshotText returns sn's snapshot entries, sorted, as text.
func joinSnapshotText(t *testing.T, sn state.Snapshotter) string {
	t.Helper()
	mem := state.NewMemory()
	if err := sn.SnapshotState(mem); err != nil {
		t.Fatal(err)
	}
	var lines []string
	r := mem.Reader()
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		lines = append(lines, fmt.Sprintf("%d %x %x", ns, k, v))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
