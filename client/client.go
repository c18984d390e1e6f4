// Package client is Sluice's SQL client: the interactive shell and the script runner behind the sql-client
// command (sql-client [-i init.sql] [-f script.sql] [-D key=value]...). It prints what Flink's SQL client
// prints ("[INFO] Execute statement succeed.", tableau results with an op column in streaming mode), so that
// Flink users find their way around.
package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/sluicesql/sluice/devservices"
	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
)

// Config is what Main needs from its environment.
type Config struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Interactive reports whether Stdin is a terminal (the shell then uses line editing and history).
	Interactive bool
	// Signals, when set, delivers interrupts (Ctrl-C): they cancel the running statement in the shell and the
	// whole run in script mode (jobs are cancelled, their sinks flushed). Main uses SIGINT and SIGTERM when nil.
	Signals <-chan os.Signal
	// Progress reports whether Stderr is a terminal: a script waiting for its jobs (-f) then rewrites a
	// progress line (rows, rate, lag) every second. Nothing is printed for it otherwise.
	Progress bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Main runs the client and returns the process exit code: 0 on success, 1 when a statement or job failed,
// 2 for bad command-line usage.
func Main(cfg Config) int {
	// Flink 1.17's modes: 'sql-client embedded' (the default) and 'sql-client gateway --endpoint host:port'.
	mode := "embedded"
	if len(cfg.Args) > 0 && (cfg.Args[0] == "embedded" || cfg.Args[0] == "gateway") {
		mode, cfg.Args = cfg.Args[0], cfg.Args[1:]
	}
	fs := flag.NewFlagSet("sql-client", flag.ContinueOnError)
	fs.SetOutput(cfg.Stderr)
	var file, initFile, kafkaAddr, registryAddr, endpoint, token, webAddr string
	fs.StringVar(&endpoint, "endpoint", "", "gateway mode: the SQL gateway's `host:port` (sluice gateway --listen)")
	fs.StringVar(&endpoint, "e", "", "same as --endpoint")
	fs.StringVar(&token, "token", os.Getenv("SLUICE_GATEWAY_TOKEN"), "gateway mode: the gateway's shared `token`; embedded mode: the token of --web (default $SLUICE_GATEWAY_TOKEN)")
	fs.StringVar(&webAddr, "web", "", "embedded mode: serve the web dashboard of the session on `host:port` (e.g. 127.0.0.1:8083; no authentication without --token)")
	var embedded bool
	var defs multiFlag
	fs.StringVar(&file, "f", "", "run the statements of `script.sql` and exit (non-zero on the first error)")
	fs.StringVar(&file, "file", "", "same as -f")
	fs.StringVar(&initFile, "i", "", "run the statements of `init.sql` first (DDL, SET), then the shell or -f")
	fs.StringVar(&initFile, "init", "", "same as -i")
	fs.BoolVar(&embedded, "embedded", false, "start an in-process Kafka broker (-embedded-kafka) and schema registry (-embedded-registry) for the\nsession, so that 'properties.bootstrap.servers' = '127.0.0.1:9092' and 'avro-confluent.url' =\n'http://127.0.0.1:8081' work with nothing installed; scripts read the moved addresses as\n${SLUICE_KAFKA_BOOTSTRAP_SERVERS} and ${SLUICE_SCHEMA_REGISTRY_URL}")
	fs.StringVar(&kafkaAddr, "embedded-kafka", devservices.DefaultKafkaAddr, "the `host:port` of the embedded Kafka broker")
	fs.StringVar(&registryAddr, "embedded-registry", devservices.DefaultRegistryAddr, "the `host:port` of the embedded schema registry (empty: none)")
	fs.Var(&defs, "D", "set a session option: -D `key=value` (repeatable), e.g. -D execution.runtime-mode=batch")
	fs.Usage = func() {
		fmt.Fprintf(cfg.Stderr, "Usage: sql-client [embedded] [--embedded] [--web 127.0.0.1:8083] [-i init.sql] [-f script.sql] [-D key=value]...\n"+
			"       sql-client gateway --endpoint 127.0.0.1:8083 [--token TOKEN] [-i init.sql] [-f script.sql] [-D key=value]...\n\n"+
			"Without -f, opens the interactive SQL shell. Statements end with ';'. In gateway mode the statements run in\n"+
			"a SQL gateway (sluice gateway) and jobs outlive the client; -D options become the session's properties.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(cfg.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(cfg.Stderr, "sql-client: unexpected argument %q (scripts are passed with -f)\n", fs.Arg(0))
		return 2
	}
	// The client's own messages and the print sinks of running jobs write to the same streams concurrently.
	cfg.Stdout, cfg.Stderr = &syncWriter{w: cfg.Stdout}, &syncWriter{w: cfg.Stderr}
	opts := map[string]string{}
	for _, d := range defs {
		k, v, ok := strings.Cut(d, "=")
		if !ok || strings.TrimSpace(k) == "" {
			fmt.Fprintf(cfg.Stderr, "sql-client: -D %q: expected key=value, e.g. -D execution.runtime-mode=batch\n", d)
			return 2
		}
		opts[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if mode == "gateway" && endpoint == "" {
		fmt.Fprintln(cfg.Stderr, "sql-client gateway: --endpoint host:port is required, e.g. sql-client gateway --endpoint 127.0.0.1:8083")
		return 2
	}
	if mode != "gateway" && endpoint != "" {
		fmt.Fprintln(cfg.Stderr, "sql-client: --endpoint is for gateway mode: sql-client gateway --endpoint "+endpoint)
		return 2
	}
	if mode == "gateway" && webAddr != "" {
		fmt.Fprintf(cfg.Stderr, "sql-client gateway: --web is for embedded sessions; the gateway serves the dashboard at http://%s/ui/\n", endpoint)
		return 2
	}
	if mode == "gateway" && embedded {
		fmt.Fprintln(cfg.Stderr, "sql-client gateway: --embedded starts services in this process; start them with the gateway instead (sluice dev-services)")
		return 2
	}
	vars := map[string]string{}
	if embedded {
		svc, err := devservices.Start(context.Background(), devservices.Config{KafkaAddr: kafkaAddr, RegistryAddr: registryAddr})
		if err != nil {
			fmt.Fprintf(cfg.Stderr, "[ERROR] Could not start the embedded services: %v\n", err)
			return 1
		}
		defer svc.Close()
		fmt.Fprintf(cfg.Stderr, "[INFO] Embedded Kafka broker listening on %s\n", svc.KafkaAddr())
		vars["SLUICE_KAFKA_BOOTSTRAP_SERVERS"] = svc.KafkaAddr()
		if u := svc.RegistryURL(); u != "" {
			vars["SLUICE_SCHEMA_REGISTRY_URL"] = u
			fmt.Fprintf(cfg.Stderr, "[INFO] Embedded schema registry listening on %s\n", u)
		}
	}
	if mode == "gateway" {
		return remoteMain(cfg, endpoint, token, opts, file, initFile)
	}
	stdout := cfg.Stdout
	r := &runner{out: cfg.Stdout, errw: cfg.Stderr, jobs: newJobWatch(), interactive: cfg.Interactive && file == "", progress: cfg.Progress, vars: vars}
	sess, err := engine.NewSession(engine.Config{Options: opts, Stdout: cfg.Stdout, Stderr: cfg.Stderr,
		OnSubmit: func(j *engine.Job) {
			fmt.Fprintf(stdout, "[INFO] Submitting SQL update statement to the cluster...\n"+
				"[INFO] SQL update statement has been successfully submitted to the cluster:\nJob ID: %s\n\n", j.ID())
			r.watch(j)
		}})
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "[ERROR] %v\n", err)
		return 2
	}
	sigs := cfg.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		sigs = ch
	}
	r.sess, r.sigs = sess, sigs
	if f, ok := cfg.Stdin.(*os.File); ok && r.interactive {
		r.tty = f
	}
	defer sess.Close() // the Prometheus endpoint, after the jobs
	defer sess.CancelJobs()
	if webAddr != "" {
		stop, err := startWeb(webAddr, token, opts, sess, cfg.Stdout, cfg.Stderr) // web.go
		if err != nil {
			fmt.Fprintf(cfg.Stderr, "[ERROR] Could not start the web dashboard: %v\n", err)
			return 1
		}
		defer stop()
	}

	if initFile != "" {
		if err := r.runFile(context.Background(), initFile, false); errors.Is(err, errQuit) {
			return 0
		} else if err != nil {
			return 1
		}
	}
	if file != "" {
		if err := r.runFile(context.Background(), file, true); err != nil && !errors.Is(err, errQuit) {
			return 1
		}
		return 0
	}
	return r.shell(cfg.Stdin, cfg.Interactive)
}

