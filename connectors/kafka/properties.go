package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicesql/sluice/options"
)

// defaultConnectTimeout bounds the wait for a reachable broker when a source or sink starts (Kafka's
// 'default.api.timeout.ms' overrides it).
const defaultConnectTimeout = 10 * time.Second

// clientConfig is what the 'properties.*' options of a table say, mapped onto franz-go.
type clientConfig struct {
	servers  []string
	groupID  string
	common   []kgo.Opt // connection, security, metadata
	consumer []kgo.Opt
	producer []kgo.Opt

	resetOffset        string // auto.offset.reset: "" (not given), "earliest", "latest", "none"
	readCommitted      bool
	autoCommit         bool
	autoCommitInterval time.Duration
	maxPollRecords     int
	allowAutoCreate    bool // source: request topic creation in metadata (allow.auto.create.topics)
	apiTimeout         time.Duration
	deliveryTimeout    time.Duration
	acks               string
	idempotent         bool          // the producer writes idempotently (acks=all and not disabled)
	txnTimeout         time.Duration // transaction.timeout.ms; 0: not given (see defaultTxnTimeout)
}

// property is one supported Kafka client property.
type property struct {
	name  string
	doc   string
	apply func(c *clientConfig, p *propParser, v string) error
}

// propParser collects the values that depend on each other (security, idempotence) while properties are
// applied one at a time.
type propParser struct {
	securityProtocol string
	saslMechanism    string
	jaasModule       string
	jaasUser         string
	jaasPass         string
	hasJaas          bool
	tls              *tls.Config
	sslGiven         []string
	idempotence      *bool
	verifyHostname   bool
	truststorePEM    []byte
	keystoreCert     []byte
	keystoreKey      []byte
	minTLS           uint16
}

