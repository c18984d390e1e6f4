package engine

import (
	"context"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// identitySink keeps the run identity the engine gives it (connectors.RunIdentitySink).
type identitySink struct{ id string }

func (*identitySink) Accepts() changelog.KindSet                     { return changelog.KindsOf(changelog.Insert) }
func (*identitySink) Open(context.Context) (changelog.Output, error) { return nil, nil }
func (s *identitySink) SetRunIdentity(id string)                     { s.id = id }

// TestRunIdentities: the identity of a batch statement's sink is the same for the same text, parameters
// and place among the statement's sinks, and differs when any of them differs.
func TestRunIdentities(t *testing.T) {
	ids := func(text string, params []types.Value, sinks int) []string {
		var nodes []planner.Node
		var ss []*identitySink
		for range sinks {
			s := &identitySink{}
			ss = append(ss, s)
			nodes = append(nodes, &planner.Sink{Sink: s})
		}
		setRunIdentities(nodes, text, params)
		var out []string
		for _, s := range ss {
			if s.id == "" {
				t.Fatal("a sink got no identity")
			}
			out = append(out, s.id)
		}
		return out
	}
	const ins = "INSERT INTO t SELECT * FROM s"
	a := ids(ins, nil, 2)
	if b := ids(ins, nil, 2); a[0] != b[0] || a[1] != b[1] {
		t.Fatalf("the same statement got %v, then %v", a, b)
	}
	seen := map[string]string{}
	for what, id := range map[string]string{
		"first sink": a[0], "second sink": a[1],
		"other text":     ids(ins+" WHERE x > 1", nil, 1)[0],
		"a parameter":    ids(ins, []types.Value{types.IntValue(1)}, 1)[0],
		"another param":  ids(ins, []types.Value{types.IntValue(2)}, 1)[0],
		"a string param": ids(ins, []types.Value{types.StringValue("1")}, 1)[0],
	} {
		if other, dup := seen[id]; dup {
			t.Fatalf("%s and %s got the same identity %s", what, other, id)
		}
		seen[id] = what
	}
}
