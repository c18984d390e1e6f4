package jdbc_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/pgtest"
)

// pg is the package's throw-away PostgreSQL cluster (internal/pgtest), started by TestMain. The user
// 'postgres' logs in without a password (trust); the user 'sluice_pw' needs the password 'secret'
// (scram-sha-256), for the wrong-password test.
var pg *pgtest.Cluster

func TestMain(m *testing.M) {
	c, err := startPG()
	if err != nil {
		fmt.Fprintf(os.Stderr, "jdbc tests need PostgreSQL: %v\n", err)
		os.Exit(1)
	}
	pg = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

func startPG() (*pgtest.Cluster, error) {
	hba := "local all all trust\nhost all sluice_pw 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
	c, err := pgtest.Start("sluice-jdbc-pg-", hba)
	if err != nil {
		return nil, err
	}
	conn, err := c.Connect(context.Background())
	if err != nil {
		c.Stop()
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE ROLE sluice_pw LOGIN SUPERUSER PASSWORD 'secret'"); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// exec runs SQL statements against the cluster.
func pgExec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pg.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgRows returns the rows of a query as text lines, sorted.
func pgRows(t testing.TB, q string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pg.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, fmt.Sprint(v))
		}
		lines = append(lines, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// freePort is a 127.0.0.1 port nothing listens on (for the database-down test).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
