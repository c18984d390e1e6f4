package sluice

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/big"
	"sync"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// GoIteratorConnector is the 'connector' identifier of tables backed by Go iterators (RegisterSource).
const GoIteratorConnector = "go-iterator"

var sourceOption = options.String("source").Required().Desc("The name the Go iterator was registered under (Engine.RegisterSource).")

// SourceOption configures RegisterSource.
type SourceOption func(*goSource)

// WithUpdates declares that the iterator yields -U, +U and -D rows as well as +I (a retract changelog).
// Without it the source is insert-only and any other kind fails the query.
func WithUpdates() SourceOption {
	return func(s *goSource) { s.mode = changelog.Retract }
}

// RegisterSource registers a table named name whose rows come from seq, and creates it in the catalog
// (CREATE TEMPORARY TABLE name (columns) WITH ('connector' = 'go-iterator', 'source' = name)), replacing a
// table of that name registered before.
//
// seq is called once per query or job that scans the table, from the engine's goroutine; it must be
// re-iterable. Each yielded row holds one Go value per column, converted to the column's SQL type: integers
// for integer types (range-checked), float64 or integers for FLOAT/DOUBLE, string for CHAR/VARCHAR, []byte
// for BINARY/BYTES, bool, Decimal, *big.Rat, string, float64 or integers for DECIMAL (rounded half up to the
// scale), time.Time for TIMESTAMP (its wall clock), TIMESTAMP_LTZ (its instant), DATE and TIME, and nil for
// NULL. A conversion error fails the query, naming the row and column. When the query is cancelled, the next
// yield returns false; an iterator blocked between yields delays the cancellation until it yields again.
// bounded says whether seq ends by itself (required for batch mode).
func (e *Engine) RegisterSource(name string, columns []Column, seq iter.Seq2[Kind, []any], bounded bool, opts ...SourceOption) error {
	if err := e.check(); err != nil {
		return err
	}
	if name == "" {
		return errors.New("sluice: RegisterSource: empty table name")
	}
	if seq == nil {
		return fmt.Errorf("sluice: RegisterSource %s: nil iterator", name)
	}
	if len(columns) == 0 {
		return fmt.Errorf("sluice: RegisterSource %s: no columns", name)
	}
	src := &goSource{name: name, seq: seq, bounded: bounded, mode: changelog.InsertOnly}
	ddl := "CREATE TEMPORARY TABLE " + quoteIdent(name) + " ("
	for i, c := range columns {
		t, err := sql.ParseDataType(c.Type)
		if err != nil {
			return fmt.Errorf("sluice: RegisterSource %s: column %s: type %q: %w", name, c.Name, c.Type, err)
		}
		switch t.Kind {
		case types.Array, types.Map, types.Multiset, types.Row, types.Null, types.IntervalDayTime, types.IntervalYearMonth:
			return fmt.Errorf("sluice: RegisterSource %s: column %s: type %s is not supported for Go sources", name, c.Name, t)
		}
		src.types = append(src.types, t)
		src.names = append(src.names, c.Name)
		if i > 0 {
			ddl += ", "
		}
		ddl += quoteIdent(c.Name) + " " + c.Type
	}
	for _, o := range opts {
		o(src)
	}
	ddl += ") WITH ('connector' = '" + GoIteratorConnector + "', 'source' = '" + sqlString(name) + "')"
	e.sources.put(src)
	ctx := context.Background()
	drop, err := sql.ParseStatement("DROP TEMPORARY TABLE IF EXISTS " + quoteIdent(name))
	if err != nil {
		return fmt.Errorf("sluice: RegisterSource %s: %w", name, err)
	}
	if _, err := e.sess.Execute(ctx, drop); err != nil {
		return fmt.Errorf("sluice: RegisterSource %s: %w", name, err)
	}
	create, err := sql.ParseStatement(ddl)
	if err != nil {
		return fmt.Errorf("sluice: RegisterSource %s: %w", name, err)
	}
	if _, err := e.sess.Execute(ctx, create); err != nil {
		return fmt.Errorf("sluice: RegisterSource %s: %w", name, err)
	}
	return nil
}

func sqlString(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// goSources are the iterators registered on one engine.
type goSources struct {
	mu     sync.Mutex
	byName map[string]*goSource
}

func (g *goSources) put(s *goSource) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byName[s.name] = s
}

func (g *goSources) get(name string) (*goSource, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.byName[name]
	return s, ok
}

// goIteratorFactory is the 'go-iterator' connector of one engine.
type goIteratorFactory struct{ sources *goSources }

var _ connectors.SourceFactory = (*goIteratorFactory)(nil)

func (f *goIteratorFactory) Identifier() string { return GoIteratorConnector }

func (f *goIteratorFactory) Options() []options.Decl {
	return []options.Decl{connectors.ConnectorOption.Decl(), sourceOption.Decl()}
}

func (f *goIteratorFactory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, err
	}
	name := sourceOption.Get(r)
	s, ok := f.sources.get(name)
	if !ok {
		return nil, fmt.Errorf("%w: no Go iterator is registered as '%s'; call Engine.RegisterSource", options.ErrValidation, name)
	}
	var phys []types.Type
	for _, c := range ctx.Table.Columns {
		if c.Kind == sql.PhysicalColumn {
			phys = append(phys, c.Type)
		}
	}
	if len(phys) != len(s.types) {
		return nil, fmt.Errorf("%w: table %s has %d physical columns but Go source '%s' has %d", options.ErrValidation, ctx.Table.Name, len(phys), name, len(s.types))
	}
	loc, err := ctx.Location()
	if err != nil {
		return nil, err
	}
	return &goSourceRun{goSource: s, loc: loc}, nil
}

