package exec

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestRankCompactKeySnapshot: a Rank over integer partition columns keeps compact keys in memory but
// snapshots the grouping form (appendGroupKey), so a restored operator snapshots the same bytes and goes on
// with the same partitions (NULL, negative and large keys included).
func TestRankCompactKeySnapshot(t *testing.T) {
	ts := []types.Type{types.BigIntType(), types.IntType(), types.BigIntType()}
	cfg := RankConfig{Partition: []int{0, 1}, Order: []SortKey{{Col: 2}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true}
	rec := &recorder{}
	op := NewRank(cfg, rec)
	if !op.(*rankOp).compactKey {
		t.Fatal("integer partition columns should use compact keys")
	}
	in := "+I[1, 2, 10]\n+I[-5, NULL, 3]\n+I[NULL, NULL, 4]\n+I[9223372036854775807, -2147483648, 1]\n+I[1, 2, 5]"
	if err := feed(t, op, in, ts, false, false); err != nil {
		t.Fatal(err)
	}
	snap := func(op changelog.Output) *state.Memory {
		m := state.NewMemory()
		if err := StateOf(op).SnapshotState(m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1 := snap(op)
	keys := 0
	for r := m1.Reader(); ; {
		ns, key, value, ok, err := r.Next()
		if err != nil || !ok {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if ns != 0 {
			continue
		}
		keys++
		d, _ := newStateDec(value)
		d.varint()
		d.count()
		d.uvarint()
		vals := d.row()
		if want := appendGroupKey(nil, vals, cfg.Partition, partTypes(cfg)); !bytes.Equal(key, want) {
			t.Fatalf("snapshot key %x, want the grouping form %x", key, want)
		}
	}
	if keys != 4 {
		t.Fatalf("%d partitions in the snapshot, want 4", keys)
	}
	rec2 := &recorder{}
	op2 := NewRank(cfg, rec2)
	if err := StateOf(op2).RestoreState(m1.Reader()); err != nil {
		t.Fatal(err)
	}
	if a, b := snapshotText(t, m1), snapshotText(t, snap(op2)); a != b {
		t.Fatalf("restored snapshot differs:\n%s\nvs\n%s", a, b)
	}
	if err := feed(t, op2, "+I[1, 2, 1]\n+I[-5, NULL, 9]\n+I[NULL, NULL, 2]", ts, false, false); err != nil {
		t.Fatal(err)
	}
	if got, want := rec2.b.String(), "-D[1, 2, 5, 1]\n+I[1, 2, 1, 1]\n-D[NULL, NULL, 4, 1]\n+I[NULL, NULL, 2, 1]\n"; got != want {
		t.Fatalf("after restore: got\n%swant\n%s", got, want)
	}
}

// snapshotText prints a snapshot's entries in hex, sorted (slot order is not part of the format).
func snapshotText(t *testing.T, m *state.Memory) string {
	var lines []string
	for r := m.Reader(); ; {
		var b bytes.Buffer
		ns, key, value, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			slices.Sort(lines)
			return strings.Join(lines, "\n")
		}
		b.WriteString(string(rune('0' + ns)))
		fmt.Fprintf(&b, "%x", key)
		b.WriteByte('=')
		fmt.Fprintf(&b, "%x", value)
		lines = append(lines, b.String())
	}
}

// TestRankCompactStringKeys: a Rank over a string and an integer partition column keeps compact keys
// (length-prefixed strings) and tells apart the partitions the grouping form tells apart — NULL and ”,
// prefixes of one another, NUL bytes, a string that looks like another column's start — and snapshots the
// grouping form, which restores.
func TestRankCompactStringKeys(t *testing.T) {
	ts := []types.Type{types.StringType(), types.BigIntType(), types.BigIntType()}
	cfg := RankConfig{Partition: []int{0, 1}, Order: []SortKey{{Col: 2}}, Limit: 1, RowNumber: true, Types: ts, InsertOnly: true}
	op := NewRank(cfg, &recorder{})
	if !op.(*rankOp).compactKey {
		t.Fatal("string and integer partition columns should use compact keys")
	}
	strs := []types.Value{types.NullValue, types.StringValue(""), types.StringValue("a"), types.StringValue("ab"),
		types.StringValue("a\x00"), types.StringValue("\x00"), types.StringValue("\x01\x02"), types.StringValue("ünï")}
	ints := []types.Value{types.NullValue, types.IntValue(0), types.IntValue(2), types.IntValue(-300)}
	var rows []changelog.Row
	for _, s := range strs {
		for _, i := range ints {
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{s, i, types.IntValue(int64(len(rows)))}})
		}
	}
	if err := op.Push(&changelog.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	if n, want := op.(*rankOp).st.st.keys, len(strs)*len(ints); n != want {
		t.Fatalf("%d partitions, want %d", n, want)
	}
	m := state.NewMemory()
	if err := StateOf(op).SnapshotState(m); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	op2 := NewRank(cfg, rec)
	if err := StateOf(op2).RestoreState(m.Reader()); err != nil {
		t.Fatal(err)
	}
	m2 := state.NewMemory()
	if err := StateOf(op2).SnapshotState(m2); err != nil {
		t.Fatal(err)
	}
	if a, b := snapshotText(t, m), snapshotText(t, m2); a != b {
		t.Fatalf("restored snapshot differs:\n%s\nvs\n%s", a, b)
	}
	// a smaller sort key replaces every partition's top row: each partition is found again
	for i := range rows {
		rows[i].Vals[2] = types.IntValue(-1 - int64(i))
	}
	if err := op2.Push(&changelog.Batch{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(rec.b.String(), "-D["); got != len(rows) {
		t.Fatalf("%d rows replaced after restore, want %d:\n%s", got, len(rows), rec.b.String())
	}
	if n := op2.(*rankOp).st.st.keys; n != len(rows) {
		t.Fatalf("%d partitions after restore, want %d", n, len(rows))
	}
}
