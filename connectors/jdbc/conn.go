package jdbc

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluicesql/sluice/types"
)

// connect opens a connection for the table, with errors that say which table, where and what to do.
func (c *config) connect(ctx context.Context) (*pgx.Conn, error) {
	cc := c.conn.Copy()
	if c.retryMax > 0 {
		cc.ConnectTimeout = c.retryMax
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, c.connError(err)
	}
	return conn, nil
}

func (c *config) where() string {
	return fmt.Sprintf("PostgreSQL at %s:%d, database '%s'", c.conn.Host, c.conn.Port, c.conn.Database)
}

func (c *config) connError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("jdbc table '%s': %s refused the login of user '%s': %s. Check the options 'username' and 'password': %w",
				c.table.Name, c.where(), c.conn.User, pe.Message, err)
		case "3D000":
			return fmt.Errorf("jdbc table '%s': %s: %s. Check the database name in option 'url': %w", c.table.Name, c.where(), pe.Message, err)
		}
	}
	return fmt.Errorf("jdbc table '%s': cannot connect to %s: the database is down or unreachable. Check that it runs and option 'url': %w",
		c.table.Name, c.where(), err)
}

// checkColumns reads the database table's columns and compares them with the DDL's physical columns: each
// must exist with a compatible type.
func (c *config) checkColumns(ctx context.Context, conn *pgx.Conn) error {
	q := "SELECT * FROM " + c.ident.Sanitize() + " LIMIT 0"
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return c.tableError(err)
	}
	fds := rows.FieldDescriptions()
	rows.Close()
	if err := rows.Err(); err != nil {
		return c.tableError(err)
	}
	have := map[string]uint32{}
	var names []string
	for _, fd := range fds {
		have[fd.Name] = fd.DataTypeOID
		names = append(names, fd.Name)
	}
	var problems []string
	for _, col := range c.cols {
		oid, ok := have[col.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("column '%s' (%s) does not exist in the database table", col.Name, col.Type))
			continue
		}
		if !compatible(col.Type, oid) {
			problems = append(problems, fmt.Sprintf("column '%s' is declared %s but is %s in the database", col.Name, col.Type, oidName(conn, oid)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("jdbc table '%s': the columns of table '%s' in %s differ from the DDL: %s (database columns: %s). Change the CREATE TABLE statement or the database table",
			c.table.Name, c.name, c.where(), strings.Join(problems, "; "), strings.Join(names, ", "))
	}
	return nil
}

func (c *config) tableError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return fmt.Errorf("jdbc table '%s': table '%s' does not exist in %s. Create it or fix option 'table-name': %w", c.table.Name, c.name, c.where(), err)
	}
	return fmt.Errorf("jdbc table '%s': reading table '%s' in %s: %w", c.table.Name, c.name, c.where(), err)
}

func oidName(conn *pgx.Conn, oid uint32) string {
	if t, ok := conn.TypeMap().TypeForOID(oid); ok {
		return t.Name
	}
	return fmt.Sprintf("type oid %d", oid)
}

var (
	intOIDs   = []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID}
	floatOIDs = []uint32{pgtype.Float4OID, pgtype.Float8OID}
	textOIDs  = []uint32{pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID}
)

func has(oids []uint32, o uint32) bool {
	for _, x := range oids {
		if x == o {
			return true
		}
	}
	return false
}

func compatible(t types.Type, oid uint32) bool {
	switch t.Kind {
	case types.Boolean:
		return oid == pgtype.BoolOID
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return has(intOIDs, oid)
	case types.Float, types.Double:
		return has(floatOIDs, oid)
	case types.Decimal:
		return oid == pgtype.NumericOID || has(intOIDs, oid)
	case types.Char, types.VarChar:
		return has(textOIDs, oid)
	case types.Binary, types.VarBinary:
		return oid == pgtype.ByteaOID
	case types.Date:
		return oid == pgtype.DateOID
	case types.Time:
		return oid == pgtype.TimeOID
	case types.Timestamp:
		return oid == pgtype.TimestampOID
	case types.TimestampLTZ:
		return oid == pgtype.TimestamptzOID
	}
	return false
}

// pgTypeName is the PostgreSQL type a SQL type maps to (as Flink's PostgresTypeMapper).
func pgTypeName(t types.Type) (string, error) {
	switch t.Kind {
	case types.Boolean:
		return "BOOLEAN", nil
	case types.TinyInt, types.SmallInt:
		return "SMALLINT", nil
	case types.Int:
		return "INTEGER", nil
	case types.BigInt:
		return "BIGINT", nil
	case types.Float:
		return "REAL", nil
	case types.Double:
		return "DOUBLE PRECISION", nil
	case types.Decimal:
		return fmt.Sprintf("NUMERIC(%d, %d)", t.Precision, t.Scale), nil
	case types.Char, types.VarChar:
		return "TEXT", nil
	case types.Binary, types.VarBinary:
		return "BYTEA", nil
	case types.Date:
		return "DATE", nil
	case types.Time:
		return "TIME", nil
	case types.Timestamp:
		return "TIMESTAMP", nil
	case types.TimestampLTZ:
		return "TIMESTAMPTZ", nil
	}
	return "", fmt.Errorf("no PostgreSQL mapping for %s (supported: BOOLEAN, integers, FLOAT, DOUBLE, DECIMAL, CHAR, VARCHAR, BINARY, VARBINARY, DATE, TIME, TIMESTAMP, TIMESTAMP_LTZ)", t)
}

