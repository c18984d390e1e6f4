package client

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// fakeKeys is a terminal without key presses until the test sends one.
type fakeKeys struct{ ch chan byte }

func (k fakeKeys) keys() <-chan byte      { return k.ch }
func (k fakeKeys) stop()                  {}
func (k fakeKeys) size() (cols, rows int) { return 80, 24 }

// When the shell's ctx ends under a live view (the query's Next stops with context.Canceled), the view
// does not call it a failed query, and q returns no error.
func TestViewCancelIsNotAFailure(t *testing.T) {
	sess, err := engine.NewSession(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := &runner{sess: sess, out: &out, errw: &out, sigs: make(chan os.Signal)}
	for _, q := range []string{
		`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100')`,
		`SELECT COUNT(*) AS c FROM src`,
	} {
		st, err := sql.ParseStatement(q)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		res, err := sess.Execute(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if res.Kind != engine.ResultQuery {
			cancel()
			continue
		}
		kb := fakeKeys{make(chan byte, 1)}
		go func() {
			time.Sleep(300 * time.Millisecond)
			cancel() // the shell's ctx ends: the query stops
			time.Sleep(300 * time.Millisecond)
			kb.ch <- 'q'
		}()
		if err := r.viewQuery(ctx, res, "table", kb); err != nil {
			t.Fatalf("the view returned %v after a cancel, want nil", err)
		}
		if strings.Contains(out.String(), "query failed") {
			t.Fatalf("the view called a cancelled query failed:\n%q", out.String())
		}
	}
}
