package exec

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestGroupAggStateBytesPerKey measures the snapshot of SELECT k, COUNT(*), SUM(amount) GROUP BY k (BIGINT
// key and amounts up to a million): the value bytes per key, without the key itself, must stay small.
func TestGroupAggStateBytesPerKey(t *testing.T) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)", "SUM($1)"), EmitUpdateBefore: true},
		NewCollect(func(changelog.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	const keys = 10000
	rng := rand.New(rand.NewPCG(1, 2))
	var b changelog.Batch
	for i := range 5 * keys {
		b.Append(changelog.Insert, []types.Value{types.IntValue(int64(i % keys * 7919)), types.IntValue(rng.Int64N(1_000_000))})
		if len(b.Rows) == 1000 {
			if err := op.Push(&b); err != nil {
				t.Fatal(err)
			}
			b = changelog.Batch{}
		}
	}
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	if m.Len() != keys+1 {
		t.Fatalf("%d entries, want %d groups and the meta entry", m.Len(), keys)
	}
	r := m.Reader()
	keyBytes, valueBytes, metaBytes := 0, 0, 0
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if ns == nsMeta {
			metaBytes += len(v)
			continue
		}
		keyBytes += len(k)
		valueBytes += len(v)
	}
	perKey := float64(valueBytes) / keys
	t.Logf("COUNT(*), SUM(BIGINT) GROUP BY BIGINT: %.1f value bytes per key (+ %.1f key bytes), meta entry %d bytes, %d bytes in all",
		perKey, float64(keyBytes)/keys, metaBytes, m.Bytes())
	if perKey > 40 {
		t.Fatalf("%.1f value bytes per key, want at most 40", perKey)
	}
}

// filterReader drops the entries for which drop returns true and lets change rewrite the others.
type filterReader struct {
	r      state.Reader
	drop   func(ns uint8, key, value []byte) bool
	change func(ns uint8, key, value []byte) (uint8, []byte, []byte)
}

func (f *filterReader) Next() (uint8, []byte, []byte, bool, error) {
	for {
		ns, k, v, ok, err := f.r.Next()
		if !ok || err != nil {
			return ns, k, v, ok, err
		}
		if f.drop != nil && f.drop(ns, k, v) {
			continue
		}
		if f.change != nil {
			ns, k, v = f.change(ns, k, v)
		}
		return ns, k, v, true, nil
	}
}

