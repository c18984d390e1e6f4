package exec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// TestRankUpdatingColumns: a Rank over an updating input (ROW_NUMBER, RANK or DENSE_RANK; N of 1, 3, 10 or
// unbounded; with and without the row number) whose input gets columnar batches of inserts, deletes and
// -U/+U pairs (retractions of live rows and of rows never inserted, selection vectors, rows pushed as rows
// in between) emits exactly what it emits for the same rows and holds the same state after every step.
func TestRankUpdatingColumns(t *testing.T) {
	partSets := [][]int{{0}, {1}, {0, 1}, {5}}
	before := RankColumnBatches()
	for seed := range propertyRounds(48) {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x0bd7))
		cfg := RankConfig{Func: []string{"", "ROW_NUMBER", "RANK", "DENSE_RANK"}[rng.IntN(4)], Partition: partSets[seed%len(partSets)],
			Order: []SortKey{{Col: 2, Desc: rng.IntN(2) == 0, NullsFirst: rng.IntN(2) == 0}}, Limit: []int64{1, 3, 10, -1}[rng.IntN(4)],
			RowNumber: rng.IntN(3) != 0, Types: rankVecTypes}
		name := fmt.Sprintf("seed %d (%s limit %d, partition %v, row number %v)", seed, cfg.Func, cfg.Limit, cfg.Partition, cfg.RowNumber)
		rowRec, colRec := &recorder{}, &recorder{}
		rop, cop := NewRank(cfg, rowRec), NewRank(cfg, colRec)
		if !vec.Accepts(cop) {
			t.Fatalf("%s: does not take columns", name)
		}
		var live [][]types.Value
		now := int64(1000)
		retracts := 0
		for step := range 60 {
			var rows []changelog.Row
			for range 1 + rng.IntN(12) {
				now += int64(rng.IntN(2))
				switch k := rng.IntN(10); {
				case k < 4 && len(live) > 0:
					x := rng.IntN(len(live))
					old := live[x]
					live = append(live[:x], live[x+1:]...)
					if k < 2 {
						nw := rankVecRow(rng, now)
						live = append(live, nw)
						rows = append(rows, changelog.Row{Kind: changelog.UpdateBefore, Vals: old}, changelog.Row{Kind: changelog.UpdateAfter, Vals: nw})
					} else {
						rows = append(rows, changelog.Row{Kind: changelog.Delete, Vals: old})
					}
					retracts++
				case k == 4: // a row that was never inserted
					rows = append(rows, changelog.Row{Kind: changelog.Delete, Vals: rankVecRow(rng, now)})
				default:
					r := rankVecRow(rng, now)
					live = append(live, r)
					rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: r})
				}
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
			err := rop.Push(&b)
			if err == nil {
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
		if err := rop.End(); err != nil {
			t.Fatal(err)
		}
		if err := cop.End(); err != nil {
			t.Fatal(err)
		}
		if len(rowRec.rows) == 0 || retracts == 0 {
			t.Fatalf("%s: %d rows out, %d retractions", name, len(rowRec.rows), retracts)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
	}
	if RankColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}
