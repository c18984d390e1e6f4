// Package driver is Sluice's database/sql driver, registered under the name "sluice":
//
//	import _ "github.com/sluicesql/sluice/driver"
//	db, err := sql.Open("sluice", "runtime-mode=batch")
//
// Registration happens in this package's init, as database/sql drivers do; it is the only init-time
// registration in Sluice. Tests that need control use NewConnector and sql.OpenDB instead.
//
// # DSN
//
// A DSN is a list of key=value pairs separated by ';' or '&' (or spaces). Keys are session options: either
// Flink's full names ("execution.runtime-mode=batch", "table.local-time-zone=Europe/Berlin") or the short
// "runtime-mode". The runtime mode defaults to "automatic" (not Flink's "streaming", which the SQL client and
// the native API keep): a statement whose sources are all bounded runs in batch mode and returns final rows,
// so QueryRow("SELECT COUNT(*) FROM bounded_table").Scan(&n) gives the count; a statement over an unbounded
// source (Kafka without 'scan.bounded.mode', datagen without 'number-of-rows') runs in streaming mode and
// returns changes. Set runtime-mode=streaming to see a bounded query's changelog. The driver's own keys:
//   - op=true|false: add the changelog kind as a first column named "op" (+I, -U, +U, -D). Default: true when
//     the statement runs in streaming mode, false in batch mode (where every row is a final +I).
//
// # Connections share one session
//
// All connections of one *sql.DB (one Connector) share one catalog and one set of session options, so a
// CREATE TABLE on one pooled connection is visible to the next query, whichever connection it gets.
//
// # Statements
//
// ExecContext runs DDL, SET/RESET, INSERT and statement sets (several statements separated by ';' are run in
// order). An INSERT waits for its job: it returns when a bounded job ends (RowsAffected is the number of rows
// the job wrote). An INSERT over an unbounded source is not detached: ExecContext blocks until ctx is
// cancelled or its deadline passes, then cancels the job (its sinks are flushed) and returns ctx.Err(). Use
// the native API (package sluice, Engine.Execute) for a job that runs on its own. A SELECT given to
// ExecContext is refused.
//
// QueryContext runs a SELECT (or VALUES, SHOW, DESCRIBE, EXPLAIN); rows stream as they are produced. In
// batch mode the rows are the final result. In streaming mode each row is a change; over unbounded sources
// Next blocks for the next change and never reports the end: cancel ctx (Next then returns false promptly
// and Rows.Err reports context.Canceled) or call Rows.Close. The changelog kind is the "op" column (see the
// DSN option); its ScanType is string and its DatabaseTypeName CHAR.
//
// # Parameters
//
// Positional parameters (? numbered left to right, or $1, $2, ...) are bound in SELECT and INSERT as literals
// typed after the Go value (see ParamValue): int64 and smaller integers → BIGINT, float64 → DOUBLE, string →
// STRING, []byte → BYTES, bool → BOOLEAN, Decimal or *big.Rat → DECIMAL, time.Time → TIMESTAMP(9) (the wall
// clock in the time's location), nil → NULL. They are type-checked when the statement is planned, with the
// same errors as literals ("Cannot apply '=' to arguments of type '<INTEGER> = <VARCHAR(2147483647)>'").
// Named parameters are refused; parameters need a single statement.
//
// # Types
//
// Columns scan as (ColumnTypeScanType), with ColumnTypeDatabaseTypeName being Flink's type name without
// length or precision (see TypeName), and ColumnTypeNullable, ColumnTypeLength and
// ColumnTypePrecisionScale (DECIMAL; TIME/TIMESTAMP precision) reported:
//
//	BOOLEAN                              bool
//	TINYINT, SMALLINT, INT, BIGINT       int64
//	FLOAT, DOUBLE                        float64
//	DECIMAL                              Decimal, a string type holding the exact text ("12.50"); scans into
//	                                     *string, *float64 or *Decimal; Decimal.Rat gives a *big.Rat
//	CHAR, VARCHAR, STRING                string
//	BINARY, VARBINARY, BYTES             []byte
//	DATE                                 time.Time, midnight UTC
//	TIME                                 time.Time on 1970-01-01 UTC
//	TIMESTAMP                            time.Time in UTC holding the wall-clock value
//	TIMESTAMP_LTZ                        time.Time, the instant, in the session time zone
//	INTERVAL YEAR TO MONTH               int64 months
//	INTERVAL DAY TO SECOND               int64 milliseconds
//	ARRAY, MULTISET, MAP, ROW            string holding JSON (arrays, objects keyed by field name or by the
//	                                     key's text; decimals as JSON numbers)
//	NULL of any type                     nil
//
// Errors from the SQL text carry its line and column ("2:6: Object 'nowhere' not found"); use
// sql.Position from github.com/sluicesql/sluice/sql to read them.
package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/engine"
)

func init() {
	sql.Register("sluice", &Driver{})
}

// Driver is the database/sql driver.
type Driver struct{}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Open opens a connection on a new session; prefer sql.Open, which shares one session per *sql.DB.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses the DSN and creates the shared session.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	return NewConnector(dsn, engine.Config{})
}

// Connector creates connections that share one session.
type Connector struct {
	session *engine.Session
	op      *bool
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector builds a connector from a DSN and an engine configuration (output writers, registries).
func NewConnector(dsn string, cfg engine.Config) (*Connector, error) {
	opts, op, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.Options == nil {
		cfg.Options = map[string]string{}
	}
	for k, v := range opts {
		cfg.Options[k] = v
	}
	if _, set := cfg.Options["execution.runtime-mode"]; !set {
		// A database/sql user expects final rows: plan in batch mode whenever every source is bounded.
		cfg.Options["execution.runtime-mode"] = engine.ModeAutomatic
	}
	s, err := engine.NewSession(cfg)
	if err != nil {
		return nil, fmt.Errorf("sluice: DSN %q: %w", dsn, err)
	}
	return &Connector{session: s, op: op}, nil
}

// Session returns the shared session (for the native API).
func (c *Connector) Session() *engine.Session { return c.session }

// Connect returns a connection on the shared session.
func (c *Connector) Connect(context.Context) (driver.Conn, error) {
	return &conn{c: c}, nil
}

// Driver returns the driver.
func (c *Connector) Driver() driver.Driver { return &Driver{} }

// Close cancels the session's running jobs and stops its Prometheus endpoint (sql.DB.Close calls it).
func (c *Connector) Close() error {
	c.session.CancelJobs()
	return c.session.Close()
}

var shortKeys = map[string]string{
	"runtime-mode": "execution.runtime-mode",
	"time-zone":    "table.local-time-zone",
}

// ParseDSN splits a DSN into session options and the op column setting (nil = default per mode).
func ParseDSN(dsn string) (map[string]string, *bool, error) {
	opts := map[string]string{}
	var op *bool
	fields := strings.FieldsFunc(dsn, func(r rune) bool { return r == ';' || r == '&' || r == ' ' || r == '\n' })
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("sluice: bad DSN element %q: want key=value (e.g. runtime-mode=batch)", f)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if k == "op" {
			switch strings.ToLower(v) {
			case "true", "1", "yes":
				b := true
				op = &b
			case "false", "0", "no":
				b := false
				op = &b
			default:
				return nil, nil, fmt.Errorf("sluice: DSN option op=%q: want true or false", v)
			}
			continue
		}
		if full, ok := shortKeys[k]; ok {
			k = full
		}
		opts[k] = v
	}
	return opts, op, nil
}

// ErrNoTransactions is returned by Begin: Sluice has no transactions.
var ErrNoTransactions = errors.New("sluice: transactions are not supported")