// toPG converts a value of type t to a pgx query argument.
func toPG(v types.Value, t types.Type) any {
	if v.IsNull() {
		return nil
	}
	switch t.Kind {
	case types.Boolean:
		return v.Bool()
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		return v.Int()
	case types.Float:
		return float32(v.Float())
	case types.Double:
		return v.Float()
	case types.Decimal:
		return pgtype.Numeric{Int: v.DecimalBig(), Exp: int32(-v.DecimalScale()), Valid: true}
	case types.Char, types.VarChar:
		return v.Str()
	case types.Binary, types.VarBinary:
		return v.Bytes()
	case types.Date:
		return pgtype.Date{Time: time.Unix(v.Int()*86400, 0).UTC(), Valid: true}
	case types.Time:
		return pgtype.Time{Microseconds: v.Int() / 1000, Valid: true}
	case types.Timestamp, types.TimestampLTZ:
		return time.UnixMilli(v.Millis()).Add(time.Duration(v.NanoOfMilli())).UTC()
	}
	return nil
}

// fromPG converts a value pgx decoded (rows.Values) to a value of type t.
func fromPG(x any, t types.Type) (types.Value, error) {
	if x == nil {
		return types.NullValue, nil
	}
	switch t.Kind {
	case types.Boolean:
		if b, ok := x.(bool); ok {
			return types.BoolValue(b), nil
		}
	case types.TinyInt, types.SmallInt, types.Int, types.BigInt:
		if i, ok := asInt(x); ok {
			return types.IntValue(i), nil
		}
	case types.Float, types.Double:
		switch f := x.(type) {
		case float32:
			return types.FloatValue(float64(f)), nil
		case float64:
			return types.FloatValue(f), nil
		}
	case types.Decimal:
		if i, ok := asInt(x); ok {
			return decimal(big.NewInt(i), 0, t.Scale), nil
		}
		if n, ok := x.(pgtype.Numeric); ok {
			if !n.Valid {
				return types.NullValue, nil
			}
			if n.NaN || n.InfinityModifier != pgtype.Finite {
				return types.Value{}, fmt.Errorf("NUMERIC value NaN or infinity does not fit %s", t)
			}
			return decimal(n.Int, -int(n.Exp), t.Scale), nil
		}
	case types.Char, types.VarChar:
		if s, ok := x.(string); ok {
			return types.StringValue(s), nil
		}
	case types.Binary, types.VarBinary:
		if b, ok := x.([]byte); ok {
			return types.BytesValue(b), nil
		}
	case types.Date:
		if tm, ok := x.(time.Time); ok {
			s := tm.Unix()
			d := s / 86400
			if s%86400 < 0 {
				d--
			}
			return types.DateValue(d), nil
		}
	case types.Time:
		if tm, ok := x.(pgtype.Time); ok {
			return types.TimeValue(tm.Microseconds * 1000), nil
		}
	case types.Timestamp, types.TimestampLTZ:
		if tm, ok := x.(time.Time); ok {
			ms := tm.UnixMilli()
			return types.TimestampValue(ms, int32(tm.UnixNano()-ms*1e6)), nil
		}
	}
	return types.Value{}, fmt.Errorf("cannot convert %T from the database to %s", x, t)
}

func asInt(x any) (int64, bool) {
	switch i := x.(type) {
	case int16:
		return int64(i), true
	case int32:
		return int64(i), true
	case int64:
		return i, true
	}
	return 0, false
}

var ten = big.NewInt(10)

// decimal rescales unscaled*10^-scale to the target scale (rounding half up).
func decimal(unscaled *big.Int, scale, target int) types.Value {
	u := new(big.Int).Set(unscaled)
	switch {
	case target > scale:
		u.Mul(u, new(big.Int).Exp(ten, big.NewInt(int64(target-scale)), nil))
	case target < scale:
		d := new(big.Int).Exp(ten, big.NewInt(int64(scale-target)), nil)
		q, r := new(big.Int).QuoRem(u, d, new(big.Int))
		if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(d) >= 0 {
			if u.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
		u = q
	}
	return types.BigDecimalValue(u, target)
}

// checkUpsertKey checks that the database table has a unique index (or primary key) on exactly the DDL's
// PRIMARY KEY columns, which INSERT ... ON CONFLICT needs.
func (c *config) checkUpsertKey(ctx context.Context, conn *pgx.Conn) error {
	if len(c.pk) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid`, c.ident.Sanitize())
	if err != nil {
		return c.tableError(err)
	}
	want := make([]string, len(c.pk))
	for n, i := range c.pk {
		want[n] = c.cols[i].Name
	}
	sort.Strings(want)
	var found []string
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			rows.Close()
			return c.tableError(err)
		}
		if strings.Join(cols, ",") == strings.Join(want, ",") {
			rows.Close()
			return nil
		}
		found = append(found, "("+strings.Join(cols, ", ")+")")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c.tableError(err)
	}
	have := "none"
	if len(found) > 0 {
		have = strings.Join(found, ", ")
	}
	return fmt.Errorf("jdbc table '%s': the PRIMARY KEY (%s) of the DDL is not a primary key or unique index of table '%s' in %s (its unique keys: %s), which upserts (INSERT ... ON CONFLICT) need. Add one with ALTER TABLE %s ADD PRIMARY KEY (...) or fix the DDL",
		c.table.Name, strings.Join(want, ", "), c.name, c.where(), have, c.ident.Sanitize())
}
