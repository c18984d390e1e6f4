package gateway

import (
	"context"
	"fmt"
	"net"
)

// DefaultListen is the gateway's default address: loopback only, as there is no authentication unless a
// token is configured.
const DefaultListen = "127.0.0.1:8083"

// Listen opens the gateway's listener on addr (DefaultListen when empty).
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListen
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	return l, nil
}

// ListenAndServe serves a gateway on addr until ctx is done.
func ListenAndServe(ctx context.Context, addr string, cfg Config) error {
	l, err := Listen(addr)
	if err != nil {
		return err
	}
	return New(cfg).Serve(ctx, l)
}
