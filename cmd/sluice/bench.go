package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice"
)

// nexmarkQueries are the benchmark's DDL, views and queries q0..q22, as it ships them (see the attribution
// line of each file).
//
//go:embed nexmark/*.sql
var nexmarkQueries embed.FS

const benchUsage = `Usage: sluice bench nexmark [flags]

Runs the Nexmark benchmark's queries (github.com/nexmark/nexmark) through the embedded engine, in
streaming mode, one after the other: each query reads events.num events from the 'nexmark' source
(the benchmark's ddl_gen.sql and views) and writes to a blackhole sink. Per query it prints the
events, the wall-clock seconds, the CPU seconds of the process (user + system), the throughput,
the events per CPU second (ev/s per core, the benchmark's Throughput/Cores) and the peak resident
memory. A query that fails prints its error in its row; the run goes on.

Flags:
`

// benchConfig is what 'bench nexmark' runs.
type benchConfig struct {
	queries     []string // names (q0, q5, ...); empty: all
	events      int64
	tps         int64
	parallelism int
	queryDir    string // empty: the embedded queries
	seed        int64
	proportions [3]int64 // person, auction, bid
	timeout     time.Duration
	options     benchOptions // -D key=value: session options of every query
	cpuProfile  string       // directory for <query>.cpu.pprof files; empty: no profile
	memProfile  string       // directory for <query>.heap.pprof files (live heap at the query's end); empty: none
}

// benchOptions collects repeated -D key=value flags, in order.
type benchOptions [][2]string

func (o *benchOptions) String() string { return "" }

func (o *benchOptions) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got '%s'", v)
	}
	*o = append(*o, [2]string{strings.TrimSpace(k), strings.TrimSpace(val)})
	return nil
}

// benchResult is one row of the report.
type benchResult struct {
	query   string
	events  int64
	seconds float64
	cpu     float64
	peakRSS int64   // bytes; 0 when unknown
	gc      gcStats // the garbage collector's cost (bench_gc.go)
	err     error
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "nexmark" {
		fmt.Fprintf(stderr, "Usage: sluice bench nexmark [flags]\n\nRun 'sluice bench nexmark -h' for the flags.\n")
		return 2
	}
	fset := flag.NewFlagSet("sluice bench nexmark", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var cfg benchConfig
	queries := fset.String("queries", "", "comma-separated `queries` to run, e.g. q0,q5 (default: the benchmark's suite, q0..q22 but q6; with --query-dir, every qN.sql)")
	fset.Int64Var(&cfg.events, "events", 10_000_000, "events each query reads (the source's 'events.num'); 10000 is a quick smoke run")
	fset.Int64Var(&cfg.tps, "tps", 10_000_000, "event rate of the generated event time, events per second ('first-event.rate' and 'next-event.rate'); events are emitted as fast as the query takes them")
	fset.IntVar(&cfg.parallelism, "parallelism", 1, "'parallelism.default' of the queries: the nexmark source runs as this many subtasks (one event generator each, as the benchmark's connector splits them, also when several branches read it), and keyed aggregates as many")
	fset.StringVar(&cfg.queryDir, "query-dir", "", "`directory` of qN.sql files to run instead of the built-in ones (ddl_gen.sql and ddl_views.sql are read from it when present)")
	fset.Int64Var(&cfg.seed, "seed", 1, "seed of the event generator (the same events in every run)")
	fset.Int64Var(&cfg.proportions[0], "person-proportion", 1, "'person.proportion' of the source")
	fset.Int64Var(&cfg.proportions[1], "auction-proportion", 3, "'auction.proportion' of the source")
	fset.Int64Var(&cfg.proportions[2], "bid-proportion", 46, "'bid.proportion' of the source")
	fset.Var(&cfg.options, "D", "`key=value`: a session option of every query, e.g. -D table.exec.mini-batch.enabled=true (repeatable)")
	fset.StringVar(&cfg.cpuProfile, "cpuprofile", "", "`directory` to write a CPU profile of each query into (<query>.cpu.pprof; go tool pprof reads it)")
	fset.StringVar(&cfg.memProfile, "memprofile", "", "`directory` to write a heap profile of each query into (<query>.heap.pprof, taken when the query ends, before its engine closes)")
	fset.DurationVar(&cfg.timeout, "timeout", 0, "stop a query that runs longer than this and report it as timed out (0: no limit)")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), benchUsage)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice bench nexmark: unexpected argument '%s'\n", fset.Arg(0))
		return 2
	}
	if *queries != "" {
		for _, q := range strings.Split(*queries, ",") {
			if q = strings.TrimSpace(q); q != "" {
				cfg.queries = append(cfg.queries, q)
			}
		}
	}
	if cfg.parallelism < 1 {
		fmt.Fprintf(stderr, "sluice bench nexmark: --parallelism %d: want 1 or more\n", cfg.parallelism)
		return 2
	}
	if cfg.events <= 0 || cfg.tps <= 0 || cfg.tps > 1<<31-1 {
		fmt.Fprintf(stderr, "sluice bench nexmark: --events must be positive and --tps between 1 and 2147483647\n")
		return 2
	}
	results, err := runNexmark(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "sluice bench nexmark: %s\n", err.Error())
		return 1
	}
	printReport(stdout, results)
	for _, r := range results {
		if r.err != nil {
			return 1
		}
	}
	return 0
}

