package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// SinkUpsertMaterializer (Flink's, FlinkChangelogModeInferenceProgram's upsertMaterialize decision): an
// upsert sink writes by its primary key, so a changelog whose -U/-D of a row and +I/+U of its replacement are
// keyed by something else (a join on seller into a sink keyed by auction id whose seller changes) may reach
// the sink in either order from different parallel subtasks and leave the key deleted. The materializer
// (exec.NewSinkMaterializer) keeps the rows alive per primary key in front of the sink, behind a hash
// exchange on the primary key.
//
// 'table.exec.sink.upsert-materialize': NONE never; FORCE whenever the sink has a primary key and is not a
// retract sink; AUTO (the default) when moreover the input has updates or deletes and none of its upsert keys
// is contained in the primary key (or it has none that the planner can derive).
//
// 'table.exec.sink.keyed-shuffle' (Flink's: for an insert-only input and a primary key, a hash exchange on
// the primary key in front of the sink when the sink's parallelism differs from its input's): AUTO adds it
// when the sink's 'sink.parallelism' differs from its input's parallelism (sink_parallelism.go; NONE then
// rebalances instead); FORCE adds the shuffle always (SinkMaterializer with ShuffleOnly: rows pass
// unchanged, routed by the primary key). Neither applies to a sink without a primary key or in batch mode.
// With a parallelism of its own the sink's exchange (hash or rebalance, with or without materializing) has
// that many subtasks (Parallelism).

// SinkMaterializer is the materializer (or, ShuffleOnly, the keyed shuffle) in front of a sink: its input
// routed by the sink's primary key Keys. EXPLAIN shows it as Flink does, as the sink's upsertMaterialize=[true]
// over Exchange(distribution=[hash[pk]]).
type SinkMaterializer struct {
	Input Node
	Keys  []int
	// ShuffleOnly: 'table.exec.sink.keyed-shuffle' without materializing (insert-only input), or the
	// exchange in front of a sink with a parallelism of its own: the rows pass unchanged.
	ShuffleOnly bool
	// Parallelism > 0: the sink's own 'sink.parallelism' (sink_parallelism.go); the exchange has that many
	// subtasks, which write the sink. 0: the job's parallelism.
	Parallelism int
	// Rebalance (with ShuffleOnly and Parallelism, no Keys): the rows are dealt round robin.
	Rebalance bool
}

func (n *SinkMaterializer) Fields() []Field { return n.Input.Fields() }
func (n *SinkMaterializer) Inputs() []Node  { return []Node{n.Input} }
func (n *SinkMaterializer) Mode() changelog.Mode {
	if n.ShuffleOnly {
		return n.Input.Mode()
	}
	return changelog.Upsert(n.Keys)
}
func (n *SinkMaterializer) Describe() string {
	if n.Rebalance {
		return fmt.Sprintf("SinkRebalance(parallelism=[%d])", n.Parallelism)
	}
	kind := "SinkUpsertMaterializer"
	if n.ShuffleOnly {
		kind = "SinkKeyedShuffle"
	}
	fs := n.Input.Fields()
	ks := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		ks[i] = fs[k].Name
	}
	if n.Parallelism > 0 && n.ShuffleOnly {
		// (a materializer's line, which its state's id derives from, does not change with the sink's
		// parallelism: its state restores at any)
		return fmt.Sprintf("%s(key=[%s], parallelism=[%d])", kind, strings.Join(ks, ", "), n.Parallelism)
	}
	return fmt.Sprintf("%s(key=[%s])", kind, strings.Join(ks, ", "))
}

// Distribution is the exchange in front of the node as EXPLAIN shows it: hash[pk] or rebalance.
func (n *SinkMaterializer) Distribution() string {
	if n.Rebalance {
		return "rebalance"
	}
	return distribution(n.Input, n.Keys)
}

// sinkOption returns session option key's value (upper case), def when unset.
func (p *Planner) sinkOption(key, def string) string {
	if v, ok := p.Session[key]; ok && v != "" {
		return strings.ToUpper(strings.TrimSpace(v))
	}
	return def
}

