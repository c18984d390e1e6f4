package gateway

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/options"
)

// Session expiry as Flink's SQL Gateway does it ('sql-gateway.session.idle-timeout', checked every
// 'sql-gateway.session.check-interval'): a session that no request named for longer than the idle timeout is
// closed. One difference: closing a Sluice session cancels its jobs, so a session with a running job or a
// running query is kept however long it is idle (its jobs end with it only when a client closes it).

// Flink's defaults.
const (
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultCheckInterval = time.Minute
)

// gatewayOptionPrefix marks the -D keys that configure the gateway itself rather than its sessions.
const gatewayOptionPrefix = "sql-gateway."

// ParseOptions takes the gateway's own options ('sql-gateway.*') out of opts (the -D settings) into cfg:
// 'sql-gateway.session.idle-timeout' (0 never expires) and 'sql-gateway.session.check-interval'. Other
// 'sql-gateway.*' keys are refused, naming the supported ones.
func (cfg *Config) ParseOptions(opts map[string]string) error {
	cfg.IdleTimeout, cfg.CheckInterval = DefaultIdleTimeout, DefaultCheckInterval
	for k, v := range opts {
		if !strings.HasPrefix(k, gatewayOptionPrefix) {
			continue
		}
		d, err := options.ParseDuration(v)
		switch k {
		case "sql-gateway.session.idle-timeout":
			if err != nil || d < 0 {
				return fmt.Errorf("Invalid value for option '%s': '%s' is not a duration of 0 or more, e.g. '10 min' (0: sessions never expire)", k, v)
			}
			cfg.IdleTimeout = d
		case "sql-gateway.session.check-interval":
			if err != nil || d <= 0 {
				return fmt.Errorf("Invalid value for option '%s': '%s' is not a positive duration, e.g. '1 min'", k, v)
			}
			cfg.CheckInterval = d
		default:
			return fmt.Errorf("Unsupported gateway option '%s'. Supported: 'sql-gateway.session.idle-timeout', 'sql-gateway.session.check-interval'", k)
		}
		delete(opts, k)
	}
	return nil
}

// touch notes a request naming the session.
func (se *session) touch(now time.Time) { se.lastUsed.Store(now.UnixNano()) }

// busy reports whether the session has a running job or an operation still producing results.
func (se *session) busy() bool {
	for _, j := range se.es.Jobs() {
		if j.Status() == engine.JobRunning {
			return true
		}
	}
	se.mu.Lock()
	defer se.mu.Unlock()
	for _, op := range se.ops {
		if op.running() {
			return true
		}
	}
	return false
}

// expireIdle closes the sessions idle for longer than the idle timeout at now (unless busy) and returns
// their handles.
func (s *Server) expireIdle(now time.Time) []string {
	if s.cfg.IdleTimeout <= 0 {
		return nil
	}
	var idle []*session
	s.mu.Lock()
	for h, se := range s.sessions {
		if now.Sub(time.Unix(0, se.lastUsed.Load())) > s.cfg.IdleTimeout && !se.busy() {
			idle = append(idle, se)
			delete(s.sessions, h)
		}
	}
	s.mu.Unlock()
	var handles []string
	for _, se := range idle {
		se.close()
		handles = append(handles, se.handle)
	}
	return handles
}

// expireLoop runs expireIdle every check interval until ctx is done.
func (s *Server) expireLoop(ctx context.Context) {
	if s.cfg.IdleTimeout <= 0 {
		return
	}
	every := s.cfg.CheckInterval
	if every <= 0 {
		every = DefaultCheckInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, h := range s.expireIdle(now) {
				w := s.cfg.Stderr
				if w == nil {
					w = io.Discard
				}
				fmt.Fprintf(w, "[INFO] Session %s was idle for more than %s ('sql-gateway.session.idle-timeout'); it is closed.\n", h, options.FormatDuration(s.cfg.IdleTimeout))
			}
		}
	}
}

// running reports whether the operation is still executing (a query still producing rows).
func (op *operation) running() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.status == statusRunning && !op.done
}
