package driver_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/driver"
	"github.com/sluicesql/sluice/engine"
)

// 'metrics.reporter.prom.port' as a DSN option starts the session's Prometheus endpoint; DB.Close stops it.
func TestDSNMetricsPort(t *testing.T) {
	c, err := driver.NewConnector("metrics.reporter.prom.port=0", engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	addr := c.Session().MetricsAddr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("MetricsAddr %q", addr)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("the endpoint answers after DB.Close")
	}
	if _, err := driver.NewConnector("metrics.reporter.prom.port=web", engine.Config{}); err == nil || !strings.Contains(err.Error(), "'web' is not a port") {
		t.Fatalf("bad port in a DSN: %v", err)
	}
}
