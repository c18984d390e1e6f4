package crashtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a throw-away PostgreSQL cluster of one test (the jdbc kill tests), as connectors/jdbc's tests
// start theirs from Debian's postgresql package: initdb into a temporary directory, pg_ctl start on a free
// 127.0.0.1 port with the unix socket in that directory, the user 'postgres' trusted. As root (CI) the
// server runs as the unprivileged 'postgres' user through runuser (PostgreSQL refuses to run as root). The
// cluster outlives the client processes the test kills and is stopped when the test ends.
type postgres struct {
	dir, bin string
	port     int
	asUser   string // "" or the user to run the binaries as
}

// startPostgres starts a cluster for t, failing the test (with how to install PostgreSQL) when it cannot.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(ms) == 0 {
		t.Fatal("the jdbc kill tests need PostgreSQL (no /usr/lib/postgresql/*/bin/initdb): install it with 'sudo apt-get install -y postgresql'")
	}
	sort.Strings(ms)
	// As root the server runs as 'postgres', which must reach the directory: /tmp, not a private TMPDIR.
	parent := ""
	if os.Geteuid() == 0 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "sluice-crash-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &postgres{dir: dir, bin: filepath.Dir(ms[len(ms)-1])}
	t.Cleanup(p.stop)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and there is no 'postgres' user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = "postgres"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := p.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -F -c fsync=off", p.port, dir)
	if out, err := p.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return p
}

func (p *postgres) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

func (p *postgres) stop() {
	if _, err := os.Stat(filepath.Join(p.dir, "data", "postmaster.pid")); err == nil {
		p.run("pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "immediate", "-w", "stop")
	}
	os.RemoveAll(p.dir)
}

// url is the jdbc connector's 'url' of the cluster.
func (p *postgres) url() string {
	return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres?user=postgres&sslmode=disable", p.port)
}

// conn connects the test to the cluster (closed when the test ends).
func (p *postgres) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", p.port))
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
