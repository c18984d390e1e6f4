package exec

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestGroupAggTTL: with a TTL, a key idle for longer than the TTL is forgotten silently (its next row starts
// a new count, emitted as +I), a key updated within the TTL keeps counting, and the memory of 200,000
// expired groups is given back (heap after GC back near its baseline).
func TestGroupAggTTL(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	rec := &recorder{}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: []types.Type{types.BigIntType()}, Aggs: []AggCall{{Func: "COUNT", Filter: -1, Type: types.BigIntType().WithNullable(false)}},
		EmitUpdateBefore: true, InsertOnly: true, TTL: time.Hour, Now: func() time.Time { return clock }}
	op, err := NewGroupAgg(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	push := func(keys ...int64) {
		var b changelog.Batch
		for _, k := range keys {
			b.Append(changelog.Insert, []types.Value{types.IntValue(k)})
		}
		if err := op.Push(&b); err != nil {
			t.Fatal(err)
		}
	}
	push(1, 2)
	clock = clock.Add(50 * time.Minute)
	push(2) // key 2 is touched, key 1 idles
	clock = clock.Add(20 * time.Minute)
	push(1, 2) // key 1 expired (70 min idle): starts again at 1; key 2 (20 min) continues at 3
	want := "+I[1, 1]\n+I[2, 1]\n-U[2, 1]\n+U[2, 2]\n+I[1, 1]\n-U[2, 2]\n+U[2, 3]\n"
	if rec.b.String() != want {
		t.Fatalf("got\n%swant\n%s", rec.b.String(), want)
	}

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	rec2 := &recorder{}
	_ = rec2
	op2, _ := NewGroupAgg(cfg, NewCollect(func(changelog.Row) error { return nil }))
	var b changelog.Batch
	for k := range int64(200_000) {
		b.Append(changelog.Insert, []types.Value{types.IntValue(k)})
		if len(b.Rows) == 1000 {
			if err := op2.Push(&b); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	full := heap()
	clock = clock.Add(2 * time.Hour)
	b.Reset()
	b.Append(changelog.Insert, []types.Value{types.IntValue(-1)})
	if err := op2.Push(&b); err != nil {
		t.Fatal(err)
	}
	after := heap()
	t.Logf("heap: %d KiB before, %d KiB with 200,000 groups, %d KiB after they expired", base>>10, full>>10, after>>10)
	if n := len(op2.(*groupAgg).groups); n != 1 {
		t.Fatalf("%d groups left after expiry, want 1", n)
	}
	if grown, kept := full-base, int64(after)-int64(base); kept > int64(grown/10) {
		t.Fatalf("expired state kept %s of the %s it used", fmt.Sprint(kept>>10, " KiB"), fmt.Sprint(grown>>10, " KiB"))
	}
	runtime.KeepAlive(op2)
}