// supportedProperties lists every property Sluice maps, sorted by name.
var supportedProperties = func() []property {
	ps := []property{
		{"bootstrap.servers", "comma-separated host:port list of brokers (required)", func(c *clientConfig, _ *propParser, v string) error {
			for _, s := range strings.Split(v, ",") {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
				if _, _, err := net.SplitHostPort(s); err != nil {
					return fmt.Errorf("'%s' is not a host:port address", s)
				}
				c.servers = append(c.servers, s)
			}
			if len(c.servers) == 0 {
				return fmt.Errorf("no broker address given (want host:port[,host:port...])")
			}
			return nil
		}},
		{"group.id", "consumer group whose committed offsets group-offsets reads and the source commits to", func(c *clientConfig, _ *propParser, v string) error {
			c.groupID = v
			return nil
		}},
		{"client.id", "client id sent to the brokers", func(c *clientConfig, _ *propParser, v string) error {
			c.common = append(c.common, kgo.ClientID(v))
			return nil
		}},
		{"auto.offset.reset", "earliest, latest or none: where to start when there is no committed offset or it is out of range", func(c *clientConfig, _ *propParser, v string) error {
			switch strings.ToLower(v) {
			case "earliest", "latest", "none":
				c.resetOffset = strings.ToLower(v)
				return nil
			}
			return fmt.Errorf("'%s' is not one of earliest, latest, none", v)
		}},
		{"isolation.level", "read_uncommitted (default) or read_committed", func(c *clientConfig, _ *propParser, v string) error {
			switch strings.ToLower(v) {
			case "read_uncommitted":
				c.readCommitted = false
			case "read_committed":
				c.readCommitted = true
			default:
				return fmt.Errorf("'%s' is not one of read_uncommitted, read_committed", v)
			}
			return nil
		}},
		{"enable.auto.commit", "true (default with group.id): commit the source's progress to group.id; false: never commit", func(c *clientConfig, _ *propParser, v string) error {
			b, err := parseBool(v)
			c.autoCommit = b
			return err
		}},
		{"auto.commit.interval.ms", "how often the source commits its progress (default 5000)", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.autoCommitInterval = d
			return err
		}},
		{"allow.auto.create.topics", "source: create a missing topic instead of failing (default false, as Flink)", func(c *clientConfig, _ *propParser, v string) error {
			b, err := parseBool(v)
			c.allowAutoCreate = b
			return err
		}},
		{"max.poll.records", "records the source takes per poll (default 500)", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.maxPollRecords = n
			return err
		}},
		{"fetch.min.bytes", "bytes a fetch waits for", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.consumer = append(c.consumer, kgo.FetchMinBytes(int32(n)))
			return err
		}},
		{"fetch.max.bytes", "bytes a fetch returns at most", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.consumer = append(c.consumer, kgo.FetchMaxBytes(int32(n)))
			return err
		}},
		{"fetch.max.wait.ms", "how long a fetch waits for fetch.min.bytes", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.consumer = append(c.consumer, kgo.FetchMaxWait(d))
			return err
		}},
		{"max.partition.fetch.bytes", "bytes a fetch returns per partition at most", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.consumer = append(c.consumer, kgo.FetchMaxPartitionBytes(int32(n)))
			return err
		}},
		{"acks", "all (-1, default), 1 or 0", func(c *clientConfig, _ *propParser, v string) error {
			switch strings.ToLower(v) {
			case "all", "-1":
				c.acks = "all"
				c.producer = append(c.producer, kgo.RequiredAcks(kgo.AllISRAcks()))
			case "1":
				c.acks = "1"
				c.producer = append(c.producer, kgo.RequiredAcks(kgo.LeaderAck()))
			case "0":
				c.acks = "0"
				c.producer = append(c.producer, kgo.RequiredAcks(kgo.NoAck()))
			default:
				return fmt.Errorf("'%s' is not one of all, -1, 1, 0", v)
			}
			return nil
		}},
		{"enable.idempotence", "true (default with acks=all) or false", func(_ *clientConfig, p *propParser, v string) error {
			b, err := parseBool(v)
			p.idempotence = &b
			return err
		}},
		{"compression.type", "none (default), gzip, snappy, lz4 or zstd", func(c *clientConfig, _ *propParser, v string) error {
			var codec kgo.CompressionCodec
			switch strings.ToLower(v) {
			case "none":
				codec = kgo.NoCompression()
			case "gzip":
				codec = kgo.GzipCompression()
			case "snappy":
				codec = kgo.SnappyCompression()
			case "lz4":
				codec = kgo.Lz4Compression()
			case "zstd":
				codec = kgo.ZstdCompression()
			default:
				return fmt.Errorf("'%s' is not one of none, gzip, snappy, lz4, zstd", v)
			}
			c.producer = append(c.producer, kgo.ProducerBatchCompression(codec))
			return nil
		}},
		{"linger.ms", "how long the sink waits to fill a batch", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, true)
			c.producer = append(c.producer, kgo.ProducerLinger(d))
			return err
		}},
		{"batch.size", "bytes of one record batch at most", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.producer = append(c.producer, kgo.ProducerBatchMaxBytes(int32(n)))
			return err
		}},
		{"max.request.size", "bytes of one produce request at most", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.producer = append(c.producer, kgo.BrokerMaxWriteBytes(int32(n)))
			return err
		}},
		{"buffer.memory", "bytes the sink buffers before Push blocks", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.producer = append(c.producer, kgo.MaxBufferedBytes(n))
			return err
		}},
		{"retries", "how often a failed produce is retried", func(c *clientConfig, _ *propParser, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("'%s' is not a non-negative integer", v)
			}
			c.producer = append(c.producer, kgo.RecordRetries(n))
			return nil
		}},
		{"delivery.timeout.ms", "how long the sink's final flush may wait for the brokers (default 120000)", func(c *clientConfig, _ *propParser, v string) error {
			// Not kgo.RecordDeliveryTimeout: franz-go measures it from the record's timestamp, which would
			// fail every record written with an old 'timestamp' metadata value.
			d, err := parseMillis(v, false)
			c.deliveryTimeout = d
			return err
		}},
		{"transaction.timeout.ms", "exactly-once sink: how long a transaction may stay open before the brokers abort it (default 900000, 15 min); must exceed 'execution.checkpointing.interval' and be at most the brokers' transaction.max.timeout.ms", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.txnTimeout = d
			return err
		}},
		{"request.timeout.ms", "how long a produce request may take", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.producer = append(c.producer, kgo.ProduceRequestTimeout(d))
			return err
		}},
		{"max.in.flight.requests.per.connection", "produce requests in flight per broker", func(c *clientConfig, _ *propParser, v string) error {
			n, err := parsePositive(v)
			c.producer = append(c.producer, kgo.MaxProduceRequestsInflightPerBroker(n))
			return err
		}},
		{"metadata.max.age.ms", "how often metadata is refreshed", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.common = append(c.common, kgo.MetadataMaxAge(d))
			return err
		}},
		{"socket.connection.setup.timeout.ms", "how long dialing a broker may take", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.common = append(c.common, kgo.DialTimeout(d))
			return err
		}},
		{"connections.max.idle.ms", "idle connections are closed after this", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.common = append(c.common, kgo.ConnIdleTimeout(d))
			return err
		}},
		{"default.api.timeout.ms", "how long a starting source or sink waits for a reachable broker (default 10000)", func(c *clientConfig, _ *propParser, v string) error {
			d, err := parseMillis(v, false)
			c.apiTimeout = d
			return err
		}},
		{"security.protocol", "PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL", func(_ *clientConfig, p *propParser, v string) error {
			switch strings.ToUpper(v) {
			case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
				p.securityProtocol = strings.ToUpper(v)
				return nil
			}
			return fmt.Errorf("'%s' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", v)
		}},
		{"sasl.mechanism", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", func(_ *clientConfig, p *propParser, v string) error {
			switch strings.ToUpper(v) {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
				p.saslMechanism = strings.ToUpper(v)
				return nil
			case "GSSAPI", "OAUTHBEARER", "AWS_MSK_IAM":
				return fmt.Errorf("'%s' is not supported yet (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", v)
			}
			return fmt.Errorf("'%s' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", v)
		}},
		{"sasl.jaas.config", "PlainLoginModule or ScramLoginModule with username=\"...\" password=\"...\"", func(_ *clientConfig, p *propParser, v string) error {
			module, user, pass, err := parseJAAS(v)
			if err != nil {
				return err
			}
			p.hasJaas, p.jaasModule, p.jaasUser, p.jaasPass = true, module, user, pass
			return nil
		}},
		{"ssl.truststore.type", "PEM (JKS and PKCS12 are not read)", sslTypeProp},
		{"ssl.keystore.type", "PEM (JKS and PKCS12 are not read)", sslTypeProp},
		{"ssl.truststore.location", "file of PEM CA certificates that verify the brokers", func(_ *clientConfig, p *propParser, v string) error {
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("cannot read the truststore: %w", err)
			}
			p.truststorePEM = append(p.truststorePEM, b...)
			return nil
		}},
		{"ssl.truststore.certificates", "PEM CA certificates that verify the brokers", func(_ *clientConfig, p *propParser, v string) error {
			p.truststorePEM = append(p.truststorePEM, v...)
			return nil
		}},
		{"ssl.keystore.location", "file with the client's PEM certificate chain and unencrypted private key", func(_ *clientConfig, p *propParser, v string) error {
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("cannot read the keystore: %w", err)
			}
			p.keystoreCert, p.keystoreKey = b, b
			return nil
		}},
		{"ssl.keystore.certificate.chain", "the client's PEM certificate chain", func(_ *clientConfig, p *propParser, v string) error {
			p.keystoreCert = []byte(v)
			return nil
		}},
		{"ssl.keystore.key", "the client's unencrypted PEM private key", func(_ *clientConfig, p *propParser, v string) error {
			p.keystoreKey = []byte(v)
			return nil
		}},
		{"ssl.endpoint.identification.algorithm", "https (default: verify the broker's host name) or empty (do not)", func(_ *clientConfig, p *propParser, v string) error {
			switch strings.ToLower(v) {
			case "https":
				p.verifyHostname = true
			case "":
				p.verifyHostname = false
			default:
				return fmt.Errorf("'%s' is not one of https or '' (empty)", v)
			}
			return nil
		}},
		{"ssl.enabled.protocols", "TLSv1.2, TLSv1.3 (the lowest listed is the minimum)", func(_ *clientConfig, p *propParser, v string) error {
			p.minTLS = 0
			for _, s := range strings.Split(v, ",") {
				var ver uint16
				switch strings.TrimSpace(s) {
				case "TLSv1.2":
					ver = tls.VersionTLS12
				case "TLSv1.3":
					ver = tls.VersionTLS13
				default:
					return fmt.Errorf("'%s' is not one of TLSv1.2, TLSv1.3", strings.TrimSpace(s))
				}
				if p.minTLS == 0 || ver < p.minTLS {
					p.minTLS = ver
				}
			}
			return nil
		}},
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	return ps
}()

