package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/planner"
)

// upsertTopic writes 80 keys' changes to an upsert-kafka topic (4 partitions, each key's records in one):
// five versions of every key (v = k*100 + version), interleaved across keys, then a tombstone for every
// key divisible by 7 and a sixth version for those divisible by 14. It returns the table u reading it.
func upsertTopic(t *testing.T, topic string) string {
	t.Helper()
	addr := exchangeBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	put := func(k, v int) {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf(`{"k": %d}`, k)), Value: []byte(fmt.Sprintf(`{"k": %d, "v": %d}`, k, v))})
	}
	for ver := 1; ver <= 5; ver++ {
		for k := range 80 {
			put(k, k*100+ver)
		}
	}
	for k := 0; k < 80; k += 7 {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf(`{"k": %d}`, k))})
	}
	for k := 0; k < 80; k += 14 {
		put(k, k*100+6)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`CREATE TABLE u (k BIGINT, v BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',
  'topic' = '%s', 'properties.bootstrap.servers' = '%s', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');
`, topic, addr)
}

// dropNormalize rewrites the plan so that input i of the first operator of type T reads the upsert scan
// under its ChangelogNormalize as it is (through the row-wise operators between them): a changelog read by
// that operator's stage, a shape the planner does not make today (it normalizes every upsert scan first).
func dropNormalize[T planner.Node](t *testing.T, i int) func(roots []planner.Node) {
	return func(roots []planner.Node) {
		var walk func(n planner.Node) bool
		walk = func(n planner.Node) bool {
			if _, ok := n.(T); ok {
				// down input i to the normalize, through Calcs
				var parent planner.Node = n
				cur := n.Inputs()[i]
				for {
					switch x := cur.(type) {
					case *planner.ChangelogNormalize:
						switch p := parent.(type) {
						case *planner.Calc:
							p.Input = x.Input
						case *planner.Join:
							p.Right = x.Input
						case *planner.Union:
							p.Ins[i] = x.Input
						}
						return true
					case *planner.Calc:
						parent, cur = x, x.Input
						continue
					}
					t.Fatalf("input %d of %s: no ChangelogNormalize under Calcs (%T)", i, n.Describe(), cur)
				}
			}
			for _, in := range n.Inputs() {
				if walk(in) {
					return true
				}
			}
			return false
		}
		for _, r := range roots {
			if walk(r) {
				return
			}
		}
		t.Fatal("no operator to rewrite in the plan")
	}
}

// keySeqs groups the union's rows (k, v, v, k) by key, each key's in the order they came: "+U[..] -D[..]".
func keySeqs(rows []string) map[string]string {
	out := map[string]string{}
	for _, r := range rows {
		vals := strings.Split(r[3:len(r)-1], ", ")
		if len(vals) != 4 || vals[0] != vals[3] || vals[1] != vals[2] {
			continue // a join row
		}
		out[vals[0]] += r + " "
	}
	return out
}

// A keyed stage that reads a changelog through a row-wise operator runs as P tasks, the changelog's rows
// hashed by its upsert key: the UNION ALL of the upsert scan itself (its +U and -D rows, with no
// ChangelogNormalize: the hook rewrites the plan) beside a join of the normalized table. Every key's changes
// reach one task in their order: at P = 2 and 3 the union's rows of each key come in the same sequence as at
// P = 1 (dealt round-robin they would come out of several tasks, task after task, out of order), and the
// stage runs P tasks.
func TestBatchChangelogInputTasks(t *testing.T) {
	script := upsertTopic(t, "bc_up") + "SELECT x.k, x.v, y.k, y.v FROM u x JOIN u y ON x.k = y.k UNION ALL SELECT k, v, v, k FROM u;"
	stageRootsHook = dropNormalize[*planner.Union](t, 1)
	t.Cleanup(func() { stageRootsHook = nil })
	want, notice, _, err := queryRun(t, script, map[string]string{"parallelism.default": "1"})
	if err != nil {
		t.Fatalf("at parallelism 1: %v\n%s", err, notice)
	}
	wantSeq := keySeqs(want)
	if len(wantSeq) != 80 || !strings.Contains(wantSeq["14"], "-D[") {
		t.Fatalf("at parallelism 1 the union gave %d keys' changes (key 14: %s)", len(wantSeq), wantSeq["14"])
	}
	for _, par := range []int{2, 3} {
		got, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": fmt.Sprint(par)})
		if err != nil {
			t.Fatalf("at parallelism %d: %v\n%s", par, err, notice)
		}
		if len(got) != len(want) {
			t.Fatalf("at parallelism %d: %d rows, want %d", par, len(got), len(want))
		}
		for k, seq := range keySeqs(got) {
			if seq != wantSeq[k] {
				t.Fatalf("at parallelism %d key %s's changes came as\n%s\nwant\n%s", par, k, seq, wantSeq[k])
			}
		}
		tasks := 0
		for _, a := range job.StageAttempts() {
			if strings.HasSuffix(a.Name, "Union") {
				tasks = a.Tasks
			}
		}
		if tasks != par {
			t.Fatalf("at parallelism %d the union's stage ran %d tasks:\n%s", par, tasks, attemptsOf(job))
		}
	}
}

