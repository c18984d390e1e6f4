package kafka_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// Watermarks per partition. A 4-partition topic where one partition lags: its rows are hours behind the
// others in the topic's event time and arrive only after the other partitions' rows were read. With one
// watermark for the whole source (the old behaviour) the fast partitions pushed it past the lagging rows'
// windows and those rows were dropped as late; with a watermark per partition (Flink's per-split watermarks)
// the lagging partition holds the watermark back and every row is counted.

// produceTo writes one record per value to one partition of topic.
func produceTo(ctx context.Context, t *testing.T, addr, topic string, partition int32, vals []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		recs[i] = &kgo.Record{Value: []byte(v), Partition: partition}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// minuteEvents returns n events per minute for minutes [from, to), with ids starting at id.
func minuteEvents(from, to, n int) []string {
	var vals []string
	for m := from; m < to; m++ {
		for k := 0; k < n; k++ {
			vals = append(vals, fmt.Sprintf(`{"ts":"2024-01-01 %02d:%02d:%02d"}`, m/60, m%60, k*60/n))
		}
	}
	return vals
}

const windowScript = `
CREATE TABLE events (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'events', 'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'EXTRA);
CREATE TABLE out (window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'print');
INSERT INTO out SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end;`

var windowLine = regexp.MustCompile(`\+I\[([^,]+), (\d+)\]`)

// windowCounts parses the print sink's +I[window_start, n] lines.
func windowCounts(out string) map[string]int {
	got := map[string]int{}
	for _, m := range windowLine.FindAllStringSubmatch(out, -1) {
		var n int
		fmt.Sscan(m[2], &n)
		got[m[1]] += n
	}
	return got
}

func formatCounts(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return b.String()
}

// At 'scan.parallelism' 2 and 3 every source subtask tracks the watermarks of its own partitions and the
// subtasks' minimum goes downstream: the lagging partition holds back the subtask that reads it, and so the
// job, whichever subtask that is.
func TestWatermarkPerPartitionLaggingPartition(t *testing.T) {
	for _, p := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("parallelism %d", p), func(t *testing.T) { testLaggingPartition(t, p) })
	}
}

