package exec

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// TestWindowJoinLegacyLayout: a checkpoint of the layout by window end (namespaces 0 and 1) restores into a
// window join of one instance, rows in their order, and is refused by one behind an exchange (Keyed).
func TestWindowJoinLegacyLayout(t *testing.T) {
	ts := []types.Type{{Kind: types.BigInt}, {Kind: types.BigInt}}
	cfg := WindowJoinConfig{Type: InnerJoin, LeftKeys: []int{0, 1}, RightKeys: []int{0, 1}, LeftTypes: ts, RightTypes: ts, LeftEnd: 1, RightEnd: 1}
	legacy := func(j *windowJoin) *state.Memory {
		mem := state.NewMemory()
		meta := appendMeta(nil, j.signature())
		for range 5 { // watermarks, forwarded, fired, late
			meta = binary.AppendVarint(meta, minWatermark)
		}
		meta = appendBool(appendBool(meta, false), false)
		_ = mem.Put(nsMeta, nil, meta)
		for s := range 2 {
			v := appendRows([]byte{stateVersion}, [][]types.Value{{types.IntValue(int64(7 + s)), types.IntValue(1000)}, {types.IntValue(7), types.IntValue(1000)}})
			_ = mem.Put(uint8(s), binary.BigEndian.AppendUint64(nil, 1000), v)
		}
		return mem
	}
	var rec recorder
	l, r := NewWindowJoin(cfg, &rec)
	j := l.(*windowJoinInput).j
	if err := StateOf(l).RestoreState(legacy(j).Reader()); err != nil {
		t.Fatalf("one instance: %v", err)
	}
	if err := l.Watermark(2000); err != nil {
		t.Fatal(err)
	}
	if err := r.Watermark(2000); err != nil {
		t.Fatal(err)
	}
	if got, want := len(rec.rows), 2; got != want { // left 7 joins right 7, left 7 (second) joins right 7
		t.Fatalf("restored from the old layout: %d rows, want %d\n%s", got, want, rec.b.String())
	}
	cfg.Keyed = true
	k, _ := NewWindowJoin(cfg, &rec)
	if err := StateOf(k).RestoreState(legacy(k.(*windowJoinInput).j).Reader()); !errors.Is(err, errLegacyWindowJoin) {
		t.Fatalf("behind an exchange: %v, want the old layout refused", err)
	}
}
