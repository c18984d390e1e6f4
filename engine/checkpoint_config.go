package engine

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
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
		commitEvery: defaultCommitInterval,
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

// localPath turns a checkpoint or savepoint location ('file:///var/lib/x', 'file:/x' or a plain path) into a
// local path. Other schemes are refused: Sluice keeps checkpoints on the local file system.
func localPath(key, v string) (string, error) {
	if !strings.Contains(v, "://") && !strings.HasPrefix(v, "file:") {
		if strings.Contains(v, ":/") {
			return "", fmt.Errorf("%w: Invalid value for option '%s': '%s' is not a path or file:// URL (did you mean 'file://%s'?)", ErrValidation, key, v, v[strings.Index(v, ":/")+1:])
		}
		return filepath.Clean(v), nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", fmt.Errorf("%w: Invalid value for option '%s': '%s' is not a valid URL: %v", ErrValidation, key, v, err)
	}
	if u.Scheme != "file" {
		hint := ""
		if d := levenshtein(u.Scheme, "file"); d <= 2 {
			hint = fmt.Sprintf(" (did you mean 'file://%s'?)", u.Path)
		}
		return "", fmt.Errorf("%w: Invalid value for option '%s': '%s': Sluice keeps checkpoints and savepoints on the local file system; use a path or a file:// URL%s", ErrValidation, key, v, hint)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%w: Invalid value for option '%s': '%s' names the host '%s'; a local file URL has three slashes: 'file:///%s'", ErrValidation, key, v, u.Host, strings.TrimPrefix(u.Host+u.Path, "/"))
	}
	if u.Path == "" {
		return "", fmt.Errorf("%w: Invalid value for option '%s': '%s' has no path", ErrValidation, key, v)
	}
	return filepath.Clean(u.Path), nil
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