// nexmarkFiles returns the DDL, the views and the queries to run (name → text), in the benchmark's order.
func nexmarkFiles(cfg benchConfig) (ddl, views string, names []string, texts map[string]string, err error) {
	var fsys fs.FS
	if cfg.queryDir == "" {
		fsys, _ = fs.Sub(nexmarkQueries, "nexmark")
	} else {
		fsys = os.DirFS(cfg.queryDir)
	}
	read := func(name string, fallback bool) (string, error) {
		b, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) && fallback && cfg.queryDir != "" {
			b, err = fs.ReadFile(nexmarkQueries, "nexmark/"+name)
		}
		return string(b), err
	}
	if ddl, err = read("ddl_gen.sql", true); err != nil {
		return "", "", nil, nil, err
	}
	if views, err = read("ddl_views.sql", true); err != nil {
		return "", "", nil, nil, err
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("query directory: %w", err)
	}
	texts = map[string]string{}
	var all []string
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok || !isQueryName(n) {
			continue
		}
		all = append(all, n)
	}
	sort.Slice(all, func(i, j int) bool { return queryNumber(all[i]) < queryNumber(all[j]) })
	names = all
	if cfg.queryDir == "" {
		// As the benchmark's suites (conf/nexmark.yaml): every query but q6, which Flink cannot run either
		// (it needs an OVER window over an updating input); --queries q6 still runs it.
		names = nil
		for _, n := range all {
			if n != "q6" {
				names = append(names, n)
			}
		}
	}
	if len(cfg.queries) > 0 {
		names = cfg.queries
		for _, n := range names {
			if !slices.Contains(all, n) {
				return "", "", nil, nil, fmt.Errorf("--queries: no query '%s' (have %s)", n, strings.Join(all, ", "))
			}
		}
	}
	if len(names) == 0 {
		return "", "", nil, nil, errors.New("no qN.sql files to run")
	}
	for _, n := range names {
		if texts[n], err = read(n+".sql", false); err != nil {
			return "", "", nil, nil, err
		}
	}
	return ddl, views, names, texts, nil
}

func isQueryName(n string) bool {
	_, err := strconv.Atoi(strings.TrimPrefix(n, "q"))
	return strings.HasPrefix(n, "q") && err == nil
}

func queryNumber(n string) int { v, _ := strconv.Atoi(strings.TrimPrefix(n, "q")); return v }

// runNexmark runs the queries one by one, each in a new engine, and measures them.
func runNexmark(ctx context.Context, cfg benchConfig, progress io.Writer) ([]benchResult, error) {
	ddl, views, names, texts, err := nexmarkFiles(cfg)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-nexmark-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// q13's side input, as the benchmark's setup writes ${FLINK_HOME}/data/side_input.txt: keys 0..9999,
	// each with its own number as the value.
	if err := writeSideInput(filepath.Join(dir, "data", "side_input.txt")); err != nil {
		return nil, err
	}
	vars := map[string]string{
		"TPS": strconv.FormatInt(cfg.tps, 10), "EVENTS_NUM": strconv.FormatInt(cfg.events, 10),
		"PERSON_PROPORTION": strconv.FormatInt(cfg.proportions[0], 10), "AUCTION_PROPORTION": strconv.FormatInt(cfg.proportions[1], 10),
		"BID_PROPORTION": strconv.FormatInt(cfg.proportions[2], 10), "NEXMARK_TABLE": "datagen",
		"NEXMARK_DIR": dir, "FLINK_HOME": dir, "SUBMIT_TIME": strconv.FormatInt(time.Now().Unix(), 10),
	}
	// The seed makes runs comparable; the benchmark's own source has none (Sluice's 'seed' option).
	ddl = strings.Replace(ddl, "'connector' = 'nexmark',", fmt.Sprintf("'connector' = 'nexmark',\n    'seed' = '%d',", cfg.seed), 1)
	var out []benchResult
	for _, n := range names {
		fmt.Fprintf(progress, "running %s (%d events)...\n", n, cfg.events)
		script := expand(ddl, vars) + "\n" + expand(views, vars) + "\n" + expand(texts[n], vars)
		r := runOne(ctx, n, script, cfg)
		out = append(out, r)
		if ctx.Err() != nil {
			break
		}
	}
	return out, nil
}

