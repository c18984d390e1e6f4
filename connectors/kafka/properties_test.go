package kafka

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicesql/sluice/options"
)

// TestProperties maps 'properties.*' (given without the prefix, one key=value a line) and prints the
// resulting client settings or the error.
func TestProperties(t *testing.T) {
	datadriven.RunTest(t, "testdata/properties", func(t *testing.T, d *datadriven.TestData) string {
		props := map[string]string{}
		for _, l := range strings.Split(d.Input, "\n") {
			if l == "" {
				continue
			}
			k, v, _ := strings.Cut(l, "=")
			props[k] = v
		}
		c, err := parseProperties(props)
		if err != nil {
			if !errors.Is(err, options.ErrValidation) {
				t.Errorf("error does not wrap ErrValidation: %v", err)
			}
			return "error: " + err.Error() + "\n"
		}
		return fmt.Sprintf("servers=%v group=%q reset=%q read-committed=%v auto-commit=%v commit-interval=%s max-poll=%d auto-create=%v api-timeout=%s delivery-timeout=%s acks=%s\nclient options: common=%d consumer=%d producer=%d\n",
			c.servers, c.groupID, c.resetOffset, c.readCommitted, c.autoCommit, c.autoCommitInterval, c.maxPollRecords,
			c.allowAutoCreate, c.apiTimeout, c.deliveryTimeout, c.acks, len(c.common), len(c.consumer), len(c.producer))
	})
}

func TestParseJAAS(t *testing.T) {
	for _, c := range []struct{ in, module, user, pass, err string }{
		{in: `org.apache.kafka.common.security.plain.PlainLoginModule required username="u1" password="p\"1";`,
			module: "org.apache.kafka.common.security.plain.PlainLoginModule", user: "u1", pass: `p"1`},
		{in: `org.apache.kafka.common.security.scram.ScramLoginModule required
		  username="u2"
		  password="p2";`, module: "org.apache.kafka.common.security.scram.ScramLoginModule", user: "u2", pass: "p2"},
		{in: `Module optional username=bare password=x`, module: "Module", user: "bare", pass: "x"},
		{in: `Module username="u"`, err: "want a control flag"},
		{in: `Module required username="u`, err: "has no closing quote"},
		{in: `Module required password="p";`, err: "no username"},
		{in: ``, err: "want 'LoginModule"},
	} {
		module, user, pass, err := parseJAAS(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseJAAS(%q) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || module != c.module || user != c.user || pass != c.pass {
			t.Errorf("parseJAAS(%q) = %q %q %q %v", c.in, module, user, pass, err)
		}
	}
}

func TestLoginError(t *testing.T) {
	if loginError(fmt.Errorf("wrapped: %w", kerr.SaslAuthenticationFailed)) == "" {
		t.Error("SASL_AUTHENTICATION_FAILED is not a login error")
	}
	if loginError(errors.New("dial tcp: connection refused")) != "" {
		t.Error("connection refused is a login error")
	}
}
