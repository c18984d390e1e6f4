package engine

import (
	"sync"
	"sync/atomic"
)

// Per-subtask shares of the job's rows in and rows out. Subtasks that count outside the graph lock (source
// subtasks, the writers of a sink the subtasks write themselves, keyed subtasks writing a sink) add to a
// share of their own, on a cache line of its own, instead of one atomic all cores write: the job's counters
// are the sum, read by the metrics (Job.Metrics, the rate sampler). A graph's shares are folded into the
// counter's base when the graph's attempt ends (closeSubtasks), so restarts do not grow the list.

// countShare is one subtask's share of a counter, padded to a cache line.
type countShare struct {
	n atomic.Int64
	_ [56]byte
}

// subtaskCounts is a counter split into per-subtask shares.
type subtaskCounts struct {
	mu     sync.Mutex
	base   int64 // the folded shares of graphs that ended
	shares []*countShare
}

// share returns a new share of c.
func (c *subtaskCounts) share() *countShare {
	s := &countShare{}
	c.mu.Lock()
	c.shares = append(c.shares, s)
	c.mu.Unlock()
	return s
}

// load is the sum of the shares.
func (c *subtaskCounts) load() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.base
	for _, s := range c.shares {
		n += s.n.Load()
	}
	return n
}

// fold adds shares (which no subtask counts into any more) to the base and drops them.
func (c *subtaskCounts) fold(shares []*countShare) {
	if len(shares) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range shares {
		if i := indexShare(c.shares, s); i >= 0 {
			c.base += s.n.Load()
			c.shares = append(c.shares[:i], c.shares[i+1:]...)
		}
	}
}

func indexShare(ss []*countShare, s *countShare) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// rowsInShare returns a share of job j's rows in for one subtask of graph g, folded when the graph's
// subtasks are closed.
func (g *graph) rowsInShare(j *Job) *atomic.Int64 { return g.share(&j.rowsInSubs) }

// rowsOutShare returns a share of job j's rows out for one subtask of graph g.
func (g *graph) rowsOutShare(j *Job) *atomic.Int64 { return g.share(&j.rowsOutSubs) }

func (g *graph) share(c *subtaskCounts) *atomic.Int64 {
	s := c.share()
	g.closers = append(g.closers, func() { c.fold([]*countShare{s}) })
	return &s.n
}

// rowsInTotal is the job's rows read from its sources: the base counter and every subtask's share.
func (j *Job) rowsInTotal() int64 { return j.rowsIn.Load() + j.rowsInSubs.load() }

// rowsOutTotal is the job's rows written to its sinks: the base counter and every subtask's share.
func (j *Job) rowsOutTotal() int64 { return j.rowsOut.Load() + j.rowsOutSubs.load() }
