package planner

// What the nodes of projection pushdown's walk (projection.go) that are not projections read of their
// inputs, given what their readers need of their outputs. Each returns nil (every input column) when the
// node's output is read whole or when it holds an expression the walk cannot look into.

// overNeeds: an OVER aggregate's output is its input's columns followed by one column per aggregate. The
// input keeps what is read of those columns, the partition keys, the ORDER BY column and every aggregate's
// arguments and FILTER column (all aggregates are computed whether or not their column is read).
func overNeeds(x *OverAggregate, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	width := len(x.Input.Fields())
	in := make([]*colNeed, width)
	copy(in, need)
	keep := func(c int) {
		if c >= 0 && c < width {
			merge(&in[c], needAll)
		}
	}
	for _, c := range x.Partition {
		keep(c)
	}
	keep(x.OrderCol)
	for _, a := range x.Aggs {
		for _, c := range a.Args {
			keep(c)
		}
		keep(a.Filter)
	}
	return in
}

// matchNeeds: MATCH_RECOGNIZE (ONE ROW PER MATCH) outputs its partition columns and measures, which it
// computes from its input's rows; every output column is computed whatever is read of it. The input keeps the
// PARTITION BY and ORDER BY columns and what the DEFINE conditions, the MEASURES and the navigated values
// (FIRST/LAST/aggregates of v.x) read. DEFINE and MEASURES read the input row followed by one column per slot.
func matchNeeds(x *MatchRecognize) []*colNeed {
	width := len(x.Input.Fields())
	in := make([]*colNeed, width+len(x.Slots))
	keep := func(c int) {
		if c >= 0 && c < width {
			merge(&in[c], needAll)
		}
	}
	for _, c := range x.Partition {
		keep(c)
	}
	keep(x.TimeCol)
	for _, k := range x.Order {
		keep(k.Col)
	}
	for _, d := range x.Defines {
		if d != nil && !reads(d, in, needAll) {
			return nil
		}
	}
	for _, m := range x.Measures {
		if !reads(m, in, needAll) {
			return nil
		}
	}
	for _, s := range x.Slots {
		if s.Arg != nil && !reads(s.Arg, in[:width], needAll) {
			return nil
		}
	}
	return in[:width]
}

// lookupNeeds: a lookup join's output is its input's columns followed by the dimension table's. The input
// keeps what is read of its columns and the lookup keys. (The dimension rows are fetched whole:
// connectors.LookupSource has no projection.)
func lookupNeeds(x *LookupJoin, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	width := len(x.Input.Fields())
	in := make([]*colNeed, width)
	copy(in, need)
	for _, c := range x.LeftKeys {
		if c >= 0 && c < width {
			merge(&in[c], needAll)
		}
	}
	return in
}

// windowNeeds: a window table function (TUMBLE, HOP, CUMULATE, SESSION; also a GROUP BY window's) outputs
// its input's columns followed by window_start, window_end and window_time. The input keeps what is read of
// its columns, the time column and a session window's partition keys.
func windowNeeds(x *WindowTVF, need []*colNeed) []*colNeed {
	if need == nil {
		return nil
	}
	width := len(x.Input.Fields())
	in := make([]*colNeed, width)
	copy(in, need)
	keep := func(c int) {
		if c >= 0 && c < width {
			merge(&in[c], needAll)
		}
	}
	keep(x.TimeCol)
	for _, c := range x.Partition {
		keep(c)
	}
	return in
}