func sslTypeProp(_ *clientConfig, _ *propParser, v string) error {
	if strings.EqualFold(v, "PEM") {
		return nil
	}
	return fmt.Errorf("'%s' stores are not supported; convert it to PEM (e.g. with keytool -exportcert -rfc or openssl pkcs12) and set the type to PEM", v)
}

// rejectedProperties are Kafka properties users may carry over that Sluice deliberately does not take, with
// the reason.
var rejectedProperties = map[string]string{
	"key.serializer":                  "the key format ('key.format') serializes keys",
	"value.serializer":                "the value format ('value.format') serializes values",
	"key.deserializer":                "the key format ('key.format') deserializes keys",
	"value.deserializer":              "the value format ('value.format') deserializes values",
	"transactional.id":                "an exactly-once sink ('sink.delivery-guarantee' = 'exactly-once') names its transactions after 'sink.transactional-id-prefix'",
	"ssl.truststore.password":         "only JKS/PKCS12 truststores need one and Sluice reads PEM ('ssl.truststore.type' = 'PEM')",
	"ssl.keystore.password":           "only JKS/PKCS12 keystores need one and Sluice reads PEM ('ssl.keystore.type' = 'PEM')",
	"ssl.key.password":                "encrypted private keys are not supported; give an unencrypted PEM key ('ssl.keystore.key')",
	"partition.discovery.interval.ms": "use the table option 'scan.topic-partition-discovery.interval'",
}

