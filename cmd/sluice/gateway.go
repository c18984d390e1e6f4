package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/sluicesql/sluice/gateway"
)

const gatewayUsage = `Usage: sluice gateway [--listen 127.0.0.1:8083] [--token TOKEN] [-D key=value]...

Runs the SQL gateway: a REST API in the shape of Flink's SQL Gateway (v1/v2: sessions, statements,
operations, paged results) that hosts sessions and their jobs until SIGINT or SIGTERM, so that jobs outlive
the client that submitted them. Connect the shell with 'sql-client gateway --endpoint 127.0.0.1:8083'.

It also serves a web dashboard of its jobs at http://<listen>/ui/.

The gateway has no authentication unless --token (or SLUICE_GATEWAY_TOKEN) is set; then every request
must carry 'Authorization: Bearer <token>' (browsers open /ui/?token=<token> once, which sets a cookie).
It listens on loopback by default. See docs/GATEWAY.md.

-D sql-gateway.session.idle-timeout=10min (Flink's default; 0: never) closes sessions no request named for
that long, unless a job or query of theirs runs; -D sql-gateway.session.check-interval=1min is how often.
Other -D keys are defaults of every session.

Flags:
`

type kvFlag map[string]string

func (m kvFlag) String() string { return "" }
func (m kvFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("expected key=value, e.g. -D execution.runtime-mode=batch")
	}
	m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

// runGateway runs the SQL gateway until ctx is done.
func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sluice gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", gateway.DefaultListen, "`host:port` to serve the REST API on (port 0 picks a free port)")
	token := fs.String("token", os.Getenv("SLUICE_GATEWAY_TOKEN"), "shared `token` that requests must carry as 'Authorization: Bearer <token>' (default $SLUICE_GATEWAY_TOKEN; none: no authentication)")
	opts := kvFlag{}
	fs.Var(opts, "D", "default session option: -D `key=value` (repeatable); sessions' properties override it")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), gatewayUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice gateway: unexpected argument '%s'\n", fs.Arg(0))
		return 2
	}
	l, err := gateway.Listen(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "sluice gateway: %v\n", err)
		return 1
	}
	if host, _, err := net.SplitHostPort(l.Addr().String()); err == nil && *token == "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			fmt.Fprintf(stderr, "[WARN] The gateway listens on %s without authentication: anyone who can reach it can run SQL. Set --token.\n", l.Addr())
		}
	}
	cfg := gateway.Config{Token: *token, Options: opts, Stdout: stdout, Stderr: stderr}
	if err := cfg.ParseOptions(opts); err != nil { // 'sql-gateway.*' keys configure the gateway itself
		fmt.Fprintf(stderr, "sluice gateway: %v\n", err)
		l.Close()
		return 2
	}
	fmt.Fprintf(stdout, "[INFO] SQL gateway listening on http://%s (REST API v1, v2; web dashboard: http://%s/ui/)\n", l.Addr(), l.Addr())
	srv := gateway.New(cfg)
	if err := srv.Serve(ctx, l); err != nil {
		fmt.Fprintf(stderr, "sluice gateway: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "[INFO] SQL gateway stopped; its sessions' jobs were cancelled.")
	return 0
}
