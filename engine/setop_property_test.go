package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/types"
)

// TestSetOpProperty compares INTERSECT, EXCEPT and their ALL forms over random small tables (few distinct
// values, NULLs) with a brute-force evaluation of the multisets in Go, in batch mode and in streaming mode
// (the materialized changelog). The right side is sometimes an updating aggregate, so that the streaming
// set operation retracts.
func TestSetOpProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type row [2]*int64 // nil is NULL
	gen := func() []row {
		rows := make([]row, 1+rng.Intn(8))
		for i := range rows {
			for j := 0; j < 2; j++ {
				if v := rng.Intn(4); v > 0 {
					x := int64(v)
					rows[i][j] = &x
				}
			}
		}
		return rows
	}
	lit := func(p *int64) string {
		if p == nil {
			return "CAST(NULL AS BIGINT)"
		}
		return fmt.Sprint(*p)
	}
	key := func(r row) string {
		s := ""
		for _, p := range r {
			if p == nil {
				s += "null,"
			} else {
				s += fmt.Sprintf("%d,", *p)
			}
		}
		return s
	}
	values := func(rows []row) string {
		var parts []string
		for _, r := range rows {
			parts = append(parts, "("+lit(r[0])+", "+lit(r[1])+")")
		}
		return "(VALUES " + strings.Join(parts, ", ") + ")"
	}
	for iter := 0; iter < 40; iter++ {
		l, r := gen(), gen()
		op := []string{"INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"}[iter%4]
		updating := iter%8 >= 4
		right := "SELECT a, b FROM " + values(r) + " AS r(a, b)"
		rcount := map[string]int{}
		if updating {
			// SELECT a, MAX(b) ... GROUP BY a: one row per a.
			right = "SELECT a, MAX(b) FROM " + values(r) + " AS r(a, b) GROUP BY a"
			max := map[string]row{}
			for _, x := range r {
				k := key(row{x[0], nil})
				m, ok := max[k]
				if !ok {
					m = row{x[0], nil}
				}
				if x[1] != nil && (m[1] == nil || *x[1] > *m[1]) {
					m[1] = x[1]
				}
				max[k] = m
			}
			for _, m := range max {
				rcount[key(m)]++
			}
		} else {
			for _, x := range r {
				rcount[key(x)]++
			}
		}
		lcount := map[string]int{}
		for _, x := range l {
			lcount[key(x)]++
		}
		var want []string
		for k, cl := range lcount {
			cr := rcount[k]
			n := 0
			switch op {
			case "INTERSECT":
				if cr > 0 {
					n = 1
				}
			case "EXCEPT":
				if cr == 0 {
					n = 1
				}
			case "INTERSECT ALL":
				n = min(cl, cr)
			case "EXCEPT ALL":
				n = max(cl-cr, 0)
			}
			for i := 0; i < n; i++ {
				want = append(want, k)
			}
		}
		sort.Strings(want)
		q := "SELECT a, b FROM " + values(l) + " AS l(a, b) " + op + " " + right
		for _, mode := range []string{ModeBatch, ModeStreaming} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			rows, _, err := queryRows(ctx, s, q, mode)
			cancel()
			if err != nil {
				t.Fatalf("%s: %s: %v", mode, q, err)
			}
			m := changelog.NewMaterializer(nil)
			for _, row := range rows {
				if err := m.Apply(row); err != nil {
					t.Fatalf("%s: %s: materialize: %v", mode, q, err)
				}
			}
			var got []string
			for _, vals := range m.Rows() {
				got = append(got, valKey(vals))
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("%s: %s\ngot  %v\nwant %v", mode, q, got, want)
			}
		}
	}
}

func valKey(vals []types.Value) string {
	s := ""
	for _, v := range vals {
		if v.IsNull() {
			s += "null,"
		} else {
			s += fmt.Sprintf("%d,", v.I)
		}
	}
	return s
}
