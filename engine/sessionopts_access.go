package engine

import (
	"fmt"
	"time"
)

// Typed access to session options. Each accessor takes the session's options (Session.opts, or a copy from
// Session.Options) and a key in any of its spellings ('state.checkpoints.dir' finds a value set as
// 'execution.checkpointing.dir' and the other way round). It returns the value, whether the key is set, and
// an error when the stored value does not parse (only possible when opts was written without Session.set)
// or when the key is not declared with the accessor's type (a bug). When the key is not set, the value is
// the key's default (the zero value when it has none).

// sessionDuration reads a kindDuration option.
func sessionDuration(opts map[string]string, key string) (time.Duration, bool, error) {
	return sessionGet[time.Duration](opts, key, kindDuration)
}

// sessionInt reads a kindInt or kindLong option.
func sessionInt(opts map[string]string, key string) (int64, bool, error) {
	return sessionGet[int64](opts, key, kindInt, kindLong)
}

// sessionFloat reads a kindFloat option.
func sessionFloat(opts map[string]string, key string) (float64, bool, error) {
	return sessionGet[float64](opts, key, kindFloat)
}

// sessionBool reads a kindBool option.
func sessionBool(opts map[string]string, key string) (bool, bool, error) {
	return sessionGet[bool](opts, key, kindBool)
}

// sessionMemory reads a kindMemory option, in bytes.
func sessionMemory(opts map[string]string, key string) (int64, bool, error) {
	return sessionGet[int64](opts, key, kindMemory)
}

// sessionEnum reads a kindEnum option: one of its declared values, in the declared spelling (aliases such
// as 'filesystem' for 'hashmap' or 'fixeddelay' for 'fixed-delay' are already mapped).
func sessionEnum(opts map[string]string, key string) (string, bool, error) {
	return sessionGet[string](opts, key, kindEnum)
}

// sessionDir reads a kindDir option as a local path (a file: URL turned into its path, cleaned).
func sessionDir(opts map[string]string, key string) (string, bool, error) {
	return sessionGet[string](opts, key, kindDir)
}

// sessionString reads a kindString or kindZone option.
func sessionString(opts map[string]string, key string) (string, bool, error) {
	return sessionGet[string](opts, key, kindString, kindZone)
}

func sessionGet[T any](opts map[string]string, key string, kinds ...optKind) (T, bool, error) {
	var zero T
	k, ok := sessionKeyIndex[key]
	if !ok {
		return zero, false, fmt.Errorf("%w: session option '%s' is not declared in sessionKeys", ErrInternal, key)
	}
	kindOK := false
	for _, kd := range kinds {
		kindOK = kindOK || k.kind == kd
	}
	if !kindOK {
		return zero, false, fmt.Errorf("%w: session option '%s' is not read with the accessor of its type", ErrInternal, key)
	}
	raw, set := opts[k.key]
	for _, a := range k.alt {
		if set {
			break
		}
		raw, set = opts[a]
	}
	if !set {
		if k.def == "" {
			return zero, false, nil
		}
		raw = k.def
	}
	v, _, err := k.parse(raw)
	if err != nil {
		return zero, set, fmt.Errorf("%w: Invalid value for option '%s': %v", ErrValidation, k.key, err)
	}
	t, ok := v.(T)
	if !ok {
		return zero, set, fmt.Errorf("%w: session option '%s' parsed to %T", ErrInternal, key, v)
	}
	return t, set, nil
}

// checkpointSettings are the checkpoint, state backend and restore options of a session, parsed.
type checkpointSettings struct {
	Interval        time.Duration // 0: checkpointing is off
	Mode            string        // EXACTLY_ONCE or AT_LEAST_ONCE
	Timeout         time.Duration
	MinPause        time.Duration
	TolerableFailed int
	Retention       string // DELETE_ON_CANCELLATION, RETAIN_ON_CANCELLATION or NO_EXTERNALIZED_CHECKPOINTS
	Dir             string // local directory of checkpoints; "" when not set
	SavepointDir    string // local directory of savepoints; "" when not set
	NumRetained     int
	Backend         string // hashmap or rocksdb
	Incremental     bool
	Unaligned       bool   // execution.checkpointing.unaligned.enabled
	NoChannelsOf    int64  // execution.checkpointing.recover-without-channel-state.checkpoint-id
	RestorePath     string // execution.savepoint.path as a local directory; "" when not set
	IgnoreUnclaimed bool
	MaxParallelism  int           // key groups
	StateTTL        time.Duration // 0: state never expires
	BatchSavepoint  string        // sluice.batch.savepoint-dir; "" when not set
}

