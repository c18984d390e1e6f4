package vec

import (
	"testing"

	"github.com/sluicesql/sluice/types"
)

// TestRowConvEmptySelection: a batch whose selection is empty converts to no rows (it read past the arena).
func TestRowConvEmptySelection(t *testing.T) {
	c := ColFor(types.BigIntType())
	c.Reset(2)
	c.I64 = append(c.I64, 1, 2)
	s := ColFor(types.StringType())
	s.Reset(2)
	s.AppendString("a")
	s.AppendString("b")
	var conv RowConv
	b := &Batch{N: 2, Sel: []int32{}, Cols: []*Col{c, s}}
	if rows := conv.Rows(b); len(rows.Rows) != 0 {
		t.Fatalf("%d rows from an empty selection", len(rows.Rows))
	}
	b.Sel = []int32{1}
	if rows := conv.Rows(b); len(rows.Rows) != 1 || rows.Rows[0].Vals[0].I != 2 || rows.Rows[0].Vals[1].S != "b" {
		t.Fatalf("rows %v", rows.Rows)
	}
}
