package state

import (
	"bytes"
	"fmt"
	"testing"
)

func drain(t *testing.T, r Reader) (entries []string) {
	t.Helper()
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return entries
		}
		entries = append(entries, fmt.Sprintf("%d/%s=%s", ns, k, v))
	}
}

// TestMemory: Put copies its arguments; Reader returns every entry in Put order; the key-group readers of
// a split of [0, 127] return each entry exactly once, in the range of its key's group.
func TestMemory(t *testing.T) {
	m := NewMemory()
	key, val := []byte("k"), []byte("v")
	var want []string
	for i := range 500 {
		key = fmt.Appendf(key[:0], "key%d", i)
		val = fmt.Appendf(val[:0], "value%d", i*i)
		if err := m.Put(uint8(i%3), key, val); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d/%s=%s", i%3, key, val))
	}
	if err := m.Put(255, nil, []byte("meta")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "255/=meta")
	if m.Len() != 501 {
		t.Fatalf("Len %d", m.Len())
	}
	if got := drain(t, m.Reader()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Reader returned\n%v\nwant\n%v", got, want)
	}
	seen := map[string]int{}
	for _, rg := range [][2]int{{0, 40}, {41, 41}, {42, 127}} {
		r := m.ReaderForKeyGroups(rg[0], rg[1])
		for {
			_, k, _, ok, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if g := KeyGroup(k, DefaultMaxParallelism); g < rg[0] || g > rg[1] {
				t.Fatalf("key %q of group %d read in range %v", k, g, rg)
			}
			seen[string(k)]++
		}
	}
	if len(seen) != 501 {
		t.Fatalf("the split read %d distinct keys, want 501", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("key %q read %d times", k, n)
		}
	}
	// Returned slices must not alias the caller's buffers.
	r := m.Reader()
	_, k, _, _, _ := r.Next()
	if !bytes.Equal(k, []byte("key0")) {
		t.Fatalf("first key %q, want key0 (Put did not copy)", k)
	}
}
