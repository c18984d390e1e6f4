package changelog

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/types"
)

func row(k Kind, vals ...types.Value) Row { return Row{Kind: k, Vals: vals} }

func text(rows [][]types.Value) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(formatRow(Row{Kind: Insert, Vals: r}))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestMaterializerRetract(t *testing.T) {
	m := NewMaterializer(nil)
	a, one, two := types.StringValue("a"), types.IntValue(1), types.IntValue(2)
	for _, r := range []Row{
		row(Insert, a, one),
		row(Insert, a, one),
		row(Insert, types.StringValue("b"), types.NullValue),
		row(UpdateBefore, a, one),
		row(UpdateAfter, a, two),
		row(Insert, types.StringValue("0"), types.DecimalValue(150, 2)),
		row(Delete, types.StringValue("0"), types.DecimalValue(15, 1)), // 1.5 equals 1.50
	} {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	want := "+I[a, 1]\n+I[a, 2]\n+I[b, null]\n"
	if got := text(m.Rows()); got != want || m.Len() != 3 {
		t.Fatalf("got %d rows\n%s\nwant\n%s", m.Len(), got, want)
	}
	err := m.Apply(row(Delete, a, types.IntValue(3)))
	if err == nil || !strings.Contains(err.Error(), "-D[a, 3]") {
		t.Fatalf("want an error naming the row, got %v", err)
	}
}

func TestMaterializerUpsert(t *testing.T) {
	m := NewMaterializer([]int{0})
	k1, k2 := types.IntValue(1), types.IntValue(2)
	for _, r := range []Row{
		row(Insert, k2, types.StringValue("x")),
		row(Insert, k1, types.StringValue("y")),
		row(UpdateAfter, k1, types.StringValue("z")),
		row(Delete, k2, types.StringValue("x")),
		row(Delete, types.IntValue(9), types.NullValue), // absent key: ignored
		row(Insert, types.IntValue(-5), types.StringValue("w")),
	} {
		if err := m.Apply(r); err != nil {
			t.Fatal(err)
		}
	}
	want := "+I[-5, w]\n+I[1, z]\n"
	if got := text(m.Rows()); got != want || m.Len() != 2 {
		t.Fatalf("got %d rows\n%s\nwant\n%s", m.Len(), got, want)
	}
}
