package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/state"
)

// errNoRestart: the restart strategy allows no more restarts.
var errNoRestart = errors.New("no restart")

// streamRestartPolicy is Flink's restart strategy for streaming jobs: 'restart-strategy' (or
// 'restart-strategy.type') = fixed-delay | exponential-delay | failure-rate | none. As in Flink, a job without
// checkpointing is not restarted unless a strategy is set, and a job with checkpointing restarts with
// fixed-delay, unlimited attempts, 1 s apart.
type streamRestartPolicy struct {
	kind string // "none", "fixed-delay", "exponential-delay", "failure-rate"

	attempts int           // fixed-delay: restarts allowed (-1: unlimited)
	delay    time.Duration // fixed-delay, failure-rate

	initial, maxBackoff time.Duration // exponential-delay
	multiplier, jitter  float64
	resetAfter          time.Duration
	maxAttempts         int // restarts allowed between backoff resets (0: no limit)

	maxFailures int           // failure-rate: failures allowed per interval
	interval    time.Duration // failure-rate
}

func (s *Session) streamRestartPolicy(checkpointing bool) (streamRestartPolicy, error) {
	r, err := sessionRestartStrategy(s.opts)
	if err != nil {
		return streamRestartPolicy{kind: "none"}, err
	}
	p := streamRestartPolicy{kind: r.Kind, attempts: r.Attempts, delay: r.Delay, initial: r.InitialBackoff,
		maxBackoff: r.MaxBackoff, multiplier: r.Multiplier, jitter: r.Jitter, resetAfter: r.ResetThreshold,
		maxFailures: r.MaxFailures, interval: r.FailureInterval, maxAttempts: r.MaxAttempts}
	if p.kind == "" {
		p.kind = "none"
		if checkpointing {
			// Flink's default with checkpointing: fixed-delay, unlimited attempts.
			p.kind, p.attempts = "fixed-delay", -1
		}
	}
	if p.delay <= 0 {
		p.delay = time.Second
	}
	if p.multiplier < 1 {
		p.multiplier = 2
	}
	return p, nil
}

// streamRestart restarts a failed streaming job from its latest checkpoint.
type streamRestart struct {
	policy   streamRestartPolicy
	nodes    []planner.Node
	template *graph // configuration of the graphs to build
	cfg      checkpointConfig
	notice   func(string, ...any)

	restarts   int
	sinceReset int // exponential-delay: restarts since the backoff was last reset
	failures   []time.Time
	backoff    time.Duration
	lastStart  time.Time
}

// again decides whether to restart after err and, after the strategy's delay, returns the rebuilt graph
// restored from the latest completed checkpoint (or from the start when there is none).
func (r *streamRestart) again(ctx context.Context, j *Job, old *graph, cause error) (*graph, error) {
	delay, ok := r.next()
	if !ok {
		return nil, errNoRestart
	}
	last := j.LastCheckpoint()
	from := "from the beginning (no checkpoint completed yet)"
	if last.ID > 0 && last.Path != "" {
		from = fmt.Sprintf("from checkpoint %d", last.ID)
	}
	if inner := errors.Unwrap(cause); inner != nil {
		cause = inner // without "job <id> failed: "
	}
	of := ""
	if r.policy.kind == "fixed-delay" && r.policy.attempts >= 0 {
		of = fmt.Sprintf(" of %d", r.policy.attempts)
	}
	r.notice("[WARNING] Job %s failed: %v\n[WARNING] Restarting it %s in %s (restart %d%s, 'restart-strategy' = '%s').\n",
		j.id, cause, from, delay.Round(time.Millisecond), r.restarts, of, r.policy.kind)
	t := time.NewTimer(delay)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, errNoRestart
	case <-t.C:
	}
	g := r.template.restartGraph()
	if old.backend != nil {
		_ = old.backend.Close()
		old.backend = nil
		var cp *state.Checkpoint
		if last.ID > 0 && last.Path != "" {
			var err error
			if cp, err = state.Load(last.Path); err != nil {
				return nil, err
			}
		}
		var err error
		if g.backend, _, err = openBackend(g.tempDir, j.id, cp); err != nil {
			return nil, err
		}
	}
	g.countParents(r.nodes)
	for _, n := range r.nodes {
		if err := g.build(n, nil, j); err != nil {
			return nil, err
		}
	}
	c := newCheckpointer(g, r.cfg, j, r.notice)
	c.nextID = old.ckpt.nextID
	g.ckpt = c
	if last.ID > 0 && last.Path != "" {
		cp, err := state.Load(last.Path)
		if err == nil {
			err = g.restore(ctx, cp, false)
		}
		if err != nil {
			g.abandon()
			return nil, err
		}
	} else {
		for _, p := range g.parts {
			if p.src != nil {
				if err := p.src.RestorePosition(nil); err != nil {
					g.abandon()
					return nil, err
				}
			}
		}
		if err := g.restoreFresh(ctx); err != nil {
			g.abandon()
			return nil, err
		}
	}
	r.lastStart = time.Now()
	return g, nil
}

// restartGraph returns an empty streaming graph with g's configuration, for a restart: the same
// parallelism (source and keyed subtasks, exchanges), key groups, clock, timeouts and directories.
func (g *graph) restartGraph() *graph {
	return &graph{batch: false, tempDir: g.tempDir, tmpDirs: g.tmpDirs, sortMemory: g.sortMemory, loc: g.loc, now: g.now,
		restart: g.restart, notice: g.notice, ttl: g.ttl, idleTimeout: g.idleTimeout, subtasks: g.subtasks, maxPar: g.maxPar}
}

// next returns the delay before the next restart, or false when the strategy allows none.
func (r *streamRestart) next() (time.Duration, bool) {
	p := r.policy
	now := time.Now()
	switch p.kind {
	case "fixed-delay":
		if p.attempts >= 0 && r.restarts >= p.attempts {
			return 0, false
		}
		r.restarts++
		return p.delay, true
	case "exponential-delay":
		if r.backoff == 0 || !r.lastStart.IsZero() && now.Sub(r.lastStart) > p.resetAfter {
			r.backoff, r.sinceReset = p.initial, 0
		} else {
			r.backoff = min(time.Duration(float64(r.backoff)*p.multiplier), p.maxBackoff)
		}
		if p.maxAttempts > 0 && r.sinceReset >= p.maxAttempts {
			return 0, false // 'restart-strategy.exponential-delay.attempts-before-reset-backoff'
		}
		r.sinceReset++
		r.restarts++
		d := r.backoff
		if p.jitter > 0 {
			d += time.Duration((rand.Float64()*2 - 1) * p.jitter * float64(d))
		}
		return max(d, 0), true
	case "failure-rate":
		r.failures = append(r.failures, now)
		keep := r.failures[:0]
		for _, f := range r.failures {
			if now.Sub(f) <= p.interval {
				keep = append(keep, f)
			}
		}
		r.failures = keep
		if len(keep) > p.maxFailures {
			return 0, false
		}
		r.restarts++
		return p.delay, true
	}
	return 0, false
}

// abort closes the sinks of a failed graph without committing what they did not pre-commit.
func (g *graph) abort() {
	for _, s := range g.sinks {
		if a, ok := s.out.(connectors.Aborter); ok && !s.ended {
			s.ended = true
			_ = a.Abort()
		}
	}
}
