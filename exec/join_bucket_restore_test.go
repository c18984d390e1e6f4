package exec

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/state"
	"github.com/sluicesql/sluice/types"
)

// joinBucketFixture is a snapshot of a regular join (bids by auction: most keys hold more rows than a key
// record, so they are in bigBuckets) written by the join before its big buckets grew their last chunk
// (commit 8dee55b). The state format did not change; this checks that such a snapshot restores, joins the
// rows that arrive after it, and snapshots again to the same entries.
var joinBucketFixture = filepath.Join("testdata", "join-savepoint", "bigbucket_8dee55b.hex")

func joinBucketCfg() JoinConfig {
	bid := []types.Type{types.BigIntType(), types.BigIntType(), types.StringType(), types.TimestampType(3)}
	auction := []types.Type{types.BigIntType(), types.StringType()}
	return JoinConfig{Type: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0}, LeftTypes: bid, RightTypes: auction,
		LeftInsertOnly: true, RightInsertOnly: true}
}

// joinBucketBids are the bids of the fixture: auction a (0..39) gets a*3 bids (0 to 117), some with a NULL
// url or auction.
func joinBucketBids() []changelog.Row {
	var rows []changelog.Row
	for a := range 40 {
		for i := range a * 3 {
			url := types.StringValue(fmt.Sprintf("https://www.nexmark.com/%d/item.htm?query=%d&%s", a, i, strings.Repeat("x", i%8)))
			if i%7 == 3 {
				url = types.NullValue
			}
			auction := types.IntValue(int64(1000 + a))
			if a == 5 && i%4 == 0 {
				auction = types.NullValue
			}
			rows = append(rows, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{auction, types.IntValue(int64(i * 100)), url,
				types.TimestampValue(int64(1_400_000_000_000+a*1000+i), 0)}})
		}
	}
	return rows
}

// sortedEntries lists a snapshot's entries as sorted hex lines: ns key value.
func sortedEntries(t *testing.T, r state.Reader) []string {
	var lines []string
	for {
		ns, k, v, ok, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		lines = append(lines, fmt.Sprintf("%d %s %s", ns, hex.EncodeToString(k), hex.EncodeToString(v)))
	}
	sort.Strings(lines)
	return lines
}

func TestJoinBucketSnapshotRestoresOld(t *testing.T) {
	if os.Getenv("SLUICE_WRITE_JOIN_FIXTURE") != "" {
		// Run on the old code only (the fixture's point is that the old join wrote it).
		left, _ := NewJoin(joinBucketCfg(), &recorder{})
		if err := left.Push(&changelog.Batch{Rows: joinBucketBids()}); err != nil {
			t.Fatal(err)
		}
		mem := state.NewMemory()
		if err := left.(*joinInput).j.SnapshotState(mem); err != nil {
			t.Fatal(err)
		}
		lines := sortedEntries(t, mem.Reader())
		if err := os.WriteFile(joinBucketFixture, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	mem, want := loadJoinFixture(t, joinBucketFixture)
	if len(want) < 30 {
		t.Fatalf("the fixture holds %d entries", len(want))
	}

	out := &recorder{}
	left, right := NewJoin(joinBucketCfg(), out)
	j := left.(*joinInput).j
	if err := j.RestoreState(mem.Reader()); err != nil {
		t.Fatal(err)
	}
	if l, r := j.StateRows(); l != len(joinBucketBids()) || r != 0 {
		t.Fatalf("restored %d bids and %d auctions, want %d and 0", l, r, len(joinBucketBids()))
	}
	bigs := 0
	for i := range j.sides[0].st.bigs {
		if j.sides[0].st.bigs[i].rows > 0 {
			bigs++
		}
	}
	if bigs < 30 {
		t.Fatalf("%d keys in big buckets: the fixture does not exercise them", bigs)
	}
	// More bids after the restore grow the restored buckets.
	more := joinBucketBids()
	if err := left.Push(&changelog.Batch{Rows: more}); err != nil {
		t.Fatal(err)
	}
	// Each auction joins its bids: those restored and those pushed since.
	var auctions []changelog.Row
	for a := range 40 {
		auctions = append(auctions, changelog.Row{Kind: changelog.Insert, Vals: []types.Value{types.IntValue(int64(1000 + a)), types.StringValue(fmt.Sprintf("item-%d", a))}})
	}
	if err := right.Push(&changelog.Batch{Rows: auctions}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range out.rows {
		got[formatRow(r)]++
	}
	wantOut := map[string]int{}
	for _, b := range joinBucketBids() {
		if b.Vals[0].IsNull() {
			continue
		}
		a := b.Vals[0].I - 1000
		row := changelog.Row{Kind: changelog.Insert, Vals: append(append([]types.Value(nil), b.Vals...), auctions[a].Vals...)}
		wantOut[formatRow(row)] += 2 // restored and pushed again
	}
	if len(got) != len(wantOut) {
		t.Fatalf("%d distinct joined rows, want %d", len(got), len(wantOut))
	}
	for r, n := range wantOut {
		if got[r] != n {
			t.Fatalf("joined row %s: %d times, want %d", r, got[r], n)
		}
	}

	// A join restored from the fixture snapshots to the same entries.
	left2, _ := NewJoin(joinBucketCfg(), &recorder{})
	j2 := left2.(*joinInput).j
	if err := j2.RestoreState(mem.Reader()); err != nil {
		t.Fatal(err)
	}
	again := state.NewMemory()
	if err := j2.SnapshotState(again); err != nil {
		t.Fatal(err)
	}
	if gotLines := sortedEntries(t, again.Reader()); strings.Join(gotLines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the restored join snapshots to other entries (%d, want %d)", len(gotLines), len(want))
	}
}

// loadJoinFixture reads a fixture of sortedEntries lines into a snapshot and returns it and the lines.
func loadJoinFixture(t *testing.T, path string) (*state.Memory, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem := state.NewMemory()
	var want []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
		var ns uint8
		var ks, vs string
		if _, err := fmt.Sscanf(sc.Text()+" ", "%d %s %s", &ns, &ks, &vs); err != nil {
			// An empty key prints as nothing: "ns  value".
			parts := strings.Split(sc.Text(), " ")
			if len(parts) != 3 {
				t.Fatalf("fixture line %q: %v", sc.Text(), err)
			}
			fmt.Sscanf(parts[0], "%d", &ns)
			ks, vs = parts[1], parts[2]
		}
		k, err1 := hex.DecodeString(ks)
		v, err2 := hex.DecodeString(vs)
		if err1 != nil || err2 != nil {
			t.Fatalf("fixture line %q", sc.Text())
		}
		if len(k) == 0 {
			k = nil
		}
		if err := mem.Put(ns, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return mem, want
}
