package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// xFailing is a keyed subtask's operator whose first Push waits for gate (when set) and returns err.
type xFailing struct {
	gate    <-chan struct{}
	err     error
	pushing chan struct{} // closed at the first Push
	pushed  bool
}

func (f *xFailing) Push(*changelog.Batch) error {
	if !f.pushed {
		f.pushed = true
		close(f.pushing)
	}
	if f.gate != nil {
		<-f.gate
	}
	return f.err
}
func (f *xFailing) Watermark(int64) error { return nil }
func (f *xFailing) End() error            { return nil }

// newFailingExchange is an exchange of 2 subtasks over one sender: subtask 2's operator is f, subtask 1's
// takes every row.
func newFailingExchange(t *testing.T, f *xFailing) *Exchange {
	t.Helper()
	outs := []changelog.Output{NewCollect(func(changelog.Row) error { return nil }), NewCollect(func(changelog.Row) error { return nil })}
	sides := []ExchangeSide{{Keys: []int{0}, KeyTypes: []types.Type{types.BigIntType()}, Senders: 1}}
	x, err := NewExchange(128, 2, sides, func(k int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
		if k == 1 {
			return []changelog.Output{f}, f, nil
		}
		r := &xRecorder{}
		return []changelog.Output{r}, r, nil
	}, outs, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// A subtask's error that wraps context.Canceled for reasons of its own (a sink whose client gave up on a
// context of its own), returned while nobody cancelled the exchange, is the exchange's error — with the
// subtask's prefix — not the bare context.Canceled its sibling returns once the failure stopped it. Before,
// the first error in subtask order won unless a later one did not wrap context.Canceled, so Run returned the
// sibling's bare cancellation.
func TestExchangeFailureWrappingCanceledWins(t *testing.T) {
	own := fmt.Errorf("sink out: write: %w", context.Canceled)
	f := &xFailing{err: own, pushing: make(chan struct{})}
	x := newFailingExchange(t, f)
	done := make(chan error, 1)
	go func() { done <- x.Run(context.Background()) }()
	s := x.Sender(0, 0)
	for i := 0; ; i++ {
		if err := s.Push(keyBatch(int64(i)*600, int64(i+1)*600)); err != nil {
			break // the exchange stopped
		}
		if s.Flush() != nil || f.pushedSync() {
			break
		}
	}
	select {
	case err := <-done:
		if !errors.Is(err, own) || !strings.Contains(err.Error(), "subtask 2 of 2: sink out: write: context canceled") {
			t.Fatalf("Run returned %v, want the failing subtask's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after a subtask failed")
	}
	_ = x.WaitIdle()
}

// pushedSync reports whether Push was called (its channel is closed).
func (f *xFailing) pushedSync() bool {
	select {
	case <-f.pushing:
		return true
	default:
		return false
	}
}

// An error wrapping context.Canceled that a subtask returns after the exchange's context was cancelled (the
// job's cancel reached it while it wrote) is the cancellation, not a failure: Run's error is a
// context.Canceled without the subtask's failure taking precedence over the bare ones.
func TestExchangeCancelledErrorStaysCancellation(t *testing.T) {
	gate := make(chan struct{})
	own := fmt.Errorf("sink out: write: %w", context.Canceled)
	f := &xFailing{gate: gate, err: own, pushing: make(chan struct{})}
	x := newFailingExchange(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	s := x.Sender(0, 0)
	for i := 0; !f.pushedSync(); i++ {
		if err := s.Push(keyBatch(int64(i)*600, int64(i+1)*600)); err != nil {
			t.Fatalf("push: %v", err)
		}
		_ = s.Flush()
		time.Sleep(time.Millisecond)
	}
	cancel()
	time.Sleep(20 * time.Millisecond) // the idle subtask returns ctx.Err() first
	close(gate)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "sink out") {
			t.Fatalf("Run returned %v, want the bare cancellation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the cancel")
	}
	_ = x.WaitIdle()
}