// SupportedProperties returns the names of the Kafka client properties a table may set as
// 'properties.<name>', sorted.
func SupportedProperties() []string {
	out := make([]string, len(supportedProperties))
	for i, p := range supportedProperties {
		out[i] = p.name
	}
	return out
}

// parseProperties maps a table's 'properties.*' options (prefix stripped) onto a client configuration.
// Unknown properties are an error listing the supported ones.
func parseProperties(props map[string]string) (*clientConfig, error) {
	c := &clientConfig{autoCommit: true, autoCommitInterval: 5 * time.Second, maxPollRecords: 500,
		apiTimeout: defaultConnectTimeout, deliveryTimeout: defaultDeliveryTimeout, acks: "all"}
	p := &propParser{verifyHostname: true}
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	byName := map[string]*property{}
	for i := range supportedProperties {
		byName[supportedProperties[i].name] = &supportedProperties[i]
	}
	var unknown []string
	for _, k := range names {
		if why, ok := rejectedProperties[k]; ok {
			return nil, &options.Error{Keys: []string{"properties." + k},
				Msg: fmt.Sprintf("Unsupported Kafka property 'properties.%s': %s.", k, why)}
		}
		prop, ok := byName[k]
		if !ok {
			unknown = append(unknown, "properties."+k)
			continue
		}
		if strings.HasPrefix(k, "ssl.") {
			p.sslGiven = append(p.sslGiven, "properties."+k)
		}
		if err := prop.apply(c, p, props[k]); err != nil {
			return nil, propError(k, err)
		}
	}
	if len(unknown) > 0 {
		msg := fmt.Sprintf("Unsupported Kafka properties: %s.\n\nSupported properties are:\n\n%s",
			strings.Join(unknown, ", "), "properties."+strings.Join(SupportedProperties(), "\nproperties."))
		var hints []string
		for _, u := range unknown {
			if s, ok := options.Suggest(strings.TrimPrefix(u, "properties."), SupportedProperties()); ok {
				hints = append(hints, fmt.Sprintf("Did you mean 'properties.%s' instead of '%s'?", s, u))
			}
		}
		if len(hints) > 0 {
			msg += "\n\n" + strings.Join(hints, "\n")
		}
		return nil, &options.Error{Keys: unknown, Msg: msg}
	}
	if len(c.servers) == 0 {
		return nil, &options.Error{Keys: []string{"properties.bootstrap.servers"},
			Msg: "One or more required options are missing.\n\nMissing required options are:\n\nproperties.bootstrap.servers"}
	}
	c.common = append([]kgo.Opt{kgo.SeedBrokers(c.servers...)}, c.common...)
	if err := p.finish(c); err != nil {
		return nil, err
	}
	return c, nil
}

