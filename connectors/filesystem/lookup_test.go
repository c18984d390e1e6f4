package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
	"github.com/sluicesql/sluice/formats"
	"github.com/sluicesql/sluice/types"
)

// TestLookupReloadsAfterTTL: the lookup source reads the files at Open and again once
// 'lookup.join.cache.ttl' has passed, so a changed file is seen after the TTL and not before.
func TestLookupReloadsAfterTTL(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "part-0.csv"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1,one\n2,two\n")
	tbl := table(t, fmt.Sprintf(`CREATE TABLE dim (k BIGINT, v STRING) WITH ('connector' = 'filesystem', 'path' = '%s',
  'format' = 'csv', 'lookup.join.cache.ttl' = '300 ms')`, dir))
	ls, err := filesystem.NewFactory().CreateLookup(connCtx(tbl, false), []int{0})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ls.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	look := func(k int64) string {
		rows, err := ls.Lookup(ctx, []types.Value{types.IntValue(k)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(len(rows), rows)
	}
	opened := time.Now()
	before := look(1)
	if before[:2] != "1 " {
		t.Fatalf("key 1 finds %s, want its one row", before)
	}
	write("1,uno\n")
	if time.Since(opened) < 250*time.Millisecond {
		if got := look(1); got != before {
			t.Fatalf("the file was read again before the TTL passed: %s, then %s", before, got)
		}
	}
	time.Sleep(350 * time.Millisecond)
	if got, want := look(1), look(1); got == before || got != want {
		t.Fatalf("after the TTL, key 1 finds %s (before: %s)", got, before)
	}
	if got := look(2); got != "0 []" {
		t.Fatalf("after the reload, key 2 (removed from the file) finds %s", got)
	}
}

// A projected lookup (connectors.ProjectableLookupSource) keeps the key and the projected columns of each
// row; the other columns are NULL and the rows keep the table's width.
func TestLookupProjection(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "part-0.csv"), []byte("1,one,a,x\n2,two,b,y\n1,uno,c,z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl := table(t, fmt.Sprintf(`CREATE TABLE dim (k BIGINT, v STRING, city STRING, notes STRING) WITH ('connector' = 'filesystem',
  'path' = '%s', 'format' = 'csv')`, dir))
	ls, err := filesystem.NewFactory().CreateLookup(connCtx(tbl, false), []int{0})
	if err != nil {
		t.Fatal(err)
	}
	ls.(connectors.ProjectableLookupSource).ApplyProjection(&formats.Projection{Need: []bool{false, false, true, false}})
	ctx := context.Background()
	if err := ls.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	for k, want := range map[int64]string{1: "[[1 NULL a NULL] [1 NULL c NULL]]", 2: "[[2 NULL b NULL]]", 3: "[]"} {
		rows, err := ls.Lookup(ctx, []types.Value{types.IntValue(k)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
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
			got = append(got, "["+strings.Join(vs, " ")+"]")
		}
		if s := "[" + strings.Join(got, " ") + "]"; s != want {
			t.Errorf("key %d: got %s, want %s", k, s, want)
		}
	}
}
