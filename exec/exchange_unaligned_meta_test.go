package exec

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/state"
)

// TestUnalignedMetasRoundTrip: the operator-wide entries and union watermarks of the subtasks after the first,
// written with the channel state, are read back per subtask at the same parallelism (each subtask's own, in
// place of the first subtask's entry), per old subtask at another one, and a damaged entry is an error.
func TestUnalignedMetasRoundTrip(t *testing.T) {
	var w entryWriter
	hdr := []stateEntry{{ns: nsChannel, key: []byte{0}, value: []byte{stateVersion, 3, 1, 2}}}
	metas := [][]stateEntry{nil, {{ns: nsMeta, value: []byte("one")}}, {{ns: nsMeta, value: []byte("two")}, {ns: nsMeta, value: []byte("2b")}}}
	if err := writeMetas(metas, &w); err != nil {
		t.Fatal(err)
	}
	unions := [][][]int64{{{5, 7, 5}}, nil, {{-1 << 63, 9, -1 << 63}}}
	if err := writeUnions(unions, &w); err != nil {
		t.Fatal(err)
	}
	chans := append(hdr, w.es...)
	rest, got, gotU, old, err := readMetas(chans, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 1 || fmt.Sprint(gotU) != fmt.Sprint(unions) || old != nil {
		t.Fatalf("rest %v, unions %v; want the header and %v", rest, gotU, unions)
	}
	if got[0] != nil || string(got[1][0].value) != "one" || len(got[2]) != 2 || string(got[2][1].value) != "2b" {
		t.Fatalf("metas %v", got)
	}
	per := []stateEntry{{ns: 1, key: []byte{1}}, {ns: nsMeta, value: []byte("first")}, {ns: 1, key: []byte{2}}}
	if m := withMetas(per, got[2]); len(m) != 4 || string(m[1].value) != "two" || string(m[2].value) != "2b" || m[3].key[0] != 2 {
		t.Fatalf("withMetas: %v", m)
	}
	// restored at another parallelism: every subtask gets the first one's entry; the others' and the unions
	// come per old subtask (exchange_unaligned_rescale_floor.go)
	if _, got, gotU, old, err = readMetas(chans, 2); err != nil || got != nil || fmt.Sprint(gotU) != fmt.Sprint(unions) || len(old) != 3 || old[0] != nil || string(old[1][0].value) != "one" || string(old[2][1].value) != "2b" {
		t.Fatalf("at parallelism 2: %v, %v, %v, %v", got, gotU, old, err)
	}
	bad := append([]stateEntry(nil), chans...)
	bad[1] = stateEntry{ns: nsChannel, key: bad[1].key, value: bad[1].value[:len(bad[1].value)-1]}
	if _, _, _, _, err := readMetas(bad, 3); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("damaged entry: %v", err)
	}
	// the test hook writes none
	NoSubtaskMetas = true
	defer func() { NoSubtaskMetas = false }()
	var none entryWriter
	if err := writeMetas(metas, &none); err != nil || len(none.es) != 0 {
		t.Fatalf("hook: %v %v", none.es, err)
	}
}