func testLaggingPartition(t *testing.T, parallelism int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(4, "events"))
	// Partitions 0-2: minutes 60-70 (one hour in), 6 events a minute each.
	for p := int32(0); p < 3; p++ {
		produceTo(ctx, t, addr, "events", p, minuteEvents(60, 70, 6))
	}
	var out lockedWriter
	extra := fmt.Sprintf(", 'scan.parallelism' = '%d'", parallelism)
	job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "EXTRA", extra).Replace(windowScript))
	defer job.Cancel()
	checkSubtasks(t, job, "events", parallelism)
	for job.Metrics().RowsIn < 180 {
		if ctx.Err() != nil {
			t.Fatalf("the job read %d of 180 rows", job.Metrics().RowsIn)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Partition 3 lags by an hour: its rows (minutes 0-10) arrive after the others were read, then it catches
	// up to minute 80 and the others move on too, which closes every window before minute 70.
	produceTo(ctx, t, addr, "events", 3, minuteEvents(0, 10, 4))
	produceTo(ctx, t, addr, "events", 3, minuteEvents(60, 80, 2))
	for p := int32(0); p < 3; p++ {
		produceTo(ctx, t, addr, "events", p, minuteEvents(70, 80, 1))
	}
	want := map[string]int{}
	for m := 0; m < 10; m++ {
		want[fmt.Sprintf("2024-01-01T00:%02d", m)] = 4
	}
	for m := 60; m < 70; m++ {
		want[fmt.Sprintf("2024-01-01T01:%02d", m-60)] = 3*6 + 2
	}
	for {
		got := windowCounts(out.String())
		complete := true
		for k, n := range want {
			if got[k] != n {
				complete = false
			}
		}
		if complete {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("windows before minute 70:\n got  %s\n want %s (rows of the lagging partition must not be dropped as late)\noutput:\n%s",
				formatCounts(got), formatCounts(want), out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSubtasks fails t unless the job reads table as n source subtasks (n = 1: as one instance).
func checkSubtasks(t *testing.T, job *engine.Job, table string, n int) {
	t.Helper()
	got := job.SourceSubtasks()[table]
	if n == 1 && got == 0 {
		return
	}
	if got != n {
		t.Fatalf("table %s runs as %d source subtasks, want %d (%v)", table, got, n, job.SourceSubtasks())
	}
}

// An empty partition holds the watermark back (as in Flink) unless an idle timeout lets it go: with
// 'scan.watermark.idle-timeout' the windows close although partition 3 never has a row, while the other
// partitions keep receiving rows (when every partition is idle the watermark stays, as in Flink).
func TestWatermarkIdlePartition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(4, "events"))
	for p := int32(0); p < 3; p++ {
		produceTo(ctx, t, addr, "events", p, minuteEvents(0, 5, 3))
	}
	// At parallelism 2 partition 3 shares a subtask with one of the others: that subtask's watermark is held
	// back (no idle timeout) or not (idle timeout) exactly as the source's is at parallelism 1.
	for _, tc := range []struct {
		name, extra string
		closes      bool
		subtasks    int
	}{
		{"no idle timeout", ", 'scan.parallelism' = '1'", false, 1},
		{"idle timeout", ", 'scan.parallelism' = '1', 'scan.watermark.idle-timeout' = '200 ms'", true, 1},
		{"no idle timeout, parallelism 2", ", 'scan.parallelism' = '2'", false, 2},
		{"idle timeout, parallelism 2", ", 'scan.parallelism' = '2', 'scan.watermark.idle-timeout' = '200 ms'", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out lockedWriter
			job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "EXTRA", tc.extra).Replace(windowScript))
			defer job.Cancel()
			checkSubtasks(t, job, "events", tc.subtasks)
			for job.Metrics().RowsIn < 45 {
				if ctx.Err() != nil {
					t.Fatalf("the job read %d of 45 rows", job.Metrics().RowsIn)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// Partitions 0-2 keep receiving a row every 50 ms (minute 5: the windows of minutes 0-4 close, with their rows only).
			deadline := time.Now().Add(3 * time.Second)
			for i := 0; time.Now().Before(deadline) && len(windowCounts(out.String())) < 5; i++ {
				produceTo(ctx, t, addr, "events", int32(i%3), []string{fmt.Sprintf(`{"ts":"2024-01-01 00:05:%02d"}`, i%60)})
				time.Sleep(50 * time.Millisecond)
			}
			got := windowCounts(out.String())
			if tc.closes {
				want := map[string]int{}
				for m := 0; m < 5; m++ {
					want[fmt.Sprintf("2024-01-01T00:%02d", m)] = 9
				}
				if formatCounts(got) != formatCounts(want) {
					t.Fatalf("windows: got %s, want %s", formatCounts(got), formatCounts(want))
				}
			} else if len(got) != 0 {
				t.Fatalf("windows closed while partition 3 (empty, no idle timeout) holds the watermark back: %s", formatCounts(got))
			}
		})
	}
}

// More subtasks than partitions: at 'scan.parallelism' 4 two of the subtasks reading a 2-partition topic own
// no partition. They are idle (as Flink marks a source reader without splits), so the windows fire without
// any idle timeout; the subtasks that own a partition still hold the watermark back to their partition's.
func TestWatermarkIdleSubtasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(2, "events"))
	produceTo(ctx, t, addr, "events", 0, minuteEvents(0, 10, 3))
	produceTo(ctx, t, addr, "events", 1, minuteEvents(0, 5, 2))
	var out lockedWriter
	job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "EXTRA", ", 'scan.parallelism' = '4'").Replace(windowScript))
	defer job.Cancel()
	checkSubtasks(t, job, "events", 4)
	// Partition 1 is at minute 4 (watermark 00:04:25): minutes 0-3 close, with the rows of both partitions.
	want := map[string]int{}
	for m := 0; m < 4; m++ {
		want[fmt.Sprintf("2024-01-01T00:%02d", m)] = 5
	}
	for formatCounts(windowCounts(out.String())) != formatCounts(want) {
		if ctx.Err() != nil {
			t.Fatalf("windows: got %s\nwant %s (subtasks without partitions must not hold the watermark back)",
				formatCounts(windowCounts(out.String())), formatCounts(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Partition 1 catches up to minute 10: minutes 4-8 close too (partition 0 is at 00:09:35), minute 4 with
	// partition 1's rows.
	produceTo(ctx, t, addr, "events", 1, minuteEvents(5, 11, 2))
	for m := 4; m < 9; m++ {
		want[fmt.Sprintf("2024-01-01T00:%02d", m)] = 5
	}
	for formatCounts(windowCounts(out.String())) != formatCounts(want) {
		if ctx.Err() != nil {
			t.Fatalf("windows: got %s\nwant %s", formatCounts(windowCounts(out.String())), formatCounts(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Watermark alignment: partition 0 holds an hour of events, partition 1 receives its events slowly. With
// 'scan.watermark.alignment.max-drift' = '1 min', partition 0 is paused while its watermark is more than a
// minute ahead of partition 1's, so the job reads only a few minutes of it; once partition 1 catches up,
// everything is read and every window is complete.
//
// At 'scan.parallelism' 2 the partitions are read by different subtasks, each tracker a member of the group
// of its own: the subtask of partition 0 is paused by the subtask of partition 1.
func TestWatermarkAlignment(t *testing.T) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism %d", p), func(t *testing.T) { testWatermarkAlignment(t, p) })
	}
}

func testWatermarkAlignment(t *testing.T, parallelism int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(2, "events"))
	produceTo(ctx, t, addr, "events", 0, minuteEvents(0, 60, 10)) // 600 rows
	produceTo(ctx, t, addr, "events", 1, minuteEvents(0, 2, 1))
	var out lockedWriter
	job := startJob(ctx, t, &out, strings.NewReplacer("ADDR", addr, "EXTRA", fmt.Sprintf(`,
  'properties.max.poll.records' = '10', 'scan.watermark.alignment.group' = 'g', 'scan.parallelism' = '%d',
  'scan.watermark.alignment.max-drift' = '1 min', 'scan.watermark.alignment.update-interval' = '20 ms'`, parallelism)).Replace(windowScript))
	defer job.Cancel()
	checkSubtasks(t, job, "events", parallelism)
	// Partition 1 is at minute 1 (watermark 00:01:55): partition 0 may run to about minute 3 (its watermark
	// passes 00:02:55 within a poll of 10 rows), i.e. about 30 of its 600 rows.
	time.Sleep(time.Second)
	if in := job.Metrics().RowsIn; in < 12 || in > 2+60 {
		t.Fatalf("with partition 1 at minute 1, the job read %d rows; want partition 0 paused after about 30 of its 600 (alignment)", in)
	}
	produceTo(ctx, t, addr, "events", 1, minuteEvents(2, 62, 1))
	produceTo(ctx, t, addr, "events", 0, minuteEvents(62, 63, 1)) // closes minute 59 on partition 0
	want := map[string]int{}
	for m := 0; m < 60; m++ {
		want[fmt.Sprintf("2024-01-01T00:%02d", m)] = 11
	}
	for formatCounts(windowCounts(out.String())) != formatCounts(want) {
		if ctx.Err() != nil {
			t.Fatalf("windows: got %s\nwant %s", formatCounts(windowCounts(out.String())), formatCounts(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if in := job.Metrics().RowsIn; in != 663 {
		t.Fatalf("rows read: %d, want 663", in)
	}
}

// Alignment options are validated at CREATE TABLE / planning time.
func TestWatermarkAlignmentOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, addr := startBroker(t)
	for extra, want := range map[string]string{
		`, 'scan.watermark.alignment.group' = 'g'`:                                               "Option 'scan.watermark.alignment.group' needs 'scan.watermark.alignment.max-drift'",
		`, 'scan.watermark.alignment.max-drift' = '1 min'`:                                       "Option 'scan.watermark.alignment.max-drift' needs 'scan.watermark.alignment.group'",
		`, 'scan.watermark.alignment.group' = 'g', 'scan.watermark.alignment.max-drift' = '0 s'`: "'scan.watermark.alignment.max-drift': it must be positive",
	} {
		s, err := engine.NewSession(engine.Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		script := strings.NewReplacer("ADDR", addr, "EXTRA", extra).Replace(windowScript)
		stmts, err := sql.ParseScript(script)
		if err != nil {
			t.Fatal(err)
		}
		var got error
		for _, st := range stmts {
			if _, got = s.Execute(ctx, st); got != nil {
				break
			}
		}
		if got == nil || !strings.Contains(got.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", extra, got, want)
		}
	}
}

// A table with a watermark read by two branches of one job (the source is read once: source reuse): each
// branch's watermark assigner hears of every partition, so both windowed branches fire. (Before, the second
// assigner replaced the first as the source's split listener and the first branch never emitted.)
func TestWatermarkPerPartitionReusedSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, addr := startBroker(t, kfake.SeedTopics(2, "events"))
	for p := int32(0); p < 2; p++ {
		produceTo(ctx, t, addr, "events", p, minuteEvents(0, 10, 3))
	}
	script := strings.NewReplacer("ADDR", addr).Replace(`
CREATE TABLE events (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kafka',
  'topic' = 'events', 'properties.bootstrap.servers' = 'ADDR', 'scan.startup.mode' = 'earliest-offset',
  'format' = 'json');
CREATE TABLE out (w STRING, window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'print');
INSERT INTO out
SELECT 'one', window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end
UNION ALL
SELECT 'two', window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
  GROUP BY window_start, window_end;`)
	var out lockedWriter
	job := startJob(ctx, t, &out, script)
	defer job.Cancel()
	// Minutes 0-8 close (the watermark is minute 9:55 on both partitions): 9 one-minute windows of 6 rows,
	// 4 two-minute windows (0, 2, 4, 6) of 12.
	line := regexp.MustCompile(`\+I\[(one|two), [^,]+, (\d+)\]`)
	for {
		windows := map[string]int{}
		wrong := ""
		for _, m := range line.FindAllStringSubmatch(out.String(), -1) {
			windows[m[1]]++
			if want := map[string]string{"one": "6", "two": "12"}[m[1]]; m[2] != want {
				wrong = m[0]
			}
		}
		if wrong != "" {
			t.Fatalf("wrong window count %s; output:\n%s", wrong, out.String())
		}
		if windows["one"] == 9 && windows["two"] == 4 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("windows fired: %v (want one=9 two=4); output:\n%s", windows, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