// propError reports a bad property value. The messages of the parsers never echo the values of secret
// properties (sasl.jaas.config, ssl.keystore.key).
func propError(k string, err error) error {
	return &options.Error{Keys: []string{"properties." + k}, Msg: fmt.Sprintf("Invalid value for option 'properties.%s': %s", k, err.Error())}
}

// finish applies the settings that depend on several properties: idempotence and acks, SASL and TLS.
func (p *propParser) finish(c *clientConfig) error {
	// Idempotence needs acks=all; like the Java client, acks other than all turn it off unless it was asked for.
	idem := c.acks == "all"
	if p.idempotence != nil {
		if *p.idempotence && c.acks != "all" {
			return &options.Error{Keys: []string{"properties.enable.idempotence", "properties.acks"},
				Msg: fmt.Sprintf("Invalid Kafka properties: 'properties.enable.idempotence' = 'true' needs 'properties.acks' = 'all', not '%s'.", c.acks)}
		}
		idem = *p.idempotence
	}
	c.idempotent = idem
	if !idem {
		c.producer = append(c.producer, kgo.DisableIdempotentWrite())
	}

	proto := p.securityProtocol
	if proto == "" {
		proto = "PLAINTEXT"
	}
	useSASL := proto == "SASL_PLAINTEXT" || proto == "SASL_SSL"
	useTLS := proto == "SSL" || proto == "SASL_SSL"
	if !useSASL && (p.saslMechanism != "" || p.hasJaas) {
		return &options.Error{Keys: []string{"properties.security.protocol"},
			Msg: fmt.Sprintf("Invalid Kafka properties: SASL settings ('properties.sasl.*') need 'properties.security.protocol' = 'SASL_PLAINTEXT' or 'SASL_SSL', not '%s'.", proto)}
	}
	if !useTLS && len(p.sslGiven) > 0 {
		return &options.Error{Keys: p.sslGiven,
			Msg: fmt.Sprintf("Invalid Kafka properties: the SSL properties (%s) take effect only with 'properties.security.protocol' = 'SSL' or 'SASL_SSL', not '%s'.", quoteList(p.sslGiven), proto)}
	}
	if useSASL {
		mech := p.saslMechanism
		if mech == "" {
			return &options.Error{Keys: []string{"properties.sasl.mechanism"},
				Msg: "Invalid Kafka properties: 'properties.sasl.mechanism' is required with SASL (Kafka's default, GSSAPI, is not supported yet); set it to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."}
		}
		if !p.hasJaas {
			return &options.Error{Keys: []string{"properties.sasl.jaas.config"},
				Msg: fmt.Sprintf("Invalid Kafka properties: SASL mechanism %s needs 'properties.sasl.jaas.config' with username=\"...\" password=\"...\".", mech)}
		}
		module := p.jaasModule
		var m sasl.Mechanism
		switch mech {
		case "PLAIN":
			if !strings.HasSuffix(module, "PlainLoginModule") {
				return jaasModuleError(mech, module, "org.apache.kafka.common.security.plain.PlainLoginModule")
			}
			m = plain.Auth{User: p.jaasUser, Pass: p.jaasPass}.AsMechanism()
		case "SCRAM-SHA-256", "SCRAM-SHA-512":
			if !strings.HasSuffix(module, "ScramLoginModule") {
				return jaasModuleError(mech, module, "org.apache.kafka.common.security.scram.ScramLoginModule")
			}
			a := scram.Auth{User: p.jaasUser, Pass: p.jaasPass}
			if mech == "SCRAM-SHA-256" {
				m = a.AsSha256Mechanism()
			} else {
				m = a.AsSha512Mechanism()
			}
		}
		c.common = append(c.common, kgo.SASL(m))
	}
	if useTLS {
		cfg, err := p.tlsConfig()
		if err != nil {
			return err
		}
		c.common = append(c.common, kgo.DialTLSConfig(cfg))
	}
	return nil
}

func jaasModuleError(mech, module, want string) error {
	return &options.Error{Keys: []string{"properties.sasl.jaas.config"},
		Msg: fmt.Sprintf("Invalid value for option 'properties.sasl.jaas.config': SASL mechanism %s needs login module %s, not '%s'.", mech, want, module)}
}

