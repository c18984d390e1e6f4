package kafka_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connectors/kafka"
)

// kcatInts reads topic ({"a":n} values) with kcat (librdkafka) at the given isolation level, up to the end
// of its partitions, and returns the values sorted.
func kcatInts(t *testing.T, path, addr, topic, isolation string) []int {
	t.Helper()
	out := strings.TrimSpace(kcat(t, path, "", "-C", "-b", addr, "-t", topic, "-J", "-e", "-o", "beginning", "-q",
		"-X", "isolation.level="+isolation))
	var got []int
	for _, l := range strings.Split(out, "\n") {
		if l == "" {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Payload == nil {
			t.Fatalf("kcat line %q: %v", l, err)
		}
		var v struct{ A int }
		if err := json.Unmarshal([]byte(*r.Payload), &v); err != nil {
			t.Fatalf("kcat payload %q: %v", *r.Payload, err)
		}
		got = append(got, v.A)
	}
	sort.Ints(got)
	return got
}

// TestKcatReadsExactlyOnce: an exactly-once sink commits a transaction, crashes with a pre-committed one
// whose checkpoint never completed, is restored from the first checkpoint (aborting it) and commits another.
// kcat with isolation.level=read_committed sees the two committed transactions only; read_uncommitted also
// sees the aborted rows, which shows that they reached the topic.
func TestKcatReadsExactlyOnce(t *testing.T) {
	path := needKcat(t)
	h := newHarness(t)
	if err := h.cluster.CreateTopic("kc-eo", 2, nil); err != nil {
		t.Fatal(err)
	}
	tbl := eoTable(h, t, "kc-eo", "kc")
	s1 := h.openSink(t, tbl)
	s1.restore(t, nil, 0)
	pushInts(t, s1.out, 1, 5)
	st1 := s1.preCommit(t, 1)
	s1.commit(t, 1)
	pushInts(t, s1.out, 6, 10)
	s1.preCommit(t, 2) // checkpoint 2 never completes
	kafka.Crash(t, s1.out)

	s2 := h.openSink(t, tbl)
	s2.restore(t, st1, 1)
	pushInts(t, s2.out, 11, 15)
	s2.preCommit(t, 2)
	s2.commit(t, 2)
	if err := s2.out.End(); err != nil {
		t.Fatal(err)
	}
	if got, want := kcatInts(t, path, h.addr, "kc-eo", "read_committed"), ints(1, 5, ints(11, 15)); !equalInts(got, want) {
		t.Fatalf("kcat read_committed sees %v, want %v", got, want)
	}
	if got, want := kcatInts(t, path, h.addr, "kc-eo", "read_uncommitted"), ints(1, 15); !equalInts(got, want) {
		t.Fatalf("kcat read_uncommitted sees %v, want %v", got, want)
	}
}
