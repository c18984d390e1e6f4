package planner

import (
	"strings"

	"github.com/sluicesql/sluice/changelog"
)

// Exchanges in EXPLAIN. Flink's streaming plans show how rows move between parallel subtasks:
// Exchange(distribution=[hash[k]]) in front of keyed operators (aggregates, joins, ranks, normalize, over,
// MATCH_RECOGNIZE, window operators: every row of a key goes to the subtask that owns its key group) and
// Exchange(distribution=[single]) in front of global ones (a keyless aggregate or join, sort, limit), which
// run as one subtask. Stateless operators are chained to their input (a forward exchange, not printed).
//
// Batch plans (withBatchExchanges) show the same distributions in front of the same operators, as Flink's
// batch plans do: hash in front of hash joins, sort aggregates (under their input Sort), ranks with a
// PARTITION BY, OVER and normalize; single in front of keyless ones, Sort, ORDER BY ... LIMIT and joins
// without equi-keys. The batch engine cuts its stages there (engine/batch_exchange.go) and runs the keyed
// ones as parallel tasks reading their hash partition of the intermediate files (engine/batch_tasks.go).
//
// The exchanges are a view for EXPLAIN only: the plan the engine builds and the operator ids that
// checkpoints derive from Explain's text are unchanged.

// exchange is a plan node that only EXPLAIN shows.
type exchange struct {
	Input Node
	Dist  string // "single", "hash[a, b]" or "rebalance"
}

func (n *exchange) Fields() []Field      { return n.Input.Fields() }
func (n *exchange) Inputs() []Node       { return []Node{n.Input} }
func (n *exchange) Mode() changelog.Mode { return n.Input.Mode() }
func (n *exchange) Describe() string     { return "Exchange(distribution=[" + n.Dist + "])" }

// distribution is "hash[...]" over the named input fields, or "single" without keys.
func distribution(in Node, keys []int) string {
	if len(keys) == 0 {
		return "single"
	}
	fs := in.Fields()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = fs[k].Name
	}
	return "hash[" + strings.Join(names, ", ") + "]"
}

// withExchanges returns a copy of the streaming plan n with exchange nodes where the data is redistributed.
func withExchanges(n Node) Node { return exchanges(n, false) }

// withBatchExchanges returns a copy of the batch plan n with exchange nodes where the data is redistributed.
func withBatchExchanges(n Node) Node { return exchanges(n, true) }

func exchanges(n Node, batch bool) Node {
	ins := n.Inputs()
	if len(ins) == 0 {
		return n
	}
	out := make([]Node, len(ins))
	for i, in := range ins {
		out[i] = exchanges(in, batch)
	}
	ex := func(i int, keys []int) {
		out[i] = &exchange{Input: out[i], Dist: distribution(ins[i], keys)}
	}
	switch x := n.(type) {
	case *Aggregate:
		if s, ok := out[0].(*inputSort); ok && batch { // the sort aggregate's input sort runs after the exchange
			c := *s
			c.Input = &exchange{Input: s.Input, Dist: distribution(ins[0], x.Keys)}
			out[0] = &c
		} else if batch || !x.Batch {
			ex(0, x.Keys)
		}
	case *GlobalGroupAggregate:
		ex(0, x.Keys)
	case *WindowAggregate:
		ex(0, x.Keys)
	case *ChangelogNormalize:
		if batch || !x.Batch {
			ex(0, x.Keys)
		}
	case *Rank:
		if batch || !x.Batch {
			ex(0, x.Partition)
		}
	case *WindowRank:
		ex(0, x.Partition)
	case *OverAggregate:
		ex(0, x.Partition)
	case *MatchRecognize:
		ex(0, x.Partition)
	case *Sort, *TopN, *Limit, *TemporalSort:
		ex(0, nil)
	case *Join:
		if batch || !x.Batch {
			ex(0, x.LeftKeys)
			ex(1, x.RightKeys)
		}
	case *WindowJoin:
		ex(0, x.LeftKeys)
		ex(1, x.RightKeys)
	case *TemporalJoin:
		ex(0, x.LeftKeys)
		ex(1, x.RightKeys)
	case *Sink:
		if m, ok := out[0].(*SinkMaterializer); ok { // shown as the sink's upsertMaterialize over the exchange
			out[0] = &exchange{Input: m.Input, Dist: m.Distribution()}
		}
	}
	if s, ok := n.(*inputSort); ok {
		c := *s
		c.Input = out[0]
		return &c
	}
	return withInputs(n, out)
}
