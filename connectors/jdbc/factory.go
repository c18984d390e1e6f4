// Package jdbc is the 'jdbc' connector for PostgreSQL (through github.com/jackc/pgx/v5), with Flink's JDBC
// connector options: a sink that appends or upserts on the table's PRIMARY KEY (deletes as DELETE), a
// bounded scan source (optionally split into ranges of a numeric column) and a lookup source with a cache
// for processing-time temporal joins. See docs/JDBC.md.
package jdbc

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// Option declarations (Flink's JDBC connector).
var (
	URL = options.String("url").Required().
		Desc("The JDBC database url, e.g. jdbc:postgresql://127.0.0.1:5432/mydb.")
	TableName = options.String("table-name").Required().
			Desc("The name of the table in the database ('schema.table' or 'table').")
	Driver = options.String("driver").
		Desc("The JDBC driver class name; only 'org.postgresql.Driver' (PostgreSQL, through pgx) is supported.")
	Username = options.String("username").
			Desc("The JDBC user name. 'username' and 'password' must both be specified if either is.")
	Password = options.String("password").
			Desc("The JDBC password.")
	ConnectionMaxRetryTimeout = options.Duration("connection.max-retry-timeout").Default(60 * time.Second).
					Desc("Maximum timeout between retries when connecting.")
	ScanPartitionColumn = options.String("scan.partition.column").
				Desc("The column name used for partitioning the input (a numeric column).")
	ScanPartitionNum = options.Int("scan.partition.num").
				Desc("The number of partitions.")
	ScanPartitionLower = options.Long("scan.partition.lower-bound").
				Desc("The smallest value of the first partition.")
	ScanPartitionUpper = options.Long("scan.partition.upper-bound").
				Desc("The largest value of the last partition.")
	ScanFetchSize = options.Int("scan.fetch-size").Default(0).
			Desc("The number of rows to fetch from the database per round trip when reading (0: all at once).")
	LookupCache = options.Enum("lookup.cache", "NONE", "PARTIAL").Default("NONE").
			Desc("The cache strategy of the lookup table: NONE or PARTIAL.")
	LookupMaxRows = options.Long("lookup.partial-cache.max-rows").
			Desc("The maximum number of rows in the lookup cache (keys, with PARTIAL).")
	LookupExpireAfterWrite = options.Duration("lookup.partial-cache.expire-after-write").
				Desc("The maximum time an entry stays in the cache after it was written.")
	LookupExpireAfterAccess = options.Duration("lookup.partial-cache.expire-after-access").
				Desc("The maximum time an entry stays in the cache after it was last read.")
	LookupCacheMissingKey = options.Bool("lookup.partial-cache.cache-missing-key").Default(true).
				Desc("Whether to cache keys that match no row.")
	LookupMaxRetries = options.Int("lookup.max-retries").Default(3).
				Desc("The maximum retry times if a lookup fails.")
	SinkMaxRows = options.Int("sink.buffer-flush.max-rows").Default(100).
			Desc("The maximum number of buffered rows before a flush; 0 disables the row limit.")
	SinkInterval = options.Duration("sink.buffer-flush.interval").Default(time.Second).
			Desc("The flush interval; 0 disables timed flushes.")
	SinkMaxRetries = options.Int("sink.max-retries").Default(3).
			Desc("The maximum retry times if writing records to the database fails.")
	SinkParallelism = options.Int("sink.parallelism").
			Desc("The parallelism of the sink: the number of tasks (each with a connection) of a batch job's sink; a streaming job writes with one connection.")
)

// Factory is the jdbc connector factory.
type Factory struct{}

// NewFactory returns the jdbc factory.
func NewFactory() *Factory { return &Factory{} }

var (
	_ connectors.SourceFactory = (*Factory)(nil)
	_ connectors.SinkFactory   = (*Factory)(nil)
	_ connectors.LookupFactory = (*Factory)(nil)
	_ connectors.TableChecker  = (*Factory)(nil)
)

func (*Factory) Identifier() string { return "jdbc" }

func (*Factory) Options() []options.Decl {
	return options.Decls(URL, TableName, Driver, Username, Password, ConnectionMaxRetryTimeout,
		ScanPartitionColumn, ScanPartitionNum, ScanPartitionLower, ScanPartitionUpper, ScanFetchSize,
		LookupCache, LookupMaxRows, LookupExpireAfterWrite, LookupExpireAfterAccess, LookupCacheMissingKey,
		LookupMaxRetries, SinkMaxRows, SinkInterval, SinkMaxRetries, SinkParallelism)
}