// sinkMaterialize puts a SinkMaterializer between a streaming Sink (the root) and its input where the options
// ask for one (see above).
func (p *Planner) sinkMaterialize(root Node) (Node, error) {
	s, ok := root.(*Sink)
	if !ok || p.Batch || s.Sink == nil {
		return root, nil
	}
	if _, done := s.Input.(*SinkMaterializer); done {
		return root, nil
	}
	const matKey, shuffleKey = "table.exec.sink.upsert-materialize", "table.exec.sink.keyed-shuffle"
	mat, shuffle := p.sinkOption(matKey, "AUTO"), p.sinkOption(shuffleKey, "AUTO")
	for _, o := range [][2]string{{matKey, mat}, {shuffleKey, shuffle}} {
		if o[1] != "NONE" && o[1] != "AUTO" && o[1] != "FORCE" {
			return nil, sql.Errorf(s.Pos, ErrValidation, "invalid value '%s' for '%s': expected NONE, AUTO or FORCE", p.Session[o[0]], o[0])
		}
	}
	pk := sinkPrimaryKey(s)
	par, keyed, err := p.sinkExchange(s, pk, shuffle) // sink_parallelism.go
	if err != nil {
		return nil, err
	}
	if par > 0 && !keyed {
		c := *s
		c.Input = &SinkMaterializer{Input: s.Input, ShuffleOnly: true, Parallelism: par, Rebalance: true}
		return &c, nil
	}
	if len(pk) == 0 {
		return root, nil
	}
	mode := s.Input.Mode()
	insertOnly := mode.IsInsertOnly()
	var want, shuffleOnly bool
	switch {
	case retractSink(s):
		// A sink that consumes -U itself needs no materializing (Flink: sinkIsRetract).
	case mat == "FORCE":
		want = true
	case mat == "AUTO" && !insertOnly:
		want = !slices.ContainsFunc(upsertKeys(s.Input), func(uk []int) bool { return containsAll(pk, uk) })
	}
	if !want && (insertOnly && shuffle == "FORCE" || par > 0) {
		want, shuffleOnly = true, true
	}
	if !want {
		return root, nil
	}
	c := *s
	c.Input = &SinkMaterializer{Input: s.Input, Keys: pk, ShuffleOnly: shuffleOnly, Parallelism: par}
	c.UpsertMaterialize = !shuffleOnly
	if err := checkSink(&c); err != nil {
		return nil, sql.Errorf(s.Pos, ErrValidation, "%v", err)
	}
	return &c, nil
}

// sinkPrimaryKey returns the positions of the sink table's primary key in the sink's input row (the
// physical columns come first, in declaration order).
func sinkPrimaryKey(s *Sink) []int {
	var pk []int
	for _, name := range s.Table.PrimaryKey {
		i := 0
		found := false
		for _, c := range s.Table.Columns {
			if c.Kind != sql.PhysicalColumn {
				continue
			}
			if c.Name == name {
				found = true
				break
			}
			i++
		}
		if !found || i >= len(s.Input.Fields()) {
			return nil
		}
		pk = append(pk, i)
	}
	return pk
}

// tablePrimaryKey returns the positions of the scanned table's primary key in the scan's row (physical
// columns first, in declaration order), or nil.
func tablePrimaryKey(sc *Scan) []int {
	var pk []int
	for _, name := range sc.Table.PrimaryKey {
		i, found := 0, false
		for _, c := range sc.Table.Columns {
			if c.Kind != sql.PhysicalColumn {
				continue
			}
			if c.Name == name {
				found = true
				break
			}
			i++
		}
		if !found || i >= len(sc.Out) {
			return nil
		}
		pk = append(pk, i)
	}
	return pk
}

// retractSink reports whether the sink consumes retractions itself (Flink's print sink: its changelog mode is
// the requested one, -U included).
func retractSink(s *Sink) bool {
	r, ok := s.Sink.(interface{ RetractSink() bool })
	return ok && r.RetractSink()
}

// containsAll reports whether every column of sub is in set.
func containsAll(set, sub []int) bool {
	for _, c := range sub {
		if !slices.Contains(set, c) {
			return false
		}
	}
	return true
}

