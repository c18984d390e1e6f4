package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/changelog"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

var jobIDRE = regexp.MustCompile(`job [0-9a-f]{32}`)

func engineErr(err error) string {
	if line, col, msg, ok := sql.Position(err); ok {
		return fmt.Sprintf("%d:%d: %s", line, col, msg)
	}
	return jobIDRE.ReplaceAllString(err.Error(), "job <id>")
}

// TestEngine runs SQL against an in-process broker through the engine, files under testdata/engine.
// Commands:
//
//	exec            run statements; INSERT jobs are waited for; print results, job errors and what print
//	                sinks and warnings wrote
//	query [sort]    run one SELECT (the tables must be bounded, or the query must end); print its rows
//	produce topic=T, consume topic=T, create-topic topic=T partitions=N   as in testdata/golden
//	filtered-early  print how many records pushed filters dropped before full decoding since the last one
//
// and compacted topic=T, create-topic topic=T partitions=N compact, compact   as in testdata/upsert/golden
func TestEngine(t *testing.T) { runEngine(t, "testdata/engine") }

func runEngine(t *testing.T, dir string) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		h := newHarness(t)
		var out bytes.Buffer
		s, err := engine.NewSession(engine.Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(),
			Options: map[string]string{"table.local-time-zone": "UTC"},
			Connectors: connbuiltin.Registry().With(kafka.NewFactory(kafka.WithConnectTimeout(2*time.Second)),
				kafka.NewUpsertFactory(kafka.WithConnectTimeout(2*time.Second)))})
		if err != nil {
			t.Fatal(err)
		}
		filteredSeen := kafka.FilteredEarlyTotal()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.t = t
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			switch d.Cmd {
			case "create-topic":
				var topic string
				parts := 1
				d.ScanArgs(t, "topic", &topic)
				if d.HasArg("partitions") {
					d.ScanArgs(t, "partitions", &parts)
				}
				var configs map[string]string
				if d.HasArg("compact") {
					configs = map[string]string{"cleanup.policy": "compact"}
				}
				if err := h.cluster.CreateTopic(topic, int32(parts), configs); err != nil {
					return errText(err)
				}
				return "ok\n"
			case "compact":
				h.cluster.Compact()
				return "ok\n"
			case "compacted":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return compactedView(t, h.addr, topic)
			case "produce":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				return h.produce(topic, d.Input)
			case "filtered-early":
				// the records pushed filters dropped before full decoding since the last filtered-early
				n := kafka.FilteredEarlyTotal()
				defer func() { filteredSeen = n }()
				return fmt.Sprintf("%d\n", n-filteredSeen)
			case "consume":
				var topic string
				d.ScanArgs(t, "topic", &topic)
				var b strings.Builder
				for _, r := range consumeAll(t, h.addr, topic) {
					b.WriteString(formatRecord(r))
					b.WriteByte('\n')
				}
				return b.String()
			case "exec":
				out.Reset()
				stmts, err := sql.ParseScript(h.expand(d.Input))
				if err != nil {
					return engineErr(err) + "\n"
				}
				var b strings.Builder
				for _, st := range stmts {
					res, err := s.Execute(ctx, st)
					if err != nil {
						b.WriteString(h.scrub(engineErr(err)) + "\n")
						continue
					}
					switch res.Kind {
					case engine.ResultOK:
						b.WriteString(res.Message + "\n")
					case engine.ResultJob:
						b.WriteString("[INFO] job submitted\n")
					default:
						t.Fatalf("use query for SELECT")
					}
				}
				if err := s.WaitJobs(ctx); err != nil {
					b.WriteString("job error: " + h.scrub(engineErr(err)) + "\n")
				}
				printed := h.scrub(out.String())
				if d.HasArg("final") {
					printed = finalRows(printed)
				}
				b.WriteString(printed)
				return b.String()
			case "query":
				out.Reset()
				st, err := sql.ParseStatement(h.expand(d.Input))
				if err != nil {
					return engineErr(err) + "\n"
				}
				res, err := s.Execute(ctx, st)
				if err != nil {
					return h.scrub(engineErr(err)) + "\n"
				}
				var lines []string
				var ts = res.Columns
				for {
					r, ok := res.Query.Next(ctx)
					if !ok {
						break
					}
					var colTypes = make([]types.Type, len(ts))
					for i, c := range ts {
						colTypes[i] = c.Type
					}
					lines = append(lines, string(changelog.AppendRow(nil, r, colTypes, time.UTC)))
				}
				if d.HasArg("sort") {
					sort.Strings(lines)
				}
				b := strings.Join(lines, "\n")
				if b != "" {
					b += "\n"
				}
				if err := res.Query.Err(); err != nil {
					b += "error: " + h.scrub(engineErr(err)) + "\n"
				}
				return b + h.scrub(out.String())
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
		s.CancelJobs()
	})
}

// stripSubtask removes the subtask number that a print sink written by several subtasks puts in front of a
// changelog line ('2> +I[...]').
func stripSubtask(l string) string {
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	if i > 0 && strings.HasPrefix(l[i:], "> ") && len(l) > i+5 && l[i+4] == '[' {
		return l[i+2:]
	}
	return l
}

// finalRows folds print-sink changelog lines (+I[...], -U[...], +U[...], -D[...]) into the final rows, sorted:
// for goldens whose intermediate changes depend on the order in which partitions are fetched. Other lines
// are kept, first.
func finalRows(printed string) string {
	count := map[string]int{}
	var other []string
	for _, l := range strings.Split(strings.TrimSuffix(printed, "\n"), "\n") {
		l = stripSubtask(l)
		if len(l) < 3 || l[2] != '[' {
			if l != "" {
				other = append(other, l)
			}
			continue
		}
		switch l[:2] {
		case "+I", "+U":
			count[l[2:]]++
		case "-U", "-D":
			count[l[2:]]--
		default:
			other = append(other, l)
		}
	}
	var rows []string
	for r, n := range count {
		for ; n > 0; n-- {
			rows = append(rows, "+I"+r)
		}
		if n < 0 {
			rows = append(rows, fmt.Sprintf("retracted %d more than inserted: %s", -n, r))
		}
	}
	sort.Strings(rows)
	out := append(other, rows...)
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}
