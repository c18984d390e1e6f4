package crashtest

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/proctest"
)

// startMembers starts three sql-client processes that run sql as members of one scale-out job, and waits
// until every member printed ready (a line a member prints once it owns its partitions) and working
// reports true. The processes are killed when the test ends.
func startMembers(t *testing.T, dir, sql, ready string, working func() bool) []*proctest.Client {
	t.Helper()
	var members []*proctest.Client
	for range 3 {
		c := proctest.Start(t, clientBin, dir, sql)
		t.Cleanup(c.Kill)
		members = append(members, c)
	}
	if !waitFor(30*time.Second, func() bool {
		for _, c := range members {
			if !strings.Contains(c.Output(), ready) {
				return false
			}
		}
		return working()
	}) {
		t.Fatalf("the members did not start working:\n%s\n---\n%s\n---\n%s", indent(members[0].Output()), indent(members[1].Output()), indent(members[2].Output()))
	}
	return members
}
