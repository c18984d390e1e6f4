package driver

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Decimal is an exact DECIMAL value as its text ("12.50"). Being a string type, it scans into *string and
// *float64 as well as *Decimal.
type Decimal string

// Rat returns the decimal as an exact rational number.
func (d Decimal) Rat() (*big.Rat, bool) { return new(big.Rat).SetString(string(d)) }

type conn struct {
	c      *Connector
	closed bool
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if _, err := sql.ParseScript(query); err != nil {
		return nil, err
	}
	return &stmt{c: c, query: query}, nil
}

func (c *conn) Close() error { c.closed = true; return nil }

func (c *conn) Begin() (driver.Tx, error) { return nil, ErrNoTransactions }

func (c *conn) Ping(ctx context.Context) error {
	if c.closed {
		return driver.ErrBadConn
	}
	return ctx.Err()
}

// CheckNamedValue accepts the Go types ParamValue can bind.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nv.Name != "" {
		return fmt.Errorf("sluice: named parameter %q is not supported; use ? or $n", nv.Name)
	}
	switch nv.Value.(type) {
	case nil, int64, float64, bool, string, []byte, time.Time, Decimal, *big.Rat,
		int, int32, int16, int8, uint32, uint16, uint8, float32:
		return nil
	}
	dv, err := driver.DefaultParameterConverter.ConvertValue(nv.Value)
	if err != nil {
		return fmt.Errorf("sluice: parameter %d: %w", nv.Ordinal, err)
	}
	nv.Value = dv
	return nil
}

// ParamValue converts a Go value to the SQL value bound for a positional parameter:
//
//	nil → NULL; int, int8..int64, uint8..uint32 → BIGINT; float32, float64 → DOUBLE; bool → BOOLEAN;
//	string → STRING; []byte → BYTES; Decimal, *big.Rat → DECIMAL(38, s); time.Time → TIMESTAMP(9) holding
//	the wall clock of the time in its own location.
//
// The parameter is then typed like a literal of that type: `WHERE id = ?` with a string fails at bind time
// with "Cannot apply '=' to arguments of type '<BIGINT> = <VARCHAR(2147483647)>'".
func ParamValue(v any) (types.Value, error) {
	switch v := v.(type) {
	case nil:
		return types.NullValue, nil
	case int64:
		return types.IntValue(v), nil
	case int:
		return types.IntValue(int64(v)), nil
	case int32:
		return types.IntValue(int64(v)), nil
	case int16:
		return types.IntValue(int64(v)), nil
	case int8:
		return types.IntValue(int64(v)), nil
	case uint32:
		return types.IntValue(int64(v)), nil
	case uint16:
		return types.IntValue(int64(v)), nil
	case uint8:
		return types.IntValue(int64(v)), nil
	case float64:
		return types.FloatValue(v), nil
	case float32:
		return types.FloatValue(float64(v)), nil
	case bool:
		return types.BoolValue(v), nil
	case string:
		return types.StringValue(v), nil
	case []byte:
		return types.BytesValue(v), nil
	case Decimal:
		d, err := types.ParseDecimal(string(v))
		if err != nil {
			return types.NullValue, fmt.Errorf("decimal %q: %w", string(v), err)
		}
		return d, nil
	case *big.Rat:
		if v == nil {
			return types.NullValue, nil
		}
		return types.ParseDecimal(ratText(v))
	case time.Time:
		wall := time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
		return types.TimestampFromTime(wall), nil
	}
	return types.NullValue, fmt.Errorf("unsupported type %T (want nil, an integer, float64, bool, string, []byte, time.Time, driver.Decimal or *big.Rat)", v)
}

// ratText prints r exactly when its decimal expansion ends, else with 18 fractional digits.
func ratText(r *big.Rat) string {
	if p, exact := r.FloatPrec(); exact {
		return r.FloatString(p)
	}
	return r.FloatString(18)
}

func toValues(args []driver.NamedValue) ([]types.Value, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make([]types.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("sluice: named parameter %q is not supported; use ? or $n", a.Name)
		}
		v, err := ParamValue(a.Value)
		if err != nil {
			return nil, fmt.Errorf("sluice: parameter %d: %w", a.Ordinal, err)
		}
		out[i] = v
	}
	return out, nil
}

