package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sluicesql/sluice/devservices"
)

const usage = `Usage: sluice <command> [flags]

Commands:
  dev-services   run an embedded Kafka broker until interrupted
  bench nexmark  run the Nexmark benchmark's queries and report throughput per core
  gateway        run the SQL gateway (REST API in Flink's SQL Gateway shape) that hosts sessions and jobs

Run 'sluice <command> -h' for the flags of a command.
`

const devServicesUsage = `Usage: sluice dev-services [flags]

Runs an embedded Kafka-protocol broker (and a schema registry) on 127.0.0.1 until SIGINT or SIGTERM.

With --data-dir, the broker writes every record batch, offset commit and transaction step to the
directory, fsynced, before it acknowledges it, and records each topic (also one created
automatically by a producer) before answering. There is no flush interval: after a crash
(kill -9, or power loss unless --fsync=false) and a restart on the same directory, every
acknowledged record is there exactly once at its offset, committed offsets and committed
transactions are kept, and open transactions are aborted. Writes in flight at the crash may or
may not be kept; an idempotent (non-transactional) producer that retries them after the
restart may write them twice.

Flags:
`

// run executes one command and returns the exit status. It returns when the command ends or ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "dev-services":
		return devServices(ctx, args[1:], stdout, stderr)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "gateway":
		return runGateway(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sluice: unknown command '%s'\n\n%s", args[0], usage)
	return 2
}

// devServices runs the dev services until ctx is done (SIGINT/SIGTERM).
func devServices(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sluice dev-services", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg devservices.Config
	fs.StringVar(&cfg.KafkaAddr, "kafka", devservices.DefaultKafkaAddr, "`host:port` of the Kafka broker (port 0 picks a free port)")
	fs.StringVar(&cfg.RegistryAddr, "registry", devservices.DefaultRegistryAddr, "`host:port` of the Confluent-compatible schema registry (empty: none)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "`directory` that keeps topics, records and offsets across restarts and crashes (default: in memory)")
	fsync := fs.Bool("fsync", true, "with --data-dir, fsync each write before acknowledging it (false: faster, survives kill -9 but not a machine crash)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), devServicesUsage)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.Partitions, "partitions", devservices.DefaultPartitions, "partitions of automatically created topics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.NoFsync = !*fsync
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice dev-services: unexpected argument '%s'\n", fs.Arg(0))
		return 2
	}
	s, err := devservices.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sluice dev-services: %s\n", err.Error())
		return 1
	}
	fmt.Fprintf(stdout, "kafka: %s\n", s.KafkaAddr())
	if u := s.RegistryURL(); u != "" {
		fmt.Fprintf(stdout, "schema-registry: %s\n", u)
	}
	if cfg.DataDir != "" {
		fmt.Fprintf(stdout, "data-dir: %s\n", cfg.DataDir)
	}
	fmt.Fprintf(stdout, "ready; stop with Ctrl-C or SIGTERM\n")
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "sluice dev-services: stop: %s\n", err.Error())
		return 1
	}
	fmt.Fprintf(stdout, "stopped\n")
	return 0
}
