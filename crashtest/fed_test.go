package crashtest

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The harness of the scenarios whose input is not the orders feed alone (the two-phase aggregate over a
// changelog, the event-time temporal join over two topics, the filesystem source): a ticker calls a step
// function every 10 ms until stopped, and runFed runs the scenario's kills and comparison as scenario.run
// does, with that input.

// ticker calls step(n) once, then every 10 ms until stop, n counting the units (records, rounds) of the input produced
// so far (from n0 on); step returns how many it added. last, when given, is called with the final count once stopped
// (before end returns).
func ticker(t *testing.T, n0 int, step func(n int) (int, error), last func(n int) error) *feeder {
	f := &feeder{stop: make(chan struct{}), done: make(chan struct{}), n: n0}
	// The first step is done before ticker returns: the input exists when the first run starts (a Kafka
	// source refuses a missing topic).
	k, err := step(f.n)
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	f.n += k
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stop:
				if last != nil {
					if err := last(f.n); err != nil {
						t.Errorf("feed: %v", err)
					}
				}
				return
			case <-time.After(10 * time.Millisecond):
			}
			k, err := step(f.n)
			if err != nil {
				t.Errorf("feed: %v", err)
				return
			}
			f.n += k
		}
	}()
	return f
}

// feedRecords produces the records gen(n) (each with its Topic and Key set; one key's records go to one
// partition, in order) at every tick; gen says how many units of input (n counts them) they are.
func feedRecords(t *testing.T, addr string, gen func(n int) (recs []*kgo.Record, units int)) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	f := ticker(t, 0, func(n int) (int, error) {
		recs, k := gen(n)
		return k, cl.ProduceSync(context.Background(), recs...).FirstErr()
	}, nil)
	t.Cleanup(cl.Close)
	return f
}

// runFed runs the scenario as run does, its input produced by the feeder that start starts (the scenario's
// want gets the feeder's final count; preload is not used). dir is the scenario's temporary directory
// (start may write its input there; TESTDIR in the scenario's SQL names it). It returns the comparison of
// the output written before the last run.
func (s *scenario) runFed(t *testing.T, seed uint64, start func(addr, dir string) *feeder) tally {
	t.Parallel()
	addr := broker(t, 4)
	dir := t.TempDir()
	ckpts := dir + "/checkpoints"
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	body := append([]string{
		`SET 'execution.checkpointing.interval' = '200 ms';`,
		`SET 'state.checkpoints.dir' = '` + fileURL(ckpts) + `';`,
		`SET 'table.local-time-zone' = 'UTC';`,
	}, s.settings...)
	body = append(append(body, s.tables...), s.insert)
	for i := range body {
		body[i] = strings.ReplaceAll(body[i], "TESTDIR", dir)
	}
	r := &restarts{t: t, dir: dir, addr: addr, ckpts: ckpts, body: body, parallelism: s.parallelism}
	f := start(addr, dir)
	r.kill(rng, 150*time.Millisecond, 1200*time.Millisecond)
	total := f.end()
	want := s.want(total)
	required := 0
	for _, w := range want {
		if w.required {
			required++
		}
	}
	pre := s.compare(t, addr, want)
	c := r.start()
	defer c.Kill()
	var got tally
	waitFor(60*time.Second, func() bool {
		got = s.compare(t, addr, want)
		return got.lost == 0 && (got.wrong == 0 || !s.upsert)
	})
	t.Logf("%d kills (%d runs restored from a checkpoint, the last included), %d input units, %d rows required (%d missing before the last run), %d read: %d lost, %d duplicated, %d wrong",
		*kills, r.restored, total, required, pre.lost, got.rows, got.lost, got.dups, got.wrong)
	if got.lost > 0 || got.dups > 0 || got.wrong > 0 || got.unordered > 0 {
		t.Fatalf("after %d kills: %d rows lost, %d duplicated, %d wrong, %d out of order (%s; lost: %s)\nlast client output:\n%s",
			*kills, got.lost, got.dups, got.wrong, got.unordered, got.example, s.missing(t, addr, want), indent(c.Output()))
	}
	if required == 0 {
		t.Fatal("the expectation requires no row: the scenario tests nothing")
	}
	r.checkRestored()
	return pre
}

// missing lists the first 40 required rows (by identity, in order) that the topic lacks.
func (s *scenario) missing(t *testing.T, addr string, want map[string]expect) string {
	seen := map[string]bool{}
	for _, r := range consume(t, addr, s.topic, !s.upsert) {
		if r.Value != nil {
			seen[fields(t, r.Value, s.key)] = true
		}
	}
	var ks []string
	for k, w := range want {
		if w.required && !seen[k] {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if len(ks[i]) != len(ks[j]) {
			return len(ks[i]) < len(ks[j])
		}
		return ks[i] < ks[j]
	})
	if len(ks) > 40 {
		ks = append(ks[:40], "...")
	}
	return strings.Join(ks, " ")
}
