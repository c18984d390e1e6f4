package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// p STRING, id BIGINT, rt TIMESTAMP(3) (an event time), pt TIMESTAMP(3) (a processing time: increasing),
// pad STRING, d DECIMAL(10, 2).
var rankVecTypes = []types.Type{types.StringType(), types.BigIntType(), types.TimestampType(3), types.TimestampType(3),
	types.StringType(), types.DecimalType(10, 2)}

// rankVecRow is a random row with NULLs (partition and order columns included) and repeated keys.
func rankVecRow(rng *rand.Rand, now int64) []types.Value {
	null := func(v types.Value) types.Value {
		if rng.IntN(12) == 0 {
			return types.NullValue
		}
		return v
	}
	return []types.Value{null(types.StringValue(fmt.Sprint("p", rng.IntN(30)))), null(types.IntValue(int64(rng.IntN(40)))),
		null(types.TimestampValue(now-int64(rng.IntN(20)), 0)), types.TimestampValue(now, 0),
		null(types.StringValue(fmt.Sprint("pad", rng.IntN(1000)))), null(types.DecimalValue(int64(rng.IntN(6)*25), 2))}
}

// TestRankDedupColumns: a deduplication (keep the first or the last row, by event time or processing time)
// whose input gets columnar batches emits exactly what it emits for the same rows (values, kinds, order,
// pushes) and holds the same state (snapshot entries, byte for byte, after every step), for compact keys
// (string, integer, both) and encoded keys (DECIMAL), NULL keys and order values, selection vectors, rows
// pushed as rows in between, with and without the row number, and warmed lookups. Top-Ns of an insert-only
// input (N of 2, 3 or 10, ROW_NUMBER, RANK or DENSE_RANK) take columns too, with the same output and state,
// and so do Ranks over an updating input (TestRankUpdatingColumns retracts).
func TestRankDedupColumns(t *testing.T) {
	partSets := [][]int{{0}, {1}, {0, 1}, {5}}
	before := RankColumnBatches()
	for seed := range propertyRounds(96) {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x5ec0))
		keepLast, rowtime := seed%2 == 1, seed/2%2 == 1
		order := SortKey{Col: 3, Desc: keepLast}
		if rowtime {
			order = SortKey{Col: 2, Desc: keepLast, NullsFirst: rng.IntN(2) == 0}
		}
		cfg := RankConfig{Func: []string{"", "ROW_NUMBER"}[rng.IntN(2)], Partition: partSets[seed/4%len(partSets)],
			Order: []SortKey{order}, Limit: 1, RowNumber: rng.IntN(2) == 0, Types: rankVecTypes, InsertOnly: true}
		topN, updating := seed >= 64, seed%16 == 15
		if topN {
			cfg.Limit = []int64{2, 3, 10}[rng.IntN(3)]
			cfg.Func = []string{"", "RANK", "DENSE_RANK"}[rng.IntN(3)]
		}
		if updating {
			cfg.Limit, cfg.InsertOnly = 3, false
		}
		warm := rng.IntN(2) == 0
		name := fmt.Sprintf("seed %d (keep last %v, rowtime %v, partition %v, %s limit %d, insert-only %v, warm %v)", seed, keepLast,
			rowtime, cfg.Partition, cfg.Func, cfg.Limit, cfg.InsertOnly, warm)
		rowRec, colRec := &recorder{}, &recorder{}
		rop, cop := NewRank(cfg, rowRec), NewRank(cfg, colRec)
		if warm {
			rop.(*rankOp).warmSlots, cop.(*rankOp).warmSlots = 1, 1
		}
		if !vec.Accepts(cop) {
			t.Fatalf("%s: does not take columns", name)
		}
		now := int64(1000)
		for step := range 80 {
			var err error
			switch {
			case step == 79:
				if err = rop.End(); err == nil {
					err = cop.End()
				}
			case rng.IntN(8) == 0:
				if err = rop.Watermark(now - 5); err == nil {
					err = cop.Watermark(now - 5)
				}
			default:
				var rows []changelog.Row
				for range 1 + rng.IntN(12) {
					now += int64(rng.IntN(2))
					rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: rankVecRow(rng, now)})
				}
				var vb vec.Batch
				if !vec.FromRows(&vb, rows, rankVecTypes, nil) {
					t.Fatal("rows without a columnar form")
				}
				var b changelog.Batch
				if rng.IntN(3) == 0 { // a selection vector
					vb.Sel = []int32{}
					for k, r := range rows {
						if rng.IntN(3) != 0 {
							vb.Sel = append(vb.Sel, int32(k))
							b.Append(r.Kind, r.Vals)
						}
					}
				} else {
					b.Rows = rows
				}
				if err = rop.Push(&b); err != nil {
					break
				}
				if rng.IntN(6) == 0 {
					err = cop.Push(&b)
				} else {
					err = cop.(vec.Output).PushColumns(&vb)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rs, cs := joinSnapshotText(t, StateOf(rop)), joinSnapshotText(t, StateOf(cop)); rs != cs {
				t.Fatalf("%s: after step %d the columnar rank's snapshot differs\ncolumns:\n%s\nrows:\n%s", name, step, cs, rs)
			}
		}
		if len(rowRec.rows) == 0 {
			t.Fatalf("%s: no output", name)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
	}
	if RankColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// TestRankDedupColumnsRefused: a columnar batch with a retraction or too few columns is refused, as rows are.
func TestRankDedupColumnsRefused(t *testing.T) {
	cfg := RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 3}}, Limit: 1, Types: rankVecTypes, InsertOnly: true}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := []changelog.Row{{Kind: changelog.Insert, Vals: rankVecRow(rng, 5)}, {Kind: changelog.Delete, Vals: rankVecRow(rng, 5)}}
	var vb vec.Batch
	if !vec.FromRows(&vb, rows, rankVecTypes, nil) {
		t.Fatal("rows without a columnar form")
	}
	op := NewRank(cfg, &recorder{}).(vec.Output)
	if err := op.PushColumns(&vb); err == nil {
		t.Fatal("a retraction was taken")
	}
	var short vec.Batch
	if !vec.FromRows(&short, []changelog.Row{{Kind: changelog.Insert, Vals: rows[0].Vals[:2]}}, rankVecTypes[:2], nil) {
		t.Fatal("rows without a columnar form")
	}
	if err := op.PushColumns(&short); err == nil {
		t.Fatal("a row without the order column was taken")
	}
}