// TestRestoreCorruptState: entries that do not fit the operator fail the restore with an error that wraps
// state.ErrCorrupt and says which operator and what did not fit.
func TestRestoreCorruptState(t *testing.T) {
	in := []types.Type{types.StringType(), types.BigIntType()}
	mk := func(calls ...string) changelog.Output {
		op, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, calls...)}, NewCollect(func(changelog.Row) error { return nil }))
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	src := mk("COUNT(*)", "MAX($1)")
	var b changelog.Batch
	for i := range 10 {
		b.Append(changelog.Insert, []types.Value{types.StringValue(string(rune('a' + i%3))), types.IntValue(int64(i))})
	}
	if err := src.Push(&b); err != nil {
		t.Fatal(err)
	}
	m := state.NewMemory()
	if err := StateOf(src).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	isMeta := func(ns uint8, _, _ []byte) bool { return ns == nsMeta }
	edit := func(f func(v []byte) []byte) func(uint8, []byte, []byte) (uint8, []byte, []byte) {
		return func(ns uint8, k, v []byte) (uint8, []byte, []byte) {
			if ns == nsMeta {
				return ns, k, v
			}
			return ns, k, f(append([]byte(nil), v...))
		}
	}
	cases := []struct {
		name   string
		op     changelog.Output
		reader state.Reader
		want   string
	}{
		{"other aggregates", mk("COUNT(*)", "MAX($1)", "SUM($1)"), m.Reader(),
			"the state was written by GroupAggregate(keys=1, aggs=[COUNT, MAX retractable]), this operator is GroupAggregate(keys=1, aggs=[COUNT, MAX retractable, SUM])"},
		{"other number of aggregates, no meta entry", mk("COUNT(*)", "MAX($1)", "SUM($1)"), &filterReader{r: m.Reader(), drop: isMeta},
			"the value holds 2 aggregates, the operator has 3"},
		{"future format version", mk("COUNT(*)", "MAX($1)"), &filterReader{r: m.Reader(), change: edit(func(v []byte) []byte { v[0] = 9; return v })},
			"format version 9, this build reads version 1"},
		{"truncated value", mk("COUNT(*)", "MAX($1)"), &filterReader{r: m.Reader(), change: edit(func(v []byte) []byte { return v[:len(v)-2] })},
			"entry (namespace 0, key"},
		{"trailing bytes", mk("COUNT(*)", "MAX($1)"), &filterReader{r: m.Reader(), change: edit(func(v []byte) []byte { return append(v, 7) })},
			"1 bytes left over after the value"},
		{"unknown namespace", mk("COUNT(*)", "MAX($1)"), &filterReader{r: m.Reader(), change: func(ns uint8, k, v []byte) (uint8, []byte, []byte) {
			if ns == 0 {
				ns = 3
			}
			return ns, k, v
		}}, "unknown namespace 3"},
		{"key of another group", mk("COUNT(*)", "MAX($1)"), &filterReader{r: m.Reader(), change: func(ns uint8, k, v []byte) (uint8, []byte, []byte) {
			if ns == 0 {
				k = append(append([]byte(nil), k...), 'x')
			}
			return ns, k, v
		}}, "the key does not match the key values"},
		{"state of another operator", NewRank(RankConfig{Partition: []int{0}, Order: []SortKey{{Col: 1}}, Limit: 1, Types: in}, &recorder{}), m.Reader(),
			"this operator is Rank("},
	}
	for _, c := range cases {
		err := StateOf(c.op).RestoreState(c.reader)
		if err == nil {
			t.Fatalf("%s: restore succeeded", c.name)
		}
		if !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("%s: %v does not wrap state.ErrCorrupt", c.name, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "restore ") {
			t.Fatalf("%s: error %q does not say %q", c.name, err, c.want)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// TestStateOf: stateless operators and batch-mode operators have no checkpointable state; the inputs of
// multi-input operators share one Snapshotter; WithMessageColumns keeps the normalize's state reachable.
func TestStateOf(t *testing.T) {
	sink := &recorder{}
	if StateOf(NewCalc(nil, nil, sink)) != nil || StateOf(NewCounter(nil, sink)) != nil ||
		StateOf(NewWindowAssigner(WindowSpec{Kind: Tumble, Size: 5}, 0, false, nil, sink)) != nil ||
		StateOf(NewSort(nil, -1, 0, 0, "", sink)) != nil || StateOf(NewCollect(nil)) != nil {
		t.Fatal("a stateless operator reports state")
	}
	in := []types.Type{types.BigIntType()}
	batchAgg, err := NewGroupAgg(GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(t, in, "COUNT(*)"), Batch: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := NewJoin(JoinConfig{LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: in, RightTypes: in, Batch: true}, sink)
	if StateOf(batchAgg) != nil || StateOf(bl) != nil || StateOf(NewRank(RankConfig{Batch: true}, sink)) != nil ||
		StateOf(NewChangelogNormalize([]int{0}, in, true, sink)) != nil {
		t.Fatal("a batch operator reports checkpointable state")
	}
	if err := batchAgg.(*groupAgg).SnapshotState(state.NewMemory()); err == nil {
		t.Fatal("a batch group aggregate took a snapshot")
	}
	n := NewChangelogNormalize([]int{0}, in, false, sink)
	if s := StateOf(WithMessageColumns(n, []int{0})); s == nil || s != StateOf(n) {
		t.Fatal("WithMessageColumns hides the normalize's state")
	}
}

// BenchmarkGroupAggSnapshot snapshots and restores a COUNT(*), SUM(BIGINT) GROUP BY BIGINT aggregate of
// 100,000 keys into state.Memory (reported per key).
func BenchmarkGroupAggSnapshot(b *testing.B) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggCalls(b, in, "COUNT(*)", "SUM($1)"), EmitUpdateBefore: true}
	op, err := NewGroupAgg(cfg, &discard{})
	if err != nil {
		b.Fatal(err)
	}
	const keys = 100_000
	var batch changelog.Batch
	for i := range keys {
		batch.Append(changelog.Insert, []types.Value{types.IntValue(int64(i)), types.IntValue(int64(i % 1000))})
	}
	if err := op.Push(&batch); err != nil {
		b.Fatal(err)
	}
	b.Run("snapshot", func(b *testing.B) {
		for range b.N {
			if err := StateOf(op).SnapshotState(state.NewMemory()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
	})
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		b.Fatal(err)
	}
	b.Run("restore", func(b *testing.B) {
		for range b.N {
			op2, _ := NewGroupAgg(cfg, &discard{})
			if err := StateOf(op2).RestoreState(m.Reader()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
	})
}
