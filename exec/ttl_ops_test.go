package exec

import (
	"runtime"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// The state TTL of the keyed operators (ttl.go), with a fake processing-time clock. Every scenario runs
// uninterrupted and cut before each of its phases (snapshot, restore into a new operator, go on): the
// output must be the same, so the last-write times are part of the snapshot and expiry does not depend on
// when the scans ran.

// ttlPhase feeds input (harness text format) to input in of the operator at minute at of the clock.
type ttlPhase struct {
	at    int
	in    int
	input string
}

// ttlBuild builds the operator under test with the clock: its inputs, their column types and its state.
type ttlBuild func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter)

func runTTLScenario(t *testing.T, build ttlBuild, phases []ttlPhase, want string) {
	t.Helper()
	base := time.UnixMilli(1_700_000_000_000)
	for cut := 0; cut < len(phases); cut++ { // cut 0: uninterrupted
		clock := base
		now := func() time.Time { return clock }
		rec := &recorder{}
		ins, ts, snap := build(t, now, rec)
		for i, ph := range phases {
			clock = base.Add(time.Duration(ph.at) * time.Minute)
			if cut > 0 && i == cut {
				m := state.NewMemory()
				if err := snap.SnapshotState(m); err != nil {
					t.Fatalf("cut before phase %d: snapshot: %v", i, err)
				}
				ins, ts, snap = build(t, now, rec)
				if err := snap.RestoreState(m.Reader()); err != nil {
					t.Fatalf("cut before phase %d: restore: %v", i, err)
				}
			}
			if err := feed(t, ins[ph.in], ph.input, ts[ph.in], false, false); err != nil {
				t.Fatalf("phase %d: %v", i, err)
			}
		}
		if got := rec.b.String(); got != want {
			t.Fatalf("cut before phase %d (0: none): got\n%swant\n%s", cut, got, want)
		}
	}
}

var ttlJoinTypes = []types.Type{types.BigIntType(), types.StringType()}

func buildTTLJoin(typ JoinType) ttlBuild {
	return func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		l, r := NewJoin(JoinConfig{Type: typ, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ttlJoinTypes,
			RightTypes: ttlJoinTypes, TTL: time.Hour, Now: now}, out)
		return []changelog.Output{l, r}, [][]types.Type{ttlJoinTypes, ttlJoinTypes}, StateOf(l)
	}
}

// TestJoinTTLInner: each kept row expires an hour after it was written; a row of the other side matching it
// does not refresh it. An expired row matches nothing and its retraction is ignored.
func TestJoinTTLInner(t *testing.T) {
	runTTLScenario(t, buildTTLJoin(InnerJoin), []ttlPhase{
		{0, 0, "+I[1, a]"},
		{50, 1, "+I[1, x]"}, // joins a; a stays written at minute 0
		{50, 0, "+I[2, b]"},
		{70, 1, "+I[1, y]\n+I[2, z]"}, // a expired (70 min), b (20 min) joins z
		{70, 0, "-D[1, a]\n+I[1, c]"}, // a's retraction is dropped; c joins x and y (written at 50, 70)
		{115, 0, "+I[1, d]"},          // x expired (65 min), y (45 min) joins d
	}, `+I[1, a, 1, x]
+I[2, b, 2, z]
+I[1, c, 1, x]
+I[1, c, 1, y]
+I[1, d, 1, y]
`)
}

// TestJoinTTLLeftOuter: the outer side's row is refreshed when its match count changes; after the inner
// side's row expired, the join behaves as if it never had it: the outer row's retraction retracts it with
// NULLs (downstream still holds the joined rows, as in Flink).
func TestJoinTTLLeftOuter(t *testing.T) {
	runTTLScenario(t, buildTTLJoin(LeftJoin), []ttlPhase{
		{0, 0, "+I[1, a]"},
		{10, 1, "+I[1, x]"},  // a gets its first match: written at 10
		{40, 0, "+I[1, a]"},  // a second a: written at 40; x is not refreshed
		{60, 0, "+I[2, b]"},  // no match: NULL-padded
		{75, 0, "-D[1, a]"},  // x expired (65 min); a (35 min) is there twice: retracted as if x never existed
		{75, 1, "+I[1, y]"},  // a's match count stayed 1: no NULL-padded row to retract
		{125, 1, "+I[2, w]"}, // b expired (65 min): w matches nothing
		{125, 0, "-D[1, a]"}, // a was written at 75 (retraction): 50 min, still there
	}, `+I[1, a, NULL, NULL]
-D[1, a, NULL, NULL]
+I[1, a, 1, x]
+I[1, a, 1, x]
+I[2, b, NULL, NULL]
-D[1, a, NULL, NULL]
+I[1, a, 1, y]
-D[1, a, 1, y]
`)
}

