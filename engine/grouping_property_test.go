package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
)

// TestGroupingSetsProperty compares GROUP BY GROUPING SETS / ROLLUP / CUBE over random small tables (few
// distinct values, NULLs in the grouped columns) with a brute-force evaluation in Go, set by set, in batch
// mode and in streaming mode (the materialized changelog). Half of the inputs are an updating aggregate, so
// that the streaming aggregate retracts through the Expand.
func TestGroupingSetsProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type row [4]*int64 // a, b, c, v; nil is NULL
	cols := []string{"a", "b", "c"}
	lit := func(p *int64) string {
		if p == nil {
			return "CAST(NULL AS BIGINT)"
		}
		return fmt.Sprint(*p)
	}
	str := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	for iter := 0; iter < 40; iter++ {
		rows := make([]row, 1+rng.Intn(10))
		for i := range rows {
			for j := range rows[i] {
				if v := rng.Intn(4); v > 0 || j == 3 && rng.Intn(3) > 0 {
					x := int64(v)
					rows[i][j] = &x
				}
			}
		}
		var parts []string
		for _, r := range rows {
			parts = append(parts, "("+lit(r[0])+", "+lit(r[1])+", "+lit(r[2])+", "+lit(r[3])+")")
		}
		input := "(VALUES " + strings.Join(parts, ", ") + ") AS t(a, b, c, v)"
		updating := iter%2 == 1
		if updating {
			// One row per (a, b, c) with v the group's row count: an updating input.
			input = "(SELECT a, b, c, COUNT(*) AS v FROM " + input + " GROUP BY a, b, c) AS u"
			counts := map[string]*row{}
			var keys []string
			for _, r := range rows {
				k := str(r[0]) + "," + str(r[1]) + "," + str(r[2])
				if counts[k] == nil {
					nr := row{r[0], r[1], r[2], new(int64)}
					counts[k] = &nr
					keys = append(keys, k)
				}
				*counts[k][3]++
			}
			rows = rows[:0]
			for _, k := range keys {
				rows = append(rows, *counts[k])
			}
		}
		// The grouping sets, as bit masks over a, b, c (bit i: column i grouped), and their SQL.
		var sets []int
		var groupBy string
		switch iter % 4 {
		case 0:
			seen := map[int]bool{}
			var texts []string
			for n := 1 + rng.Intn(4); len(sets) < n; {
				m := rng.Intn(8)
				if seen[m] {
					continue
				}
				seen[m] = true
				sets = append(sets, m)
				var cs []string
				for i, c := range cols {
					if m&(1<<i) != 0 {
						cs = append(cs, c)
					}
				}
				texts = append(texts, "("+strings.Join(cs, ", ")+")")
			}
			union := 0
			for _, m := range sets {
				union |= m
			}
			if union != 7 { // every column is grouped somewhere, so that the query may select it
				sets = append(sets, 7)
				texts = append(texts, "(c, a, b)")
			}
			groupBy = "GROUPING SETS (" + strings.Join(texts, ", ") + ")"
		case 1:
			groupBy, sets = "ROLLUP (a, b, c)", []int{7, 3, 1, 0}
		case 2:
			groupBy, sets = "CUBE (a, b, c)", []int{0, 1, 2, 3, 4, 5, 6, 7}
		case 3:
			groupBy, sets = "a, ROLLUP (b, c)", []int{7, 3, 1}
		}
		// Expected: per set, per group key, COUNT(*), SUM(v), MAX(v); a column outside the set is NULL
		// and GROUPING(a, b, c) tells the sets apart.
		type agg struct {
			n        int64
			sum, max *int64
		}
		want := map[string]*agg{}
		for _, m := range sets {
			for _, r := range rows {
				k := ""
				for i := range cols {
					if m&(1<<i) != 0 {
						k += str(r[i]) + ","
					} else {
						k += "null,"
					}
				}
				k += fmt.Sprintf("%d,", (^m&1)<<2|(^m>>1&1)<<1|(^m>>2&1))
				a := want[k]
				if a == nil {
					a = &agg{}
					want[k] = a
				}
				a.n++
				if v := r[3]; v != nil {
					if a.sum == nil {
						a.sum, a.max = new(int64), new(int64)
						*a.max = *v
					}
					*a.sum += *v
					*a.max = max(*a.max, *v)
				}
			}
		}
		var wantRows []string
		for k, a := range want {
			wantRows = append(wantRows, k+fmt.Sprintf("%d,", a.n)+str(a.sum)+","+str(a.max)+",")
		}
		sort.Strings(wantRows)
		q := "SELECT a, b, c, GROUPING(a, b, c), COUNT(*), SUM(v), MAX(v) FROM " + input + " GROUP BY " + groupBy
		for _, mode := range []string{ModeBatch, ModeStreaming} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			got, _, err := queryRows(ctx, s, q, mode)
			cancel()
			if err != nil {
				t.Fatalf("%s: %s: %v", mode, q, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range got {
				if err := m.Apply(r); err != nil {
					t.Fatalf("%s: %s: materialize: %v", mode, q, err)
				}
			}
			var gotRows []string
			for _, vals := range m.Rows() {
				gotRows = append(gotRows, valKey(vals))
			}
			sort.Strings(gotRows)
			if strings.Join(gotRows, " ") != strings.Join(wantRows, " ") {
				t.Fatalf("%s: %s\ngot  %v\nwant %v", mode, q, gotRows, wantRows)
			}
		}
	}
}

