// Package print is the 'print' connector: a sink that writes every change as a line, the way Flink's print
// connector does: "+I[1, a]", prefixed with "<print-identifier>> " when that option is set, to standard
// output or, with standard-error, to standard error.
package print

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
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
			Desc("The number of tasks of the print sink of a batch job (lines read '<task>> +I[...]' above one); a streaming job prints from the subtasks of the sink's input, prefixed the same way above one.")
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
	s := &sink{loc: loc, w: ctx.StdoutWriter(), parallelism: jobParallelism(ctx.Session)}
	if n, ok := SinkParallelism.Lookup(r); ok {
		s.parallelism = int(n)
	}
	if StandardError.Get(r) {
		s.w = ctx.StderrWriter()
	}
	if id, ok := PrintIdentifier.Lookup(r); ok && id != "" {
		s.id = id
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

// jobParallelism is the parallelism of the job's operators that have none of their own, as the engine
// takes it from the session: 'table.exec.resource.default-parallelism', else 'parallelism.default', else 1.
func jobParallelism(session map[string]string) int {
	for _, k := range []string{"table.exec.resource.default-parallelism", "parallelism.default"} {
		if n, err := strconv.Atoi(strings.TrimSpace(session[k])); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

type sink struct {
	parallelism int // Flink's: 'sink.parallelism', else the job's (streaming lines are numbered above 1)
	w           io.Writer
	id          string // 'print-identifier'
	prefix      string
	types       []types.Type
	loc         *time.Location
}

func (s *sink) Accepts() changelog.KindSet { return changelog.AllKinds.Kinds }

// RetractSink reports that the sink consumes retractions (-U) itself, as Flink's print sink (its changelog
// mode is the requested one): the planner puts no SinkUpsertMaterializer in front of it.
func (s *sink) RetractSink() bool { return true }

// Open returns the output. It collects whole lines and writes them at the end of every Push (and whenever
// 64 KiB are pending), holding writeMu, so that lines of print sinks running at once never mix.
//
// A streaming job whose sink input runs as several subtasks (source subtasks, keyed subtasks) has every
// subtask print through a writer of its own (connectors.ConcurrentOutput), its lines prefixed with its
// number from 1 as Flink's PrintSink does above parallelism 1: '2> +I[...]', 'id:2> +I[...]'. An input that
// runs as one instance prints through the output itself, unprefixed (as Flink at parallelism 1).
func (s *sink) Open(context.Context) (changelog.Output, error) {
	return &streamOutput{output: output{sink: s, prefix: s.prefix}}, nil
}

// streamOutput is the output of a streaming job: itself (one instance), or the writers of its subtasks.
type streamOutput struct {
	output
	subtasks int // the subtasks that write the sink (SetSubtasks), 0 when none
}

var (
	_ connectors.ConcurrentOutput = (*streamOutput)(nil)
	_ connectors.SubtaskCounter   = (*streamOutput)(nil)
)

// SetSubtasks records how many subtasks print: above one, their lines carry the subtask's number when the
// sink's parallelism is above one too (a source with 'scan.parallelism' = '3' in a job of parallelism 1
// prints unnumbered, as Flink's sink of parallelism 1 behind it).
func (o *streamOutput) SetSubtasks(n int) { o.subtasks = n }

// NewSubtaskWriter returns the writer of subtask i, with its own line buffer.
func (o *streamOutput) NewSubtaskWriter(i int) (connectors.SubtaskWriter, error) {
	if o.subtasks < 2 || o.sink.parallelism < 2 {
		return &output{sink: o.sink, prefix: o.sink.prefix}, nil
	}
	return &output{sink: o.sink, prefix: o.sink.taskPrefix(i)}, nil
}

// taskPrefix is the prefix of the lines of subtask (or task) i of several: '<i+1>> ', or
// '<print-identifier>:<i+1>> '.
func (s *sink) taskPrefix(i int) string {
	p := strconv.Itoa(i + 1)
	if s.id != "" {
		p = s.id + ":" + p
	}
	return p + "> "
}

// writeMu serializes the writes of all print sinks of the process: jobs run concurrently and usually share
// one standard output.
var writeMu sync.Mutex

const flushSize = 64 << 10

type output struct {
	sink   *sink
	prefix string // the sink's, or a task's (sink_tasks.go)
	buf    []byte // complete lines not yet written
}

func (o *output) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		o.buf = append(o.buf, o.prefix...)
		o.buf = changelog.AppendRow(o.buf, r, o.sink.types, o.sink.loc)
		o.buf = append(o.buf, '\n')
		if len(o.buf) >= flushSize {
			if err := o.flush(); err != nil {
				return err
			}
		}
	}
	return o.flush()
}

// flush writes the pending lines with one Write under writeMu.
func (o *output) flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	writeMu.Lock()
	_, err := o.sink.w.Write(o.buf)
	writeMu.Unlock()
	if cap(o.buf) > 4*flushSize {
		o.buf = nil // a batch of huge rows: do not keep its buffer
	} else {
		o.buf = o.buf[:0]
	}
	if err != nil {
		return fmt.Errorf("print sink: %w", err)
	}
	return nil
}

func (o *output) Watermark(int64) error { return nil }

func (o *output) End() error { return o.flush() }
