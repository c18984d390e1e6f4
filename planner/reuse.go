package planner

import (
	"fmt"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// ReuseSources makes the scans of one table in a statement (or a statement set) one shared Scan node, so that
// the engine reads the table once and hands its rows to every reader (Flink's
// 'table.optimizer.reuse-source-enabled', on by default): a self-join of a Kafka topic, as in Nexmark q3-q9,
// fetches and decodes each record once. Two scans are the same when they read the same catalog table (the
// same definition, hence the same options) with the same columns. The plan becomes a DAG: a shared node has
// several parents. The other scans' sources are dropped unopened.
func ReuseSources(roots []Node) []Node {
	seen := map[string]*Scan{}
	seenValues := map[string]*Values{}
	memo := map[Node]Node{}
	out := make([]Node, len(roots))
	for i, r := range roots {
		out[i] = reuseIn(r, seen, seenValues, memo)
	}
	return out
}

func reuseIn(n Node, seen map[string]*Scan, seenValues map[string]*Values, memo map[Node]Node) Node {
	if m, ok := memo[n]; ok {
		return m
	}
	var res Node
	if sc, ok := n.(*Scan); ok {
		k := scanKey(sc)
		if first := seen[k]; first != nil {
			res = first
			if first != sc {
				sc.ReusedBy = first
			}
		} else {
			seen[k] = sc
			res = sc
		}
	} else if v, ok := n.(*Values); ok {
		// The same VALUES twice (a view over VALUES read by two branches) is one source too, so that its
		// rows reach both branches in one order.
		k := valuesKey(v)
		if first := seenValues[k]; first != nil {
			res = first
		} else {
			seenValues[k] = v
			res = v
		}
	} else {
		ins := n.Inputs()
		changed := false
		newIns := make([]Node, len(ins))
		for i, in := range ins {
			newIns[i] = reuseIn(in, seen, seenValues, memo)
			changed = changed || newIns[i] != in
		}
		res = n
		if changed {
			res = withInputs(n, newIns)
		}
	}
	memo[n] = res
	return res
}

// scanKey identifies what a scan reads: the table definition (by identity) and its columns.
func scanKey(sc *Scan) string {
	k := sc.Describe()
	for _, f := range sc.Out {
		k += "|" + f.Name + " " + f.Type.String()
	}
	return k + "|" + tableIdentity(sc)
}

func tableIdentity(sc *Scan) string { return fmt.Sprintf("%p", sc.Table) }

// valuesKey identifies a VALUES node by its columns and rows.
func valuesKey(v *Values) string {
	ts := make([]types.Type, len(v.Out))
	var b []byte
	for i, f := range v.Out {
		ts[i] = f.Type
		b = append(b, f.Name+" "+f.Type.String()+"|"...)
	}
	for _, r := range v.Rows {
		b = changelog.AppendRow(b, changelog.Row{Kind: changelog.Insert, Vals: r}, ts, time.UTC)
		b = append(b, '\n')
	}
	return string(b)
}