// goSource is one registered iterator.
type goSource struct {
	name    string
	names   []string
	types   []types.Type
	seq     iter.Seq2[Kind, []any]
	bounded bool
	mode    changelog.Mode
}

// goSourceRun is a goSource scanned by one query.
type goSourceRun struct {
	*goSource
	loc *time.Location
}

func (s *goSourceRun) ChangelogMode() changelog.Mode { return s.mode }
func (s *goSourceRun) Bounded() bool                 { return s.bounded }

// batchRows is how many rows a bounded source pushes at once; unbounded sources push each row as it comes.
const batchRows = 256

// Run pulls rows from the iterator into batches. Row values live in one buffer reused across batches.
func (s *goSourceRun) Run(ctx context.Context, out changelog.Output) (err error) {
	n := len(s.types)
	size := batchRows
	if !s.bounded {
		size = 1
	}
	buf := make([]types.Value, size*n)
	b := &changelog.Batch{Rows: make([]changelog.Row, 0, size)}
	var rowNum int64
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go source '%s': panic after row %d: %v", s.name, rowNum, r)
		}
	}()
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := out.Push(b)
		b.Reset()
		return err
	}
	for kind, vals := range s.seq {
		if err = ctx.Err(); err != nil {
			break
		}
		rowNum++
		if !s.mode.Kinds.Has(kind) {
			err = fmt.Errorf("go source '%s': row %d is %s but the source is insert-only; register it with sluice.WithUpdates()", s.name, rowNum, kind)
			break
		}
		if len(vals) != n {
			err = fmt.Errorf("go source '%s': row %d has %d values, want %d (%v)", s.name, rowNum, len(vals), n, s.names)
			break
		}
		row := buf[b.Len()*n : (b.Len()+1)*n : (b.Len()+1)*n]
		for i, v := range vals {
			if row[i], err = toValue(v, s.types[i]); err != nil {
				err = fmt.Errorf("go source '%s': row %d: column %s %s: %w", s.name, rowNum, s.names[i], s.types[i], err)
				break
			}
		}
		if err != nil {
			break
		}
		b.Append(kind, row)
		if b.Len() == size {
			if err = flush(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return ctx.Err()
}

// toValue converts a Go value to a SQL value of type t.
func toValue(v any, t types.Type) (types.Value, error) {
	if v == nil {
		if t.NotNull {
			return types.NullValue, errors.New("NULL in a NOT NULL column")
		}
		return types.NullValue, nil
	}
	switch t.Kind {
	case types.Boolean:
		if b, ok := v.(bool); ok {
			return types.BoolValue(b), nil
		}
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		i, ok := goInt(v)
		if !ok {
			break
		}
		lo, hi := intRange(t.Kind)
		if i < lo || i > hi {
			return types.NullValue, fmt.Errorf("%d is out of range", i)
		}
		return types.IntValue(i), nil
	case types.Float, types.Double:
		switch f := v.(type) {
		case float64:
			return types.FloatValue(f), nil
		case float32:
			return types.FloatValue(float64(f)), nil
		}
		if i, ok := goInt(v); ok {
			return types.FloatValue(float64(i)), nil
		}
	case types.Char, types.VarChar:
		if s, ok := v.(string); ok {
			if t.Length != types.MaxLength && len([]rune(s)) > t.Length {
				return types.NullValue, fmt.Errorf("%q is longer than %d characters", s, t.Length)
			}
			return types.StringValue(s), nil
		}
	case types.Binary, types.VarBinary:
		if b, ok := v.([]byte); ok {
			return types.BytesValue(b), nil
		}
	case types.Decimal:
		var d types.Value
		var err error
		switch x := v.(type) {
		case Decimal:
			d, err = types.ParseDecimal(string(x))
		case string:
			d, err = types.ParseDecimal(x)
		case *big.Rat:
			if x == nil {
				return types.NullValue, nil
			}
			d, err = types.ParseDecimal(x.FloatString(t.Scale + 1))
		case float64:
			d, err = types.DecimalFromFloat(x, t.Scale)
		default:
			i, ok := goInt(v)
			if !ok {
				return types.NullValue, fmt.Errorf("got %T, want Decimal, *big.Rat, string, float64 or an integer", v)
			}
			d = types.DecimalFromInt(i)
		}
		if err != nil {
			return types.NullValue, err
		}
		d = types.DecimalRescale(d, t.Scale)
		if !types.DecimalFits(d, t.Precision, t.Scale) {
			return types.NullValue, fmt.Errorf("%s does not fit", types.DecimalString(d))
		}
		return d, nil
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		tm, ok := v.(time.Time)
		if !ok {
			break
		}
		if t.Kind == types.TimestampLTZ {
			return types.TruncateTimestamp(types.TimestampFromTime(tm), t.Precision), nil
		}
		wall := time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond(), time.UTC)
		ts := types.TimestampFromTime(wall)
		switch t.Kind {
		case types.Date:
			return types.TimestampDate(ts), nil
		case types.Time:
			return types.TruncateTime(types.TimestampTime(ts), t.Precision), nil
		}
		return types.TruncateTimestamp(ts, t.Precision), nil
	}
	want := driver.ScanType(t).String()
	return types.NullValue, fmt.Errorf("got %T, want %s", v, want)
}

func goInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

func intRange(k types.Kind) (int64, int64) {
	switch k {
	case types.TinyInt:
		return math.MinInt8, math.MaxInt8
	case types.SmallInt:
		return math.MinInt16, math.MaxInt16
	case types.Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}