// ExecContext runs statements; an INSERT waits for its job.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	params, err := toValues(args)
	if err != nil {
		return nil, err
	}
	stmts, err := sql.ParseScript(query)
	if err != nil {
		return nil, err
	}
	if len(params) > 0 && len(stmts) > 1 {
		return nil, fmt.Errorf("sluice: parameters need a single statement; the query has %d", len(stmts))
	}
	var affected int64
	for _, st := range stmts {
		res, err := c.c.session.ExecuteWithParams(ctx, st, params)
		if err != nil {
			return nil, err
		}
		switch res.Kind {
		case engine.ResultJob:
			if err := res.Job.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					res.Job.Cancel()
					return nil, ctx.Err()
				}
				return nil, err
			}
			affected += res.Job.Metrics().RowsOut
		case engine.ResultQuery:
			_ = res.Query.Close()
			return nil, errors.New("sluice: Exec got a query; use Query for SELECT")
		}
	}
	return execResult(affected), nil
}

type execResult int64

func (r execResult) LastInsertId() (int64, error) {
	return 0, errors.New("sluice: LastInsertId is not supported")
}
func (r execResult) RowsAffected() (int64, error) { return int64(r), nil }

// QueryContext runs a SELECT (or SHOW/DESCRIBE/EXPLAIN) and streams its rows.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	params, err := toValues(args)
	if err != nil {
		return nil, err
	}
	st, err := sql.ParseStatement(query)
	if err != nil {
		return nil, err
	}
	res, err := c.c.session.ExecuteWithParams(ctx, st, params)
	if err != nil {
		return nil, err
	}
	loc := c.c.session.Location()
	switch res.Kind {
	case engine.ResultQuery:
		op := !res.Batch
		if c.c.op != nil {
			op = *c.c.op
		}
		return &rows{ctx: ctx, cols: res.Columns, q: res.Query, op: op, loc: loc}, nil
	case engine.ResultTable:
		return &rows{ctx: ctx, cols: res.Columns, static: res.Rows, loc: loc}, nil
	case engine.ResultOK:
		return &rows{ctx: ctx, cols: []engine.Column{{Name: "result", Type: types.StringType()}},
			static: [][]types.Value{{types.StringValue(res.Message)}}, loc: loc}, nil
	}
	if res.Job != nil {
		if err := res.Job.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				res.Job.Cancel()
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	return &rows{ctx: ctx, cols: nil, loc: loc}, nil
}

type stmt struct {
	c     *conn
	query string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, named(args))
}
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, named(args))
}
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// rows streams a query's changelog (or a static table).
type rows struct {
	ctx    context.Context
	cols   []engine.Column
	q      *engine.QueryResult
	static [][]types.Value
	op     bool
	loc    *time.Location
	closed bool
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*rows)(nil)
)

func (r *rows) Columns() []string {
	var out []string
	if r.op {
		out = append(out, "op")
	}
	for _, c := range r.cols {
		out = append(out, c.Name)
	}
	return out
}

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.q != nil {
		return r.q.Close()
	}
	return nil
}

func (r *rows) Next(dest []driver.Value) error {
	var kind changelog.Kind
	var vals []types.Value
	if r.q == nil {
		if len(r.static) == 0 {
			return io.EOF
		}
		vals, r.static = r.static[0], r.static[1:]
	} else {
		row, ok := r.q.Next(r.ctx)
		if !ok {
			if err := r.q.Err(); err != nil {
				return err
			}
			if err := r.ctx.Err(); err != nil {
				return err
			}
			return io.EOF
		}
		kind, vals = row.Kind, row.Vals
	}
	i := 0
	if r.op {
		dest[0] = kind.String()
		i = 1
	}
	for c, v := range vals {
		dv, err := GoValue(v, r.cols[c].Type, r.loc)
		if err != nil {
			return fmt.Errorf("sluice: column %s: %w", r.cols[c].Name, err)
		}
		dest[i+c] = dv
	}
	return nil
}

func (r *rows) colType(i int) (types.Type, bool) {
	if r.op {
		if i == 0 {
			return types.Type{}, false
		}
		i--
	}
	return r.cols[i].Type, true
}

func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	t, ok := r.colType(i)
	if !ok {
		return reflect.TypeOf("")
	}
	return ScanType(t)
}

func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	t, ok := r.colType(i)
	if !ok {
		return "CHAR"
	}
	return TypeName(t)
}

func (r *rows) ColumnTypeNullable(i int) (bool, bool) {
	t, ok := r.colType(i)
	if !ok {
		return false, true
	}
	return t.Nullable(), true
}

func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	t, ok := r.colType(i)
	if !ok {
		return 2, true
	}
	switch t.Kind {
	case types.Char, types.VarChar, types.Binary, types.VarBinary:
		return int64(t.Length), true
	}
	return 0, false
}

