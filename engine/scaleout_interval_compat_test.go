package engine

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/types"
)

// writeOldIntervalChangelog makes TestScaleOutIntervalRestoresOldChangelog write its golden changelog instead
// of restoring it. The golden was written by the build before interval joins wrote their changelog per join
// key and row time (one entry per join key and side, all its rows): written again by a later build it would
// no longer show that a changelog of that build restores.
var writeOldIntervalChangelog = flag.Bool("write-old-interval-changelog", false,
	"write testdata/scaleout_interval_changelog_v1.records from this build's changelog (only the build before per-time interval changelogs should)")

const oldIntervalChangelog = "testdata/scaleout_interval_changelog_v1.records"

// rowsText collects the rows a member's sink gets, as text.
type rowsText struct{ rows []string }

func (r *rowsText) Push(b *changelog.Batch) error {
	for _, row := range b.Rows {
		var sb strings.Builder
		sb.WriteString(row.Kind.String())
		for _, v := range row.Vals {
			if v.IsNull() {
				sb.WriteString(" null")
			} else {
				fmt.Fprintf(&sb, " %d", v.I)
			}
		}
		r.rows = append(r.rows, sb.String())
	}
	return nil
}
func (r *rowsText) Watermark(int64) error { return nil }
func (r *rowsText) End() error            { return nil }

// ivCompatMember is benchIntervalMember's member as a LEFT interval join (r.ts BETWEEN l.ts AND l.ts + 10 s)
// whose sink rows are collected and whose changelog records are appended to *recs.
func ivCompatMember(t *testing.T, recs *[]clEntry) (*member, *winPart, *rowsText) {
	m, _ := benchIntervalMember()
	m.plan.ivl.join.Type = exec.LeftJoin
	out := &rowsText{}
	m.sinkOut = out
	m.produce = func(r *kgo.Record) {
		if recs != nil {
			e := clEntry{part: r.Partition, key: slices.Clone(r.Key)}
			if r.Value != nil {
				e.value = slices.Clone(r.Value)
			}
			*recs = append(*recs, e)
		}
		m.delivered(r, nil)
	}
	wp, err := m.newWinPart()
	if err != nil {
		t.Fatal(err)
	}
	m.win.parts[0] = wp
	return m, wp, out
}

// ivCompatSteps are the transactions of the test: rows "side key sec" and watermarks "wm sec". Key 1 is hot
// (many rows of several times, some at one time), key 2 has rows matched and unmatched, key 3 rows that the
// watermark expires.
var ivCompatSteps = [][]string{
	{"0 1 0", "0 1 1", "0 1 1", "0 1 2", "1 1 3", "0 2 0", "0 3 0", "1 3 30", "wm 1"},
	{"0 1 4", "0 1 5", "0 1 5", "1 1 5", "0 2 6", "1 2 40", "wm 5"},
	{"0 1 20", "0 1 21", "1 1 22", "0 3 15", "wm 14"},
	// After the restore:
	{"1 1 12", "1 1 15", "1 2 16", "1 3 20", "0 2 30", "wm 20"},
	{"1 1 25", "1 1 31", "1 2 35", "0 3 40", "wm 60"},
}

// ivCompatRecords are the repartition records of a step.
func ivCompatRecords(m *member, step []string) []*kgo.Record {
	var recs []*kgo.Record
	for _, s := range step {
		var side, key, sec int64
		if n, _ := fmt.Sscanf(s, "wm %d", &sec); n == 1 {
			v := binary.AppendVarint(binary.AppendUvarint([]byte{scaleOutWatermark}, 0), sec*1000)
			recs = append(recs, &kgo.Record{Topic: "bench-join-repartition", Value: v, Headers: m.hdr})
			continue
		}
		fmt.Sscanf(s, "%d %d %d", &side, &key, &sec)
		row := []types.Value{types.IntValue(key), types.TimestampValue(sec*1000, 0)}
		val := types.AppendRowBinary([]byte{byte(side), byte(changelog.Insert)}, row, m.sideTypes[side])
		recs = append(recs, &kgo.Record{Topic: "bench-join-repartition", Value: val, Headers: m.hdr})
	}
	return recs
}

