// Package print is the 'print' connector: a sink that writes every change as a line, the way Flink's print
// connector does: "+I[1, a]", prefixed with "<print-identifier>> " when that option is set, to standard
// output or, with standard-error, to standard error.
package print

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Option declarations.
var (
	PrintIdentifier = options.String("print-identifier").
			Desc("A message prefix: lines read '<print-identifier>> +I[...]'.")
	StandardError = options.Bool("standard-error").Default(false).
			Desc("Print to standard error instead of standard output.")
	SinkParallelism = options.Int("sink.parallelism").
			Desc("Accepted for compatibility; the print sink runs as one instance.")
)

// Factory is the print connector factory.
type Factory struct{}

// NewFactory returns the print factory.
func NewFactory() *Factory { return &Factory{} }

var _ connectors.SinkFactory = (*Factory)(nil)

func (*Factory) Identifier() string { return "print" }

func (*Factory) Options() []options.Decl {
	return options.Decls(PrintIdentifier, StandardError, SinkParallelism)
}

// CreateSink validates the options and the table (no writable metadata) and returns the sink.
func (f *Factory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, err
	}
	if n, ok := SinkParallelism.Lookup(r); ok && n < 1 {
		return nil, &options.Error{Keys: []string{SinkParallelism.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'sink.parallelism': '%d' must be positive", n)}
	}
	if err := checkNoMetadata(ctx.Table); err != nil {
		return nil, err
	}
	loc, err := ctx.Location()
	if err != nil {
		return nil, err
	}
	s := &sink{loc: loc, w: ctx.StdoutWriter()}
	if StandardError.Get(r) {
		s.w = ctx.StderrWriter()
	}
	if id, ok := PrintIdentifier.Lookup(r); ok && id != "" {
		s.prefix = id + "> "
	}
	for _, c := range ctx.Table.PhysicalColumns() {
		s.types = append(s.types, c.Type)
	}
	return s, nil
}

func checkNoMetadata(t *catalog.Table) error {
	var meta []string
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn && !c.Virtual {
			meta = append(meta, c.Name)
		}
	}
	if len(meta) == 0 {
		return nil
	}
	return &options.Error{Msg: fmt.Sprintf("Table '%s' declares persisted metadata columns (%s), but connector 'print' does not support writing metadata. Declare them VIRTUAL or remove them.",
		t.Name, strings.Join(meta, ", "))}
}

type sink struct {
	w      io.Writer
	prefix string
	types  []types.Type
	loc    *time.Location
}

func (s *sink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }

// Open returns the output. It writes through a buffer flushed at the end of every Push and at End.
func (s *sink) Open(context.Context) (changelog.Output, error) {
	return &output{sink: s, w: bufio.NewWriterSize(s.w, 64<<10)}, nil
}

type output struct {
	sink *sink
	w    *bufio.Writer
	line []byte
}

func (o *output) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		o.line = append(o.line[:0], o.sink.prefix...)
		o.line = changelog.AppendRow(o.line, r, o.sink.types, o.sink.loc)
		o.line = append(o.line, '\n')
		if _, err := o.w.Write(o.line); err != nil {
			return fmt.Errorf("print sink: %w", err)
		}
	}
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("print sink: %w", err)
	}
	return nil
}

func (o *output) Watermark(int64) error { return nil }

func (o *output) End() error {
	if err := o.w.Flush(); err != nil {
		return fmt.Errorf("print sink: %w", err)
	}
	return nil
}