func (p *propParser) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if p.minTLS != 0 {
		cfg.MinVersion = p.minTLS
	}
	var roots *x509.CertPool
	if len(p.truststorePEM) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(p.truststorePEM) {
			return nil, &options.Error{Keys: []string{"properties.ssl.truststore.location", "properties.ssl.truststore.certificates"},
				Msg: "Invalid Kafka properties: the truststore holds no PEM certificate ('-----BEGIN CERTIFICATE-----')."}
		}
		cfg.RootCAs = roots
	}
	if len(p.keystoreCert) > 0 || len(p.keystoreKey) > 0 {
		if len(p.keystoreCert) == 0 || len(p.keystoreKey) == 0 {
			return nil, &options.Error{Keys: []string{"properties.ssl.keystore.certificate.chain", "properties.ssl.keystore.key"},
				Msg: "Invalid Kafka properties: a PEM keystore needs both a certificate chain and a private key ('properties.ssl.keystore.location', or 'properties.ssl.keystore.certificate.chain' and 'properties.ssl.keystore.key')."}
		}
		if blk, _ := pem.Decode(p.keystoreKey); blk != nil && x509.IsEncryptedPEMBlock(blk) { //nolint:staticcheck // detection only
			return nil, &options.Error{Keys: []string{"properties.ssl.keystore.key"},
				Msg: "Invalid Kafka properties: the keystore's private key is encrypted; give an unencrypted PEM key."}
		}
		cert, err := tls.X509KeyPair(p.keystoreCert, p.keystoreKey)
		if err != nil {
			return nil, &options.Error{Keys: []string{"properties.ssl.keystore.location"},
				Msg: fmt.Sprintf("Invalid Kafka properties: cannot load the PEM keystore: %s.", err.Error())}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if !p.verifyHostname {
		// Verify the chain but not the host name, as Kafka's ssl.endpoint.identification.algorithm=''.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("the broker sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}

// parseJAAS reads 'LoginModule flag key="value" ...;' and returns the module class, username and password.
func parseJAAS(s string) (module, user, pass string, err error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ";")
	i := 0
	next := func() string { // next bare word
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		j := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '=' {
			i++
		}
		return s[j:i]
	}
	module = next()
	if module == "" {
		return "", "", "", fmt.Errorf("want 'LoginModule required username=\"...\" password=\"...\";'")
	}
	switch flag := next(); flag {
	case "required", "requisite", "sufficient", "optional":
	default:
		return "", "", "", fmt.Errorf("want a control flag (required, requisite, sufficient, optional) after the login module, as 'LoginModule required username=\"...\" password=\"...\";'")
	}
	for {
		key := next()
		if key == "" {
			break
		}
		if i >= len(s) || s[i] != '=' {
			return "", "", "", fmt.Errorf("option '%s' has no value (want key=\"value\")", key)
		}
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				ch := s[i]
				i++
				if ch == '\\' && i < len(s) {
					b.WriteByte(s[i])
					i++
					continue
				}
				if ch == '"' {
					closed = true
					break
				}
				b.WriteByte(ch)
			}
			if !closed {
				return "", "", "", fmt.Errorf("the value of option '%s' has no closing quote", key)
			}
			val = b.String()
		} else {
			val = next()
		}
		switch key {
		case "username":
			user = val
		case "password":
			pass = val
		}
	}
	if user == "" {
		return "", "", "", fmt.Errorf("no username=\"...\" given")
	}
	return module, user, pass, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("'%s' is not true or false", v)
}

func parsePositive(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 || n > 1<<31-1 {
		return 0, fmt.Errorf("'%s' is not a positive 32-bit integer", v)
	}
	return n, nil
}

func parseMillis(v string, zeroOK bool) (time.Duration, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || (n == 0 && !zeroOK) || n > int64(1<<62)/int64(time.Millisecond) {
		if zeroOK {
			return 0, fmt.Errorf("'%s' is not a non-negative number of milliseconds", v)
		}
		return 0, fmt.Errorf("'%s' is not a positive number of milliseconds", v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + k + "'"
	}
	return strings.Join(q, ", ")
}