// TestWindowGroupingSetsProperty: GROUP BY window_start, window_end, GROUPING SETS over a TUMBLE window of
// random rows, against a brute-force evaluation. Batch mode (VALUES has no watermark for streaming; the
// engine goldens compare both modes on a Kafka table).
func TestWindowGroupingSetsProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type row struct{ min, a, b, v int64 } // event minute, keys (0: NULL), value
	for iter := 0; iter < 20; iter++ {
		rows := make([]row, 1+rng.Intn(12))
		var parts []string
		key := func(x int64) string {
			if x == 0 {
				return "CAST(NULL AS INT)"
			}
			return fmt.Sprint(x)
		}
		for i := range rows {
			r := row{int64(rng.Intn(30)), int64(rng.Intn(3)), int64(rng.Intn(3)), int64(rng.Intn(10))}
			rows[i] = r
			parts = append(parts, fmt.Sprintf("(TIMESTAMP '2020-01-01 00:00:00' + INTERVAL '%d' MINUTE, %s, %s, %d)", r.min, key(r.a), key(r.b), r.v))
		}
		sets := [][2]bool{{true, true}, {true, false}, {false, true}, {false, false}}
		rng.Shuffle(len(sets), func(i, j int) { sets[i], sets[j] = sets[j], sets[i] })
		sets = sets[:1+rng.Intn(4)]
		if !slices.ContainsFunc(sets, func(st [2]bool) bool { return st[0] }) || !slices.ContainsFunc(sets, func(st [2]bool) bool { return st[1] }) {
			if !slices.Contains(sets, [2]bool{true, true}) {
				sets = append(sets, [2]bool{true, true}) // a and b are grouped somewhere, so the query may select them
			}
		}
		var texts []string
		for _, st := range sets {
			var cs []string
			if st[0] {
				cs = append(cs, "a")
			}
			if st[1] {
				cs = append(cs, "b")
			}
			texts = append(texts, "("+strings.Join(cs, ", ")+")")
		}
		view := fmt.Sprintf("w%d", iter)
		execAll(context.Background(), t, s, "CREATE VIEW "+view+"(ts, a, b, v) AS VALUES "+strings.Join(parts, ", ")+";")
		q := "SELECT window_start, a, b, GROUPING(a, b), COUNT(*), SUM(v) FROM TABLE(TUMBLE(TABLE " + view +
			", DESCRIPTOR(ts), INTERVAL '10' MINUTE)) GROUP BY window_start, window_end, GROUPING SETS (" + strings.Join(texts, ", ") + ")"
		want := map[string][2]int64{}
		for _, st := range sets {
			for _, r := range rows {
				k := fmt.Sprintf("%d,", r.min/10)
				g := int64(0)
				for i, on := range st {
					x := []int64{r.a, r.b}[i]
					switch {
					case !on:
						k += "null,"
						g |= 1 << (1 - i)
					case x == 0:
						k += "null,"
					default:
						k += fmt.Sprintf("%d,", x)
					}
				}
				k += fmt.Sprintf("%d,", g)
				w := want[k]
				want[k] = [2]int64{w[0] + 1, w[1] + r.v}
			}
		}
		var wantRows []string
		for k, w := range want {
			wantRows = append(wantRows, k+fmt.Sprintf("%d,%d,", w[0], w[1]))
		}
		sort.Strings(wantRows)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		got, _, err := queryRows(ctx, s, q, ModeBatch)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var gotRows []string
		for _, r := range got {
			// window_start as its 10-minute index.
			k := fmt.Sprintf("%d,", (r.Vals[0].Millis()-1577836800000)/600000) + valKey(r.Vals[1:])
			gotRows = append(gotRows, k)
		}
		sort.Strings(gotRows)
		if strings.Join(gotRows, " ") != strings.Join(wantRows, " ") {
			t.Fatalf("%s\ngot  %v\nwant %v", q, gotRows, wantRows)
		}
	}
}
