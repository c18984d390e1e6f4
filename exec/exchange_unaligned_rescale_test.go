package exec

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestUnalignedRescaleRefusesWatermarks: channel state holding a watermark (the subtasks took their barriers
// after different watermarks) restores at the parallelism it was taken at and is refused at another one,
// naming the parallelism to restore at; channel state of rows only is not refused for that.
func TestUnalignedRescaleRefusesWatermarks(t *testing.T) {
	chans := func(withWatermark bool) []stateEntry {
		hdr := []byte{stateVersion, 2, 1, 1} // 2 keyed subtasks, 1 side fed by 1 sender
		item := []byte{stateVersion, byte(xRows), 0, 0}
		item = binary.AppendUvarint(item, 0) // a rows item without rows
		if withWatermark {
			item = append(item, byte(xWatermark), 0, 0)
			item = binary.AppendVarint(item, 1_000)
		}
		return []stateEntry{
			{ns: nsChannel, key: []byte{0}, value: hdr},
			{ns: nsChannel, key: []byte{1, 1}, value: item},
		}
	}
	exchange := func(n int) *Exchange {
		x := &Exchange{sides: []ExchangeSide{{Senders: 1}}}
		for k := range n {
			x.subs = append(x.subs, &xSub{idx: k})
		}
		return x
	}
	if err := exchange(2).restoreChannels(chans(true), nil); err != nil {
		t.Fatalf("same parallelism: %v", err)
	}
	err := exchange(3).restoreChannels(chans(true), nil)
	if err == nil || !strings.Contains(err.Error(), "restores only at that parallelism (here 3): restore it at 2") {
		t.Fatalf("rescaled with a watermark in flight: %v", err)
	}
	if err := exchange(3).restoreChannels(chans(false), nil); err != nil {
		t.Fatalf("rescaled, rows only: %v", err)
	}
}
