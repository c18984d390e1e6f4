// Package devservices runs the services a newcomer needs to try Sluice without installing anything: an
// in-process Kafka-protocol broker (franz-go's kfake) and, later, a schema registry. `sql-client --embedded`
// and `sluice dev-services` start them. They listen on 127.0.0.1 by default and are for development and
// tests, not production.
//
// # Durability
//
// With Config.DataDir, the broker writes each record batch, group offset commit and transaction step to
// DataDir/kafka before it acknowledges it, and fsyncs it first unless Config.NoFsync is set; every topic,
// including one created automatically by a producer's or consumer's metadata request, is written (atomically:
// temporary file, fsync, rename) before the request is answered. There is no flush interval: a crash of the
// broker process (kill -9) or of the machine loses no acknowledged write. With NoFsync, a killed process still
// loses nothing acknowledged (the data is in the operating system's cache), but a machine crash or power loss can
// lose writes of the last few seconds.
//
// After a crash, on the next Start:
//   - every acknowledged record is there once, at the offset it was acknowledged with; a write that was in
//     flight at the crash (not yet acknowledged) may or may not be there;
//   - committed group offsets are there; group membership is not (members rejoin);
//   - committed transactions are there, and transactions open at the crash are aborted (read_committed
//     consumers never see their records; the producer is fenced and must start a new transaction);
//   - a producer that outlives the crash and retries an unacknowledged batch may write it twice: the
//     idempotent-producer sequence state is kept only by a clean shutdown. Transactional (exactly-once)
//     producers are not affected, because their open transaction is aborted;
//   - a log start offset moved by DeleteRecords returns to the start of the first kept segment.
//
// A clean stop (Close) writes the remaining state as well, so none of these caveats apply after it.
//
// The package owns the services' lifecycle only; it must not know about tables or SQL.
package devservices

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/schemaregistry"
)

// DefaultKafkaAddr is where the broker listens unless Config.KafkaAddr says otherwise.
const DefaultKafkaAddr = "127.0.0.1:9092"

// DefaultRegistryAddr is where the schema registry usually listens.
const DefaultRegistryAddr = "127.0.0.1:8081"

// DefaultPartitions is the number of partitions of topics created automatically (as a producer or kcat
// writing to a new topic does).
const DefaultPartitions = 1

// Config says where the services listen and keep their data.
type Config struct {
	// KafkaAddr is the broker's host:port; DefaultKafkaAddr when empty. Port 0 picks a free port.
	KafkaAddr string
	// RegistryAddr is the schema registry's host:port; no registry is started when empty.
	// DefaultRegistryAddr is the usual choice. Port 0 picks a free port.
	RegistryAddr string
	// DataDir keeps the broker's topics, offsets and groups (under DataDir/kafka) and the registry's schemas
	// (under DataDir/schema-registry) across restarts, including a crash (see Durability in the package doc);
	// empty keeps them in memory.
	DataDir string
	// NoFsync skips the fsync of each write to DataDir: faster (an fsync took about 3 ms on a cloud VM's disk),
	// still safe against a killed process, but not against a machine crash or power loss.
	NoFsync bool
	// Partitions is the number of partitions of automatically created topics; DefaultPartitions when 0.
	Partitions int
}

// Services are running dev services. Close stops them.
type Services struct {
	kafka     *kfake.Cluster
	kafkaAddr string
	registry  *schemaregistry.Server
	closeOnce sync.Once
}

// Start starts the services. The broker accepts any client (no SASL, no TLS), creates topics on first use and,
// with DataDir, persists them. It fails when the address is taken, naming it. ctx bounds the start only.
func Start(ctx context.Context, cfg Config) (*Services, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addr := cfg.KafkaAddr
	if addr == "" {
		addr = DefaultKafkaAddr
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dev services: kafka address '%s' is not host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("dev services: kafka address '%s' has no valid port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	// Listen ourselves first, so that a taken port gives a clear error before the cluster starts.
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("dev services: cannot listen for Kafka on %s (is another broker running there?): %w", addr, err)
	}
	// The broker accepts no connection before Start has installed its request hooks.
	gate := newGatedListener(ln)
	parts := cfg.Partitions
	if parts <= 0 {
		parts = DefaultPartitions
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(ln.Addr().(*net.TCPAddr).Port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			if ln == nil {
				return nil, errors.New("dev services: the broker listener was already used")
			}
			ln = nil
			return gate, nil
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(parts),
		kfake.ClusterID("sluice-dev"),
	}
	if cfg.DataDir != "" {
		dir := filepath.Join(cfg.DataDir, "kafka")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			ln.Close()
			return nil, fmt.Errorf("dev services: data directory: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir))
		if !cfg.NoFsync {
			// fsync every record batch and state-log entry before the broker acknowledges it.
			opts = append(opts, kfake.SyncWrites())
		}
	}
	var openTxns []openTxn
	if cfg.DataDir != "" {
		if openTxns, err = findOpenTxns(filepath.Join(cfg.DataDir, "kafka")); err != nil {
			ln.Close()
			return nil, fmt.Errorf("dev services: read the broker's data in %s: %w", filepath.Join(cfg.DataDir, "kafka"), err)
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("dev services: start the Kafka broker on %s: %w", addr, err)
	}
	addrs := c.ListenAddrs()
	s := &Services{kafka: c, kafkaAddr: addr}
	if len(addrs) > 0 {
		s.kafkaAddr = addrs[0]
	}
	if cfg.DataDir != "" {
		createAutoTopicsDurably(c)
		if len(openTxns) > 0 {
			if err := abortOpenTxns(ctx, gate, s.kafkaAddr, openTxns); err != nil {
				c.Close()
				return nil, fmt.Errorf("dev services: abort the %d transactions a crash left open in %s: %w (move the directory away to start empty)",
					len(openTxns), cfg.DataDir, err)
			}
		}
	}
	gate.open()
	if cfg.RegistryAddr != "" {
		var ropts []schemaregistry.Option
		if cfg.DataDir != "" {
			ropts = append(ropts, schemaregistry.WithDir(filepath.Join(cfg.DataDir, "schema-registry")))
		}
		r, err := schemaregistry.Start(ctx, cfg.RegistryAddr, ropts...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("dev services: start the schema registry on %s: %w", cfg.RegistryAddr, err)
		}
		s.registry = r
	}
	return s, nil
}

// KafkaAddr is the broker's address, host:port (the chosen port when Config.KafkaAddr had port 0).
func (s *Services) KafkaAddr() string { return s.kafkaAddr }

// RegistryURL is the schema registry's URL (http://host:port); "" when none was started.
func (s *Services) RegistryURL() string {
	if s.registry == nil {
		return ""
	}
	return s.registry.URL()
}

// Close stops the services, writing the broker's state to DataDir when persistence is on. It is safe to call
// more than once.
func (s *Services) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.registry != nil {
			err = s.registry.Close()
		}
		s.kafka.Close()
	})
	return err
}