// sessionCheckpointing reads every checkpoint, state and restore option of opts, with Sluice's defaults.
func sessionCheckpointing(opts map[string]string) (checkpointSettings, error) {
	var c checkpointSettings
	var errs []error
	dur := func(key string) time.Duration {
		d, _, err := sessionDuration(opts, key)
		errs = append(errs, err)
		return d
	}
	num := func(key string) int {
		n, _, err := sessionInt(opts, key)
		errs = append(errs, err)
		return int(n)
	}
	enum := func(key string) string {
		v, _, err := sessionEnum(opts, key)
		errs = append(errs, err)
		return v
	}
	dir := func(key string) string {
		v, _, err := sessionDir(opts, key)
		errs = append(errs, err)
		return v
	}
	flag := func(key string) bool {
		v, _, err := sessionBool(opts, key)
		errs = append(errs, err)
		return v
	}
	c.Interval = dur("execution.checkpointing.interval")
	c.Mode = enum("execution.checkpointing.mode")
	c.Timeout = dur("execution.checkpointing.timeout")
	c.MinPause = dur("execution.checkpointing.min-pause")
	c.TolerableFailed = num("execution.checkpointing.tolerable-failed-checkpoints")
	c.Retention = enum("execution.checkpointing.externalized-checkpoint-retention")
	c.Dir = dir("execution.checkpointing.dir")
	c.SavepointDir = dir("execution.checkpointing.savepoint-dir")
	c.NumRetained = num("execution.checkpointing.num-retained")
	c.Backend = enum("state.backend.type")
	c.Incremental = flag("execution.checkpointing.incremental")
	c.RestorePath = dir("execution.state-recovery.path")
	c.IgnoreUnclaimed = flag("execution.state-recovery.ignore-unclaimed-state")
	c.MaxParallelism = num("pipeline.max-parallelism")
	c.StateTTL = dur("table.exec.state.ttl")
	c.BatchSavepoint = dir("sluice.batch.savepoint-dir")
	c.Unaligned = flag("execution.checkpointing.unaligned.enabled")
	c.NoChannelsOf = int64(num("execution.checkpointing.recover-without-channel-state.checkpoint-id"))
	for _, err := range errs {
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// restartStrategy is the restart-strategy options of a session, parsed.
type restartStrategy struct {
	Kind string // fixed-delay, exponential-delay, failure-rate or none; "" when not set (the mode's default applies)

	Attempts int           // fixed-delay: restarts before the job fails
	Delay    time.Duration // fixed-delay and failure-rate: the wait before a restart

	InitialBackoff, MaxBackoff time.Duration // exponential-delay
	Multiplier, Jitter         float64
	ResetThreshold             time.Duration
	MaxAttempts                int // exponential-delay: 0 = no limit

	MaxFailures     int // failure-rate: failures per interval before the job fails
	FailureInterval time.Duration
}

// sessionRestartStrategy reads the restart-strategy options of opts, with Sluice's defaults.
func sessionRestartStrategy(opts map[string]string) (restartStrategy, error) {
	var r restartStrategy
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	var err error
	var n int64
	r.Kind, _, err = sessionEnum(opts, "restart-strategy.type")
	keep(err)
	n, _, err = sessionInt(opts, "restart-strategy.fixed-delay.attempts")
	r.Attempts = int(n)
	keep(err)
	n, _, err = sessionInt(opts, "restart-strategy.exponential-delay.attempts-before-reset-backoff")
	r.MaxAttempts = int(n)
	keep(err)
	n, _, err = sessionInt(opts, "restart-strategy.failure-rate.max-failures-per-interval")
	r.MaxFailures = int(n)
	keep(err)
	delayKey := "restart-strategy.fixed-delay.delay"
	if r.Kind == "failure-rate" {
		delayKey = "restart-strategy.failure-rate.delay"
	}
	for _, d := range []struct {
		key string
		to  *time.Duration
	}{
		{delayKey, &r.Delay},
		{"restart-strategy.exponential-delay.initial-backoff", &r.InitialBackoff},
		{"restart-strategy.exponential-delay.max-backoff", &r.MaxBackoff},
		{"restart-strategy.exponential-delay.reset-backoff-threshold", &r.ResetThreshold},
		{"restart-strategy.failure-rate.failure-rate-interval", &r.FailureInterval},
	} {
		*d.to, _, err = sessionDuration(opts, d.key)
		keep(err)
	}
	r.Multiplier, _, err = sessionFloat(opts, "restart-strategy.exponential-delay.backoff-multiplier")
	keep(err)
	r.Jitter, _, err = sessionFloat(opts, "restart-strategy.exponential-delay.jitter-factor")
	keep(err)
	return r, first
}