// config is a validated table definition.
type config struct {
	table    *catalog.Table
	name     string          // table-name as given
	ident    pgx.Identifier  // table-name split at dots
	conn     *pgx.ConnConfig // connection (user and password applied)
	cols     []catalog.Column
	pk       []int // indexes of the PRIMARY KEY columns among cols
	r        *options.Resolved
	retryMax time.Duration
}

func optErr(key, format string, args ...any) error {
	return &options.Error{Keys: []string{key}, Msg: fmt.Sprintf(format, args...)}
}

// parse validates everything that needs no database.
func (f *Factory) parse(ctx connectors.Context) (*config, error) {
	r, err := connectors.ValidateOptions(f, ctx.Options)
	if err != nil {
		return nil, err
	}
	t := ctx.Table
	for _, c := range t.Columns {
		if c.Kind == sql.MetadataColumn {
			return nil, &options.Error{Msg: fmt.Sprintf("Table '%s' declares metadata column '%s', but connector 'jdbc' does not support metadata. Remove the METADATA column.", t.Name, c.Name)}
		}
	}
	if d, ok := Driver.Lookup(r); ok && d != "org.postgresql.Driver" {
		return nil, optErr(Driver.Key(), "Unsupported value for option 'driver': '%s'. Sluice's jdbc connector supports PostgreSQL only: use 'org.postgresql.Driver' or leave 'driver' out.", d)
	}
	u, hasU := Username.Lookup(r)
	p, hasP := Password.Lookup(r)
	if hasU != hasP {
		return nil, &options.Error{Keys: []string{Username.Key(), Password.Key()}, Msg: "Either all or none of the following options should be provided:\nusername\npassword"}
	}
	cc, err := parseURL(URL.Get(r))
	if err != nil {
		return nil, err
	}
	if hasU {
		cc.User, cc.Password = u, p
	}
	cfg := &config{table: t, name: TableName.Get(r), conn: cc, cols: t.PhysicalColumns(), r: r,
		retryMax: ConnectionMaxRetryTimeout.Get(r)}
	for _, part := range strings.Split(cfg.name, ".") {
		if part == "" {
			return nil, optErr(TableName.Key(), "Invalid value for option 'table-name': '%s' is not a table name ('table' or 'schema.table').", cfg.name)
		}
		cfg.ident = append(cfg.ident, part)
	}
	for _, c := range cfg.cols {
		if _, err := pgTypeName(c.Type); err != nil {
			return nil, &options.Error{Msg: fmt.Sprintf("Column '%s' of table '%s' has type %s, which the jdbc connector cannot read or write: %v", c.Name, t.Name, c.Type, err)}
		}
	}
	for _, k := range t.PrimaryKey {
		for i, c := range cfg.cols {
			if c.Name == k {
				cfg.pk = append(cfg.pk, i)
			}
		}
	}
	if n, ok := SinkParallelism.Lookup(r); ok && n < 1 {
		return nil, optErr(SinkParallelism.Key(), "Invalid value for option 'sink.parallelism': '%d' must be at least 1", n)
	}
	for _, k := range []options.Key[int]{SinkMaxRows, SinkMaxRetries, LookupMaxRetries, ScanFetchSize} {
		if v := k.Get(r); v < 0 {
			return nil, optErr(k.Key(), "Invalid value for option '%s': '%d' must not be negative.", k.Key(), v)
		}
	}
	if err := checkPartition(cfg); err != nil {
		return nil, err
	}
	if LookupCache.Get(r) == "NONE" {
		for _, k := range []string{LookupMaxRows.Key(), LookupExpireAfterWrite.Key(), LookupExpireAfterAccess.Key(), LookupCacheMissingKey.Key()} {
			if r.Has(k) {
				return nil, optErr(k, "Option '%s' needs 'lookup.cache' = 'PARTIAL'.", k)
			}
		}
	} else {
		if n, ok := LookupMaxRows.Lookup(r); !ok || n <= 0 {
			if !r.Has(LookupExpireAfterWrite.Key()) && !r.Has(LookupExpireAfterAccess.Key()) {
				return nil, optErr(LookupCache.Key(), "'lookup.cache' = 'PARTIAL' needs at least one of 'lookup.partial-cache.max-rows' (positive), 'lookup.partial-cache.expire-after-write' or 'lookup.partial-cache.expire-after-access'.")
			}
		}
	}
	return cfg, nil
}

