package client

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/gateway"
)

// startWeb serves the web dashboard of the embedded session sess on addr (sql-client --web host:port): the
// gateway's dashboard and REST API, showing sess's jobs besides those of the gateway's own sessions (the
// dashboard's query page opens one). token protects both as in the gateway. The returned stop ends it.
func startWeb(addr, token string, opts map[string]string, sess *engine.Session, stdout, stderr io.Writer) (stop func(), err error) {
	l, err := gateway.Listen(addr)
	if err != nil {
		return nil, err
	}
	if host, _, err := net.SplitHostPort(l.Addr().String()); err == nil && token == "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			fmt.Fprintf(stderr, "[WARN] The web dashboard listens on %s without authentication: anyone who can reach it can run SQL. Set --token.\n", l.Addr())
		}
	}
	srv := gateway.New(gateway.Config{Token: token, Options: opts, Stdout: stdout, Stderr: stderr})
	srv.AddSession(sess)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, l)
	}()
	fmt.Fprintf(stderr, "[INFO] Web dashboard: http://%s/ui/\n", l.Addr())
	return func() { cancel(); <-done }, nil
}
