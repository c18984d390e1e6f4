package jdbc_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/jdbc"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// projDim is a database view whose column boom fails (division by zero) whenever a query evaluates it: a
// lookup whose SELECT names boom fails, so a lookup that succeeds did not select it.
func projDim(t *testing.T) {
	pgExec(t, "DROP VIEW IF EXISTS pdimv", "DROP TABLE IF EXISTS pdim",
		"CREATE TABLE pdim (k BIGINT PRIMARY KEY, name TEXT, city TEXT)",
		"INSERT INTO pdim VALUES (1, 'one', 'a'), (2, 'two', 'b')",
		"CREATE VIEW pdimv AS SELECT k, name, city, 1 / (k - k) AS boom FROM pdim")
}

func projLookupTable(opts map[string]string) connectors.Context {
	o := map[string]string{"connector": "jdbc", "url": pg.URL(), "table-name": "pdimv"}
	for k, v := range opts {
		o[k] = v
	}
	return connectors.Context{Options: o, Table: &catalog.Table{Name: "pdimv", Options: o, Columns: []catalog.Column{
		{Name: "k", Type: types.BigIntType()}, {Name: "name", Type: types.StringType()},
		{Name: "city", Type: types.StringType()}, {Name: "boom", Type: types.IntType()}}}}
}

// A projected lookup source (connectors.ProjectableLookupSource) selects only the projected columns and
// the keys (boom, whose evaluation fails, is not selected); rows keep the table's width with the other
// columns NULL; the partial cache is keyed by the lookup key as before and serves the projected rows.
func TestLookupProjection(t *testing.T) {
	projDim(t)
	ctx := context.Background()
	open := func(p *formats.Projection) connectors.LookupSource {
		l, err := jdbc.NewFactory().CreateLookup(projLookupTable(map[string]string{"lookup.cache": "PARTIAL",
			"lookup.partial-cache.max-rows": "10", "lookup.max-retries": "0"}), []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if p != nil {
			l.(connectors.ProjectableLookupSource).ApplyProjection(p)
		}
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	get := func(l connectors.LookupSource, k int64) (string, error) {
		rows, err := l.Lookup(ctx, []types.Value{types.IntValue(k)}, nil)
		var s []string
		for _, r := range rows {
			var vs []string
			for _, v := range r {
				if v.IsNull() {
					vs = append(vs, "NULL")
				} else if v.T == types.TagString {
					vs = append(vs, v.Str())
				} else {
					vs = append(vs, fmt.Sprint(v.Int()))
				}
			}
			s = append(s, strings.Join(vs, ","))
		}
		return strings.Join(s, ";"), err
	}
	// Without projection the SELECT names every column, boom included.
	if _, err := get(open(nil), 1); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("full-width lookup: got %v, want the view's division by zero", err)
	}
	// Projected to name (the key k is always selected).
	l := open(&formats.Projection{Need: []bool{false, true, false, false}})
	for _, k := range []int64{1, 2, 3} {
		got, err := get(l, k)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]string{1: "1,one,NULL,NULL", 2: "2,two,NULL,NULL", 3: ""}[k]
		expect(t, fmt.Sprintf("projected lookup %d", k), got, want)
	}
	pgExec(t, "UPDATE pdim SET name = 'uno' WHERE k = 1")
	got, err := get(l, 1)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "cached projected lookup 1", got, "1,one,NULL,NULL")
}

// End to end: a lookup join reading one column of the view selects only it and the key (the query would
// fail on boom otherwise); EXPLAIN shows the projection on the lookup table, and the results are those of
// the join.
func TestLookupJoinProjection(t *testing.T) {
	projDim(t)
	e := open(t)
	mustRun(t, e, `
SET 'execution.runtime-mode' = 'batch';
CREATE TABLE seq (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence',
  'fields.id.start' = '0', 'fields.id.end' = '3');
CREATE TABLE pd (k BIGINT, name STRING, city STRING, boom INT) WITH ('connector' = 'jdbc', 'url' = '${URL}', 'table-name' = 'pdimv', 'lookup.max-retries' = '0');`)
	q := "SELECT s.id, d.city FROM seq AS s LEFT JOIN pd FOR SYSTEM_TIME AS OF s.proc AS d ON s.id = d.k"
	if plan := query(t, e, "EXPLAIN "+q); !strings.Contains(plan, "LookupJoin(table=[default_catalog.default_database.pd, project=[k, city]]") {
		t.Fatalf("EXPLAIN does not show the projected lookup:\n%s", plan)
	}
	expect(t, "projected lookup join", query(t, e, q), "0,<nil>\n1,a\n2,b\n3,<nil>")
	rows, err := e.Query(context.Background(), "SELECT s.id, d.boom FROM seq AS s JOIN pd FOR SYSTEM_TIME AS OF s.proc AS d ON s.id = d.k")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("a lookup join reading boom: got %v, want the view's division by zero", err)
	}
}
