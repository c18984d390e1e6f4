package exec

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// batchAggTypes are the input columns of the batch-mode columnar tests: VARCHAR, BIGINT, DOUBLE,
// TIMESTAMP(9), DECIMAL(10, 2), DECIMAL(38, 2), BOOLEAN, INT, FLOAT.
var batchAggTypes = []types.Type{types.StringType(), types.BigIntType(), types.DoubleType(), types.TimestampType(9),
	types.DecimalType(10, 2), types.DecimalType(38, 2), types.BooleanType(), types.IntType(), types.FloatType()}

// batchAggSpecs are the calls the tests draw from: typed run kernels, COUNT(DISTINCT), and calls that take
// the values (DECIMAL, strings, MIN/MAX of DOUBLE and TIMESTAMP, FIRST_VALUE, LISTAGG, SUM(DISTINCT), ...).
var batchAggSpecs = []string{"COUNT(*)", "COUNT($1)", "SUM($1)", "AVG($1)", "SUM0($1)", "MIN($1)", "MAX($1)", "SUM($7)",
	"AVG($7)", "MIN($7)", "SUM($2)", "AVG($2)", "MAX($2)", "SUM($8)", "AVG($8)", "SUM($4)", "AVG($4)", "MAX($4)", "SUM($5)",
	"AVG($5)", "SUM0($5)", "MIN($0)", "MAX($0)", "COUNT(DISTINCT $1)", "COUNT(DISTINCT $0)", "SUM(DISTINCT $1)",
	"FIRST_VALUE($0)", "LAST_VALUE($1)", "LISTAGG($0)", "BOOL_AND($6)", "MIN($3)", "COUNT($0, $1)"}

// batchAggValue returns a random value of column c (NULL one time in seven).
func batchAggValue(rng *rand.Rand, c int) types.Value {
	if rng.IntN(7) == 0 {
		return types.NullValue
	}
	switch c {
	case 0:
		return types.StringValue([]string{"", "a", "b", "bb", "a\x00", "c"}[rng.IntN(6)])
	case 1:
		if rng.IntN(10) == 0 {
			return types.IntValue([]int64{math.MaxInt64, math.MinInt64}[rng.IntN(2)])
		}
		return types.IntValue(int64(rng.IntN(9) - 4))
	case 2:
		return types.FloatValue([]float64{0, math.Copysign(0, -1), math.NaN(), 1.5, -2.25, 1e300, 3}[rng.IntN(7)])
	case 3:
		return types.TimestampValue(int64(rng.IntN(3)), int32(rng.IntN(2)*500))
	case 4:
		return types.DecimalValue(int64(rng.IntN(2000)-1000), 2)
	case 5:
		x := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(rng.IntN(37))), nil)
		x.Mul(x, big.NewInt(int64(rng.IntN(19)-9)))
		return types.BigDecimalValue(x, 2)
	case 6:
		return types.BoolValue(rng.IntN(2) == 0)
	case 7:
		return types.IntValue(int64([]int32{math.MaxInt32, math.MinInt32, 1, -7, 0}[rng.IntN(5)]))
	default:
		return types.FloatValue(float64(float32(rng.Float64() * 1e6)))
	}
}

// batchAggInput returns rows grouped by keys (sorted by their key encodings, stable) in groups of 0 to 300
// rows, then cut into batches of 0 to 130 rows, each with a selection vector or not (unselected rows are
// random, not grouped).
func batchAggInput(rng *rand.Rand, keys []int) ([][]changelog.Row, [][]bool) {
	keyTypes := make([]types.Type, len(keys))
	for i, k := range keys {
		keyTypes[i] = batchAggTypes[k]
	}
	type keyed struct {
		key  []byte
		vals []types.Value
	}
	var rows []keyed
	groups := rng.IntN(25)
	if rng.IntN(6) == 0 {
		groups = 0 // empty input
	}
	for range groups {
		group := make([]types.Value, len(batchAggTypes))
		for c := range group {
			group[c] = batchAggValue(rng, c)
		}
		size := []int{1, 1, 2, 3, rng.IntN(20), rng.IntN(300)}[rng.IntN(6)]
		for range size {
			r := make([]types.Value, len(batchAggTypes))
			for c := range r {
				r[c] = batchAggValue(rng, c)
			}
			for _, k := range keys {
				r[k] = group[k]
			}
			if len(keys) > 0 && keys[0] == 2 && rng.IntN(2) == 0 && r[2].T == types.TagFloat && r[2].Float() == 0 {
				r[2] = types.FloatValue(math.Copysign(0, -float64(rng.IntN(2)))) // -0.0 and 0.0 in one group
			}
			rows = append(rows, keyed{key: appendGroupKey(nil, r, keys, keyTypes), vals: r})
		}
	}
	slices.SortStableFunc(rows, func(a, b keyed) int { return bytes.Compare(a.key, b.key) })
	var batches [][]changelog.Row
	var sels [][]bool
	for len(rows) > 0 || rng.IntN(3) == 0 {
		n := min(len(rows), rng.IntN(131))
		var b []changelog.Row
		var sel []bool
		withSel := rng.IntN(3) == 0
		for _, r := range rows[:n] {
			for withSel && rng.IntN(4) == 0 {
				junk := make([]types.Value, len(batchAggTypes))
				for c := range junk {
					junk[c] = batchAggValue(rng, c)
				}
				b = append(b, changelog.Row{Kind: changelog.Insert, Vals: junk})
				sel = append(sel, false)
			}
			b = append(b, changelog.Row{Kind: changelog.Insert, Vals: r.vals})
			sel = append(sel, true)
		}
		if !withSel {
			sel = nil
		}
		rows = rows[n:]
		batches, sels = append(batches, b), append(sels, sel)
	}
	return batches, sels
}

