package engine

import (
	"fmt"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/planner"
)

// Batch SELECT in stages (Flink's collect sink: one task at the end of the job, fed by every task of its
// input). A staged batch query is cut as an INSERT job is, with a Collect node in the place of the sink: the
// query's operators run as stages and tasks exactly as an INSERT's, and the last stage, one task, reads its
// input stage's files task after task and hands the rows to the client. Row order where the query has no
// ORDER BY may differ from a run in one piece (as in Flink); an ORDER BY (or ORDER BY ... LIMIT) is one task
// whose output the collect stage, fused into it, hands to the client in that order (batch_fuse.go).
//
// Failover: the collect stage reads one input's files in a fixed order, so a rerun of it produces the same
// rows in the same order; the rows the client was given by earlier attempts are skipped (exactly once for
// the client). When the input's files were computed again since (a producer task ran again because a file
// was gone), their order may differ, and the query fails instead of giving rows twice or not at all.

// batchCollect is the root of a staged batch SELECT: the one-task stage that gives the rows to the client.
type batchCollect struct {
	input planner.Node
	out   changelog.Output // the client's (collectOutput)

	// Over the stage's attempts (one task: they run one after the other).
	sent     int64 // rows given to out
	inputGen int   // the input tasks' attempts when the first row was given (inputAttempts)
}

var _ planner.Node = (*batchCollect)(nil)

func (c *batchCollect) Fields() []planner.Field { return c.input.Fields() }
func (c *batchCollect) Inputs() []planner.Node  { return []planner.Node{c.input} }
func (c *batchCollect) Mode() changelog.Mode    { return c.input.Mode() }
func (c *batchCollect) Describe() string        { return "Collect" }

// stagedBatch reports whether a batch job of this graph is cut into stages: blocking exchanges
// ('execution.batch-shuffle-mode'), restarts allowed, no batch savepoint.
func (g *graph) stagedBatch(blocking bool) bool {
	return g.batch && blocking && g.bsp == nil && g.restart.attempts > 1
}

// buildQuery builds the graph of a SELECT whose rows go to out: cut into stages when a batch job would be
// (buildJob), else as one pipelined graph.
func (g *graph) buildQuery(root planner.Node, out changelog.Output, j *Job, blocking bool) error {
	if !g.stagedBatch(blocking) {
		if err := g.makePipelinedJobDir(j); err != nil { // batch_jobdir.go
			return err
		}
		g.countParents([]planner.Node{root})
		return g.build(root, out, j)
	}
	c := &batchCollect{input: root, out: out}
	g.countParents([]planner.Node{c})
	return g.buildJob([]planner.Node{c}, j, blocking)
}

// inputAttempts is the number of attempts of the tasks of st's inputs so far.
func (sj *stagedJob) inputAttempts(st *batchStage) int {
	n := 0
	for _, in := range st.inputs {
		for _, tk := range in.tasks {
			n += tk.attempts
		}
	}
	return n
}

// collectTask builds one attempt of the collect stage: its input's files read into the client's output,
// past the rows earlier attempts gave it.
func (b *stageBuild) collectTask(g *graph, c *batchCollect) error {
	if c.sent > 0 && b.sj.inputAttempts(b.st) != c.inputGen {
		return fmt.Errorf("the client was given %d rows of the result already, and the input was computed again since: its rows may come in another order, so the query cannot go on; run it again",
			c.sent)
	}
	return g.build(c.input, &collectAttempt{c: c, skip: c.sent, sj: b.sj, st: b.st}, b.sj.job)
}

// collectAttempt is the output of one attempt of the collect stage.
type collectAttempt struct {
	c    *batchCollect
	skip int64 // rows still to skip: given to the client by earlier attempts
	sj   *stagedJob
	st   *batchStage
	rest changelog.Batch
}

func (a *collectAttempt) Push(b *changelog.Batch) error {
	n := int64(len(b.Rows))
	if a.skip >= n {
		a.skip -= n
		return nil
	}
	if a.skip > 0 {
		a.rest.Rows = b.Rows[a.skip:]
		b, n, a.skip = &a.rest, n-a.skip, 0
	}
	if a.c.sent == 0 {
		a.c.inputGen = a.sj.inputAttempts(a.st) // its input stages have finished
	}
	err := a.c.out.Push(b)
	if err == nil {
		a.c.sent += n
	}
	a.rest.Rows = nil
	return err
}

func (a *collectAttempt) Watermark(int64) error { return nil }
func (a *collectAttempt) End() error            { return a.c.out.End() }
