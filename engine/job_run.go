package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// A job's run: one attempt of its graph, and the supervision that restarts it from the latest checkpoint.

// run runs the graph until every source ended, an error, or cancellation, and records the outcome.
func (j *Job) run(ctx context.Context, g *graph) { j.supervise(ctx, g, nil) }

// supervise runs the graph and, when it fails and restart allows it, rebuilds it from the latest checkpoint
// and runs it again (Flink's restart strategies for streaming jobs); then it records the outcome.
func (j *Job) supervise(ctx context.Context, g *graph, restart *streamRestart) {
	j.startSampling() // rates (metrics.go)
	for {
		status, err := j.attempt(ctx, g)
		if status == JobFinished && g.bsp != nil {
			path, werr := g.bsp.write(g, j)
			if werr != nil {
				status, err = JobFailed, fmt.Errorf("job %s failed: write the batch savepoint ('sluice.batch.savepoint-dir'): %w", j.id, werr)
			} else {
				j.mu.Lock()
				j.savepoint = path
				j.mu.Unlock()
				fmt.Fprintf(g.notice, "[INFO] The batch run's savepoint: %s\n", path)
			}
		}
		if status == JobFailed && restart != nil && ctx.Err() == nil {
			ng, rerr := restart.again(ctx, j, g, err)
			if rerr == nil {
				g = ng
				j.metrics.restarts.Add(1)
				continue
			}
			if !errors.Is(rerr, errNoRestart) {
				err = fmt.Errorf("%w (restarting it failed: %v)", err, rerr)
			}
		}
		if g.ckpt != nil && g.ckpt.jobDir != "" && j.ephemeralDir == "" {
			g.ckpt.retain(status)
		}
		if g.backend != nil {
			_ = g.backend.Close() // removes its working directory
		}
		g.removePipelinedJobDir() // batch_jobdir.go
		if j.ephemeralDir != "" {
			_ = os.RemoveAll(j.ephemeralDir) // checkpoints of a job without 'state.checkpoints.dir'
		}
		j.mu.Lock()
		j.err, j.status, j.end = err, status, time.Now()
		j.mu.Unlock()
		close(j.done)
		return
	}
}

// attempt runs the graph once and returns how it ended.
func (j *Job) attempt(ctx context.Context, g *graph) (JobStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.failJob = func(err error) { // checkpoint_stop.go; safe after the attempt ended
		g.stopErr.CompareAndSwap(nil, &err)
		cancel()
	}
	if g.ckpt != nil {
		g.ckpt.runDone.Store(ctx.Done()) // checkpoint_stop.go: a STOP's write lets go of the graph when the run ends
	}
	j.mu.Lock()
	j.graph = g
	j.mu.Unlock()
	if g.staged != nil {
		return j.attemptStaged(ctx, g)
	}
	endedByItself := g.interruptOnCancel(ctx) // sink_interrupt.go
	var wg sync.WaitGroup
	errs := make(chan error, len(g.sources)+2+len(g.exchanges))
	fail := func(err error) {
		if beforeFailCancel != nil {
			beforeFailCancel(g) // push_failure.go
		}
		errs <- err
		cancel()
	}
	waitExchanges := g.runExchanges(ctx, fail) // exchange.go
	tickDone := g.miniBatch.tick(ctx, &g.mu, func() bool { return g.stopped || g.sinksEnded() }, &g.failure, fail)
	var loopDone chan struct{}
	if g.ckpt != nil && !g.batch {
		loopDone = make(chan struct{})
		go func() {
			defer close(loopDone)
			g.ckpt.loop(ctx, func(err error) {
				errs <- err
				cancel()
			})
		}()
	}
	for _, sr := range g.sources {
		wg.Add(1)
		go func(sr sourceRun) {
			defer wg.Done()
			if sr.subs != nil {
				if err := runSubtasks(ctx, sr); err != nil {
					fail(err)
				}
				return
			}
			out := &locked{mu: &g.mu, out: sr.out, stopped: &g.stopped, failure: &g.failure}
			err := runSource(ctx, sr, out)
			if err == nil {
				err = safeEnd(sr.name, out)
			}
			if err != nil {
				fail(err)
			}
		}(sr)
	}
	wg.Wait()
	waitExchanges()
	if ctx.Err() == nil {
		endedByItself() // no cancel, STOP or failure came first: the sinks commit without a grace
	}
	if tickDone != nil {
		cancel() // stops the mini-batch ticker
		<-tickDone
	}
	if loopDone != nil {
		cancel() // stops the checkpoint loop
		<-loopDone
	}
	close(errs)
	var err error
	for e := range errs {
		// the error of the part that failed, before a checkpoint's refusal after it (push_failure.go) and
		// the cancellation of the others
		if err == nil || errorRank(e) > errorRank(err) {
			err = e
		}
	}
	if e := g.stopErr.Load(); e != nil && (err == nil || errorRank(*e) > errorRank(err)) {
		err = *e // a failed STOP WITH DRAIN (checkpoint_stop.go)
	}
	if f := g.failure.load(); err != nil && errorRank(err) == 0 && isSinkError(f) {
		// a sink's error wrapping context.Canceled that a part reported behind the cancellation of its
		// siblings (an exchange's or a source's subtasks keep their first error, a cancellation ranking
		// first): the job failed (sink_failure.go)
		err = f
	}
	status := JobFinished
	var flushErr error // of a sink flushed at the cancellation: the sources publish no final position
	switch {
	case err == nil:
	case errorRank(err) == 0: // the job's cancellation (STOP, cancel, the session closing), not a sink's
		status = JobCancelled
		for _, st := range g.stages {
			st.cleanup() // a cancelled batch job writes nothing of its unfinished stages
		}
		// Flush what the sinks buffered; in batch mode nothing partial is emitted by operators.
		g.mu.Lock()
		for _, s := range g.sinks {
			if ferr := s.End(); ferr != nil && flushErr == nil {
				flushErr = ferr
			}
		}
		g.mu.Unlock()
		err = nil
	default:
		status = JobFailed
		err = fmt.Errorf("job %s failed: %w", j.id, err)
	}
	if status != JobFailed && g.ckpt != nil {
		// The sinks have ended (flushed): the sources may publish their final positions.
		g.ckpt.final(context.WithoutCancel(ctx), flushErr)
	}
	if status == JobFailed {
		g.abort()
	}
	g.closeSubtasks()
	return status, err
}