// upsertKeys derives the upsert keys of n's changelog (Flink's FlinkRelMdUpsertKeys, for the operators whose
// keys are known; a scan's is its table's PRIMARY KEY): column sets such that the changes of one key value always concern the same row. nil means
// none known.
func upsertKeys(n Node) [][]int {
	switch x := n.(type) {
	case *Scan:
		if uk := x.Mode().UpsertKey; len(uk) > 0 {
			return [][]int{uk}
		}
		if pk := tablePrimaryKey(x); pk != nil { // a changelog source's declared key (Flink: the table's)
			return [][]int{pk}
		}
	case *ChangelogNormalize:
		return [][]int{x.Keys}
	case *SinkMaterializer:
		if !x.ShuffleOnly {
			return [][]int{x.Keys}
		}
		return upsertKeys(x.Input)
	case *WatermarkAssigner:
		return upsertKeys(x.Input)
	case *MiniBatchAssigner:
		return upsertKeys(x.Input)
	case *Calc:
		return calcKeys(x, upsertKeys(x.Input))
	case *Aggregate:
		if x.Batch {
			return nil
		}
		return [][]int{seq(len(x.Keys))}
	case *GlobalGroupAggregate:
		return [][]int{seq(len(x.Keys))}
	case *Rank:
		if x.Batch {
			return nil
		}
		rn := len(x.Out) - 1
		keys := filterKeys(upsertKeys(x.Input), x.Partition)
		keys = append(keys, append(slices.Clone(x.Partition), rn))
		if x.Limit == 1 {
			keys = append(keys, slices.Clone(x.Partition))
		}
		return keys
	case *Join:
		return joinKeys(x)
	}
	return nil
}

// calcKeys maps the input's upsert keys through a Calc: a key survives when each of its columns is projected
// as a plain column reference.
func calcKeys(c *Calc, in [][]int) [][]int {
	var out [][]int
	for _, k := range in {
		var m []int
		for _, col := range k {
			at := -1
			for i, x := range c.Projects {
				if ix, ok := expr.ColumnIndex(x); ok && ix == col {
					at = i
					break
				}
			}
			if at < 0 {
				m = nil
				break
			}
			m = append(m, at)
		}
		if m != nil || len(k) == 0 {
			out = append(out, m)
		}
	}
	return out
}

// filterKeys keeps the keys that contain the columns an exchange routes by (Flink's filterKeys): the changes
// of a key that an exchange may route to several subtasks are no longer in order.
func filterKeys(keys [][]int, routing []int) [][]int {
	var out [][]int
	for _, k := range keys {
		if containsAll(k, routing) {
			out = append(out, k)
		}
	}
	return out
}

// joinKeys derives a regular join's upsert keys (Flink's getJoinUniqueKeys over the inputs' upsert keys):
// of each side's keys only those containing its join keys (the exchange routes by them), every pair of a left
// and a right key; the left side's keys when each left row matches at most one right row
// (the right side is unique on its join keys) and left rows are never padded away, and the other way round.
func joinKeys(j *Join) [][]int {
	if j.Batch || j.Interval != nil {
		return nil
	}
	allLeft, allRight := upsertKeys(j.Left), upsertKeys(j.Right)
	left, right := filterKeys(allLeft, j.LeftKeys), filterKeys(allRight, j.RightKeys)
	shift := len(j.Left.Fields())
	shifted := func(k []int) []int {
		s := make([]int, len(k))
		for i, c := range k {
			s[i] = c + shift
		}
		return s
	}
	var out [][]int
	for _, l := range left {
		for _, r := range right {
			out = append(out, append(slices.Clone(l), shifted(r)...))
		}
	}
	unique := func(keys [][]int, joinKeys []int) bool {
		return slices.ContainsFunc(keys, func(k []int) bool { return containsAll(joinKeys, k) })
	}
	if unique(allRight, j.RightKeys) && (j.Type == exec.InnerJoin || j.Type == exec.LeftJoin) {
		out = append(out, left...)
	}
	if unique(allLeft, j.LeftKeys) && (j.Type == exec.InnerJoin || j.Type == exec.RightJoin) {
		for _, r := range right {
			out = append(out, shifted(r))
		}
	}
	return out
}
