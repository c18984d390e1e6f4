package exec

import (
	"bytes"
	"math"
	"testing"
)

// TestAppendSeq: arrival numbers round-trip, their encodings sort as the numbers do (across every length
// boundary), and seqLen finds the end of each.
func TestAppendSeq(t *testing.T) {
	var ns []uint64
	for l := 1; l <= 9; l++ {
		b := uint64(1) << min(7*l, 63)
		ns = append(ns, b-1, b, b+1)
	}
	ns = append(ns, 0, 1, 127, 128, 300, 1<<21-1, math.MaxUint64-1, math.MaxUint64)
	for _, a := range ns {
		ea := appendSeq([]byte{0x42}, a)[1:]
		if got := readSeq(ea); got != a {
			t.Fatalf("%d: decoded as %d (% x)", a, got, ea)
		}
		if seqLen(ea[0]) != len(ea) {
			t.Fatalf("%d: seqLen %d, encoding % x", a, seqLen(ea[0]), ea)
		}
		for _, b := range ns {
			eb := appendSeq(nil, b)
			want := 0
			if a < b {
				want = -1
			} else if a > b {
				want = 1
			}
			if got := bytes.Compare(ea, eb); got != want {
				t.Fatalf("compare(%d, %d) = %d, want %d (% x vs % x)", a, b, got, want, ea, eb)
			}
		}
	}
	if n := len(appendSeq(nil, 2_000_000)); n != 3 {
		t.Fatalf("2,000,000 takes %d bytes, want 3", n)
	}
}
