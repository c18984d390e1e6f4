package avroconfluent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Registry calls: each attempt has requestTimeout; transient failures (network errors, 5xx, 408, 429) are
// retried after retryBackoff, doubling, up to attempts in all.
const (
	requestTimeout = 5 * time.Second
	attempts       = 3
	retryBackoff   = 100 * time.Millisecond
)

type registryConfig struct {
	url         string
	user, pass  string
	bearer      string
	truststore  string // PEM file of CA certificates
	keystore    string // PEM file with a client certificate and its key
	keystorePwd string
}

// client is a Schema Registry client: franz-go's pkg/sr with timeouts, retries and clear errors.
type client struct {
	url string
	cl  *sr.Client
}

func newClient(c registryConfig) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.truststore != "" || c.keystore != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.truststore != "" {
			b, err := os.ReadFile(c.truststore)
			if err != nil {
				return nil, fmt.Errorf("ssl.truststore.location: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("ssl.truststore.location: %s holds no PEM certificates (Java keystores are not supported; convert with keytool/openssl to PEM)", c.truststore)
			}
			tc.RootCAs = pool
		}
		if c.keystore != "" {
			b, err := os.ReadFile(c.keystore)
			if err != nil {
				return nil, fmt.Errorf("ssl.keystore.location: %w", err)
			}
			cert, err := tls.X509KeyPair(b, b)
			if err != nil {
				return nil, fmt.Errorf("ssl.keystore.location: %s must be a PEM file holding the client certificate and its unencrypted key (Java keystores are not supported): %w", c.keystore, err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	opts := []sr.ClientOpt{sr.URLs(c.url), sr.HTTPClient(&http.Client{Transport: tr}), sr.UserAgent("sluice")}
	if c.user != "" || c.pass != "" {
		opts = append(opts, sr.BasicAuth(c.user, c.pass))
	}
	if c.bearer != "" {
		opts = append(opts, sr.BearerToken(c.bearer))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &client{url: c.url, cl: cl}, nil
}

func transient(err error) bool {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 || re.StatusCode == 408 || re.StatusCode == 429
	}
	return !errors.Is(err, context.Canceled)
}

// do runs f with a per-attempt timeout, retrying transient failures.
func (c *client) do(ctx context.Context, f func(ctx context.Context) error) error {
	backoff := retryBackoff
	var err error
	for i := 0; i < attempts; i++ {
		actx, cancel := context.WithTimeout(ctx, requestTimeout)
		err = f(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		if i < attempts-1 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return err
			}
			backoff *= 2
		}
	}
	return err
}

// errUnknownID says the registry has no schema with the id.
var errUnknownID = errors.New("unknown schema id")

func (c *client) schemaByID(ctx context.Context, id int) (string, error) {
	var s sr.Schema
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		s, err = c.cl.SchemaByID(ctx, id)
		return err
	})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return "", fmt.Errorf("%w: the schema registry at %s has no schema with id %d (%s)", errUnknownID, c.url, id, re.Message)
		}
		return "", fmt.Errorf("cannot fetch schema id %d from the schema registry at %s: %w", id, c.url, describeErr(err))
	}
	if s.Type != sr.TypeAvro {
		return "", fmt.Errorf("schema id %d in the schema registry at %s is a %s schema, not Avro", id, c.url, s.Type)
	}
	return s.Schema, nil
}

// register registers schema under subject (the registry returns the existing id when the subject already
// has it) and returns its id.
func (c *client) register(ctx context.Context, subject, schema string) (int, error) {
	var ss sr.SubjectSchema
	err := c.do(ctx, func(ctx context.Context) error {
		var err error
		ss, err = c.cl.CreateSchema(ctx, subject, sr.Schema{Schema: schema, Type: sr.TypeAvro})
		return err
	})
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			return 0, fmt.Errorf("the schema registry at %s refused the table's schema for subject '%s' as incompatible: %s", c.url, subject, re.Message)
		}
		return 0, fmt.Errorf("cannot register the table's schema under subject '%s' in the schema registry at %s: %w", subject, c.url, describeErr(err))
	}
	return ss.ID, nil
}

// describeErr shortens transport errors and keeps registry messages.
func describeErr(err error) error {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		msg := re.Message
		if msg == "" {
			msg = strings.TrimSpace(string(re.Raw))
		}
		return fmt.Errorf("HTTP %d, error code %d: %s", re.StatusCode, re.ErrorCode, msg)
	}
	return err
}