// expand replaces the benchmark's ${NAME} placeholders. Only the braced form: a bare $name is left as it is
// (q10's 'partition.time-extractor.timestamp-pattern' = '$dt $hm:00' names partition columns).
func expand(s string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var placeholder = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// runOne runs one query's script in a fresh engine and measures wall time, process CPU time and peak RSS.
func runOne(ctx context.Context, name, script string, cfg benchConfig) benchResult {
	res := benchResult{query: name, events: cfg.events}
	opts := []sluice.Option{sluice.WithRuntimeMode(sluice.Streaming), sluice.WithOption("parallelism.default", strconv.Itoa(cfg.parallelism))}
	for _, kv := range cfg.options {
		opts = append(opts, sluice.WithOption(kv[0], kv[1]))
	}
	eng, err := sluice.Open(opts...)
	if err != nil {
		res.err = err
		return res
	}
	defer eng.Close()
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	qctx := ctx
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	stopCPU, err := startCPUProfile(cfg.cpuProfile, name)
	if err != nil {
		res.err = err
		return res
	}
	cpu0 := cpuSeconds()
	gcm := startGCMeter()
	t0 := time.Now()
	err = eng.Exec(qctx, script)
	res.seconds = time.Since(t0).Seconds()
	res.cpu = cpuSeconds() - cpu0
	res.gc = gcm.stop()
	if perr := stopCPU(); perr != nil && err == nil {
		err = perr
	}
	if perr := writeHeapProfile(cfg.memProfile, name); perr != nil && err == nil {
		err = perr
	}
	res.peakRSS = peakRSS()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s", cfg.timeout)
		}
		res.err = err
	}
	return res
}

// printReport prints the results as a table, as the benchmark's summary does, plus CPU seconds and peak RSS;
// errors are printed in their rows, one line each.
func printReport(w io.Writer, results []benchResult) {
	head := []string{"Query", "Events Num", "Time(s)", "CPU(s)", "Throughput", "Throughput/Cores", "Peak RSS", "Error"}
	rows := [][]string{head}
	var events int64
	var secs, cpu float64
	for _, r := range results {
		row := []string{r.query, groupDigits(r.events), fmt.Sprintf("%.3f", r.seconds), fmt.Sprintf("%.3f", r.cpu), "", "", mib(r.peakRSS), ""}
		if r.err != nil {
			row[1], row[4], row[5] = "-", "-", "-"
			row[7] = strings.Join(strings.Fields(r.err.Error()), " ")
		} else {
			row[4] = perSecond(float64(r.events), r.seconds)
			row[5] = perSecond(float64(r.events), r.cpu)
			events += r.events
			secs += r.seconds
			cpu += r.cpu
		}
		rows = append(rows, row)
	}
	rows = append(rows, []string{"Total", groupDigits(events), fmt.Sprintf("%.3f", secs), fmt.Sprintf("%.3f", cpu),
		perSecond(float64(events), secs), perSecond(float64(events), cpu), "", ""})
	widths := make([]int, len(head)-1) // the error column is not padded
	for _, r := range rows {
		for i := range widths {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	line := func() {
		var sb strings.Builder
		sb.WriteByte('+')
		for _, wd := range widths {
			sb.WriteString(strings.Repeat("-", wd+2) + "+")
		}
		fmt.Fprintln(w, sb.String())
	}
	line()
	for i, r := range rows {
		if i == len(rows)-1 {
			line()
		}
		var sb strings.Builder
		sb.WriteByte('|')
		for j, wd := range widths {
			fmt.Fprintf(&sb, " %-*s |", wd, r[j])
		}
		if r[7] != "" {
			sb.WriteString(" " + r[7])
		}
		fmt.Fprintln(w, sb.String())
		if i == 0 {
			line()
		}
	}
	line()
	// The garbage collector's share of CPU per query, below the table so that the table keeps the benchmark's
	// columns.
	var gc, alloc []string
	for _, r := range results {
		if r.err != nil || r.gc.share < 0 {
			continue
		}
		gc = append(gc, fmt.Sprintf("%s %.1f %%", r.query, 100*r.gc.share))
		perEvent := 0.0
		if r.events > 0 {
			perEvent = float64(r.gc.allocBytes) / float64(r.events)
		}
		alloc = append(alloc, fmt.Sprintf("%s %d, %.1f B", r.query, r.gc.cycles, perEvent))
	}
	if len(gc) > 0 {
		fmt.Fprintln(w, "GC share of busy CPU (runtime/metrics /cpu/classes; assists, mark workers, pauses): "+strings.Join(gc, ", "))
		fmt.Fprintln(w, "GC cycles and heap bytes allocated per event: "+strings.Join(alloc, "; "))
	}
}

func perSecond(n, secs float64) string {
	if secs <= 0 {
		return "-"
	}
	return groupDigits(int64(n/secs)) + "/s"
}

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// groupDigits prints n with thousands separators, as the benchmark's report does.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// writeSideInput writes Nexmark q13's side input file: 10,000 lines "k,k".
func writeSideInput(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for k := 0; k < 10000; k++ {
		b.WriteString(strconv.Itoa(k))
		b.WriteByte(',')
		b.WriteString(strconv.Itoa(k))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
