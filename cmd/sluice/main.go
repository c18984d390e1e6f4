// Command sluice runs Sluice's long-running helpers.
//
//	sluice dev-services [--kafka 127.0.0.1:9092] [--data-dir DIR] [--fsync=false]
//
// dev-services starts an in-process Kafka-protocol broker for development and the quickstart, prints its
// address, and runs until SIGINT or SIGTERM, then stops cleanly. With --data-dir it writes each acknowledged
// record, offset commit and transaction step (fsynced unless --fsync=false) and each topic to the directory as
// they happen, so a crash loses nothing acknowledged; see the devservices package doc for the exact guarantee.
//
//	sluice bench nexmark [--queries q0,q5] [--events N] [--tps N] [--query-dir DIR]
//
// bench nexmark runs the Nexmark benchmark's queries and prints events, seconds, CPU seconds, ev/s per core and
// peak RSS per query (see docs/NEXMARK.md).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
