package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestRun runs the example and compares its output with testdata/output (regenerate with -rewrite).
func TestRun(t *testing.T) {
	datadriven.RunTest(t, "testdata/output", func(t *testing.T, d *datadriven.TestData) string {
		if d.Cmd != "run" {
			t.Fatalf("unknown command %q", d.Cmd)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out bytes.Buffer
		if err := run(ctx, &out); err != nil {
			return "error: " + err.Error() + "\n"
		}
		return out.String()
	})
}
