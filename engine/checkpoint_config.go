package engine

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/options"
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
	c := checkpointConfig{
		timeout: 10 * time.Minute, tolerable: 0, retention: "NO_EXTERNALIZED_CHECKPOINTS", numRetained: 1,
		backend: "hashmap", maxParallelism: state.DefaultMaxParallelism, commitEvery: defaultCommitInterval,
	}
	var err error
	dur := func(key string, dst *time.Duration, min time.Duration) {
		v, ok := s.opts[key]
		if !ok || err != nil {
			return
		}
		d, perr := options.ParseDuration(v)
		if perr != nil || d < min {
			err = fmt.Errorf("%w: Invalid value for option '%s': '%s' (want a duration of at least %s, e.g. '2 s', '500 ms', '1 min')", ErrValidation, key, v, options.FormatDuration(min))
			return
		}
		*dst = d
	}
	integer := func(key string, dst *int, min, max int) {
		v, ok := s.opts[key]
		if !ok || err != nil {
			return
		}
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr != nil || n < min || n > max {
			err = fmt.Errorf("%w: Invalid value for option '%s': '%s' (want an integer from %d to %d)", ErrValidation, key, v, min, max)
			return
		}
		*dst = n
	}
	boolean := func(key string, dst *bool) {
		v, ok := s.opts[key]
		if !ok || err != nil {
			return
		}
		switch strings.ToLower(v) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			err = fmt.Errorf("%w: Invalid value for option '%s': '%s' (want true or false)", ErrValidation, key, v)
		}
	}
	if v, ok := s.opts["execution.checkpointing.interval"]; ok && strings.TrimSpace(v) != "0" {
		dur("execution.checkpointing.interval", &c.interval, 10*time.Millisecond)
	}
	if c.interval > 0 {
		c.commitEvery = c.interval
	}
	if v, ok := s.opts["execution.checkpointing.mode"]; ok {
		c.atLeastOnce = strings.EqualFold(v, "AT_LEAST_ONCE")
	}
	dur("execution.checkpointing.timeout", &c.timeout, time.Millisecond)
	dur("execution.checkpointing.min-pause", &c.minPause, 0)
	integer("execution.checkpointing.tolerable-failed-checkpoints", &c.tolerable, 0, 1<<30)
	if v, ok := s.opts["execution.checkpointing.externalized-checkpoint-retention"]; ok {
		c.retention = strings.ToUpper(v)
	}
	integer("state.checkpoints.num-retained", &c.numRetained, 1, 1<<20)
	integer("pipeline.max-parallelism", &c.maxParallelism, 1, 32768)
	boolean("execution.savepoint.ignore-unclaimed-state", &c.ignoreUnclaimed)
	boolean("state.backend.incremental", &c.incremental)
	dur("table.exec.state.ttl", &c.ttl, 0)
	path := func(key string, dst *string) {
		v, ok := s.opts[key]
		if !ok || err != nil || v == "" {
			return
		}
		p, perr := localPath(key, v)
		if perr != nil {
			err = perr
			return
		}
		*dst = p
	}
	path("state.checkpoints.dir", &c.dir)
	path("execution.checkpointing.dir", &c.dir)
	path("state.savepoints.dir", &c.savepointDir)
	path("execution.savepoint.path", &c.restorePath)
	for _, key := range []string{"state.backend", "state.backend.type"} {
		if v, ok := s.opts[key]; ok {
			switch strings.ToLower(v) {
			case "hashmap", "filesystem", "jobmanager":
				c.backend = "hashmap"
			case "rocksdb":
				c.backend = "rocksdb"
			default:
				return c, fmt.Errorf("%w: Invalid value for option '%s': '%s' (want 'hashmap' or 'rocksdb')", ErrValidation, key, v)
			}
		}
	}
	return c, err
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
