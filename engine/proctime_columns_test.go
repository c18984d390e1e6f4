package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
)

// TestProctimeWindowColumns runs Nexmark q12's shape (a processing-time TUMBLE over the bid view of the
// nexmark source, COUNT per bidder) with a fixed clock at parallelism 1 (the graph's clock in front of the
// slice assigner) and 2 (the proctime stamps behind the hash exchange): the columnar batches reach the
// slice-shared window aggregate (exec.WindowColumnBatches), and the results are those of the per-window
// aggregate on rows (perWindowTumble), which takes no batch as columns.
func TestProctimeWindowColumns(t *testing.T) {
	clock := time.Date(2024, 5, 15, 13, 47, 21, 123e6, time.UTC)
	s, err := NewSession(Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"},
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	execAll(ctx, t, s, strings.ReplaceAll(nexmarkReuseTables, "{dt}", "dateTime")+
		"CREATE VIEW B AS SELECT *, PROCTIME() AS p_time FROM bid;")
	q := `SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND)) GROUP BY bidder, window_start, window_end`
	run := func(par int, rows bool) (string, int64) {
		t.Helper()
		built := exchangesBuilt.Load()
		defer func() {
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Errorf("parallelism %d: %d exchanges built", par, n)
			}
		}()
		if err := s.Set("parallelism.default", fmt.Sprint(par)); err != nil {
			t.Fatal(err)
		}
		perWindowTumble = rows
		defer func() { perWindowTumble = false }()
		before := exec.WindowColumnBatches()
		got, _, err := queryRows(ctx, s, q, ModeStreaming)
		if err != nil {
			t.Fatalf("parallelism %d: %v", par, err)
		}
		return sortLines(formatRows(got)), exec.WindowColumnBatches() - before
	}
	want, n := run(1, true)
	if n != 0 {
		t.Fatalf("the per-window aggregate: %d columnar batches", n)
	}
	if c := strings.Count(want, "\n"); c < 100 || !strings.Contains(want, "2024-05-15T13:47:20") {
		t.Fatalf("%d rows:\n%s", c, want)
	}
	for _, par := range []int{1, 2} {
		got, n := run(par, false)
		if n == 0 {
			t.Errorf("parallelism %d: no columnar batch reached the window aggregate", par)
		}
		if got != want {
			t.Errorf("parallelism %d: got\n%s\nwant\n%s", par, got, want)
		}
	}
}
