package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/sql"
)

// benchPlan plans text (bind, rewrite phases, physical pass) b.N times.
func benchPlan(b *testing.B, cat *catalog.Catalog, text string) {
	st, err := sql.ParseStatement(text)
	if err != nil {
		b.Fatal(err)
	}
	q := st.(*sql.QueryStmt).Query
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := newTestPlanner(cat, false)
		if _, err := p.PlanQuery(q); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCatalog(b *testing.B, ddl string) *catalog.Catalog {
	cat := catalog.New()
	stmts, err := sql.ParseScript(ddl)
	if err != nil {
		b.Fatal(err)
	}
	for _, st := range stmts {
		if _, err := cat.CreateTable(st.(*sql.CreateTable)); err != nil {
			b.Fatal(err)
		}
	}
	return cat
}

// BenchmarkPlan50Joins plans a chain of 50 joins (51 scans) with a filter and a projection on top.
// Goal: under 50 ms per statement.
func BenchmarkPlan50Joins(b *testing.B) {
	cat := benchCatalog(b, "CREATE TABLE t (k BIGINT, v STRING, n INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');")
	var q strings.Builder
	q.WriteString("SELECT t0.k, t50.v FROM t AS t0")
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&q, " JOIN t AS t%d ON t%d.k = t%d.k", i, i-1, i)
	}
	q.WriteString(" WHERE t0.n > 1 AND t25.v <> 'x'")
	benchPlan(b, cat, q.String())
}

// BenchmarkPlan1000Columns plans a filter, projection and aggregation over a table of 1,000 columns.
// Goal: under 50 ms per statement.
func BenchmarkPlan1000Columns(b *testing.B) {
	var ddl strings.Builder
	ddl.WriteString("CREATE TABLE wide (")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			ddl.WriteString(", ")
		}
		fmt.Fprintf(&ddl, "c%d BIGINT", i)
	}
	ddl.WriteString(") WITH ('connector' = 'datagen', 'number-of-rows' = '5');")
	cat := benchCatalog(b, ddl.String())
	var q strings.Builder
	q.WriteString("SELECT c0")
	for i := 1; i < 1000; i++ {
		fmt.Fprintf(&q, ", SUM(c%d)", i)
	}
	q.WriteString(" FROM (SELECT * FROM wide WHERE c1 > 0) GROUP BY c0")
	benchPlan(b, cat, q.String())
}
