package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/state"
)

// TestTumbleSavepointMigrates: a TUMBLE window aggregate job on the per-window aggregate (the operator
// TUMBLE ran on before the slice-shared one; perWindowTumble) at parallelism 2, stopped with a savepoint
// while windows are open, and the same query restored from it on the slice-shared operator at parallelism
// 3, together print every window's rows exactly once, as an uninterrupted run would.
func TestTumbleSavepointMigrates(t *testing.T) {
	defer func() { perWindowTumble = false }()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var out syncBuffer
	s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, j := range s.Jobs() {
			j.Cancel()
		}
	}()
	const n = 6000
	setup := fmt.Sprintf(`
CREATE TABLE gen (id BIGINT, ts AS TO_TIMESTAMP_LTZ(id * 1000, 3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen',
  'rows-per-second' = '5000', 'number-of-rows' = '%d', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '%d');
CREATE TABLE out (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'print');
SET 'state.savepoints.dir' = '%s';
SET 'parallelism.default' = '2';`, n, n, t.TempDir())
	if res := execAll(ctx, t, s, setup); strings.Contains(res, "error") {
		t.Fatal(res)
	}
	const insert = `INSERT INTO out SELECT id % 3, COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY id % 3, window_start, window_end;`
	perWindowTumble = true
	if res := execAll(ctx, t, s, insert); !strings.Contains(res, "job submitted") {
		t.Fatal(res)
	}
	perWindowTumble = false
	j := s.Jobs()[len(s.Jobs())-1]
	for deadline := time.Now().Add(10 * time.Second); !printedRow.MatchString(out.String()) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	res := execAll(ctx, t, s, "STOP JOB '"+j.ID()+"' WITH SAVEPOINT;")
	lines := strings.Split(strings.TrimSpace(res), "\n")
	if len(lines) != 2 {
		t.Fatalf("STOP WITH SAVEPOINT: %s", res)
	}
	first := out.String()
	if open := perWindowEntries(t, lines[1]); open == 0 {
		t.Fatalf("the savepoint holds no open window of the per-window aggregate: the test proves nothing\nfirst job printed:\n%s", first)
	}
	if res := execAll(ctx, t, s, "SET 'parallelism.default' = '3';\nSET 'execution.savepoint.path' = '"+lines[1]+"';\n"+insert); !strings.Contains(res, "job submitted") {
		t.Fatal(res)
	}
	j2 := s.Jobs()[len(s.Jobs())-1]
	if err := j2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, line := range strings.Split(out.String(), "\n") {
		if g := printedRow.FindStringSubmatch(line); g != nil {
			got = append(got, strings.Join(g[1:], " "))
		}
	}
	type acc struct{ n, s int64 }
	wins := map[[2]int64]*acc{}
	for id := int64(1); id <= n; id++ {
		w := [2]int64{id * 1000 / 60000, id % 3}
		if wins[w] == nil {
			wins[w] = &acc{}
		}
		wins[w].n++
		wins[w].s += id
	}
	for w, a := range wins {
		want = append(want, fmt.Sprintf("+I %d %d %d", w[1], a.n, a.s))
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("per-window job then migrated slice job printed %d rows, want %d\nfirst job printed:\n%s", len(got), len(want), first)
	}
	if strings.Count(first, "+I[") >= len(want) {
		t.Fatalf("the first job printed every window: nothing was left to restore")
	}
}

// perWindowEntries counts the keyed entries of per-window aggregate state in a savepoint (0 unless its meta
// entry names WindowAggregate(...)).
func perWindowEntries(t *testing.T, dir string) int {
	c, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range c.Metadata.Parts {
		if p.Kind != "operator" {
			continue
		}
		r, err := c.Reader(p)
		if err != nil {
			t.Fatal(err)
		}
		legacy, keyed := false, 0
		for {
			ns, key, value, ok, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if len(key) == 0 {
				legacy = strings.Contains(string(value), "WindowAggregate(") && !strings.Contains(string(value), "SliceWindowAggregate(")
			} else if ns == 0 {
				keyed++
			}
		}
		if legacy {
			n += keyed
		}
	}
	return n
}
