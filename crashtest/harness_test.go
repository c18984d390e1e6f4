package crashtest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/internal/proctest"
	"github.com/sluicesql/sluice/state"
)

var kills = flag.Int("crash.kills", 8, "SIGKILLs per scenario")

// noRestore is the deliberate bug that shows a kill test can fail: every run starts without the latest
// checkpoint (the job forgets its state and source positions on a crash).
var noRestore = flag.Bool("crash.norestore", false, "restart killed jobs without their checkpoint (a deliberate bug the tests must catch)")

// raceClient builds the sql-client under test with -race (proctest.Start fails a test whose client reported
// a race). Off by default, also in CI's race phase: a race-instrumented client on a loaded 2-core machine
// restores and checkpoints so slowly that most kills land before a run's first checkpoint, and some
// scenarios do not catch up within their final wait.
var raceClient = flag.Bool("crash.race", false, "build the sql-client with -race and fail on its race reports")

var clientBin string

// parallelScenarios is how many tests run at once unless -test.parallel is given: the kill scenarios spend
// most of their time waiting (for the next kill, for the output), so go test's default (GOMAXPROCS, 2 on a
// 2-core machine) leaves the package waiting most of the time.
const parallelScenarios = 6

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", strconv.Itoa(max(parallelScenarios, runtime.GOMAXPROCS(0)))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "sluice-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var build []string
	if *raceClient {
		build = append(build, "-race")
	}
	if clientBin, err = proctest.BuildClient(dir, build...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// broker starts an in-process broker that outlives the client processes of a test.
func broker(t *testing.T, partitions int) string {
	addr, _ := brokerCluster(t, partitions)
	return addr
}

func brokerCluster(t *testing.T, partitions int) (string, *kfake.Cluster) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], c
}

// slowProduce makes the broker answer every produce request after delay (a stalled sink broker).
func slowProduce(c *kfake.Cluster, delay time.Duration) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		c.SleepControl(func() { time.Sleep(delay) })
		return nil, nil, false
	})
}

// produce writes records (key, value) to topic and waits for their acknowledgement.
func produce(t *testing.T, addr, topic string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads every record of topic currently in it (read_committed when committed is set).
func consume(t *testing.T, addr, topic string, committed bool) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The read ends once every partition was read up to its end offset, taken before the read (the writers
	// have stopped): the high watermark, or for read_committed the last stable offset. Control records are
	// kept (and left out of the result) so that the record at end-1 is always seen: below the last stable
	// offset the last record is a committed one or a transaction marker. On a loaded machine (CI runs every
	// package with -race at once) a read can take long; it fails rather than return part of the topic.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	var listed kadm.ListedOffsets
	if committed {
		listed, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		listed, err = adm.ListEndOffsets(ctx, topic)
	}
	if err == nil {
		err = listed.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil // no sink wrote the topic: it has no records
	}
	if err != nil {
		t.Fatalf("end offsets of topic %s: %v", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			ends[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading topic %s: %d records read in 3 minutes, partitions not read to their end offsets: %v", topic, len(out), ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("reading topic %s partition %d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if end, ok := ends[r.Partition]; ok && r.Offset >= end-1 {
				delete(ends, r.Partition)
			}
		})
	}
	return out
}

// latestCheckpoint returns the newest complete checkpoint under dir, or "" when there is none yet.
func latestCheckpoint(dir string) string {
	p, err := state.Latest(dir)
	if err != nil {
		return ""
	}
	return p
}

// randomDelay returns a random time in [lo, hi).
func randomDelay(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

func fileURL(p string) string { return "file://" + filepath.ToSlash(p) }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// feeder produces order records continuously (batches of 100 every 10 ms, the first one before feed
// returns) until stop; n is how many were acknowledged. It is stopped when its test ends at the latest (a
// test that returns early, or fails, before end), before the broker started ahead of it goes away: a feeder
// left running failed the test binary with "Fail in goroutine after ... has completed" once its produce to
// the closed broker gave up.
type feeder struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
	n    int
}

func feed(t *testing.T, addr, topic string, n0, users int) *feeder {
	return feedEvery(t, addr, topic, n0, users, 100, 10*time.Millisecond, true)
}

// feedEvery is feed with batches of batch orders every interval; first: the first batch is acknowledged
// before it returns.
func feedEvery(t *testing.T, addr, topic string, n0, users, batch int, every time.Duration, first bool) *feeder {
	f := &feeder{stop: make(chan struct{}), done: make(chan struct{}), n: n0}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	// The first batch is acknowledged before feed returns: the topic exists when the first run starts (a
	// Kafka source refuses a missing topic).
	if first {
		if err := cl.ProduceSync(context.Background(), orders(f.n, batch, users)...).FirstErr(); err != nil {
			cl.Close()
			t.Fatalf("feed: %v", err)
		}
		f.n += batch
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		f.once.Do(func() { close(f.stop) })
		cancel() // (end was not called: what was produced no longer counts)
		<-f.done
	})
	go func() {
		defer close(f.done)
		defer cl.Close()
		for {
			select {
			case <-f.stop:
				return
			case <-time.After(every):
			}
			recs := orders(f.n, batch, users)
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				if ctx.Err() == nil {
					t.Errorf("feed: %v", err)
				}
				return
			}
			f.n += len(recs)
		}
	}()
	return f
}

