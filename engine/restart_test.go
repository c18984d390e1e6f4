package engine

import (
	"testing"
	"time"
)

// TestStreamRestartPolicies: how many restarts each strategy allows, and its delays.
func TestStreamRestartPolicies(t *testing.T) {
	count := func(p streamRestartPolicy, failures int) (n int, delays []time.Duration) {
		r := &streamRestart{policy: p}
		for range failures {
			d, ok := r.next()
			if !ok {
				break
			}
			n++
			delays = append(delays, d)
		}
		return n, delays
	}
	if n, _ := count(streamRestartPolicy{kind: "fixed-delay", attempts: 3, delay: time.Second}, 10); n != 3 {
		t.Errorf("fixed-delay with 3 attempts restarted %d times", n)
	}
	if n, _ := count(streamRestartPolicy{kind: "fixed-delay", attempts: -1, delay: time.Second}, 10); n != 10 {
		t.Errorf("fixed-delay without a limit restarted %d of 10 times", n)
	}
	exp := streamRestartPolicy{kind: "exponential-delay", initial: time.Second, maxBackoff: 5 * time.Second, multiplier: 2, resetAfter: time.Hour}
	if n, d := count(exp, 6); n != 6 || d[0] != time.Second || d[1] != 2*time.Second || d[3] != 5*time.Second {
		t.Errorf("exponential-delay: %d restarts, delays %v; want 6 with 1s, 2s, 4s, 5s (capped), ...", n, d)
	}
	exp.maxAttempts = 2 // 'restart-strategy.exponential-delay.attempts-before-reset-backoff'
	if n, _ := count(exp, 6); n != 2 {
		t.Errorf("exponential-delay with attempts-before-reset-backoff 2 restarted %d times", n)
	}
	if n, _ := count(streamRestartPolicy{kind: "failure-rate", maxFailures: 2, interval: time.Minute, delay: time.Second}, 6); n != 2 {
		t.Errorf("failure-rate with 2 failures per interval restarted %d times", n)
	}
	if n, _ := count(streamRestartPolicy{kind: "none"}, 3); n != 0 {
		t.Errorf("none restarted %d times", n)
	}
}
