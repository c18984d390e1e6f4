// Command kfaked runs franz-go's kfake broker in a process of its own, for benchmarks that measure the CPU
// of Sluice's process without the broker's (internal/kfakeproc starts it). It listens on 127.0.0.1 (a port
// of its own choosing), seeds the topics it is given, prints "listening <address>" on stdout, and exits
// when its stdin is closed (its parent ended). A line "cpu" on stdin is answered on stdout with
// "cpu <nanoseconds>": the user+system CPU time the process used so far.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	topics := flag.String("topics", "", "comma-separated topics to create")
	partitions := flag.Int("partitions", 4, "partitions of every topic (also of topics created on first use)")
	flag.Parse()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(*partitions)}
	if *topics != "" {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), strings.Split(*topics, ",")...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfaked:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println("listening", c.ListenAddrs()[0])
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "cpu":
			d, err := cpuTime()
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println("cpu", d.Nanoseconds())
		default:
			fmt.Println("error unknown command", in.Text())
		}
	}
}
