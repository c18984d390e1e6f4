package exec

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// normalizeKeyTypes is a row (DOUBLE, BIGINT) keyed by its BIGINT column: the key column's type is not the
// first column's.
var normalizeKeyTypes = []types.Type{types.DoubleType(), types.BigIntType()}

func normalizeKeyRow(k int64) []types.Value {
	return []types.Value{types.FloatValue(0.5), types.IntValue(k)}
}

// TestNormalizeKeyEncodedWithItsColumnType: two BIGINT upsert keys that one float64 cannot tell apart stay two
// keys (the key was encoded with the type of column 0, DOUBLE, before: 2^53 and 2^53+1 were one key).
func TestNormalizeKeyEncodedWithItsColumnType(t *testing.T) {
	rec := &recorder{}
	n := NewNormalize(NormalizeConfig{Keys: []int{1}, Types: normalizeKeyTypes}, rec)
	b := &changelog.Batch{}
	b.Append(changelog.Insert, normalizeKeyRow(1<<53))
	b.Append(changelog.Insert, normalizeKeyRow(1<<53+1))
	if err := n.Push(b); err != nil {
		t.Fatal(err)
	}
	if len(rec.rows) != 2 || rec.rows[0].Kind != changelog.Insert || rec.rows[1].Kind != changelog.Insert {
		t.Fatalf("two distinct keys gave:\n%s", rec.b.String())
	}
}

// TestNormalizeRestoresLegacyKeys: a checkpoint whose entries carry the older key encoding restores, into one
// instance and into parallel subtasks (re-keyed before routing), and a delete of such a key finds its row.
func TestNormalizeRestoresLegacyKeys(t *testing.T) {
	cfg := NormalizeConfig{Keys: []int{1}, Types: normalizeKeyTypes}
	keys := []int64{7, -3, 1 << 40, 12345}
	legacy := state.NewMemory()
	n0 := NewNormalize(cfg, &recorder{}).(*normalize)
	if err := legacy.Put(nsMeta, nil, appendMeta(nil, n0.signature())); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		row := normalizeKeyRow(k)
		old := appendGroupKey(nil, row, cfg.Keys, cfg.Types) // the older encoding: key i with column i's type
		if string(old) == string(appendGroupKey(nil, row, cfg.Keys, n0.kts)) {
			t.Fatalf("key %d: the two encodings are equal, the test checks nothing", k)
		}
		v := binary.AppendVarint([]byte{stateVersion}, 0)
		if err := legacy.Put(0, old, appendRowBinary(v, row)); err != nil {
			t.Fatal(err)
		}
	}
	deletes := func(outs []changelog.Output, owner func(key []byte) int) string {
		rec := &recorder{}
		for _, k := range keys {
			row := normalizeKeyRow(k)
			i := owner(appendGroupKey(nil, row, cfg.Keys, n0.kts))
			b := &changelog.Batch{}
			b.Append(changelog.Delete, row)
			outs[i].(*normalize).out = rec
			if err := outs[i].Push(b); err != nil {
				t.Fatal(err)
			}
		}
		return rec.b.String()
	}
	// One instance.
	one := NewNormalize(cfg, &recorder{})
	if err := StateOf(one).RestoreState(legacy.Reader()); err != nil {
		t.Fatal(err)
	}
	if got := deletes([]changelog.Output{one}, func([]byte) int { return 0 }); strings.Count(got, "-D") != len(keys) {
		t.Fatalf("one instance: deletes of restored keys gave:\n%s", got)
	}
	// Three subtasks owning key groups.
	const maxPar = 128
	subs := make([]changelog.Output, 3)
	for i := range subs {
		subs[i] = NewNormalize(cfg, &recorder{})
	}
	owner := func(key []byte) int { return Subtask(state.KeyGroup(key, maxPar), maxPar, len(subs)) }
	if err := restoreSubtasks(subs, owner, legacy.Reader()); err != nil {
		t.Fatal(err)
	}
	if got := deletes(subs, owner); strings.Count(got, "-D") != len(keys) {
		t.Fatalf("three subtasks: deletes of restored keys gave:\n%s", got)
	}
}
