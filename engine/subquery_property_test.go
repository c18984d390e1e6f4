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
)

// TestSubqueryProperty compares EXISTS, NOT EXISTS (correlated), IN, NOT IN, scalar subqueries (correlated
// and not) and joins on IS NOT DISTINCT FROM, mixed-type keys or no equality over random small tables with
// NULLs against a brute-force evaluation of SQL's three-valued logic in Go, in batch mode and in streaming
// mode (the materialized changelog). The subquery side is sometimes an updating aggregate.
func TestSubqueryProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gen := func(n int) []*int64 { // n random values in {NULL, 1..3}
		out := make([]*int64, n)
		for i := range out {
			if v := rng.Intn(4); v > 0 {
				x := int64(v)
				out[i] = &x
			}
		}
		return out
	}
	lit := func(p *int64) string {
		if p == nil {
			return "CAST(NULL AS BIGINT)"
		}
		return fmt.Sprint(*p)
	}
	for iter := 0; iter < 40; iter++ {
		nl := 1 + rng.Intn(6)
		lx := gen(nl)
		nr := rng.Intn(6) // may be empty
		ry, rz := gen(nr), gen(nr)
		var lrows, rrows []string
		for i, x := range lx {
			lrows = append(lrows, fmt.Sprintf("(%d, %s)", i, lit(x)))
		}
		for i := range ry {
			rrows = append(rrows, fmt.Sprintf("(%s, %s)", lit(ry[i]), lit(rz[i])))
		}
		left := "(VALUES " + strings.Join(lrows, ", ") + ") AS l(id, x)"
		// An empty VALUES is not SQL: filter a one-row VALUES instead.
		right := "(SELECT * FROM (VALUES (CAST(NULL AS BIGINT), CAST(NULL AS BIGINT))) AS e(y, z) WHERE y IS NOT NULL)"
		if nr > 0 {
			right = "(VALUES " + strings.Join(rrows, ", ") + ")"
		}
		updating := iter%2 == 1
		// The subquery rows (y, z): the raw rows, or (y, MIN(z)) per y (an updating aggregate).
		var subY, subZ []*int64
		sub := "SELECT y, z FROM " + right + " AS r(y, z)"
		if updating {
			sub = "SELECT y, MIN(z) AS z FROM " + right + " AS r(y, z) GROUP BY y"
			groups := map[string]int{}
			for i := range ry {
				k := lit(ry[i])
				g, ok := groups[k]
				if !ok {
					groups[k] = len(subY)
					subY, subZ = append(subY, ry[i]), append(subZ, rz[i])
					continue
				}
				if rz[i] != nil && (subZ[g] == nil || *rz[i] < *subZ[g]) {
					subZ[g] = rz[i]
				}
			}
		} else {
			subY, subZ = ry, rz
		}
		eq := func(a, b *int64) bool { return a != nil && b != nil && *a == *b }
		type check struct {
			q    string
			keep func(x *int64) bool
			want []string // when keep is nil
		}
		checks := []check{
			{q: "SELECT id FROM " + left + " WHERE EXISTS (SELECT 1 FROM (" + sub + ") s WHERE s.y = l.x AND s.z IS NOT NULL)", keep: func(x *int64) bool {
				for i := range subY {
					if eq(subY[i], x) && subZ[i] != nil {
						return true
					}
				}
				return false
			}},
			{q: "SELECT id FROM " + left + " WHERE NOT EXISTS (SELECT 1 FROM (" + sub + ") s WHERE s.y = l.x)", keep: func(x *int64) bool {
				for i := range subY {
					if eq(subY[i], x) {
						return false
					}
				}
				return true
			}},
			{q: "SELECT id FROM " + left + " WHERE x IN (SELECT z FROM (" + sub + ") s)", keep: func(x *int64) bool {
				for i := range subZ {
					if eq(subZ[i], x) {
						return true
					}
				}
				return false
			}},
			{q: "SELECT id FROM " + left + " WHERE x NOT IN (SELECT z FROM (" + sub + ") s)", keep: func(x *int64) bool {
				if len(subZ) == 0 {
					return true
				}
				if x == nil {
					return false
				}
				for i := range subZ {
					if subZ[i] == nil || *subZ[i] == *x {
						return false // FALSE, or UNKNOWN
					}
				}
				return true
			}},
			{q: "SELECT id FROM " + left + " WHERE x >= (SELECT MAX(z) FROM (" + sub + ") s WHERE s.y = l.x)", keep: func(x *int64) bool {
				var m *int64
				for i := range subY {
					if eq(subY[i], x) && subZ[i] != nil && (m == nil || *subZ[i] > *m) {
						m = subZ[i]
					}
				}
				return m != nil && x != nil && *x >= *m
			}},
			{q: "SELECT id FROM " + left + " WHERE (SELECT COUNT(z) FROM (" + sub + ") s WHERE s.y = l.x) = 1", keep: func(x *int64) bool {
				n := 0
				for i := range subY {
					if eq(subY[i], x) && subZ[i] != nil {
						n++
					}
				}
				return n == 1
			}},
			{q: "SELECT id FROM " + left + " WHERE x < (SELECT SUM(z) FROM (" + sub + ") s)", keep: func(x *int64) bool {
				var sum *int64
				for i := range subZ {
					if subZ[i] != nil {
						v := *subZ[i]
						if sum != nil {
							v += *sum
						}
						sum = &v
					}
				}
				return sum != nil && x != nil && *x < *sum
			}},
		}
		// Joins whose keys need computed columns or that have no equality (planner/join_keys.go): one row per
		// matching pair.
		type joinCheck struct {
			q     string
			match func(x, y, z *int64) bool
		}
		joins := []joinCheck{
			{"SELECT id FROM " + left + " JOIN (" + sub + ") s ON l.x IS NOT DISTINCT FROM s.z", func(x, y, z *int64) bool {
				return x == nil && z == nil || eq(x, z)
			}},
			{"SELECT id FROM " + left + " JOIN (" + sub + ") s ON l.x < s.z OR s.y IS NULL", func(x, y, z *int64) bool {
				return x != nil && z != nil && *x < *z || y == nil
			}},
			{"SELECT id FROM " + left + " JOIN (SELECT CAST(y AS DECIMAL(10, 2)) AS y, z FROM (" + sub + ")) s ON l.x = s.y", func(x, y, z *int64) bool {
				return eq(x, y)
			}},
		}
		for _, j := range joins {
			c := check{q: j.q}
			var want []string
			for i, x := range lx {
				for k := range subY {
					if j.match(x, subY[k], subZ[k]) {
						want = append(want, fmt.Sprintf("%d,", i))
					}
				}
			}
			checks = append(checks, check{q: c.q, want: want})
		}
		for _, c := range checks {
			want := c.want
			if c.keep != nil {
				for i, x := range lx {
					if c.keep(x) {
						want = append(want, fmt.Sprintf("%d,", i))
					}
				}
			}
			sort.Strings(want)
			for _, mode := range []string{ModeBatch, ModeStreaming} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				rows, _, err := queryRows(ctx, s, c.q, mode)
				cancel()
				if err != nil {
					t.Fatalf("%s: %s: %v", mode, c.q, err)
				}
				m := changelog.NewMaterializer(nil)
				for _, row := range rows {
					if err := m.Apply(row); err != nil {
						t.Fatalf("%s: %s: materialize: %v", mode, c.q, err)
					}
				}
				var got []string
				for _, vals := range m.Rows() {
					got = append(got, valKey(vals))
				}
				sort.Strings(got)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("%s: %s\ngot  %v\nwant %v", mode, c.q, got, want)
				}
			}
		}
	}
}
