package engine

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	connbuiltin "github.com/sluicesql/sluice/connectors/builtin"
	"github.com/sluicesql/sluice/options"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// xgen is a test-only CPU-bound parallel source: 'rows' rows (id BIGINT, k BIGINT, v BIGINT) with k = id %
// 'keys', split over its subtasks by id; 'work' rounds of hashing per row stand for a format's decoding.
type xgenFactory struct{}

func (xgenFactory) Identifier() string { return "xgen" }
func (xgenFactory) Options() []options.Decl {
	return []options.Decl{{Key: "rows", Type: options.TypeLong, Required: true}, {Key: "keys", Type: options.TypeLong, Required: true},
		{Key: "work", Type: options.TypeInt, Default: "0"}}
}

func (xgenFactory) CreateSource(ctx connectors.Context) (connectors.Source, error) {
	g := &xgen{}
	var err error
	if g.rows, err = strconv.ParseInt(ctx.Options["rows"], 10, 64); err != nil {
		return nil, err
	}
	if g.keys, err = strconv.ParseInt(ctx.Options["keys"], 10, 64); err != nil {
		return nil, err
	}
	if w := ctx.Options["work"]; w != "" {
		if g.work, err = strconv.Atoi(w); err != nil {
			return nil, err
		}
	}
	return g, nil
}

type xgen struct {
	rows, keys int64
	work       int
}

func (g *xgen) ChangelogMode() changelog.Mode { return changelog.InsertOnly }
func (g *xgen) Bounded() bool                 { return true }
func (g *xgen) Subtasks(def int) int          { return def }
func (g *xgen) Run(ctx context.Context, out changelog.Output) error {
	return g.RunSubtask(ctx, out, 0, 1)
}

var xgenSeed = maphash.MakeSeed()

func (g *xgen) RunSubtask(ctx context.Context, out changelog.Output, i, n int) error {
	var b changelog.Batch
	vals := make([]types.Value, 3*1024)
	var h maphash.Hash
	h.SetSeed(xgenSeed)
	sink := uint64(0)
	for id := int64(i); id < g.rows; {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.Reset()
		for r := 0; r < 1024 && id < g.rows; r++ {
			v := id % 100
			for range g.work {
				h.Reset()
				h.WriteString("decode a record")
				sink += h.Sum64()
			}
			row := vals[3*r : 3*r+3 : 3*r+3]
			row[0], row[1], row[2] = types.IntValue(id), types.IntValue(id%g.keys), types.IntValue(v+int64(sink&0))
			b.Append(changelog.Insert, row)
			id += int64(n)
		}
		if err := connectors.PushThen(out, &b, func() {}); err != nil {
			return err
		}
	}
	return nil
}

// twoPhaseBench turns on two-phase aggregation for the benchmark (mini-batches of 5000 rows or 1 s).
const twoPhaseBench = `SET 'table.exec.mini-batch.enabled' = 'true'; SET 'table.exec.mini-batch.allow-latency' = '1 s';
SET 'table.exec.mini-batch.size' = '5000'; SET 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE';
`

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHashExchange: GROUP BY, a join and a GROUP BY after a GROUP BY (twolevel: the first level's keyed
// subtasks sending into the second's exchange) over the CPU-bound xgen source at parallelism 1 (one instance)
// and 2 (source subtasks hash-exchanging into keyed subtasks; "forkjoin": exec.Parallel instead). go test ./engine
// -run '^$' -bench HashExchange -benchtime 3x
func BenchmarkHashExchange(b *testing.B) {
	const rows = 1_000_000
	src := func(name string) string {
		return fmt.Sprintf(`CREATE TABLE %s (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'xgen', 'rows' = '%d', 'keys' = '100000', 'work' = '20');`, name, rows)
	}
	jobs := []struct {
		name, script string
		records      int64
	}{
		{"groupby", src("a") + `CREATE TABLE hole (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT k, COUNT(*), SUM(v) FROM a GROUP BY k;`, rows},
		{"join", src("a") + src("c") + `CREATE TABLE hole (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT a.id, a.k, c.v FROM a JOIN c ON a.id = c.id;`, 2 * rows},
		{"twolevel", src("a") + `CREATE TABLE hole (n BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT n, COUNT(*), SUM(s) FROM (SELECT k, COUNT(*) AS n, SUM(v) AS s FROM a GROUP BY k) GROUP BY n;`, rows},
		// two-phase (twophase.go): at p2 the locals run in the source subtasks, the global behind the exchange;
		// p2-forkjoin is the path before: one local under the graph lock, the global as exec.Parallel
		{"twophase", src("a") + twoPhaseBench + `CREATE TABLE hole (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT k, COUNT(*), SUM(v) FROM a GROUP BY k;`, rows},
		{"twophase-1kkeys", strings.Replace(src("a"), "'100000'", "'1000'", 1) + twoPhaseBench + `CREATE TABLE hole (k BIGINT, n BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO hole SELECT k, COUNT(*), SUM(v) FROM a GROUP BY k;`, rows},
	}
	for _, job := range jobs {
		for _, mode := range []string{"p1", "p2", "p2-forkjoin"} {
			b.Run(job.name+"/"+mode, func(b *testing.B) {
				var wall, cpu time.Duration
				for range b.N {
					par := 2
					if mode == "p1" {
						par = 1
					}
					noExchange = mode == "p2-forkjoin"
					s, err := NewSession(Config{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Notice: &bytes.Buffer{}, TempDir: b.TempDir(),
						Options:    map[string]string{"table.local-time-zone": "UTC", "parallelism.default": fmt.Sprint(par)},
						Connectors: connbuiltin.Registry().With(xgenFactory{})})
					if err != nil {
						b.Fatal(err)
					}
					stmts, err := sql.ParseScript(job.script)
					if err != nil {
						b.Fatal(err)
					}
					c0, w0 := cpuNow(), time.Now()
					var jb *Job
					for _, st := range stmts {
						res, err := s.Execute(context.Background(), st)
						if err != nil {
							b.Fatal(err)
						}
						if res.Job != nil {
							jb = res.Job
						}
					}
					if err := s.WaitJobs(context.Background()); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(w0)
					cpu += cpuNow() - c0
					noExchange = false
					if got := jb.Metrics().RowsIn; got != job.records {
						b.Fatalf("read %d rows, want %d", got, job.records)
					}
				}
				total := float64(job.records) * float64(b.N)
				b.ReportMetric(total/wall.Seconds(), "records/s")
				b.ReportMetric(total/cpu.Seconds(), "records/cpu-s")
			})
		}
	}
}
