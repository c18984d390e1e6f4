package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// TestProjectionPushdownResults runs the goldens under testdata/projection_results: queries over Kafka JSON
// topics (an in-process kfake broker, '$BROKER') whose scans skip columns and ROW members, through the plan
// shapes of projection_shapes.go. Each query prints the projections pushed into its scans (from EXPLAIN
// VERBOSE) and its rows, sorted: pruning must not change what the query returns. Commands:
//
//	produce topic=T  write each input line as a record value
//	file name=N      write the input to $DIR/N ($DIR: a directory of the test file)
//	exec             run statements ($BROKER and $DIR expanded); print ok or the error
//	query            run one streaming SELECT to its end; print the pushed projections and the sorted rows
func TestProjectionPushdownResults(t *testing.T) {
	datadriven.Walk(t, "testdata/projection_results", func(t *testing.T, path string) {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
		if err != nil {
			t.Fatal(err)
		}
		defer cluster.Close()
		addr, dir := cluster.ListenAddrs()[0], t.TempDir()
		var out bytes.Buffer
		s, err := engine.NewSession(engine.Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(),
			Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		expand := func(text string) string {
			return strings.NewReplacer("$BROKER", addr, "$DIR", dir).Replace(text)
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			switch d.Cmd {
			case "produce":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return produce(ctx, t, addr, topic, d.Input)
			case "file":
				var name string
				d.ScanArgs(t, "name", &name)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(d.Input+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return "ok\n"
			case "exec":
				stmts, err := sql.ParseScript(expand(d.Input))
				if err != nil {
					return err.Error() + "\n"
				}
				for _, st := range stmts {
					if _, err := s.Execute(ctx, st); err != nil {
						return err.Error() + "\n"
					}
				}
				return "ok\n"
			case "query":
				return pushedScans(ctx, t, s, d.Input) + runQuery(ctx, t, s, d.Input)
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

func produce(ctx context.Context, t *testing.T, addr, topic, input string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for _, l := range strings.Split(input, "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(l)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return fmt.Sprintf("produced %d records\n", n)
}

// pushedScans returns the scan lines of EXPLAIN VERBOSE's plan after projection pushdown (none: "no
// projection pushed").
func pushedScans(ctx context.Context, t *testing.T, s *engine.Session, query string) string {
	st, err := sql.ParseStatement("EXPLAIN VERBOSE " + query)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(res.Message, "== Plan after projection pushdown ==\n")
	if !found {
		return "no projection pushed\n"
	}
	section, _, _ = strings.Cut(section, "\n\n")
	seen := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.Split(section, "\n") {
		if i := strings.Index(l, "TableSourceScan("); i >= 0 && !seen[l[i:]] {
			seen[l[i:]] = true
			b.WriteString(strings.TrimSuffix(l[i:], ", changelogMode=[I])") + "\n")
		}
	}
	return b.String()
}

func runQuery(ctx context.Context, t *testing.T, s *engine.Session, query string) string {
	st, err := sql.ParseStatement(query)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Execute(ctx, st)
	if err != nil {
		return err.Error() + "\n"
	}
	ts := make([]types.Type, len(res.Columns))
	for i, c := range res.Columns {
		ts[i] = c.Type
	}
	var lines []string
	for {
		r, ok := res.Query.Next(ctx)
		if !ok {
			break
		}
		lines = append(lines, string(changelog.AppendRow(nil, r, ts, time.UTC)))
	}
	if err := res.Query.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	sort.Strings(lines)
	return "rows:\n" + strings.Join(lines, "\n") + "\n"
}
