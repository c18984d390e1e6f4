package exec

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// stateKeys selects the key counts of BenchmarkStateSize (comma separated; default 100000,1000000).
var stateKeys = flag.String("state.keys", "100000,1000000", "key counts of BenchmarkStateSize")

// scatter maps 0..n-1 onto itself in a scattered order (n need not be prime: the multiplier is odd and
// coprime to n when n is a power of ten).
func scatter(i, n int64) int64 { return (i * 2654435761) % n }

// BenchmarkStateSize measures the heap that operator state holds per key and the cost per row:
//   - groupagg: SELECT k, COUNT(*), SUM(v) FROM t GROUP BY k (k, v BIGINT), every key updated twice, retract
//     output (the in-memory 'hashmap' backend);
//   - join: a regular inner join's state for one input of rows (k BIGINT, a BIGINT, s STRING of 12 bytes),
//     one row per key, nothing on the other side; raw B/row is the row's width in fixed-size binary form
//     (8 bytes per BIGINT, the string's bytes: 28); join-string-key: the same with k a STRING of 12 bytes
//     (raw 32), x-raw the state's bytes per row over it. Then every row
//     is retracted. ns/insert and ns/retract are wall-clock time per row in Push, cpu-ns/... the process's
//     CPU time over the same calls (GC included; steadier than wall time on a shared machine).
//
// B/key is the live heap after a full GC with the operator alive minus before it was built, divided by the
// keys. Run with -benchtime 1x: go test ./exec -run '^$' -bench StateSize -benchtime 1x.
func BenchmarkStateSize(b *testing.B) {
	var counts []int64
	for _, s := range splitComma(*stateKeys) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("bad -state.keys entry %q", s)
		}
		counts = append(counts, n)
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("groupagg/keys=%d", n), func(b *testing.B) { benchGroupAggState(b, n) })
		b.Run(fmt.Sprintf("join/rows=%d", n), func(b *testing.B) { benchJoinState(b, n, false) })
		b.Run(fmt.Sprintf("join-string-key/rows=%d", n), func(b *testing.B) { benchJoinState(b, n, true) })
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func benchGroupAggState(b *testing.B, n int64) {
	in := []types.Type{types.BigIntType(), types.BigIntType()}
	aggs := aggCalls(b, in, "COUNT(*)", "SUM($1)")
	cfg := GroupAggConfig{Keys: []int{0}, InTypes: in, Aggs: aggs, EmitUpdateBefore: true}
	batch := &changelog.Batch{}
	vals := make([]types.Value, 2*1024)
	var perKey, perRow float64
	for b.Loop() {
		out := &discard{}
		before := heapInUse()
		op, err := NewGroupAgg(cfg, out)
		if err != nil {
			b.Fatal(err)
		}
		rows := 2 * n
		start := time.Now()
		for i := int64(0); i < rows; {
			batch.Reset()
			for j := 0; j < 1024 && i < rows; j, i = j+1, i+1 {
				v := vals[2*j : 2*j+2 : 2*j+2]
				v[0] = types.IntValue(scatter(i%n, n))
				v[1] = types.IntValue(i & 1023)
				batch.Append(changelog.Insert, v)
			}
			if err := op.Push(batch); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(start)
		after := heapInUse()
		if got := out.rows; got != int(n)+2*int(n) { // +I per key, then -U/+U
			b.Fatalf("emitted %d rows, want %d", got, 3*n)
		}
		runtime.KeepAlive(op)
		perKey = float64(after-before) / float64(n)
		perRow = float64(elapsed.Nanoseconds()) / float64(rows)
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(perRow, "ns/row")
}

func benchJoinState(b *testing.B, n int64, strKey bool) {
	lt := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType()}
	rt := []types.Type{types.BigIntType(), types.BigIntType()}
	if strKey {
		lt[0], rt[0] = types.StringType(), types.StringType()
	}
	cfg := JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: lt, RightTypes: rt}
	batch := &changelog.Batch{}
	vals := make([]types.Value, 3*1024)
	const strLen = 12
	raw := float64(8 + 8 + strLen) // with a string key: strLen + 8 + strLen
	if strKey {
		raw = float64(strLen + 8 + strLen)
	}
	var perRow float64
	var ins, del [2]time.Duration // wall, CPU
	fill := func(i int64, kind changelog.Kind) int64 {
		batch.Reset()
		for j := 0; j < 1024 && i < n; j, i = j+1, i+1 {
			k := scatter(i, n)
			v := vals[3*j : 3*j+3 : 3*j+3]
			v[0] = types.IntValue(k)
			v[1] = types.IntValue(k ^ 0x5555)
			v[2] = types.StringValue(fmt.Sprintf("s-%010d", k))
			if strKey {
				v[0] = types.StringValue(fmt.Sprintf("k-%010d", k))
			}
			batch.Append(kind, v)
		}
		return i
	}
	timed := func(acc *[2]time.Duration, f func() error) {
		w, c := time.Now(), processCPU()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		acc[0] += time.Since(w)
		acc[1] += processCPU() - c
	}
	for b.Loop() {
		out := &discard{}
		before := heapInUse()
		left, _ := NewJoin(cfg, out)
		ins, del = [2]time.Duration{}, [2]time.Duration{}
		for i := int64(0); i < n; {
			i = fill(i, changelog.Insert)
			timed(&ins, func() error { return left.Push(batch) })
		}
		after := heapInUse()
		if out.rows != 0 {
			b.Fatalf("an inner join without right rows emitted %d rows", out.rows)
		}
		runtime.KeepAlive(left)
		perRow = float64(after-before) / float64(n)
		for i := int64(0); i < n; {
			i = fill(i, changelog.Delete)
			timed(&del, func() error { return left.Push(batch) })
		}
		if l, r := left.(*joinInput).j.StateRows(); l != 0 || r != 0 {
			b.Fatalf("%d/%d rows in state after every row was retracted", l, r)
		}
	}
	b.ReportMetric(perRow, "B/row")
	b.ReportMetric(perRow/raw, "x-raw")
	b.ReportMetric(float64(ins[0].Nanoseconds())/float64(n), "ns/insert")
	b.ReportMetric(float64(ins[1].Nanoseconds())/float64(n), "cpu-ns/insert")
	b.ReportMetric(float64(del[0].Nanoseconds())/float64(n), "ns/retract")
	b.ReportMetric(float64(del[1].Nanoseconds())/float64(n), "cpu-ns/retract")
}
