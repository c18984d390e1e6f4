// Package devservices runs the services a newcomer needs to try Sluice without installing anything: an
// in-process Kafka-protocol broker (franz-go's kfake) and, later, a schema registry. `sql-client --embedded`
// and `sluice dev-services` start them. They listen on 127.0.0.1 by default and are for development and
// tests, not production.
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
	// (under DataDir/schema-registry) across restarts; empty keeps them in memory.
	DataDir string
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
			l := ln
			ln = nil
			return l, nil
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
