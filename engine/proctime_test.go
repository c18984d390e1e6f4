package engine

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestProctimeWindows runs processing-time window aggregations with a fixed clock (Config.Now): every row's
// PROCTIME() is the clock, so the windows and their counts are known; the windows fire at the end of
// input.
func TestProctimeWindows(t *testing.T) {
	clock := time.Date(2024, 5, 15, 13, 47, 21, 123e6, time.UTC)
	s, err := NewSession(Config{TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"},
		Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	setup := `CREATE TABLE clicks (id BIGINT, u BIGINT, pt AS PROCTIME())
WITH ('connector' = 'datagen', 'number-of-rows' = '7', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',
  'fields.id.end' = '7', 'fields.u.kind' = 'sequence', 'fields.u.start' = '1', 'fields.u.end' = '7');
CREATE VIEW v AS SELECT id, MOD(u, 2) AS odd, PROCTIME() AS p_time FROM clicks;`
	if out := execAll(ctx, t, s, setup); out != "[INFO] Execute statement succeed.\n[INFO] Execute statement succeed.\n" {
		t.Fatalf("setup: %s", out)
	}
	for _, c := range []struct{ query, want string }{
		{`SELECT window_start, window_end, COUNT(*) AS n, SUM(id) AS s
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(pt), INTERVAL '10' SECONDS))
GROUP BY window_start, window_end`,
			"+I[2024-05-15T13:47:20, 2024-05-15T13:47:30, 7, 28]\n"},
		// Nexmark q12's shape: a view's PROCTIME(), grouped by a key.
		{`SELECT odd, COUNT(*) AS n, window_start, window_end
FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
GROUP BY odd, window_start, window_end`,
			"+I[0, 3, 2024-05-15T13:47:20, 2024-05-15T13:47:30]\n+I[1, 4, 2024-05-15T13:47:20, 2024-05-15T13:47:30]\n"},
		{`SELECT window_start, window_end, COUNT(*) AS n
FROM TABLE(HOP(DATA => TABLE v, TIMECOL => DESCRIPTOR(p_time), SLIDE => INTERVAL '1' MINUTE, SIZE => INTERVAL '2' MINUTES))
GROUP BY window_start, window_end`,
			"+I[2024-05-15T13:46, 2024-05-15T13:48, 7]\n+I[2024-05-15T13:47, 2024-05-15T13:49, 7]\n"},
		{`SELECT window_start, window_end, odd, COUNT(*) AS n
FROM TABLE(SESSION(TABLE v PARTITION BY odd, DESCRIPTOR(p_time), INTERVAL '5' SECONDS))
GROUP BY odd, window_start, window_end`,
			"+I[2024-05-15T13:47:21.123, 2024-05-15T13:47:26.123, 0, 3]\n+I[2024-05-15T13:47:21.123, 2024-05-15T13:47:26.123, 1, 4]\n"},
		{`SELECT TUMBLE_START(pt, INTERVAL '1' HOUR) AS s, COUNT(*) AS n FROM clicks GROUP BY TUMBLE(pt, INTERVAL '1' HOUR)`,
			"+I[2024-05-15T13:00, 7]\n"},
		// ORDER BY a processing-time attribute: rows of one millisecond sorted by the further keys.
		{`SELECT id, pt FROM clicks ORDER BY pt, id DESC`, "+I[7, 2024-05-15T13:47:21.123Z]\n+I[6, 2024-05-15T13:47:21.123Z]\n+I[5, 2024-05-15T13:47:21.123Z]\n+I[4, 2024-05-15T13:47:21.123Z]\n+I[3, 2024-05-15T13:47:21.123Z]\n+I[2, 2024-05-15T13:47:21.123Z]\n+I[1, 2024-05-15T13:47:21.123Z]\n"},
		{`SELECT id, odd, p_time FROM v WHERE id > 2 ORDER BY p_time ASC, odd, id DESC`, "+I[6, 0, 2024-05-15T13:47:21.123Z]\n+I[4, 0, 2024-05-15T13:47:21.123Z]\n+I[7, 1, 2024-05-15T13:47:21.123Z]\n+I[5, 1, 2024-05-15T13:47:21.123Z]\n+I[3, 1, 2024-05-15T13:47:21.123Z]\n"},
	} {
		for _, par := range []string{"1", "3"} { // also with the keyed operators as subtasks
			if err := s.Set("parallelism.default", par); err != nil {
				t.Fatal(err)
			}
			rows, _, err := queryRows(ctx, s, c.query, ModeStreaming)
			if err != nil {
				t.Fatalf("%s: %v", c.query, err)
			}
			got := formatRows(rows)
			if par != "1" && !strings.Contains(c.query, "ORDER BY") {
				got, c.want = sortLines(got), sortLines(c.want) // subtasks interleave their windows' rows
			}
			if got != c.want {
				t.Errorf("parallelism %s: %s:\ngot:\n%swant:\n%s", par, c.query, got, c.want)
			}
		}
	}
}

func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}
