package planner

import "fmt"

// ReuseSources makes the scans of one table in a statement (or a statement set) one shared Scan node, so that
// the engine reads the table once and hands its rows to every reader (Flink's
// 'table.optimizer.reuse-source-enabled', on by default): a self-join of a Kafka topic, as in Nexmark q3-q9,
// fetches and decodes each record once. Two scans are the same when they read the same catalog table (the
// same definition, hence the same options) with the same columns. The plan becomes a DAG: a shared node has
// several parents. The other scans' sources are dropped unopened.
func ReuseSources(roots []Node) []Node {
	seen := map[string]*Scan{}
	memo := map[Node]Node{}
	out := make([]Node, len(roots))
	for i, r := range roots {
		out[i] = reuseIn(r, seen, memo)
	}
	return out
}

func reuseIn(n Node, seen map[string]*Scan, memo map[Node]Node) Node {
	if m, ok := memo[n]; ok {
		return m
	}
	var res Node
	if sc, ok := n.(*Scan); ok {
		k := scanKey(sc)
		if first := seen[k]; first != nil {
			res = first
		} else {
			seen[k] = sc
			res = sc
		}
	} else {
		ins := n.Inputs()
		changed := false
		newIns := make([]Node, len(ins))
		for i, in := range ins {
			newIns[i] = reuseIn(in, seen, memo)
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
