package engine

import (
	"errors"
	"testing"
)

// TestFailureRecordsDoNotAllocate: a sink's failure record (endOnce.note) and the graph's push failure mark
// run on every push and watermark; without an error they must not allocate (taking the address of the error
// parameter moved it to the heap on every call), and with one they still record it.
func TestFailureRecordsDoNotAllocate(t *testing.T) {
	e := &endOnce{name: "out_t"}
	f := &pushFailure{}
	if a := testing.AllocsPerRun(100, func() {
		if e.note(nil) != nil || f.mark(nil) != nil {
			t.Fatal("nil error recorded")
		}
	}); a != 0 {
		t.Fatalf("%.0f allocations per call without an error, want 0", a)
	}
	boom := errors.New("disk full")
	if err := e.note(boom); !errors.Is(e.failure(), boom) || !errors.Is(err, boom) || !isSinkError(err) {
		t.Fatalf("note: %v, failure %v", err, e.failure())
	}
	if err := f.mark(boom); err != boom || f.load() != boom {
		t.Fatalf("mark: %v, load %v", err, f.load())
	}
	if e.note(errors.New("later")); !errors.Is(e.failure(), boom) {
		t.Fatalf("the first failure must win, got %v", e.failure())
	}
}
