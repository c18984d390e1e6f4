package client

import "testing"

func TestExpandVars(t *testing.T) {
	t.Setenv("SLUICE_TEST_TOPIC", "orders")
	r := &runner{vars: map[string]string{"SLUICE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092"}}
	for in, want := range map[string]string{
		"'${SLUICE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}'":    "'127.0.0.1:19092'",
		"'${SLUICE_SCHEMA_REGISTRY_URL:-http://127.0.0.1:8081}'": "'http://127.0.0.1:8081'",
		"'${SLUICE_TEST_TOPIC}' '${SLUICE_TEST_TOPIC:-x}'":       "'orders' 'orders'",
		"'${NOT_SET_ANYWHERE_XYZ}'":                              "'${NOT_SET_ANYWHERE_XYZ}'",
		"'${not a name}' '$x' '${' '${SLUICE_TEST_TOPIC'":        "'${not a name}' '$x' '${' '${SLUICE_TEST_TOPIC'",
		"no variables": "no variables",
	} {
		if got := r.expandVars(in); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}
