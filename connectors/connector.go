package connectors

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/types"
)

// Context is what a factory gets to build a source or sink for one table.
type Context struct {
	Table *catalog.Table
	// Options are the table's options (all of them, including 'connector').
	Options map[string]string
	// Formats is the format registry, for connectors that take 'format' options.
	Formats *formats.Registry
	// Batch reports the batch runtime mode.
	Batch bool
	// Session holds the session configuration (SET keys), read-only.
	Session map[string]string
	// Stdout and Stderr are where the print connector writes; nil means os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
}

// StdoutWriter returns Stdout, or os.Stdout when it is nil.
func (c Context) StdoutWriter() io.Writer {
	if c.Stdout != nil {
		return c.Stdout
	}
	return os.Stdout
}

// StderrWriter returns Stderr, or os.Stderr when it is nil.
func (c Context) StderrWriter() io.Writer {
	if c.Stderr != nil {
		return c.Stderr
	}
	return os.Stderr
}

// Location returns the session time zone ('table.local-time-zone'; "default" or unset means the local zone
// of the process), used to print and generate TIMESTAMP_LTZ, DATE and TIME values.
func (c Context) Location() (*time.Location, error) {
	z := c.Session["table.local-time-zone"]
	if z == "" || z == "default" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(z)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid value for option 'table.local-time-zone': '%s' is not a time zone id (e.g. 'UTC', 'Europe/Berlin')", options.ErrValidation, z)
	}
	return loc, nil
}

// Factory is implemented by every connector.
type Factory interface {
	// Identifier is the value of the 'connector' option.
	Identifier() string
	// Options declares every option the connector takes (required and optional), for validation and docs.
	Options() []options.Decl
}

// SourceFactory builds sources.
type SourceFactory interface {
	Factory
	CreateSource(ctx Context) (Source, error)
}

// SinkFactory builds sinks.
type SinkFactory interface {
	Factory
	CreateSink(ctx Context) (Sink, error)
}

// MetadataReader is implemented by factories whose sources expose metadata columns: key → type.
type MetadataReader interface {
	ReadableMetadata() map[string]types.Type
}

// MetadataWriter is implemented by factories whose sinks accept metadata columns: key → type.
type MetadataWriter interface {
	WritableMetadata() map[string]types.Type
}

// Source produces the rows of a table: its physical columns, followed by the metadata columns the table
// declares, in declaration order. (Computed columns are evaluated by the planner.)
type Source interface {
	// ChangelogMode is the mode of the rows Run pushes.
	ChangelogMode() changelog.Mode
	// Bounded reports whether Run ends by itself.
	Bounded() bool
	// Run pushes rows to out until the input ends (bounded: then it returns nil without calling out.End;
	// the runtime calls End) or ctx is cancelled (returns ctx.Err()). Errors name where the bad input is.
	Run(ctx context.Context, out changelog.Output) error
}

// Sink consumes a changelog. Its input rows carry the table's physical columns followed by its non-virtual
// metadata columns, in declaration order.
type Sink interface {
	// Accepts is the set of kinds the sink can consume. The planner refuses plans producing others.
	Accepts() changelog.KindSet
	// Open starts the sink; the returned Output receives the rows. End flushes and closes.
	Open(ctx context.Context) (changelog.Output, error)
}

// OptionsChecker is implemented by factories that can check more of a table's options at CREATE TABLE
// than the declarations say (e.g. the names and values of Kafka client 'properties.*'), without I/O that
// needs the external system. Errors are *options.Error naming the keys at fault.
type OptionsChecker interface {
	CheckOptions(opts map[string]string) error
}

// TableChecker is implemented by factories that can check a whole table at CREATE TABLE (its columns,
// primary key and formats together with the options), without I/O to external systems: what CreateSource
// and CreateSink would otherwise refuse only when a query first uses the table.
type TableChecker interface {
	CheckTable(ctx Context) error
}

// ProjectableSource is implemented by sources that can skip the columns (and ROW members) a query does not
// read (projection pushdown). p is over the table's columns in scan order (physical, then metadata). The
// planner calls ApplyProjection before Run; the source may then leave the columns p does not need NULL
// (the scan's row keeps its width).
type ProjectableSource interface {
	ApplyProjection(p *formats.Projection)
}

// Sleep waits for d or until ctx is done (then it returns ctx's error). Sources use it to pace rows.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