// TestGroupAggBatchColumns: the batch-mode group aggregate over columnar batches emits exactly the rows
// (values, order, pushes) and writes exactly the final state its row input does, over random grouped input:
// NULL, -0.0/0.0 and NaN keys, groups of one row and groups spanning batches, empty batches and empty input
// (a global aggregate's one row), selection vectors, FILTER clauses, integer sums that wrap, DECIMAL sums that
// overflow, and calls on both the typed kernels and the values. Some batches reach it as rows.
func TestGroupAggBatchColumns(t *testing.T) {
	in := batchAggTypes
	keySets := [][]int{nil, {0}, {1}, {2}, {3}, {4}, {5}, {6}, {0, 1}, {6, 2, 3}}
	before := GroupAggBatchColumnBatches()
	emptyGlobal := 0
	for seed := range 400 {
		rng := rand.New(rand.NewPCG(uint64(seed), 22))
		keys := keySets[seed%len(keySets)]
		specs := randomBatchAggSpecs(rng)
		cfg := GroupAggConfig{Keys: keys, InTypes: in, Aggs: aggCalls(t, in, specs...), Batch: true}
		var rowState, colState *state.Memory
		if seed%2 == 1 {
			rowState, colState = state.NewMemory(), state.NewMemory()
		}
		rowRec, colRec := &recorder{}, &recorder{}
		rowCfg, colCfg := cfg, cfg
		if rowState != nil {
			rowCfg.FinalState, colCfg.FinalState = rowState, colState
		}
		rowOp, err := NewGroupAgg(rowCfg, rowRec)
		if err != nil {
			t.Fatal(err)
		}
		colOp, err := NewGroupAgg(colCfg, colRec)
		if err != nil {
			t.Fatal(err)
		}
		cols := colOp.(vec.Output)
		if !cols.AcceptsColumns() {
			t.Fatal("a batch-mode group aggregate does not take columns")
		}
		name := fmt.Sprintf("seed %d (keys %v, %s)", seed, keys, strings.Join(specs, ", "))
		batches, sels := batchAggInput(rng, keys)
		nrows := 0
		for i, b := range batches {
			var vb vec.Batch
			if !vec.FromRows(&vb, b, in, nil) {
				t.Fatalf("%s: rows without a columnar form", name)
			}
			var rows changelog.Batch
			for k, r := range b {
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
			nrows += len(rows.Rows)
			if err := rowOp.Push(&rows); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if rng.IntN(6) == 0 {
				err = colOp.Push(&rows)
			} else {
				err = cols.PushColumns(&vb)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if err := rowOp.End(); err != nil {
			t.Fatal(err)
		}
		if err := colOp.End(); err != nil {
			t.Fatal(err)
		}
		if nrows == 0 && keys == nil {
			emptyGlobal++
		}
		if got, want := colRec.b.String(), rowRec.b.String(); got != want || colRec.pushes != rowRec.pushes || !sameRows(colRec.rows, rowRec.rows) {
			t.Fatalf("%s: columns gave (%d pushes)\n%s\nrows gave (%d pushes)\n%s", name, colRec.pushes, got, rowRec.pushes, want)
		}
		if rowState != nil {
			if got, want := memEntries(t, colState), memEntries(t, rowState); got != want {
				t.Fatalf("%s: the columnar operator's final state differs\ncolumns:\n%s\nrows:\n%s", name, got, want)
			}
		}
	}
	if emptyGlobal == 0 {
		t.Fatal("no global aggregate over empty input")
	}
	if GroupAggBatchColumnBatches() == before {
		t.Fatal("no batch took the columnar path")
	}
}

// memEntries returns the entries of m in order, as text.
func memEntries(t *testing.T, m *state.Memory) string {
	t.Helper()
	var b strings.Builder
	r := m.Reader()
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return b.String()
		}
		fmt.Fprintf(&b, "%d %x %x\n", ns, k, v)
	}
}

// TestGroupAggBatchColumnsRetraction: a retraction in a columnar batch fails the batch-mode aggregate as it
// fails the row path, and a batch lacking a column the aggregate reads is refused.
func TestGroupAggBatchColumnsRetraction(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "SUM($1)"), Batch: true}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	rows := []changelog.Row{{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(1), types.IntValue(2)}},
		{Kind: changelog.UpdateBefore, Vals: []types.Value{types.IntValue(1), types.IntValue(2)}}}
	var vb vec.Batch
	vec.FromRows(&vb, rows, in, nil)
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "group aggregate received a retraction on an insert-only input: batch mode got -U" {
		t.Fatalf("retraction: %v", err)
	}
	vb.Cols, vb.Kinds = vb.Cols[:1], nil
	if err := op.(vec.Output).PushColumns(&vb); err == nil || err.Error() != "group aggregate: a columnar batch of 1 columns, the aggregate reads column 1" {
		t.Fatalf("missing column: %v", err)
	}
}

// randomBatchAggSpecs draws 1-8 calls of batchAggSpecs, a third of them with FILTER $6.
func randomBatchAggSpecs(rng *rand.Rand) []string {
	var specs []string
	for range 1 + rng.IntN(8) {
		s := batchAggSpecs[rng.IntN(len(batchAggSpecs))]
		if rng.IntN(3) == 0 {
			s += " FILTER $6"
		}
		specs = append(specs, s)
	}
	return specs
}
