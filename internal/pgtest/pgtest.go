// Package pgtest starts throw-away PostgreSQL clusters for tests, from Debian's postgresql package: initdb
// into a temporary directory, pg_ctl start on a free 127.0.0.1 port with the unix socket in that directory,
// the user 'postgres' trusted. As root (CI) the server runs as the unprivileged 'postgres' user through
// runuser (PostgreSQL refuses to run as root). The connectors/jdbc tests start one per package, the
// crashtest jdbc kill tests one per test.
package pgtest

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
	"strings"

	"github.com/jackc/pgx/v5"
)

// Install says how to get PostgreSQL when Start cannot find it.
const Install = "install it with: sudo apt-get install -y postgresql"

// Cluster is a running throw-away cluster.
type Cluster struct {
	Dir    string // the cluster's directory (data below it, the unix socket in it)
	Port   int    // its TCP port on 127.0.0.1
	bin    string
	asUser string // "" or the user to run the binaries as
}

// Start initializes and starts a cluster in a new directory named with prefix. hba, when not empty,
// replaces pg_hba.conf before the start.
func Start(prefix, hba string) (*Cluster, error) {
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(ms) == 0 {
		return nil, fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb found: %s", Install)
	}
	sort.Strings(ms)
	// As root the server runs as 'postgres', which must reach the directory: /tmp, not a private TMPDIR.
	parent := ""
	if os.Geteuid() == 0 {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: filepath.Dir(ms[len(ms)-1])}
	if err := c.start(hba); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(hba string) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root and there is no 'postgres' user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.Dir, uid, gid); err != nil {
			return err
		}
		c.asUser = "postgres"
	}
	data := filepath.Join(c.Dir, "data")
	if out, err := c.Run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if hba != "" {
		if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
			return err
		}
		if c.asUser != "" {
			exec.Command("chown", "postgres:postgres", filepath.Join(data, "pg_hba.conf")).Run()
		}
	}
	// The free port is picked just before the start; another process may still take it first (a CI run
	// saw "Address already in use"): then the start is tried again on another port.
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		c.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		logPath := filepath.Join(c.Dir, fmt.Sprintf("log.%d", attempt))
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -F -c fsync=off", c.Port, c.Dir)
		out, err := c.Run("pg_ctl", "-D", data, "-o", opts, "-l", logPath, "-w", "-t", "60", "start")
		if err == nil {
			return nil
		}
		log, _ := os.ReadFile(logPath)
		if attempt < 3 && strings.Contains(string(log), "Address already in use") {
			continue
		}
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Run runs one of the cluster's PostgreSQL binaries (as 'postgres' when the test runs as root).
func (c *Cluster) Run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	return cmd.CombinedOutput()
}

// Stop stops the server (if it runs) and removes the cluster's directory.
func (c *Cluster) Stop() {
	if _, err := os.Stat(filepath.Join(c.Dir, "data", "postmaster.pid")); err == nil {
		c.Run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop")
	}
	os.RemoveAll(c.Dir)
}

// URL is the jdbc connector's 'url' of the cluster, as user 'postgres'.
func (c *Cluster) URL() string {
	return fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres?user=postgres&sslmode=disable", c.Port)
}

// Connect opens a connection as 'postgres'.
func (c *Cluster) Connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", c.Port))
}