// An upsert changelog read by key by other columns than its upsert key keeps its stage one task, with a
// notice saying why: a join reading the upsert scan itself (the hook drops its right side's
// ChangelogNormalize) by v, where a key's -D could reach another task than its +U. (The batch join then
// refuses the -D rows itself, as it refuses any changelog: the decision is the stage's.)
func TestBatchChangelogInputOneTask(t *testing.T) {
	script := upsertTopic(t, "bc_up1") + "SELECT x.k, x.v, y.k, y.v FROM u x JOIN u y ON x.k = y.v;"
	stageRootsHook = dropNormalize[*planner.Join](t, 1)
	t.Cleanup(func() { stageRootsHook = nil })
	_, notice, job, err := queryRun(t, script, map[string]string{"parallelism.default": "2"})
	if err == nil || !strings.Contains(err.Error(), "batch joins take insert-only input") {
		t.Fatalf("want the batch join to refuse the changelog, got %v\n%s", err, notice)
	}
	joins := 0
	for _, a := range job.StageAttempts() {
		if strings.HasPrefix(a.Name, "HashJoin") {
			if joins++; a.Tasks != 1 {
				t.Fatalf("the join's stage ran %d tasks:\n%s", a.Tasks, attemptsOf(job))
			}
		}
	}
	if joins == 0 {
		t.Fatalf("the join's stage did not run:\n%s", attemptsOf(job))
	}
	if !strings.Contains(notice, "runs as one task: HashJoin reads the upsert changelog of stage 1 (Source: u) by columns [1], not among its upsert key's [0]") {
		t.Fatalf("notice:\n%s", notice)
	}
}

// The real SQL shape of a keyed stage over a changelog in batch: a bounded upsert-kafka scan, which the
// planner normalizes at once (ChangelogNormalize keyed by the primary key, the scan's upsert key). The
// normalize stage reads the scan stage's upsert changelog hashed by that key, so it runs as P tasks, every
// change of a key reaching one task in its partition's order; its output is the final table, insert-only,
// and a GROUP BY above it runs as P tasks too. At P = 1, 2 and 4 the rows equal the table upsertTopic
// leaves (74 keys: each key's fifth version, keys divisible by 7 deleted, those divisible by 14 at a sixth
// version) and its aggregate, and the stages run P tasks.
func TestBatchUpsertNormalizeTasks(t *testing.T) {
	tables := upsertTopic(t, "bc_norm")
	final := map[int]int{}
	for k := range 80 {
		switch {
		case k%14 == 0:
			final[k] = k*100 + 6
		case k%7 != 0:
			final[k] = k*100 + 5
		}
	}
	var wantRows []string
	cnt, sum := map[int]int{}, map[int]int{}
	for k, v := range final {
		wantRows = append(wantRows, fmt.Sprintf("+I[%d, %d]", k, v))
		cnt[v%7]++
		sum[v%7] += v
	}
	var wantAgg []string
	for m := range cnt {
		wantAgg = append(wantAgg, fmt.Sprintf("+I[%d, %d, %d]", m, cnt[m], sum[m]))
	}
	for _, tc := range []struct {
		name, query string
		want        []string
		keyed       []string // the stages that must run P tasks
	}{
		{"normalized table", "SELECT k, v FROM u;", wantRows, []string{"Source: u", "ChangelogNormalize"}},
		{"aggregate over it", "SELECT MOD(v, 7), COUNT(*), SUM(v) FROM u GROUP BY MOD(v, 7);", wantAgg,
			[]string{"Source: u", "ChangelogNormalize", "SortAggregate"}},
	} {
		for _, par := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/P%d", tc.name, par), func(t *testing.T) {
				got, notice, job, err := queryRun(t, tables+tc.query, map[string]string{"parallelism.default": fmt.Sprint(par)})
				if err != nil {
					t.Fatalf("%v\n%s", err, notice)
				}
				if g, w := strings.Join(sorted(got), "\n"), strings.Join(sorted(tc.want), "\n"); g != w {
					t.Fatalf("got %d rows, want %d:\n%s\nwant:\n%s", len(got), len(tc.want), g, w)
				}
				tasks := stageTasks(job)
				for _, prefix := range tc.keyed {
					found := false
					for name, n := range tasks {
						if strings.HasPrefix(name, prefix) {
							found = true
							if n != par {
								t.Fatalf("stage %q ran %d tasks, want %d:\n%s", name, n, par, attemptsOf(job))
							}
						}
					}
					if !found {
						t.Fatalf("no stage %q:\n%s", prefix, attemptsOf(job))
					}
				}
				if strings.Contains(notice, "runs as one task") {
					t.Fatalf("a stage ran as one task:\n%s", notice)
				}
			})
		}
	}
}