// TestRankTTL: deduplication keeping the first row per key (ROW_NUMBER ordered by time, top 1): rows that
// do not enter the top rows do not refresh the partition, so a key is forgotten an hour after its first row
// and its next row is emitted as a new first row; a row that changes the top rows refreshes it.
func TestRankTTL(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	build := func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		op := NewRank(RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, RowNumber: true, Types: ts,
			TTL: time.Hour, Now: now}, out)
		return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
	}
	runTTLScenario(t, build, []ttlPhase{
		{0, 0, "+I[1, 10]"},
		{30, 0, "+I[1, 20]\n+I[2, 5]"}, // 20 is not first: partition 1 stays written at 0
		{65, 0, "+I[1, 30]\n+I[2, 7]"}, // partition 1 expired: 30 is first again; 7 is not first in 2
		{80, 0, "+I[2, 1]"},            // partition 2 written at 30 (50 min): 1 replaces 5
		{139, 0, "-D[2, 1]"},           // written at 80 (59 min): the retraction finds it, 5 is back
		{200, 0, "+I[2, 9]"},           // written at 139 (61 min): expired, 9 is first
	}, `+I[1, 10, 1]
+I[2, 5, 1]
+I[1, 30, 1]
-D[2, 5, 1]
+I[2, 1, 1]
-D[2, 1, 1]
+I[2, 5, 1]
+I[2, 9, 1]
`)
}

// TestNormalizeTTL: a key's last row expires an hour after its last upsert; the next upsert of an expired
// key is +I, a delete of one is dropped, and with a TTL an upsert equal to the last row is emitted as -U/+U
// (refreshing downstream state, as Flink does).
func TestNormalizeTTL(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	build := func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		op := NewNormalize(NormalizeConfig{Keys: []int{0}, Types: ts, TTL: time.Hour, Now: now}, out)
		return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
	}
	runTTLScenario(t, build, []ttlPhase{
		{0, 0, "+I[1, a]\n+I[2, b]\n+I[3, c]"},
		{40, 0, "+U[2, b]"},           // same row: -U/+U, written at 40
		{70, 0, "+U[1, x]\n-D[2, b]"}, // 1 expired: +I; 2 (30 min) deleted with its full row
		{70, 0, "-D[3, NULL]"},        // 3 expired: the delete is dropped
		{90, 0, "+U[1, y]"},
	}, `+I[1, a]
+I[2, b]
+I[3, c]
-U[2, b]
+U[2, b]
+I[1, x]
-D[2, b]
-U[1, x]
+U[1, y]
`)
}

// TestNormalizeNoTTLDropsDuplicates: without a TTL an upsert equal to the last row changes nothing.
func TestNormalizeNoTTLDropsDuplicates(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.StringType()}
	rec := &recorder{}
	if err := feed(t, NewNormalize(NormalizeConfig{Keys: []int{0}, Types: ts}, rec), "+I[1, a]\n+U[1, a]", ts, false, false); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.b.String(), "+I[1, a]\n"; got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
}

// TestOverTTL: an UNBOUNDED PRECEDING partition is forgotten an hour after its last row arrived or was
// emitted (its count starts again), but never while a row waits for the watermark; a RANGE frame with a
// bounded interval ignores the TTL.
func TestOverTTL(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	mk := func(frame OverFrame) ttlBuild {
		return func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
			op, err := NewOverAgg(OverConfig{Partition: []int{0}, OrderCol: 1, Frame: frame, Aggs: aggCalls(t, ts, "COUNT(*)"),
				InTypes: ts, TTL: time.Hour, Now: now}, out)
			if err != nil {
				t.Fatal(err)
			}
			return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
		}
	}
	runTTLScenario(t, mk(OverFrame{Rows: true, Unbounded: true}), []ttlPhase{
		{0, 0, "+I[1, 1000]\n+I[2, 1000]\nWM 1000"},
		{50, 0, "+I[2, 2000]"},
		{55, 0, "WM 2000"},                                        // partition 2 emitted at 55
		{70, 0, "+I[1, 3000]\n+I[2, 3000]\n+I[3, 9000]\nWM 3000"}, // 1 expired (70 min): counts from 1
		{200, 0, "WM 4000"},                                       // 3's row waits: 3 is kept
		{200, 0, "WM 9000"},
	}, `+I[1, 1000, 1]
+I[2, 1000, 1]
WM 1000
+I[2, 2000, 2]
WM 2000
+I[1, 3000, 1]
+I[2, 3000, 3]
WM 3000
WM 4000
+I[3, 9000, 1]
WM 9000
`)
	runTTLScenario(t, mk(OverFrame{Preceding: 1_000_000}), []ttlPhase{
		{0, 0, "+I[1, 1000]\nWM 1000"},
		{120, 0, "+I[1, 2000]\nWM 2000"}, // RANGE 1000 s: still counts the first row
	}, `+I[1, 1000, 1]
WM 1000
+I[1, 2000, 2]
WM 2000
`)
}

