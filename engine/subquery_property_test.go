package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sort"
	"strconv"
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

// tv is a value of SQL's three-valued logic: -1 UNKNOWN (NULL), 0 FALSE, 1 TRUE.
type tv int8

func tvNot(a tv) tv {
	if a < 0 {
		return a
	}
	return 1 - a
}

func tvAnd(a, b tv) tv {
	switch {
	case a == 0 || b == 0:
		return 0
	case a < 0 || b < 0:
		return -1
	}
	return 1
}

func tvOr(a, b tv) tv { return tvNot(tvAnd(tvNot(a), tvNot(b))) }

// tvCmp compares two nullable integers with op.
func tvCmp(a *int64, op string, b *int64) tv {
	if a == nil || b == nil {
		return -1
	}
	var r bool
	switch op {
	case "=":
		r = *a == *b
	case "<":
		r = *a < *b
	case ">":
		r = *a > *b
	}
	if r {
		return 1
	}
	return 0
}

// TestSubqueryMarkerProperty compares random predicates built of EXISTS, IN, NOT IN (single and
// row-valued, uncorrelated, correlated by equalities and by other comparisons, with GROUP BY and HAVING)
// combined with OR, AND and NOT, in WHERE and (as 1 / 0 / -1 for TRUE / FALSE / NULL) in the SELECT list,
// over random small tables with NULLs, against a brute-force evaluation in SQL's three-valued logic, in
// batch mode and in streaming mode (the materialized changelog). SLUICE_SUBQUERY_SEED picks another seed.
func TestSubqueryMarkerProperty(t *testing.T) {
	seed := int64(11)
	if v := os.Getenv("SLUICE_SUBQUERY_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	rng := rand.New(rand.NewSource(seed))
	s, err := NewSession(Config{Stdout: io.Discard, Stderr: io.Discard, Notice: io.Discard, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gen := func() *int64 { // NULL or 1..3
		if v := rng.Intn(4); v > 0 {
			x := int64(v)
			return &x
		}
		return nil
	}
	lit := func(p *int64) string {
		if p == nil {
			return "CAST(NULL AS BIGINT)"
		}
		return fmt.Sprint(*p)
	}
	type lrow struct{ x, w *int64 }
	type atom struct {
		sql  string
		eval func(l lrow, ys, zs []*int64) tv
	}
	in3 := func(xs []*int64, rows [][]*int64) tv {
		r := tv(0)
		for _, row := range rows {
			m := tv(1)
			for i := range xs {
				m = tvAnd(m, tvCmp(xs[i], "=", row[i]))
			}
			r = tvOr(r, m)
		}
		return r
	}
	exists := func(ys, zs []*int64, cond func(y, z *int64) tv) tv {
		for i := range ys {
			if cond(ys[i], zs[i]) == 1 {
				return 1
			}
		}
		return 0
	}
	col := func(vs []*int64) [][]*int64 {
		var out [][]*int64
		for _, v := range vs {
			out = append(out, []*int64{v})
		}
		return out
	}
	atoms := []atom{
		{"l.x IN (SELECT z FROM SUB)", func(l lrow, ys, zs []*int64) tv { return in3([]*int64{l.x}, col(zs)) }},
		{"l.x NOT IN (SELECT z FROM SUB)", func(l lrow, ys, zs []*int64) tv { return tvNot(in3([]*int64{l.x}, col(zs))) }},
		{"EXISTS (SELECT 1 FROM SUB WHERE s.y = l.x)", func(l lrow, ys, zs []*int64) tv {
			return exists(ys, zs, func(y, z *int64) tv { return tvCmp(y, "=", l.x) })
		}},
		{"EXISTS (SELECT 1 FROM SUB WHERE s.y = l.x AND s.z < l.w)", func(l lrow, ys, zs []*int64) tv {
			return exists(ys, zs, func(y, z *int64) tv { return tvAnd(tvCmp(y, "=", l.x), tvCmp(z, "<", l.w)) })
		}},
		{"NOT EXISTS (SELECT 1 FROM SUB WHERE s.z > l.w)", func(l lrow, ys, zs []*int64) tv {
			return tvNot(exists(ys, zs, func(y, z *int64) tv { return tvCmp(z, ">", l.w) }))
		}},
		{"l.x IN (SELECT z FROM SUB WHERE s.y < l.w)", func(l lrow, ys, zs []*int64) tv {
			var rows [][]*int64
			for i := range ys {
				if tvCmp(ys[i], "<", l.w) == 1 {
					rows = append(rows, []*int64{zs[i]})
				}
			}
			return in3([]*int64{l.x}, rows)
		}},
		{"l.x NOT IN (SELECT y FROM SUB WHERE s.z = l.w)", func(l lrow, ys, zs []*int64) tv {
			var rows [][]*int64
			for i := range ys {
				if tvCmp(zs[i], "=", l.w) == 1 {
					rows = append(rows, []*int64{ys[i]})
				}
			}
			return tvNot(in3([]*int64{l.x}, rows))
		}},
		{"(l.x, l.w) IN (SELECT y, z FROM SUB)", func(l lrow, ys, zs []*int64) tv {
			var rows [][]*int64
			for i := range ys {
				rows = append(rows, []*int64{ys[i], zs[i]})
			}
			return in3([]*int64{l.x, l.w}, rows)
		}},
		{"(l.x, l.w) NOT IN (SELECT y, z FROM SUB)", func(l lrow, ys, zs []*int64) tv {
			var rows [][]*int64
			for i := range ys {
				rows = append(rows, []*int64{ys[i], zs[i]})
			}
			return tvNot(in3([]*int64{l.x, l.w}, rows))
		}},
		{"EXISTS (SELECT s.y FROM SUB WHERE s.y = l.x GROUP BY s.y HAVING COUNT(*) > 1)", func(l lrow, ys, zs []*int64) tv {
			n := 0
			for i := range ys {
				if tvCmp(ys[i], "=", l.x) == 1 {
					n++
				}
			}
			if n > 1 {
				return 1
			}
			return 0
		}},
		{"l.w IN (SELECT DISTINCT z FROM SUB WHERE s.y = l.x)", func(l lrow, ys, zs []*int64) tv {
			var rows [][]*int64
			for i := range ys {
				if tvCmp(ys[i], "=", l.x) == 1 {
					rows = append(rows, []*int64{zs[i]})
				}
			}
			return in3([]*int64{l.w}, rows)
		}},
		{"l.w > 1", func(l lrow, ys, zs []*int64) tv { one := int64(1); return tvCmp(l.w, ">", &one) }},
	}
	type pred struct {
		sql  string
		eval func(l lrow, ys, zs []*int64) tv
	}
	var mk func(depth int) pred
	mk = func(depth int) pred {
		if depth == 0 || rng.Intn(3) == 0 {
			a := atoms[rng.Intn(len(atoms))]
			return pred{a.sql, a.eval}
		}
		a, b := mk(depth-1), mk(depth-1)
		switch rng.Intn(3) {
		case 0:
			return pred{"(" + a.sql + " OR " + b.sql + ")", func(l lrow, ys, zs []*int64) tv { return tvOr(a.eval(l, ys, zs), b.eval(l, ys, zs)) }}
		case 1:
			return pred{"(" + a.sql + " AND " + b.sql + ")", func(l lrow, ys, zs []*int64) tv { return tvAnd(a.eval(l, ys, zs), b.eval(l, ys, zs)) }}
		}
		return pred{"NOT (" + a.sql + ")", func(l lrow, ys, zs []*int64) tv { return tvNot(a.eval(l, ys, zs)) }}
	}
	for iter := 0; iter < 12; iter++ {
		var ls []lrow
		var lrows []string
		for i := 0; i < 1+rng.Intn(6); i++ {
			l := lrow{gen(), gen()}
			ls = append(ls, l)
			lrows = append(lrows, fmt.Sprintf("(%d, %s, %s)", i, lit(l.x), lit(l.w)))
		}
		nr := rng.Intn(6)
		var ry, rz []*int64
		var rrows []string
		for i := 0; i < nr; i++ {
			ry, rz = append(ry, gen()), append(rz, gen())
			rrows = append(rrows, fmt.Sprintf("(%s, %s)", lit(ry[i]), lit(rz[i])))
		}
		right := "(SELECT * FROM (VALUES (CAST(NULL AS BIGINT), CAST(NULL AS BIGINT))) AS e(y, z) WHERE y IS NOT NULL)"
		if nr > 0 {
			right = "(VALUES " + strings.Join(rrows, ", ") + ")"
		}
		left := "(VALUES " + strings.Join(lrows, ", ") + ") AS l(id, x, w)"
		// The subquery's table: the rows, or (y, MIN(z)) per y (an updating aggregate).
		sub := right + " AS s(y, z)"
		ys, zs := ry, rz
		if iter%2 == 1 {
			sub = "(SELECT y, MIN(z) AS z FROM " + right + " AS r(y, z) GROUP BY y) AS s"
			ys, zs = nil, nil
			idx := map[string]int{}
			for i := range ry {
				k := lit(ry[i])
				g, ok := idx[k]
				if !ok {
					idx[k] = len(ys)
					ys, zs = append(ys, ry[i]), append(zs, rz[i])
					continue
				}
				if rz[i] != nil && (zs[g] == nil || *rz[i] < *zs[g]) {
					zs[g] = rz[i]
				}
			}
		}
		for k := 0; k < 4; k++ {
			p := mk(2)
			cond := strings.ReplaceAll(p.sql, "SUB", sub)
			queries := []struct {
				q    string
				want func(i int, l lrow) (string, bool)
			}{
				{"SELECT id FROM " + left + " WHERE " + cond, func(i int, l lrow) (string, bool) {
					return fmt.Sprintf("%d,", i), p.eval(l, ys, zs) == 1
				}},
				{"SELECT id, CASE WHEN " + cond + " THEN 1 WHEN NOT " + cond + " THEN 0 ELSE -1 END FROM " + left, func(i int, l lrow) (string, bool) {
					return fmt.Sprintf("%d,%d,", i, p.eval(l, ys, zs)), true
				}},
			}
			for _, c := range queries {
				var want []string
				for i, l := range ls {
					if w, ok := c.want(i, l); ok {
						want = append(want, w)
					}
				}
				sort.Strings(want)
				for _, mode := range []string{ModeBatch, ModeStreaming} {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					rows, _, err := queryRows(ctx, s, c.q, mode)
					cancel()
					if err != nil {
						t.Fatalf("seed %d: %s: %s: %v", seed, mode, c.q, err)
					}
					m := changelog.NewMaterializer(nil)
					for _, row := range rows {
						if err := m.Apply(row); err != nil {
							t.Fatalf("seed %d: %s: %s: materialize: %v", seed, mode, c.q, err)
						}
					}
					var got []string
					for _, vals := range m.Rows() {
						got = append(got, valKey(vals))
					}
					sort.Strings(got)
					if strings.Join(got, " ") != strings.Join(want, " ") {
						t.Fatalf("seed %d: %s: %s\ngot  %v\nwant %v", seed, mode, c.q, got, want)
					}
				}
			}
		}
	}
}
