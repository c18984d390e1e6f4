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

Run 'sluice <command> -h' for the flags of a command.
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
	fs.StringVar(&cfg.DataDir, "data-dir", "", "`directory` that keeps topics and offsets across restarts (default: in memory)")
	fs.IntVar(&cfg.Partitions, "partitions", devservices.DefaultPartitions, "partitions of automatically created topics")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
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
