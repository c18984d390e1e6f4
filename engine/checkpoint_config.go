package engine

import (
	"time"

	"github.com/sluicesql/sluice/state"
)

// checkpointConfig is what a streaming job reads of Flink's checkpointing options.
type checkpointConfig struct {
	interval        time.Duration // 0: periodic checkpoints are off
	atLeastOnce     bool          // execution.checkpointing.mode = AT_LEAST_ONCE (Sluice's cut is exact either way)
	timeout         time.Duration
	minPause        time.Duration
	tolerable       int
	retention       string // DELETE_ON_CANCELLATION | RETAIN_ON_CANCELLATION | NO_EXTERNALIZED_CHECKPOINTS
	dir             string // local directory; "" keeps the latest checkpoint in memory only
	savepointDir    string
	numRetained     int
	restorePath     string
	ignoreUnclaimed bool
	backend         string // hashmap | rocksdb
	incremental     bool
	maxParallelism  int
	ttl             time.Duration
	commitEvery     time.Duration // with checkpointing off: how often sink writes are flushed and offsets committed
	unaligned       bool          // execution.checkpointing.unaligned.enabled (exchange_barrier.go)
	noChannelsOf    int64         // execution.checkpointing.recover-without-channel-state.checkpoint-id (-1: none)
}

// defaultCommitInterval is how often, with checkpointing off, a streaming job flushes its sinks and then
// commits its Kafka sources' offsets (Kafka's auto.commit.interval.ms default).
const defaultCommitInterval = 5 * time.Second

func (s *Session) checkpointConfig() (checkpointConfig, error) {
	st, err := sessionCheckpointing(s.opts)
	if err != nil {
		return checkpointConfig{}, err
	}
	c := checkpointConfig{
		interval: st.Interval, atLeastOnce: st.Mode == "AT_LEAST_ONCE", timeout: st.Timeout, minPause: st.MinPause,
		tolerable: st.TolerableFailed, retention: st.Retention, dir: st.Dir, savepointDir: st.SavepointDir,
		numRetained: st.NumRetained, restorePath: st.RestorePath, ignoreUnclaimed: st.IgnoreUnclaimed,
		backend: st.Backend, incremental: st.Incremental, maxParallelism: st.MaxParallelism, ttl: st.StateTTL,
		commitEvery: defaultCommitInterval, unaligned: st.Unaligned,
		noChannelsOf: st.NoChannelsOf,
	}
	if c.interval > 0 {
		c.commitEvery = c.interval
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Minute
	}
	if c.numRetained < 1 {
		c.numRetained = 1
	}
	if c.maxParallelism < 1 {
		c.maxParallelism = state.DefaultMaxParallelism
	}
	if c.backend == "" {
		c.backend = "hashmap"
	}
	return c, nil
}