// runFile runs a script. Statements run in order; the first error stops the script and is reported as
// "file:line:col: message". With wait, it then waits for the jobs the script submitted (a bounded INSERT
// ends by itself; an unbounded one runs until Ctrl-C).
func (r *runner) runFile(ctx context.Context, name string, wait bool) error {
	data, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintf(r.errw, "[ERROR] Could not read script: %v\n", err)
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.cancelOnSignal(cancel)
	defer stop()
	quit, err := r.runScript(engine.WithScript(ctx, name), name, string(data))
	if err != nil {
		return err
	}
	if quit {
		if jobs := r.running(); len(jobs) > 0 {
			r.stopJobs(jobs, "QUIT in "+name)
		}
		return errQuit
	}
	if !wait || r.remote != nil { // a gateway's jobs run on without the client
		return nil
	}
	if err := r.waitJobs(ctx); err != nil {
		if ctx.Err() != nil {
			r.stopJobs(r.running(), "Interrupted")
			return nil
		}
		return err
	}
	return nil
}

// errQuit ends the client after a QUIT or EXIT in a script.
var errQuit = errors.New("quit")

// runScript parses the whole script first (a syntax error anywhere runs nothing), then runs each statement.
// A QUIT or EXIT ends the script there (quit is then true).
func (r *runner) runScript(ctx context.Context, name, text string) (quit bool, err error) {
	text = r.expandVars(text)
	for _, sp := range sql.SplitStatements(text) {
		if c := command(text[sp.Start:sp.End]); c == "QUIT" || c == "EXIT" {
			text, quit = text[:sp.Start], true
			break
		}
	}
	stmts, err := sql.ParseScript(text)
	if err != nil {
		r.reportAt(name, err)
		return false, err
	}
	spans := sql.SplitStatements(text)
	for i, st := range stmts {
		if i < len(spans) {
			r.stmtText = positioned(text, spans[i])
		}
		if err := r.exec(ctx, st); err != nil {
			if _, _, _, ok := sql.Position(err); !ok {
				// A failure while running the statement (a query's or a table.dml-sync job's): the
				// statement is where to look.
				err = &sql.Error{Pos: st.Position(), Msg: err.Error(), Err: err}
			}
			r.reportAt(name, err)
			return false, err
		}
	}
	return quit, nil
}

