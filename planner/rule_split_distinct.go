package planner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// splitDistinctRule (SplitAggregateRule): with 'table.optimizer.distinct-agg.split.enabled', a streaming
// group aggregate with DISTINCT calls is split in two levels, as Flink does to spread a hot key's distinct
// values over buckets:
//
//	GroupAggregate(groupBy=[k], partialFinalType=[FINAL], select=[k, $SUM0(c) ...])
//	+- GroupAggregate(groupBy=[k, $bucket], partialFinalType=[PARTIAL], select=[k, $bucket, COUNT(DISTINCT x) AS c ...])
//	   +- Calc(select=[..., MOD(HASH_CODE(x), bucket-num) AS $bucket])
//
// The partial level aggregates per key and bucket of the distinct value; the final level combines the
// buckets: COUNT by SUM0, SUM by SUM, SUM0 by SUM0, MIN by MIN, MAX by MAX. It applies when every DISTINCT
// call has one argument, the same column, every call is one of COUNT, SUM, SUM0, MIN and MAX, and no call
// has a FILTER (Flink also splits other shapes, with an Expand; those stay one aggregate here).
type splitDistinctRule struct{ buckets int64 }

func (splitDistinctRule) Name() string { return "SplitAggregateRule" }

func (r splitDistinctRule) Rewrite(n Node) (Node, bool) {
	a, ok := n.(*Aggregate)
	if !ok || a.Batch || a.PartialFinal != "" || !splittable(a) {
		return n, false
	}
	in := a.Input.Fields()
	x := -1
	for _, c := range a.Aggs {
		if c.Distinct {
			x = c.Args[0]
		}
	}
	// The input with the bucket of the distinct argument appended.
	calc := &Calc{Input: a.Input}
	for i, f := range in {
		calc.Projects = append(calc.Projects, expr.Column(i, f.Name, f.Type))
		calc.Out = append(calc.Out, f)
	}
	bucketName := fmt.Sprintf("$f%d", len(in))
	calc.Projects = append(calc.Projects, &hashBucket{col: x, name: in[x].Name, t: in[x].Type, n: r.buckets})
	calc.Out = append(calc.Out, Field{Name: bucketName, Type: types.IntType().WithNullable(false)})

	partial := &Aggregate{Input: calc, Keys: append(append([]int(nil), a.Keys...), len(in)), Aggs: a.Aggs, PartialFinal: "PARTIAL"}
	for _, k := range a.Keys {
		partial.Out = append(partial.Out, in[k])
	}
	partial.Out = append(partial.Out, calc.Out[len(in)])
	final := &Aggregate{Input: partial, Out: a.Out, PartialFinal: "FINAL"}
	for i := range a.Keys {
		final.Keys = append(final.Keys, i)
	}
	nk := len(a.Keys) + 1
	for i, c := range a.Aggs {
		col := nk + i
		partial.Out = append(partial.Out, Field{Name: fmt.Sprintf("%s_%d", bucketName, i), Type: c.Type})
		fn := strings.ToUpper(c.Func)
		switch fn {
		case "COUNT":
			fn = "SUM0"
		}
		final.Aggs = append(final.Aggs, exec.AggCall{Func: fn, Args: []int{col}, ArgTypes: []types.Type{c.Type}, Filter: -1, Type: c.Type})
	}
	return final, true
}

// splittable reports an aggregate the rule can split: every DISTINCT call reads one argument, and all of
// them the same value (the same column, or input columns the same expression computes).
func splittable(a *Aggregate) bool {
	x, distinct := -1, false
	for _, c := range a.Aggs {
		switch strings.ToUpper(c.Func) {
		case "COUNT", "SUM", "SUM0", "MIN", "MAX":
		default:
			return false
		}
		if c.Filter >= 0 {
			return false
		}
		if !c.Distinct {
			continue
		}
		if len(c.Args) != 1 || (x >= 0 && !sameColumn(a.Input, c.Args[0], x)) {
			return false
		}
		x, distinct = c.Args[0], true
	}
	return distinct
}

// sameColumn reports whether columns i and j of n always hold the same value.
func sameColumn(n Node, i, j int) bool {
	if i == j {
		return true
	}
	c, ok := n.(*Calc)
	return ok && c.Projects[i].String() == c.Projects[j].String() && !strings.Contains(strings.ToUpper(c.Projects[i].String()), "RAND")
}

// hashBucket is MOD(HASH_CODE(x), n): a stable hash of x's value (the same in every run), in [0, n); NULL
// goes to bucket 0.
type hashBucket struct {
	col  int
	name string
	t    types.Type
	n    int64
}

func (h *hashBucket) Type() types.Type { return types.IntType().WithNullable(false) }

func (h *hashBucket) Eval(row []types.Value) (types.Value, error) {
	v := row[h.col]
	if v.T == types.TagNull {
		return types.IntValue(0), nil
	}
	var buf [32]byte
	key := types.AppendKey(buf[:0], v, h.t)
	return types.IntValue(int64(state.Hash(key) % uint64(h.n))), nil
}

func (h *hashBucket) String() string { return fmt.Sprintf("MOD(HASH_CODE(%s), %d)", h.name, h.n) }
