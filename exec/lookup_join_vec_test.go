package exec

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// mapTable is an in-memory lookup table keyed by a BIGINT (the shape of a filesystem side input).
type mapTable struct {
	rows    map[int64][][]types.Value
	lookups int
}

func (m *mapTable) Open(context.Context) error { return nil }
func (m *mapTable) Close() error               { return nil }
func (m *mapTable) Lookup(_ context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error) {
	m.lookups++
	if key[0].IsNull() {
		return dst, nil
	}
	return append(dst, m.rows[key[0].I]...), nil
}

// TestLookupJoinColumnsMatchRows joins random columnar batches (selections, NULL keys, -D rows, keys with
// no row and, in some batches, keys with two rows) by the columnar path and by the row path: the same rows.
func TestLookupJoinColumnsMatchRows(t *testing.T) {
	leftTypes := []types.Type{types.BigIntType(), types.StringType(), types.BigIntType()}
	rightTypes := []types.Type{types.BigIntType(), types.StringType(), types.DoubleType()}
	table := &mapTable{rows: map[int64][][]types.Value{}}
	for k := int64(0); k < 50; k++ {
		if k%7 == 3 {
			continue // no row
		}
		v := types.StringValue(fmt.Sprintf("v%d-é", k))
		if k%11 == 5 {
			v = types.NullValue
		}
		table.rows[k] = [][]types.Value{{types.IntValue(k), v, types.FloatValue(float64(k) / 4)}}
	}
	table.rows[99] = [][]types.Value{{types.IntValue(99), types.StringValue("a"), types.FloatValue(1)}, {types.IntValue(99), types.StringValue("b"), types.FloatValue(2)}}
	rng := rand.New(rand.NewSource(3))
	columnar := 0
	for _, outer := range []bool{false, true} {
		for bi := 0; bi < 60; bi++ {
			n := 1 + rng.Intn(200)
			rows := make([]changelog.Row, n)
			for i := range rows {
				key := types.IntValue(rng.Int63n(55))
				switch {
				case rng.Intn(9) == 0:
					key = types.NullValue
				case bi%10 == 9 && rng.Intn(20) == 0:
					key = types.IntValue(99)
				}
				rows[i] = changelog.Row{Kind: changelog.Kind(rng.Intn(2) * 3), Vals: []types.Value{types.IntValue(int64(i)), types.StringValue(strings.Repeat("x", i%4)), key}}
			}
			var b vec.Batch
			if !vec.FromRows(&b, rows, leftTypes, nil) {
				t.Fatal("rows do not convert")
			}
			if bi%2 == 1 {
				for i := 0; i < n; i++ {
					if rng.Intn(3) > 0 {
						b.Sel = append(b.Sel, int32(i))
					}
				}
				if b.Sel == nil {
					b.Sel = []int32{}
				}
			}
			var selRows []changelog.Row
			for k := 0; k < b.Len(); k++ {
				selRows = append(selRows, rows[b.Row(k)])
			}
			cfg := LookupJoinConfig{LeftKeys: []int{2}, RightWidth: 3, Outer: outer, Source: table, RightTypes: rightTypes}
			run := func(cols bool) (string, int) {
				var sb strings.Builder
				pushed := 0
				sink := NewCollect(func(r changelog.Row) error {
					sb.WriteString(r.Kind.String())
					for _, v := range r.Vals {
						sb.WriteString(" " + vecFormatValue(v))
					}
					sb.WriteByte('\n')
					return nil
				})
				j := NewLookupJoin(cfg, sink)
				var err error
				if cols {
					err = j.PushColumns(&b)
					if j.vx != nil {
						pushed = len(j.vx.sel)
					}
				} else {
					err = j.Push(&changelog.Batch{Rows: selRows})
				}
				if err != nil {
					t.Fatal(err)
				}
				return sb.String(), pushed
			}
			want, _ := run(false)
			got, n := run(true)
			if got != want {
				t.Fatalf("outer=%v batch %d:\n%s\nrow path:\n%s", outer, bi, diffLines(got, want), want)
			}
			if n > 0 {
				columnar++
			}
		}
	}
	if columnar < 80 {
		t.Fatalf("only %d batches took the columnar path", columnar)
	}
}
