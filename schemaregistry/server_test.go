package schemaregistry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/schemaregistry"
)

// TestServer runs testdata/rest: each case is 'METHOD /path' with an optional JSON body; the output is the
// status and the body. 'restart' stops the registry and starts it again on the same directory.
func TestServer(t *testing.T) {
	dir := t.TempDir()
	srv, err := schemaregistry.Start(context.Background(), "127.0.0.1:0", schemaregistry.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	datadriven.RunTest(t, "testdata/rest", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd == "restart" {
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			if srv, err = schemaregistry.Start(context.Background(), "127.0.0.1:0", schemaregistry.WithDir(dir)); err != nil {
				t.Fatal(err)
			}
			return ""
		}
		req, err := http.NewRequest(d.Cmd, srv.URL()+d.CmdArgs[0].Key, strings.NewReader(d.Input))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	})
}
