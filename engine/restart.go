package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
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

	maxFailures int           // failure-rate: failures allowed per interval
	interval    time.Duration // failure-rate
}

func (s *Session) streamRestartPolicy(checkpointing bool) (streamRestartPolicy, error) {
	p := streamRestartPolicy{kind: "none", attempts: -1, delay: time.Second, initial: time.Second, maxBackoff: 5 * time.Minute,
		multiplier: 2, jitter: 0.1, resetAfter: time.Hour, maxFailures: 1, interval: time.Minute}
	kind, ok := s.opts["restart-strategy.type"]
	if !ok {
		kind, ok = s.opts["restart-strategy"]
	}
	switch strings.ToLower(strings.ReplaceAll(kind, "_", "-")) {
	case "":
		if checkpointing {
			p.kind = "fixed-delay"
		}
	case "none", "off", "disable":
	case "fixed-delay", "fixeddelay":
		p.kind = "fixed-delay"
	case "exponential-delay", "exponentialdelay":
		p.kind = "exponential-delay"
	case "failure-rate", "failurerate":
		p.kind = "failure-rate"
	default:
		return p, fmt.Errorf("%w: Invalid value for option 'restart-strategy': '%s' (want fixed-delay, exponential-delay, failure-rate or none)", ErrValidation, kind)
	}
	var err error
	dur := func(key string, dst *time.Duration) {
		if v, ok := s.opts[key]; ok && err == nil {
			d, perr := options.ParseDuration(v)
			if perr != nil {
				err = fmt.Errorf("%w: Invalid value for option '%s': %v", ErrValidation, key, perr)
				return
			}
			*dst = d
		}
	}
	num := func(key string, dst *float64, lo, hi float64) {
		if v, ok := s.opts[key]; ok && err == nil {
			f, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if perr != nil || f < lo || f > hi {
				err = fmt.Errorf("%w: Invalid value for option '%s': '%s' (want a number from %g to %g)", ErrValidation, key, v, lo, hi)
				return
			}
			*dst = f
		}
	}
	integer := func(key string, dst *int) {
		if v, ok := s.opts[key]; ok && err == nil {
			n, perr := strconv.Atoi(strings.TrimSpace(v))
			if perr != nil || n < 0 {
				err = fmt.Errorf("%w: Invalid value for option '%s': '%s' is not a non-negative integer", ErrValidation, key, v)
				return
			}
			*dst = n
		}
	}
	integer("restart-strategy.fixed-delay.attempts", &p.attempts)
	dur("restart-strategy.fixed-delay.delay", &p.delay)
	dur("restart-strategy.exponential-delay.initial-backoff", &p.initial)
	dur("restart-strategy.exponential-delay.max-backoff", &p.maxBackoff)
	num("restart-strategy.exponential-delay.backoff-multiplier", &p.multiplier, 1, math.MaxFloat64)
	num("restart-strategy.exponential-delay.jitter-factor", &p.jitter, 0, 1)
	dur("restart-strategy.exponential-delay.reset-backoff-threshold", &p.resetAfter)
	integer("restart-strategy.failure-rate.max-failures-per-interval", &p.maxFailures)
	dur("restart-strategy.failure-rate.failure-rate-interval", &p.interval)
	if p.kind == "failure-rate" {
		dur("restart-strategy.failure-rate.delay", &p.delay)
	}
	return p, err
}

// streamRestart restarts a failed streaming job from its latest checkpoint.
type streamRestart struct {
	policy   streamRestartPolicy
	nodes    []planner.Node
	template *graph // configuration of the graphs to build
	cfg      checkpointConfig
	notice   func(string, ...any)

	restarts  int
	failures  []time.Time
	backoff   time.Duration
	lastStart time.Time
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
	g := &graph{batch: false, tempDir: r.template.tempDir, sortMemory: r.template.sortMemory, loc: r.template.loc,
		restart: r.template.restart, notice: r.template.notice, ttl: r.template.ttl}
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
			r.backoff = p.initial
		} else {
			r.backoff = min(time.Duration(float64(r.backoff)*p.multiplier), p.maxBackoff)
		}
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
