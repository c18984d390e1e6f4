package client

import (
	"os"
	"strings"
)

// Script variables: the client replaces ${NAME} and ${NAME:-default} in statements (scripts, init files and
// the shell, embedded or against a gateway) before parsing them. NAME is a variable the client defines or an
// environment variable:
//
//	SLUICE_KAFKA_BOOTSTRAP_SERVERS  the embedded Kafka broker's address (--embedded; 127.0.0.1:9092 by default)
//	SLUICE_SCHEMA_REGISTRY_URL      the embedded schema registry's URL (--embedded; http://127.0.0.1:8081)
//
// so that a script reads its addresses from the session's environment, e.g.
// 'properties.bootstrap.servers' = '${SLUICE_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}', and runs unchanged
// when the broker moves (sql-client --embedded --embedded-kafka 127.0.0.1:19092). An unknown NAME without a
// default, and anything else after '$', is left as written. Replacing a variable shifts the columns of
// errors after it on its line.

// expandVars replaces the script variables in text.
func (r *runner) expandVars(text string) string {
	if !strings.Contains(text, "${") {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			b.WriteString(text)
			return b.String()
		}
		body := text[i+2 : i+end]
		name, def, hasDef := strings.Cut(body, ":-")
		b.WriteString(text[:i])
		switch v, ok := r.lookupVar(name); {
		case !validVarName(name):
			b.WriteString(text[i : i+end+1])
		case ok:
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			b.WriteString(text[i : i+end+1])
		}
		text = text[i+end+1:]
	}
}

func (r *runner) lookupVar(name string) (string, bool) {
	if v, ok := r.vars[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
