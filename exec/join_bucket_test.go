package exec

import (
	"fmt"
	"hash/maphash"
	"testing"
	"unsafe"
)

// bucketCap is the bytes the chunks of bb hold room for.
func bucketCap(bb *bigBucket) int {
	n := 0
	for _, c := range bb.chunks {
		n += cap(c)
	}
	return n
}

// TestBigBucketSlack: a key that outgrows its record (9 rows) and keeps a few dozen rows more — most keys of
// a join that hold many rows (Nexmark q9/q20's bids per auction) — wastes little room in its chunks. The
// chunk chain before (a new chunk half again as large as the last whenever it is full) left 40-50 % empty
// at 10-16 rows.
func TestBigBucketSlack(t *testing.T) {
	st := newJoinStore(false, false, maphash.MakeSeed())
	for _, flat := range []bool{true, false} {
		row := make([]byte, 97)
		entry := st.appendEntry(nil, 1, 0, 0, row)
		bb := newBigBucket(9*len(entry), flat)
		worst, sum, n := 0.0, 0.0, 0
		for i := range 2000 {
			row[0], row[1] = byte(i), byte(i>>8) // distinct rows for the index
			if err := bb.add(uint32(st.hash(row)), st.appendEntry(nil, 1, 0, 0, row), nil); err != nil {
				t.Fatal(err)
			}
			if i < 8 {
				continue
			}
			slack := float64(bucketCap(bb)-bb.size) / float64(bb.size)
			worst = max(worst, slack)
			sum += slack
			n++
			if i < 200 && slack > 0.45 {
				t.Fatalf("flat=%t: %d rows of %d bytes in chunks of %d bytes (slack %.0f %%)", flat, i+1, len(entry), bucketCap(bb), 100*slack)
			}
		}
		if avg := sum / float64(n); avg > 0.2 {
			t.Errorf("flat=%t: average slack %.0f %% (worst %.0f %%)", flat, 100*avg, 100*worst)
		}
	}
}

// TestBigBucketGrowKeepsRows: growing a chunk (a copy) keeps every entry where its ref says (the index
// finds each row), and leaves the old array as it was, so that a string decoded from it before (an
// emitted row's) does not change.
func TestBigBucketGrowKeepsRows(t *testing.T) {
	st := newJoinStore(false, false, maphash.MakeSeed())
	bb := newBigBucket(64, false)
	body := func(i int) []byte { return fmt.Appendf(nil, "row-%05d-%s", i, "padding padding padding") }
	add := func(i int) {
		b := body(i)
		if err := bb.add(uint32(st.hash(b)), st.appendEntry(nil, 1, 0, 0, b), nil); err != nil {
			t.Fatal(err)
		}
	}
	add(0)
	b, off := bb.entry(0)
	x := st.parseEntry(b, off)
	first := unsafe.String(&b[x.body], x.end-x.body) // as decodeRow references a stored string
	firstChunk := &bb.chunks[0][:1][0]
	const rows = 5000
	for i := 1; i < rows; i++ {
		add(i)
	}
	if &bb.chunks[0][:1][0] == firstChunk {
		t.Fatal("the first chunk never grew: the test does not test growth")
	}
	if first != string(body(0)) {
		t.Fatalf("a string of the old chunk changed to %q", first)
	}
	if bb.rows != rows || len(bb.chunks) < 2 {
		t.Fatalf("%d rows in %d chunks", bb.rows, len(bb.chunks))
	}
	for c, ch := range bb.chunks {
		if len(ch) > bbChunkMax || cap(ch) > bbChunkMax {
			t.Fatalf("chunk %d: len %d, cap %d, above %d", c, len(ch), cap(ch), bbChunkMax)
		}
	}
	for i := range rows {
		want := body(i)
		ref := bb.find(uint32(st.hash(want)), func(ref int) bool {
			b, off := bb.entry(ref)
			x := st.parseEntry(b, off)
			return string(b[x.body:x.end]) == string(want)
		})
		if ref < 0 {
			t.Fatalf("row %d not found", i)
		}
	}
	// Iteration yields every row, in arrival order.
	r := jsRecord{tag: st.newBig(bb)}
	i := 0
	for it := st.iter(&r); it.next(); i++ {
		if string(it.row()) != string(body(i)) {
			t.Fatalf("row %d is %q", i, it.row())
		}
	}
	if i != rows {
		t.Fatalf("iterated %d rows, want %d", i, rows)
	}
}
