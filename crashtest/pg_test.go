package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluicesql/sluice/internal/pgtest"
)

// postgres is a throw-away PostgreSQL cluster of one test (the jdbc kill tests; internal/pgtest). The
// cluster outlives the client processes the test kills and is stopped when the test ends.
type postgres struct{ *pgtest.Cluster }

// startPostgres starts a cluster for t, failing the test (with how to install PostgreSQL) when it cannot.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	c, err := pgtest.Start("sluice-crash-pg-", "")
	if err != nil {
		t.Fatalf("the jdbc kill tests need PostgreSQL: %v", err)
	}
	t.Cleanup(c.Stop)
	return &postgres{c}
}

// url is the jdbc connector's 'url' of the cluster.
func (p *postgres) url() string { return p.URL() }

// conn connects the test to the cluster (closed when the test ends).
func (p *postgres) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// exec runs SQL statements on c.
func pgExec(t *testing.T, c *pgx.Conn, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgInts runs a query whose rows are integers and returns them, row by row.
func pgInts(t *testing.T, c *pgx.Conn, q string) [][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := c.Query(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		r := make([]int64, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case int64:
				r[i] = x
			case int32:
				r[i] = int64(x)
			case nil:
				r[i] = -1
			default:
				t.Fatalf("%s: column %d is %T, not an integer", q, i+1, v)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
