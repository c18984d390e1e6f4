package exec

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestTemporalJoinStateAcrossSubtasks: a LEFT temporal join's waiting left rows (two with a NULL key, one
// with a key that has a version) restore, from the current layout and from the older one (NULL keys under
// the empty key), into one instance and into 3 subtasks behind an exchange, and each is emitted exactly once.
func TestTemporalJoinStateAcrossSubtasks(t *testing.T) {
	bt := types.BigIntType()
	ts := []types.Type{bt, bt}
	cfg := TemporalJoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTime: 1, RightTime: 1, LeftTypes: ts, RightTypes: ts, Outer: true}
	row := func(k types.Value, t int64) *changelog.Batch {
		var b changelog.Batch
		b.Append(changelog.Insert, []types.Value{k, types.IntValue(t)})
		return &b
	}
	l, r := NewTemporalJoin(cfg, &recorder{})
	for _, err := range []error{l.Push(row(types.NullValue, 100)), l.Push(row(types.NullValue, 200)), l.Push(row(types.IntValue(5), 150)),
		r.Push(row(types.IntValue(5), 50))} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cur := state.NewMemory()
	if err := StateOf(l).SnapshotState(cur); err != nil {
		t.Fatal(err)
	}
	old := state.NewMemory() // the layout before: NULL keys under the empty key
	nullKeys := 0
	for rd := cur.Reader(); ; {
		ns, key, value, ok, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ns == 1 && string(key) == nullJoinKey {
			key, nullKeys = nil, nullKeys+1
		}
		if err := old.Put(ns, key, value); err != nil {
			t.Fatal(err)
		}
	}
	if nullKeys != 1 {
		t.Fatalf("%d entries of NULL-key waiting rows, want 1", nullKeys)
	}
	want := "+I[NULL, 100, NULL, NULL]\n+I[5, 150, 5, 50]\n+I[NULL, 200, NULL, NULL]\nEND\n"
	for _, mem := range []*state.Memory{cur, old} {
		// one instance
		rec := &recorder{}
		l, r := NewTemporalJoin(cfg, rec)
		if err := StateOf(l).RestoreState(mem.Reader()); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(l.End(), r.End()); err != nil {
			t.Fatal(err)
		}
		if rec.b.String() != want {
			t.Fatalf("one instance emitted:\n%s\nwant:\n%s", rec.b.String(), want)
		}
		// 3 subtasks
		var mu sync.Mutex
		var got []string
		outs := make([]changelog.Output, 3)
		for i := range outs {
			outs[i] = NewCollect(func(row changelog.Row) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, string(changelog.AppendRow(nil, row, nil, nil)))
				return nil
			})
		}
		side := ExchangeSide{Keys: []int{0}, KeyTypes: []types.Type{bt}, Senders: 1, NullKey: true}
		x, err := NewExchange(128, 3, []ExchangeSide{side, side}, func(_ int, out changelog.Output) ([]changelog.Output, changelog.Output, error) {
			l, r := NewTemporalJoin(cfg, out)
			return []changelog.Output{l, r}, l, nil
		}, outs, func(int) {})
		if err != nil {
			t.Fatal(err)
		}
		if err := StateOf(x.State()).RestoreState(mem.Reader()); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- x.Run(context.Background()) }()
		if err := errors.Join(x.Sender(0, 0).End(), x.Sender(1, 0).End(), <-done); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("3 subtasks emitted %d rows, want 3: %q", len(got), got)
		}
	}
}