func checkPartition(cfg *config) error {
	r := cfg.r
	keys := []string{ScanPartitionColumn.Key(), ScanPartitionNum.Key(), ScanPartitionLower.Key(), ScanPartitionUpper.Key()}
	n := 0
	for _, k := range keys {
		if r.Has(k) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if n != len(keys) {
		return &options.Error{Keys: keys, Msg: "Either all or none of the following options should be provided:\n" + strings.Join(keys, "\n")}
	}
	col := ScanPartitionColumn.Get(r)
	found := false
	for _, c := range cfg.cols {
		if c.Name == col {
			found = true
			if !c.Type.IsIntegral() {
				return optErr(ScanPartitionColumn.Key(), "Invalid value for option 'scan.partition.column': column '%s' has type %s; the partition column must be TINYINT, SMALLINT, INT or BIGINT.", col, c.Type)
			}
		}
	}
	if !found {
		return optErr(ScanPartitionColumn.Key(), "Invalid value for option 'scan.partition.column': table '%s' has no physical column '%s'.", cfg.table.Name, col)
	}
	if v := ScanPartitionNum.Get(r); v <= 0 {
		return optErr(ScanPartitionNum.Key(), "Invalid value for option 'scan.partition.num': '%d' must be positive.", v)
	}
	if lo, hi := ScanPartitionLower.Get(r), ScanPartitionUpper.Get(r); lo > hi {
		return &options.Error{Keys: []string{ScanPartitionLower.Key(), ScanPartitionUpper.Key()},
			Msg: fmt.Sprintf("'scan.partition.lower-bound'='%d' must not be larger than 'scan.partition.upper-bound'='%d'.", lo, hi)}
	}
	return nil
}

// parseURL turns jdbc:postgresql://host[:port]/database[?params] into a pgx connection configuration.
func parseURL(s string) (*pgx.ConnConfig, error) {
	const prefix = "jdbc:postgresql://"
	if !strings.HasPrefix(s, prefix) {
		return nil, optErr(URL.Key(), "Invalid value for option 'url': '%s'. Sluice's jdbc connector supports PostgreSQL only: write 'jdbc:postgresql://host:port/database'.", redactURL(s))
	}
	u, err := url.Parse("postgres://" + s[len(prefix):])
	if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, optErr(URL.Key(), "Invalid value for option 'url': '%s'. Write 'jdbc:postgresql://host:port/database'.", redactURL(s))
	}
	q := u.Query()
	// JDBC spells the credentials as URL parameters; pgx takes them in the userinfo.
	user, pw := q.Get("user"), q.Get("password")
	q.Del("user")
	q.Del("password")
	if user != "" {
		u.User = url.UserPassword(user, pw)
	}
	u.RawQuery = q.Encode()
	cc, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, optErr(URL.Key(), "Invalid value for option 'url': '%s': %v", redactURL(s), err)
	}
	cc.ConnectTimeout = 10 * time.Second
	return cc, nil
}

// redactURL hides a password in URL parameters.
func redactURL(s string) string {
	if i := strings.Index(s, "password="); i >= 0 {
		j := strings.IndexByte(s[i:], '&')
		if j < 0 {
			return s[:i] + "password=***"
		}
		return s[:i] + "password=***" + s[i+j:]
	}
	return s
}

// CheckTable validates the options and columns at CREATE TABLE, without connecting.
func (f *Factory) CheckTable(ctx connectors.Context) error {
	_, err := f.parse(ctx)
	return err
}

// CreateSink builds the sink; it connects and checks the table's columns when opened.
func (f *Factory) CreateSink(ctx connectors.Context) (connectors.Sink, error) {
	cfg, err := f.parse(ctx)
	if err != nil {
		return nil, err
	}
	if len(cfg.pk) > 0 {
		return keyedSink{newSink(cfg)}, nil
	}
	return newSink(cfg), nil
}

// CreateSource builds the bounded scan source.
func (f *Factory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	cfg, err := f.parse(ctx)
	if err != nil {
		return nil, err
	}
	return &source{cfg: cfg}, nil
}

// CreateLookup builds the lookup source over keys (indexes of physical columns).
func (f *Factory) CreateLookup(ctx connectors.Context, keys []int) (connectors.LookupSource, error) {
	cfg, err := f.parse(ctx)
	if err != nil {
		return nil, err
	}
	return newLookup(cfg, keys), nil
}

// keyTypes returns the types of the columns at idx.
func keyTypes(cols []catalog.Column, idx []int) []types.Type {
	ts := make([]types.Type, len(idx))
	for i, j := range idx {
		ts[i] = cols[j].Type
	}
	return ts
}
