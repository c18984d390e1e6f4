// Package datagen is the 'datagen' connector: a source of random or sequential rows, as Flink's datagen.
//
// Every physical column gets a generator, configured by 'fields.<column>.<option>' (nested fields by their
// path: 'fields.r.a.min' for field a of ROW r, 'fields.arr.element.length' for the elements of ARRAY arr,
// 'fields.m.key.length' and 'fields.m.value.min' for MAP m). The source is bounded when number-of-rows is
// set or a column is a sequence; it emits rows-per-second rows per second at most.
package datagen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
)

// Option declarations.
var (
	RowsPerSecond = options.Long("rows-per-second").Default(10000).
			Desc("Rows per second to emit at most.")
	NumberOfRows = options.Long("number-of-rows").
			Desc("Total number of rows to emit; the source is unbounded when it is not set (and no column is a sequence).")
	FieldKind = options.Enum("fields.#.kind", "random", "sequence").Default("random").
			Desc("Generator of the field: random or sequence.")
	FieldMin = options.String("fields.#.min").
			Desc("Minimum value of the random generator (numeric types). Default: the smallest value of the type (FLOAT, DOUBLE, DECIMAL: 0).")
	FieldMax = options.String("fields.#.max").
			Desc("Maximum value of the random generator (numeric types). Default: the largest value of the type.")
	FieldMaxPast = options.Duration("fields.#.max-past").Default(0).
			Desc("Random timestamps, dates and times are now minus up to this duration.")
	FieldLength = options.Int("fields.#.length").
			Desc("Length of random strings and byte strings (default 100, or the declared VARCHAR/VARBINARY length), or size of random arrays, maps and multisets (default 3).")
	FieldVarLen = options.Bool("fields.#.var-len").Default(false).
			Desc("Random strings and byte strings get a random length between 1 and length.")
	FieldStart = options.Long("fields.#.start").
			Desc("First value of the sequence generator.")
	FieldEnd = options.Long("fields.#.end").
			Desc("Last value of the sequence generator.")
	ScanParallelism = options.Int("scan.parallelism").
			Desc("The number of source subtasks (FLIP-367); each generates a contiguous share of the rows and of every sequence, at its share of rows-per-second (default: the job's 'parallelism.default').")
	FieldNullRate = options.Double("fields.#.null-rate").Default(0).
			Desc("Proportion of NULL values of the random generator, between 0 and 1.")
)

// Factory is the datagen connector factory.
type Factory struct {
	seed    uint64
	hasSeed bool
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
}

// Option configures a Factory (for tests; these are not table options).
type Option func(*Factory)

// WithSeed fixes the random seed, so that random output is reproducible.
func WithSeed(seed uint64) Option { return func(f *Factory) { f.seed, f.hasSeed = seed, true } }

// WithClock replaces the clock used for timestamps and rate limiting.
func WithClock(now func() time.Time, sleep func(context.Context, time.Duration) error) Option {
	return func(f *Factory) { f.now, f.sleep = now, sleep }
}

// NewFactory returns the datagen factory.
func NewFactory(opts ...Option) *Factory {
	f := &Factory{now: time.Now, sleep: connectors.Sleep}
	for _, o := range opts {
		o(f)
	}
	return f
}

var _ connectors.SourceFactory = (*Factory)(nil)

func (*Factory) Identifier() string { return "datagen" }

func (*Factory) Options() []options.Decl {
	return options.Decls(RowsPerSecond, NumberOfRows, ScanParallelism, FieldKind, FieldMin, FieldMax, FieldMaxPast, FieldLength,
		FieldVarLen, FieldStart, FieldEnd, FieldNullRate)
}

// CreateSource validates the options against the table's columns and builds the generators.
func (f *Factory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, err
	}
	t := ctx.Table
	if err := checkNoMetadata(t); err != nil {
		return nil, err
	}
	rps := RowsPerSecond.Get(r)
	if rps <= 0 {
		return nil, &options.Error{Keys: []string{RowsPerSecond.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'rows-per-second': '%d' must be positive", rps)}
	}
	rows, hasRows := NumberOfRows.Lookup(r)
	if hasRows && rows < 0 {
		return nil, &options.Error{Keys: []string{NumberOfRows.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'number-of-rows': '%d' must not be negative", rows)}
	}
	if n, ok := ScanParallelism.Lookup(r); ok && n < 1 {
		return nil, &options.Error{Keys: []string{ScanParallelism.Key()},
			Msg: fmt.Sprintf("Invalid value for option 'scan.parallelism': '%d' must be at least 1", n)}
	}
	loc, err := ctx.Location()
	if err != nil {
		return nil, err
	}
	b := &builder{r: r, used: map[string]bool{}, table: t}
	cols := t.PhysicalColumns()
	if err := b.checkPaths(cols); err != nil {
		return nil, err
	}
	s := &source{rps: rps, limit: -1, now: f.now, sleep: f.sleep, loc: loc}
	if hasRows {
		s.limit = rows
	}
	if n, ok := ScanParallelism.Lookup(r); ok {
		s.scanPar = int(n)
	}
	for _, c := range cols {
		g, seqLen, err := b.column(c)
		if err != nil {
			return nil, err
		}
		s.gens = append(s.gens, g)
		if seqLen >= 0 && (s.limit < 0 || seqLen < s.limit) {
			s.limit = seqLen
		}
	}
	if err := b.checkUnused(); err != nil {
		return nil, err
	}
	if f.hasSeed {
		s.seed = f.seed
	} else {
		s.seed = uint64(time.Now().UnixNano())
	}
	return s, nil
}

func checkNoMetadata(t *catalog.Table) error {
	var meta []string
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn {
			meta = append(meta, c.Name)
		}
	}
	if len(meta) == 0 {
		return nil
	}
	return &options.Error{Msg: fmt.Sprintf("Table '%s' declares metadata columns (%s), but connector 'datagen' does not support reading metadata. Remove the METADATA columns.",
		t.Name, strings.Join(meta, ", "))}
}

var _ connectors.TableChecker = (*Factory)(nil)

// CheckTable builds the table's source, which reads nothing until it runs, so that per-field option errors
// (a sequence without an end, a kind a type does not support) fail CREATE TABLE.
func (f *Factory) CheckTable(ctx connectors.Context) error {
	_, err := f.CreateSource(ctx)
	return err
}