func (r *rows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	t, ok := r.colType(i)
	if !ok {
		return 0, 0, false
	}
	switch t.Kind {
	case types.Decimal:
		return int64(t.Precision), int64(t.Scale), true
	case types.Time, types.Timestamp, types.TimestampLTZ:
		return int64(t.Precision), 0, true
	}
	return 0, 0, false
}

// TypeName is the database type name of a column (Flink's name without length, precision or
// nullability): BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, CHAR, VARCHAR, STRING
// (VARCHAR of maximum length), BINARY, VARBINARY, BYTES, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ,
// INTERVAL YEAR TO MONTH, INTERVAL DAY TO SECOND, ARRAY, MAP, MULTISET, ROW, NULL.
func TypeName(t types.Type) string {
	switch t.Kind {
	case types.VarChar:
		if t.Length == types.MaxLength {
			return "STRING"
		}
		return "VARCHAR"
	case types.VarBinary:
		if t.Length == types.MaxLength {
			return "BYTES"
		}
		return "VARBINARY"
	case types.TimestampLTZ:
		return "TIMESTAMP_LTZ"
	case types.IntervalYearMonth:
		return "INTERVAL YEAR TO MONTH"
	case types.IntervalDayTime:
		return "INTERVAL DAY TO SECOND"
	case types.Null:
		return "NULL"
	}
	name := t.WithNullable(true).String()
	if i := strings.IndexAny(name, "(< "); i > 0 {
		name = name[:i]
	}
	return name
}

// ScanType is the Go type a column of type t scans as.
func ScanType(t types.Type) reflect.Type {
	switch t.Kind {
	case types.Boolean:
		return reflect.TypeOf(false)
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalDayTime, types.IntervalYearMonth:
		return reflect.TypeOf(int64(0))
	case types.Float, types.Double:
		return reflect.TypeOf(float64(0))
	case types.Binary, types.VarBinary:
		return reflect.TypeOf([]byte(nil))
	case types.Decimal:
		return reflect.TypeOf(Decimal(""))
	case types.Date, types.Time, types.Timestamp, types.TimestampLTZ:
		return reflect.TypeOf(time.Time{})
	}
	return reflect.TypeOf("")
}

// GoValue converts a value of type t to the driver's Go representation (see the package doc).
func GoValue(v types.Value, t types.Type, loc *time.Location) (driver.Value, error) {
	if v.IsNull() {
		return nil, nil
	}
	switch t.Kind {
	case types.Boolean:
		return v.Bool(), nil
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt, types.IntervalDayTime, types.IntervalYearMonth:
		return v.Int(), nil
	case types.Float, types.Double:
		return v.Float(), nil
	case types.Char, types.VarChar:
		return v.Str(), nil
	case types.Binary, types.VarBinary:
		return v.Bytes(), nil
	case types.Decimal:
		return Decimal(types.AppendSQL(nil, v, t, loc)), nil
	case types.Date:
		return time.Unix(v.Int()*86400, 0).UTC(), nil
	case types.Time:
		return time.Unix(0, v.Int()).UTC(), nil
	case types.Timestamp:
		return types.ValueToTime(v).UTC(), nil
	case types.TimestampLTZ:
		return types.ValueToTime(v).In(loc), nil
	case types.Array, types.Multiset, types.Map, types.Row:
		j, err := json.Marshal(jsonValue(v, t, loc))
		if err != nil {
			return nil, err
		}
		return string(j), nil
	}
	return string(types.AppendSQL(nil, v, t, loc)), nil
}

func jsonValue(v types.Value, t types.Type, loc *time.Location) any {
	if v.IsNull() {
		return nil
	}
	switch t.Kind {
	case types.Array, types.Multiset:
		var out []any
		for _, e := range v.Array() {
			out = append(out, jsonValue(e, *t.Elem, loc))
		}
		return out
	case types.Map:
		m := v.Map()
		out := map[string]any{}
		for i := range m.Keys {
			out[string(types.AppendSQL(nil, m.Keys[i], *t.Key, loc))] = jsonValue(m.Vals[i], *t.Elem, loc)
		}
		return out
	case types.Row:
		out := map[string]any{}
		for i, f := range v.Fields() {
			out[t.Fields[i].Name] = jsonValue(f, t.Fields[i].Type, loc)
		}
		return out
	case types.Float, types.Double:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return string(types.AppendSQL(nil, v, t, loc))
		}
		return f
	case types.Decimal:
		return json.Number(types.AppendSQL(nil, v, t, loc))
	}
	g, _ := GoValue(v, t, loc)
	return g
}
