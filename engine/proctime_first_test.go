package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

// kindRows collects what an operator emits as "kind key time id" (the time in milliseconds).
type kindRows struct{ rows []string }

func (c *kindRows) Push(b *changelog.Batch) error {
	for _, r := range b.Rows {
		c.rows = append(c.rows, fmt.Sprintf("%s %d %d %d", r.Kind, r.Vals[0].Int(), r.Vals[1].I, r.Vals[2].Int()))
	}
	return nil
}
func (c *kindRows) Watermark(int64) error { return nil }
func (c *kindRows) End() error            { return nil }

// TestProctimeFirstGuard: a keep-first deduplication on processing time (exec.RankConfig.KeepFirst, as the
// engine builds planner.Rank.ProctimeFirst) keeps each key's first row to arrive: rows of two channels whose
// processing times were taken out of arrival order (the later row has the earlier time, in one batch and
// across batches) are dropped, and the first rows are emitted with their own values (no time is raised), on
// the row path and on the columnar path. Without KeepFirst the Top-N emits -D for the first row and +I for
// the later one.
func TestProctimeFirstGuard(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.TimestampLTZType(3), types.BigIntType()}
	row := func(key, millis, id int64) changelog.Row {
		return changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(key), types.TimestampValue(millis, 0), types.IntValue(id)}}
	}
	pushes := [][]changelog.Row{
		{row(1, 100, 10), row(1, 90, 11) /* taken earlier on another channel, came later */, row(2, 95, 20)},
		{row(2, 80, 21), row(3, 120, 30), row(1, 100, 12) /* a tie comes later too */},
	}
	for _, keepFirst := range []bool{true, false} {
		for _, columns := range []bool{false, true} {
			cfg := exec.RankConfig{Func: "ROW_NUMBER", Partition: []int{0}, Order: []exec.SortKey{{Col: 1}}, Limit: 1,
				RowNumber: true, Types: ts, InsertOnly: true, KeepFirst: keepFirst}
			out := &kindRows{}
			op := exec.NewRank(cfg, out)
			for _, rows := range pushes {
				var err error
				if columns {
					var vb vec.Batch
					if !vec.FromRows(&vb, rows, ts, nil) {
						t.Fatal("rows not convertible to columns")
					}
					err = op.(vec.Output).PushColumns(&vb)
				} else {
					err = op.Push(&changelog.Batch{Rows: rows})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got := strings.Join(out.rows, ", ")
			want := "+I 1 100 10, +I 2 95 20, +I 3 120 30"
			if keepFirst && got != want {
				t.Fatalf("keep first (columns %v): %s, want %s", columns, got, want)
			}
			if !keepFirst && got == want {
				t.Fatalf("without KeepFirst the Top-N kept the first rows too (%s): the test does not test it", got)
			}
		}
	}
}

// TestProctimeFirstAppendKafka: a keep-first deduplication on processing time writes an append kafka table
// at P = 1 and at P = 2 (rows of two source subtasks meet in each Top-N subtask): every user exactly once,
// with one of its orders (before, the plan was refused: "doesn't support consuming delete changes"); the
// Top-N takes columns (a guard in front of it took rows before KeepFirst).
func TestProctimeFirstAppendKafka(t *testing.T) {
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprint("P=", par), func(t *testing.T) {
			addr := scaleOutTestBroker(t)
			const users, n = 50, 2000
			produceOrders(t, addr, 0, n, users)
			script := strings.ReplaceAll(strings.Join([]string{
				fmt.Sprintf("SET 'parallelism.default' = '%d'", par),
				scaleOutOrdersDDL,
				`CREATE TEMPORARY VIEW orders_pt AS SELECT *, PROCTIME() AS pt FROM orders`,
				`CREATE TABLE firsts (user_id BIGINT, id BIGINT) WITH (
  'connector' = 'kafka', 'topic' = 'firsts', 'properties.bootstrap.servers' = 'ADDR', 'format' = 'json')`,
				`INSERT INTO firsts SELECT user_id, id FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt) AS rn FROM orders_pt) WHERE rn = 1`,
			}, ";\n")+";\n", "ADDR", addr)
			cols := exec.RankColumnBatches()
			job, out := startTestMember(t, script)
			if !waitUntil(30*time.Second, func() bool { return job.Metrics().RowsIn == n }) {
				t.Fatalf("rows in %d, want %d\n%s", job.Metrics().RowsIn, n, out)
			}
			seen := map[int64]int{}
			var got []string
			waitUntil(10*time.Second, func() bool {
				seen, got = map[int64]int{}, nil
				for _, r := range readCommitted(t, addr, "firsts") {
					var v struct {
						UserID int64 `json:"user_id"`
						ID     int64 `json:"id"`
					}
					if err := json.Unmarshal(r.Value, &v); err != nil || v.ID%users != v.UserID {
						t.Fatalf("wrong row %q", r.Value)
					}
					seen[v.UserID]++
					got = append(got, string(r.Value))
				}
				return len(got) >= users
			})
			if len(seen) != users || len(got) != users {
				t.Fatalf("%d rows for %d users, want each of %d users once:\n%s\n%s", len(got), len(seen), users, strings.Join(got, "\n"), out)
			}
			if exec.RankColumnBatches() == cols {
				t.Fatal("no columnar batch reached the Top-N: the deduplication takes columns, as every streaming one")
			}
		})
	}
}