// heapInUse returns the bytes of live heap objects after two collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// checkMemoryReturns fills an operator with the state of keys keys (fill pushes key i's rows), lets it all
// expire, sends one more row (row(-1)) and fails unless the heap falls back near where it was before the
// operator was filled (within a tenth of what the state took) and left reports one entry.
func checkMemoryReturns(t *testing.T, name string, keys int, clock *time.Time, fill func(i int64, b *changelog.Batch) changelog.Output, left func() int) {
	t.Helper()
	base := heapInUse()
	var b changelog.Batch
	for i := range int64(keys) {
		if out := fill(i, &b); len(b.Rows) >= 1000 || i == int64(keys)-1 {
			if err := out.Push(&b); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	full := heapInUse()
	*clock = clock.Add(2 * time.Hour)
	out := fill(-1, &b)
	if err := out.Push(&b); err != nil {
		t.Fatal(err)
	}
	after := heapInUse()
	t.Logf("%s: heap %d KiB before, %d KiB with %d keys, %d KiB after they expired", name, base>>10, full>>10, keys, after>>10)
	if n := left(); n != 1 {
		t.Fatalf("%s: %d entries left after expiry, want 1", name, n)
	}
	if grown, kept := int64(full)-int64(base), int64(after)-int64(base); grown <= 0 || kept > grown/10 {
		t.Fatalf("%s: expired state kept %d KiB of the %d KiB it used", name, kept>>10, grown>>10)
	}
}

var ttlDiscard = NewCollect(func(changelog.Row) error { return nil })

// TestJoinTTLMemory: 200,000 keys with a row on each side, all expired: the heap returns near its baseline.
func TestJoinTTLMemory(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	l, r := NewJoin(JoinConfig{Type: LeftJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: ttlJoinTypes, RightTypes: ttlJoinTypes,
		TTL: time.Hour, Now: func() time.Time { return clock }}, ttlDiscard)
	j := l.(*joinInput).j
	checkMemoryReturns(t, "join", 200_000, &clock, func(i int64, b *changelog.Batch) changelog.Output {
		b.Append(changelog.Insert, []types.Value{types.IntValue(i), types.StringValue("left row")})
		if i < 0 || i%2 == 0 {
			return l
		}
		return r
	}, func() int { a, b := j.StateRows(); return a + b })
	runtime.KeepAlive(r)
}

// TestNormalizeTTLMemory: 200,000 expired upsert keys give their memory back.
func TestNormalizeTTLMemory(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	ts := []types.Type{types.BigIntType(), types.StringType()}
	op := NewNormalize(NormalizeConfig{Keys: []int{0}, Types: ts, TTL: time.Hour, Now: func() time.Time { return clock }}, ttlDiscard)
	checkMemoryReturns(t, "normalize", 200_000, &clock, func(i int64, b *changelog.Batch) changelog.Output {
		b.Append(changelog.UpdateAfter, []types.Value{types.IntValue(i), types.StringValue("value")})
		return op
	}, func() int { return len(op.(*normalize).state) })
}

// TestRankTTLMemory: 200,000 expired deduplication partitions give their memory back.
func TestRankTTLMemory(t *testing.T) {
	clock := time.UnixMilli(1_000_000)
	ts := []types.Type{types.BigIntType(), types.BigIntType()}
	op := NewRank(RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, RowNumber: true, Types: ts,
		TTL: time.Hour, Now: func() time.Time { return clock }}, ttlDiscard)
	checkMemoryReturns(t, "rank", 200_000, &clock, func(i int64, b *changelog.Batch) changelog.Output {
		b.Append(changelog.Insert, []types.Value{types.IntValue(i), types.IntValue(i)})
		return op
	}, func() int { return op.(*rankOp).st.st.keys })
}

// TestTTLExpiredBeforeScan: state that expired while no scan was due yet (scans run at most every ttl/4)
// is not used either: at minute 62 the last scan ran at 50 and the next is due at 65.
func TestTTLExpiredBeforeScan(t *testing.T) {
	runTTLScenario(t, buildTTLJoin(InnerJoin), []ttlPhase{
		{0, 0, "+I[1, a]"},
		{50, 0, "+I[2, b]"},
		{62, 1, "+I[1, x]\n+I[2, y]"},
	}, "+I[2, b, 2, y]\n")
	ts := []types.Type{types.BigIntType()}
	agg := func(t *testing.T, now func() time.Time, out changelog.Output) ([]changelog.Output, [][]types.Type, state.Snapshotter) {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: ts, Aggs: aggCalls(t, ts, "COUNT(*)"), EmitUpdateBefore: true,
			InsertOnly: true, TTL: time.Hour, Now: now}, out)
		if err != nil {
			t.Fatal(err)
		}
		return []changelog.Output{op}, [][]types.Type{ts}, StateOf(op)
	}
	runTTLScenario(t, agg, []ttlPhase{
		{0, 0, "+I[1]"},
		{50, 0, "+I[2]"},
		{62, 0, "+I[1]\n+I[2]"},
	}, "+I[1, 1]\n+I[2, 1]\n+I[1, 1]\n-U[2, 1]\n+U[2, 2]\n")
}
