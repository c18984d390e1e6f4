package nexmark

import (
	"reflect"
	"testing"

	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// The columnar generator produces exactly the events of the row generator (same values, same random draws),
// for people, auctions and bids, across batches.
func TestColumnsEqualRows(t *testing.T) {
	s := defaultSettings()
	s.NumEvents = 5000
	rowsGen, colsGen := newTestGenerator(s, 42), newTestGenerator(s, 42)
	var conv vec.RowConv
	cols := newEventCols()
	kinds := map[int64]int{}
	for n := 0; rowsGen.hasNext(); n++ {
		cols.reset(333)
		for i := 0; i < 333 && colsGen.hasNext(); i++ {
			colsGen.nextCols(cols)
		}
		cols.finish()
		got := conv.Rows(&cols.b)
		for _, r := range got.Rows {
			want := make([]types.Value, 4)
			rowsGen.next(want)
			kinds[want[0].I]++
			if !reflect.DeepEqual(r.Vals, want) {
				t.Fatalf("event %d: columns give %v, rows %v", rowsGen.count, r.Vals, want)
			}
		}
	}
	if colsGen.hasNext() || colsGen.rng != rowsGen.rng {
		t.Fatal("the generators diverged")
	}
	if kinds[typePerson] == 0 || kinds[typeAuction] == 0 || kinds[typeBid] == 0 {
		t.Fatalf("event types: %v", kinds)
	}
}
