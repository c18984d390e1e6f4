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

// groupAggColumnCase is one configuration of TestGroupAggColumns.
type groupAggColumnCase struct {
	name    string
	specs   []string
	filters map[int]int // call → FILTER column
	compact bool        // the groups are compact (on both sides) at the end
}

// TestGroupAggColumns: the one-phase group aggregate's columnar input emits exactly the rows (values, kinds,
// order, pushes) its row input emits for the same rows, and leaves the same state (snapshot entries, byte
// for byte), with and without retractions, NULLs, FILTER clauses, DISTINCT calls, selection vectors, string,
// integer, composite and no keys, compact and map groups, and with the row-buffering and combining
// mini-batch operators. Some batches reach the columnar operator as rows, so the two inputs mix.
func TestGroupAggColumns(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType(), types.StringType(), types.DecimalType(10, 2),
		types.DoubleType(), types.BooleanType(), types.BigIntType()}
	cases := []groupAggColumnCase{
		{name: "compact", specs: []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM0($1)", "SUM($4)", "AVG($4)", "SUM($6)"},
			filters: map[int]int{2: 5, 5: 5}, compact: true},
		{name: "compact minmax", specs: []string{"COUNT(*)", "MIN($1)", "MAX($6)", "SUM($1)"}, filters: map[int]int{1: 5}, compact: true},
		{name: "compact decimal", specs: []string{"COUNT(*)", "SUM($3)", "AVG($1)"}, compact: true},
		{name: "map", specs: []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($4)", "SUM($3)", "COUNT(DISTINCT $6)",
			"COUNT(DISTINCT $6)", "COUNT(DISTINCT $2)", "BOOL_AND($5)", "MIN($1)", "MAX($2)", "SUM(DISTINCT $1)", "MAX($3)"},
			filters: map[int]int{2: 5, 6: 5, 7: 5}},
		{name: "map q15", specs: []string{"COUNT(*)", "COUNT(*)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $6)",
			"COUNT(DISTINCT $6)"}, filters: map[int]int{1: 5, 3: 5, 5: 5}},
		{name: "compact q16", specs: []string{"COUNT(*)", "MAX($2)", "COUNT(*)", "COUNT(DISTINCT $6)", "COUNT(DISTINCT $6)",
			"COUNT(DISTINCT $1)", "COUNT(DISTINCT $1)", "MIN($2)", "COUNT(DISTINCT $0)"}, filters: map[int]int{2: 5, 4: 5, 6: 5}, compact: true},
	}
	before := GroupAggColumnBatches()
	compactSeen := 0
	for seed := range 120 {
		rng := rand.New(rand.NewPCG(uint64(seed), 11))
		c := cases[seed%len(cases)]
		retract := seed/len(cases)%2 == 1
		mode := seed / (2 * len(cases)) % 3 // 0: no mini-batch, 1: mini-batch, 2: mini-batch of size 1..5
		specs := c.specs
		if retract {
			specs = slices.DeleteFunc(slices.Clone(specs), func(s string) bool { return strings.HasPrefix(s, "M") })
		}
		aggs := aggCalls(t, in, specs...)
		for call, col := range c.filters {
			if call < len(aggs) {
				aggs[call].Filter = col
			}
		}
		keys := [][]int{{6}, {0}, {2, 6}, nil, {1}}[rng.IntN(5)]
		cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggs, InsertOnly: !retract, EmitUpdateBefore: rng.IntN(2) == 0}
		size := int64(1 + rng.IntN(40))
		if mode == 2 {
			size = int64(1 + rng.IntN(5))
		}
		name := fmt.Sprintf("seed %d (%s, keys %v, retract %v, mode %d, size %d)", seed, c.name, keys, retract, mode, size)
		newOp := func(rec *recorder) changelog.Output {
			var op changelog.Output
			var err error
			if mode == 0 {
				op, err = NewGroupAgg(cfg, rec)
			} else {
				op, err = NewMiniBatchGroupAgg(cfg, mbConfig(size), rec)
			}
			if err != nil {
				t.Fatal(err)
			}
			return op
		}
		rowRec, colRec := &recorder{}, &recorder{}
		rowOp, colOp := newOp(rowRec), newOp(colRec)
		cols, ok := colOp.(vec.Output)
		if !ok || !cols.AcceptsColumns() {
			if mode != 0 && !combinable(cfg) {
				continue // the row-buffering mini-batch takes rows
			}
			t.Fatalf("%s: the operator does not take columns", name)
		}
		batches, sels := vecTestBatches(rng, retract)
		for i, b := range batches {
			var vb vec.Batch
			if !vec.FromRows(&vb, b.Rows, in, nil) {
				t.Fatal("rows without a columnar form")
			}
			var rows changelog.Batch
			for k, r := range b.Rows {
				if sels[i] == nil || sels[i][k] {
					rows.Append(r.Kind, r.Vals)
					if sels[i] != nil {
						vb.Sel = append(vb.Sel, int32(k))
					}
				}
			}
			if sels[i] != nil && vb.Sel == nil {
				vb.Sel = []int32{}
			}
			if err := rowOp.Push(&rows); err != nil {
				t.Fatal(err)
			}
			var err error
			if rng.IntN(5) == 0 {
				err = colOp.Push(&rows)
			} else {
				err = cols.PushColumns(&vb)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if mode == 0 && (rowOp.(*groupAgg).compact != nil) != (colOp.(*groupAgg).compact != nil) {
			t.Fatalf("%s: compact groups on one side only", name)
		}
		if mode == 0 && colOp.(*groupAgg).compact != nil {
			compactSeen++
		}
		rowSnap, colSnap := snapshotEntries(t, rowOp), snapshotEntries(t, colOp)
		if rowSnap != colSnap {
			t.Fatalf("%s: the columnar operator's snapshot differs\ncolumns:\n%s\nrows:\n%s", name, colSnap, rowSnap)
		}
		if err := rowOp.End(); err != nil {
			t.Fatal(err)
		}
		if err := colOp.End(); err != nil {
			t.Fatal(err)
		}
		if len(rowRec.rows) == 0 && len(batches) > 2 {
			t.Fatalf("%s: no output", name)
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
	}
	if compactSeen == 0 {
		t.Fatal("no case ended with compact groups")
	}
	if GroupAggColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// snapshotEntries returns op's snapshot entries, sorted, as text.
func snapshotEntries(t *testing.T, op changelog.Output) string {
	t.Helper()
	mem := state.NewMemory()
	if err := op.(state.Snapshotter).SnapshotState(mem); err != nil {
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

// TestGroupAggColumnsPath: which batches take the columnar path (the counter) and which go through rows.
func TestGroupAggColumnsPath(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType(), types.DecimalType(10, 2)}
	rows := []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.IntValue(2), types.DecimalValue(5, 2)}}}
	var vb vec.Batch
	vec.FromRows(&vb, rows, in, nil)
	for _, c := range []struct {
		specs   []string
		columns bool
	}{
		{[]string{"COUNT(*)", "SUM($1)"}, true},           // compact
		{[]string{"COUNT(DISTINCT $1)", "MAX($1)"}, true}, // map
		{[]string{"SUM($2)"}, false},                      // compact with a DECIMAL sum: rows
		{[]string{"COUNT(DISTINCT $1)", "SUM($2)"}, true}, // map: a DECIMAL sum value by value
	} {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, c.specs...), InsertOnly: true}, &recorder{})
		if err != nil {
			t.Fatal(err)
		}
		before := GroupAggColumnBatches()
		if err := op.(vec.Output).PushColumns(&vb); err != nil {
			t.Fatal(err)
		}
		if got := GroupAggColumnBatches() - before; got != map[bool]int64{true: 1}[c.columns] {
			t.Fatalf("%v: %d batches took the columnar path", c.specs, got)
		}
	}
	op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)"), InsertOnly: true}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	del := []changelog.Row{{Kind: changelog.Delete, Vals: rows[0].Vals}}
	vec.FromRows(&vb, del, in, nil)
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "group aggregate received a retraction on an insert-only input: -D" {
		t.Fatalf("retraction: %v", err)
	}
	vb.Cols, vb.Kinds = vb.Cols[:1], nil
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "group aggregate: a columnar batch of 1 columns, the aggregate reads column 1" {
		t.Fatalf("missing column: %v", err)
	}
}