// restoreIntervalPart builds a member whose partition 0 restores the compacted records, as restoreWindow
// does.
func restoreIntervalPart(t *testing.T, es []clEntry) (*member, *winPart, *rowsText) {
	m, wp, out := ivCompatMember(t, nil)
	r := &entryReader{}
	for k, v := range compactEntries(es)[0] {
		if k[0] == nsSourceWatermark {
			if err := wp.restoreSourceEntry(k, []byte(v)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r.keys = append(r.keys, k)
		r.vals = append(r.vals, []byte(v))
	}
	r.sortMetaFirst()
	if err := wp.snap.RestoreState(r); err != nil {
		t.Fatal(err)
	}
	for k, v := range compactEntries(es)[0] {
		if k[0] != 0 {
			wp.last[k] = []byte(v)
		}
	}
	return m, wp, out
}

// TestScaleOutIntervalRestoresOldChangelog: a LEFT interval join's changelog written by the build before
// per-time interval changelogs (a golden of its records, made by this test's first phase on that build)
// restores in this build, as does this build's own: a member restored from either after three transactions
// (a hot key with rows at several times, matched and unmatched rows, rows the watermark expired) and fed two
// more gives the rows of a member that ran all five without a restore, and so does a second restore from the
// changelog the restored member went on writing (old entries replaced, none left behind twice).
func TestScaleOutIntervalRestoresOldChangelog(t *testing.T) {
	var mine []clEntry
	ref, refPart, refOut := ivCompatMember(t, &mine)
	run := func(m *member, wp *winPart, steps [][]string) {
		t.Helper()
		for _, st := range steps {
			if err := m.intervalJoin(0, wp, ivCompatRecords(m, st)); err != nil {
				t.Fatal(err)
			}
			if err := m.writeIntervalChangelog(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(ref, refPart, ivCompatSteps[:3])
	if *writeOldIntervalChangelog {
		writeChangelogGolden(t, oldIntervalChangelog, mine)
		t.Skipf("wrote %s (%d records)", oldIntervalChangelog, len(mine))
	}
	first := slices.Clone(mine) // this build's changelog after three transactions
	before := len(refOut.rows)
	run(ref, refPart, ivCompatSteps[3:])
	want := slices.Sorted(slices.Values(refOut.rows[before:]))
	if len(want) == 0 || !slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, "null") }) {
		t.Fatalf("the steps after the restore give %v: the test exercises too little", want)
	}
	for _, c := range []struct {
		name string
		recs []clEntry
	}{{"old build's changelog", readChangelogGolden(t, oldIntervalChangelog)}, {"this build's changelog", first}} {
		var cont []clEntry
		m, wp, out := restoreIntervalPart(t, c.recs)
		m.produce = func(r *kgo.Record) {
			e := clEntry{part: r.Partition, key: slices.Clone(r.Key)}
			if r.Value != nil {
				e.value = slices.Clone(r.Value)
			}
			cont = append(cont, e)
			m.delivered(r, nil)
		}
		run(m, wp, ivCompatSteps[3:4])
		// The changelog now holds the rows per join key and time (namespaces 3, 4) only: the old build's whole
		// entries (namespaces 1, 2) were rewritten and deleted at the first transaction.
		all := append(slices.Clone(c.recs), cont...)
		for k := range compactEntries(all)[0] {
			if k[0] == 1 || k[0] == 2 {
				t.Errorf("%s: after a transaction the changelog still holds the whole-key entry %x", c.name, k)
			}
		}
		// A second restore from the changelog the restored member wrote on top of the first one's.
		m2, wp2, out2 := restoreIntervalPart(t, all)
		run(m, wp, ivCompatSteps[4:])
		run(m2, wp2, ivCompatSteps[4:])
		got := slices.Sorted(slices.Values(out.rows))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: restored, then fed: %v\nwant %v", c.name, got, want)
		}
		// The rows of the last step alone, from the member that ran all steps, against the second restore's.
		ref2, ref2Part, ref2Out := ivCompatMember(t, nil)
		run(ref2, ref2Part, ivCompatSteps[:4])
		n := len(ref2Out.rows)
		run(ref2, ref2Part, ivCompatSteps[4:])
		wantLast := slices.Sorted(slices.Values(ref2Out.rows[n:]))
		if got2 := slices.Sorted(slices.Values(out2.rows)); fmt.Sprint(got2) != fmt.Sprint(wantLast) {
			t.Errorf("%s: restored twice, then fed: %v\nwant %v", c.name, got2, wantLast)
		}
	}
}

// TestScaleOutIntervalHotKeyWritesChangedRows: a transaction that brings 10 rows of a join key holding 2000
// and expires 10 writes about those 20 rows (one entry per time: 10 values, 10 tombstones, the meta and
// source watermark entries), not the key's 2000 rows (the whole-key entries before wrote ~20 KB).
func TestScaleOutIntervalHotKeyWritesChangedRows(t *testing.T) {
	m, _ := benchIntervalMember()
	var recs, bytes int
	m.produce = func(r *kgo.Record) {
		recs++
		bytes += len(r.Key) + len(r.Value)
		m.delivered(r, nil)
	}
	wp, err := m.newWinPart()
	if err != nil {
		t.Fatal(err)
	}
	m.win.parts[0] = wp
	if err := m.intervalJoin(0, wp, benchHotKeyRecords(m, 0, 2000, math.MinInt64)); err != nil {
		t.Fatal(err)
	}
	if err := m.writeIntervalChangelog(); err != nil {
		t.Fatal(err)
	}
	recs, bytes = 0, 0
	if err := m.intervalJoin(0, wp, benchHotKeyRecords(m, 2000, 10, 10_000+10)); err != nil {
		t.Fatal(err)
	}
	if err := m.writeIntervalChangelog(); err != nil {
		t.Fatal(err)
	}
	if recs != 23 || bytes > 1500 {
		t.Fatalf("the transaction wrote %d records, %d bytes; want 23 records (10 rows, 10 tombstones, meta, 2 source watermark entries), about 1 KB", recs, bytes)
	}
}