// end stops the feeder (once) and returns the number of records produced in all.
func (f *feeder) end() int {
	f.once.Do(func() { close(f.stop) })
	<-f.done
	return f.n
}

// restarts runs one job script in successive sql-client processes, each restored from the latest checkpoint
// under ckpts (when there is one), run k with 'parallelism.default' = parallelism[k % len] when given.
type restarts struct {
	t                *testing.T
	dir, addr, ckpts string
	body             []string
	parallelism      []int
	env              []string // added to the runs' environment (test hooks)
	runs, restored   int
}

// start starts the next run.
func (r *restarts) start() *proctest.Client {
	parts := r.body
	if p := latestCheckpoint(r.ckpts); p != "" && !*noRestore {
		parts = append([]string{`SET 'execution.savepoint.path' = '` + p + `';`}, parts...)
		r.restored++
	}
	if len(r.parallelism) > 0 {
		parts = append([]string{fmt.Sprintf(`SET 'parallelism.default' = '%d';`, r.parallelism[r.runs%len(r.parallelism)])}, parts...)
	}
	r.runs++
	return proctest.StartEnv(r.t, clientBin, r.dir, script(r.addr, parts...), r.env...)
}

// kill starts *kills runs one after the other and SIGKILLs each after a random delay in [lo, hi) (every
// other one but the last: after the run's first checkpoint, 0 to hi-lo later); a run that ends by itself
// fails the test.
func (r *restarts) kill(rng *rand.Rand, lo, hi time.Duration) {
	for k := 0; k < *kills; k++ {
		before := latestCheckpoint(r.ckpts)
		c := r.start()
		d := randomDelay(rng, lo, hi)
		// Every other kill (the first one, the third, ...; not the last, so that it may come at any moment)
		// comes after the run completed a checkpoint of its own, then 0 to hi-lo later: on a loaded machine a
		// run may take longer than hi to restore and checkpoint, and kills that all came first would test no
		// restore (checkRestored).
		if k%2 == 0 && k < *kills-1 {
			waitFor(30*time.Second, func() bool { return c.Exited() || latestCheckpoint(r.ckpts) != before })
			d -= lo
		}
		time.Sleep(d)
		if c.Exited() {
			r.t.Fatalf("sql-client ended by itself:\n%s", indent(c.Output()))
		}
		c.Kill()
	}
}

// checkRestored fails the test when fewer than two runs (the last included; with one kill, one) started
// from a checkpoint: kills that all land before the first checkpoint test no restore.
func (r *restarts) checkRestored() {
	r.t.Helper()
	if *noRestore {
		return
	}
	if want := min(*kills, 2); r.restored < want {
		r.t.Fatalf("only %d of %d runs restored from a checkpoint (want at least %d): the kills came before the job checkpointed, testing no restore",
			r.restored, r.runs, want)
	}
}