func (r *runner) reportAt(name string, err error) {
	if line, col, msg, ok := sql.Position(err); ok {
		fmt.Fprintf(r.errw, "[ERROR] Could not execute SQL statement. Reason:\n%s:%d:%d: %s\n%s", name, line, col, msg, r.causes(err))
		return
	}
	fmt.Fprintf(r.errw, "[ERROR] Could not execute SQL statement. Reason:\n%s: %v\n%s", name, err, r.causes(err))
}

// causes is, with 'sql-client.verbose' = 'true', the chain of errors err wraps ("Caused by: ..." lines,
// innermost last); "" otherwise.
func (r *runner) causes(err error) string {
	if v, _ := r.option("sql-client.verbose"); v != "true" {
		return ""
	}
	var b strings.Builder
	if rc := (*remoteCauses)(nil); errors.As(err, &rc) {
		for _, l := range rc.lines { // the gateway's "Caused by: ..." lines
			fmt.Fprintln(&b, l)
		}
		return b.String()
	}
	last := err.Error()
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if m := e.Error(); m != last && m != "" {
			fmt.Fprintf(&b, "Caused by: %s (%T)\n", m, e)
			last = m
		}
	}
	return b.String()
}

// cancelOnSignal calls cancel on the next interrupt until the returned stop is called.
func (r *runner) cancelOnSignal(cancel context.CancelFunc) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-r.sigs:
			cancel()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
