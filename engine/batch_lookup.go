package engine

import (
	"context"
	"sync"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/types"
)

// A lookup join in a batch stage that runs as several tasks (batch_tasks.go: LookupJoin is row-wise) is
// built once per task, but the planner made one connectors.LookupSource for the node, whose contract allows
// one Open, one Close and calls from one goroutine at a time. The tasks used to share it unguarded: each
// opened it (the filesystem lookup reads its table through the source's one split enumerator, so a task
// loading at the same time as another got no file and an empty index) and closed it under the others, and
// rows without a dimension row were dropped (TestBatchLookupJoinTasks). The tasks of a stage now share it
// through a sharedLookup: opened by the first task, closed by the last, each Lookup under a mutex.
//
// Taking turns on one handle serializes the tasks' lookups (jdbc: one connection, one query at a time). A
// source that can make a handle per task (connectors.TaskLookupSource: jdbc, a connection and cache of its
// own) gives each task attempt its own instead, so the tasks look up at the same time
// (connectors/jdbc TestBatchLookupJoinTasksConcurrent counts the lookups in flight in PostgreSQL). Every
// attempt's handle is closed when the attempt ends, also when it failed (the lookup join closes it only at
// its End): a task handle (connectors/jdbc TestBatchLookupJoinFailedAttemptCloses), the attempt's share of a
// sharedLookup (a failed attempt's share used to stay open, so the source was never closed:
// TestBatchSharedLookupClosedAfterFailure), and the planner's source in a stage of one task.

// sharedLookup is one LookupSource used by the tasks of a batch stage.
type sharedLookup struct {
	src  connectors.LookupSource
	mu   sync.Mutex
	open int // tasks that opened it and have not closed it
}

var _ connectors.LookupSource = (*sharedLookup)(nil)

func (l *sharedLookup) Open(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == 0 {
		if err := l.src.Open(ctx); err != nil {
			return err
		}
	}
	l.open++
	return nil
}

func (l *sharedLookup) Lookup(ctx context.Context, key []types.Value, dst [][]types.Value) ([][]types.Value, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Lookup(ctx, key, dst)
}

func (l *sharedLookup) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == 0 {
		return nil
	}
	if l.open--; l.open > 0 {
		return nil
	}
	return l.src.Close()
}

// lookupSource is the LookupSource the operator of n uses in g: the planner's; in a task of a batch stage
// of several tasks, the task attempt's own handle of a TaskLookupSource or the stage's sharedLookup over it.
// In a stage attempt, the handle is wrapped in a taskLookup that the attempt's end closes (batch_exchange.go
// attempt: closeLookups), so a failed attempt releases its share of a sharedLookup (the last one closes the
// source; the retry opens it again) and its own handle, as the lookup join closes them only at its End. In a
// batch graph that is not staged (pipelined: one attempt) the planner's source is wrapped too, and closed
// when the job ends, also when it failed or was cancelled (batch_jobdir.go removePipelinedJobDir; a jdbc
// lookup's connection stayed open until the process exited: connectors/jdbc
// TestBatchLookupJoinFailedAttemptCloses/pipelined). A streaming graph's lookup join closes its source at
// its End.
func (g *graph) lookupSource(n *planner.LookupJoin) connectors.LookupSource {
	if g.stage == nil {
		if g.pipeDir != nil { // a batch graph not staged: closed when the job ends (removePipelinedJobDir)
			t := &taskLookup{LookupSource: n.Lookup}
			g.pipeDir.lookups = append(g.pipeDir.lookups, t)
			return t
		}
		return n.Lookup
	}
	t := &taskLookup{LookupSource: g.stageLookup(n)}
	g.stage.run.lookups = append(g.stage.run.lookups, t)
	return t
}

// stageLookup is the handle of n in a stage attempt before it is wrapped: the planner's source in a stage of
// one task, else a task handle of a TaskLookupSource or the stage's sharedLookup.
func (g *graph) stageLookup(n *planner.LookupJoin) connectors.LookupSource {
	if len(g.stage.st.tasks) <= 1 {
		return n.Lookup
	}
	if ts, ok := n.Lookup.(connectors.TaskLookupSource); ok {
		return ts.TaskLookup()
	}
	sj := g.stage.sj
	sj.mu.Lock()
	defer sj.mu.Unlock()
	if sj.lookups == nil {
		sj.lookups = map[*planner.LookupJoin]*sharedLookup{}
	}
	l := sj.lookups[n]
	if l == nil {
		l = &sharedLookup{src: n.Lookup}
		sj.lookups[n] = l
	}
	return l
}

// taskLookup is a task attempt's handle of a lookup source (its own handle of a connectors.TaskLookupSource,
// its share of a sharedLookup, or the planner's source in a stage of one task): Close closes it once, and
// only when it was opened, so that the attempt's end may close it after the lookup join did.
type taskLookup struct {
	connectors.LookupSource
	open bool
}

func (t *taskLookup) Open(ctx context.Context) error {
	if err := t.LookupSource.Open(ctx); err != nil {
		return err
	}
	t.open = true
	return nil
}

func (t *taskLookup) Close() error {
	if !t.open {
		return nil
	}
	t.open = false
	return t.LookupSource.Close()
}

// closeLookups closes the task lookups of a stage attempt that has ended (its sources returned: no call is in
// flight).
func (r *stageRun) closeLookups() {
	for _, l := range r.lookups {
		_ = l.Close()
	}
	r.lookups = nil
}
