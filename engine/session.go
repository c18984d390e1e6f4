package engine

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/formats"
	fmtbuiltin "github.com/sluicesql/sluice/formats/builtin"
)

// Config configures a session.
type Config struct {
	// Options are initial session options (sql-client -D key=value, DSN options).
	Options map[string]string
	// Stdout and Stderr receive the output of print sinks (os.Stdout/os.Stderr when nil).
	Stdout, Stderr io.Writer
	// Notice receives informational notes (e.g. "checkpointing is ignored in batch mode"); Stderr when nil.
	Notice io.Writer
	// Connectors and Formats are the registries tables are resolved against (the built-in ones when nil).
	Connectors *connectors.Registry
	Formats    *formats.Registry
	// TempDir is where batch sorts spill (os.TempDir() when empty).
	TempDir string
	// OnSubmit, when set, is called with every new job just before it starts (so that a client can announce
	// the job before the job's own output, e.g. print sinks, appears).
	OnSubmit func(*Job)
	// Now is the processing-time clock: PROCTIME(), CURRENT_TIMESTAMP and processing-time windows read it
	// (time.Now when nil; tests fix it).
	Now func() time.Time
}

// Session holds a catalog and a configuration and executes statements against them. A Session may be used
// from several goroutines; statements are executed one at a time.
type Session struct {
	mu   sync.Mutex
	cfg  Config
	opts map[string]string
	cat  *catalog.Catalog

	connectors *connectors.Registry
	formats    *formats.Registry
	jobs       []*Job
	seq        int
	functions  map[string]*expr.UDF    // user-defined scalar functions (embed.go)
	metrics    sessionMetrics          // the Prometheus endpoint and the jobs it reports (metrics_prom.go)
	sqlFuncs   map[string]*sqlFunction // those of functions created by CREATE FUNCTION (functions.go)
}

// NewSession returns a session with an empty catalog.
func NewSession(cfg Config) (*Session, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Notice == nil {
		cfg.Notice = cfg.Stderr
	}
	if cfg.Connectors == nil {
		cfg.Connectors = connbuiltin.Registry()
	}
	if cfg.Formats == nil {
		cfg.Formats = fmtbuiltin.Registry()
	}
	s := &Session{cfg: cfg, opts: map[string]string{}, cat: catalog.New(), connectors: cfg.Connectors, formats: cfg.Formats}
	if err := s.setInitial(cfg.Options, cfg.Notice); err != nil {
		return nil, err
	}
	return s, nil
}

// Jobs returns the jobs submitted so far.
func (s *Session) Jobs() []*Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Job(nil), s.jobs...)
}

// WaitJobs waits until every submitted job ended and returns the first job error.
func (s *Session) WaitJobs(ctx context.Context) error {
	var first error
	for _, j := range s.Jobs() {
		if err := j.Wait(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// CancelJobs cancels every running job and waits for them to stop.
func (s *Session) CancelJobs() {
	for _, j := range s.Jobs() {
		j.Cancel()
	}
}
