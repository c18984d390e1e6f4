package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/changelog"
)

// TestFilesystemSubtasksProperty reads 10 CSV files at parallelism 1 and 2 (the filesystem source as 2
// subtasks, one split per file, hash-exchanging into a GROUP BY; a self-join reading the table once through
// source reuse): equal results.
func TestFilesystemSubtasksProperty(t *testing.T) {
	dir := t.TempDir()
	for f := range 10 {
		var b strings.Builder
		for i := f * 300; i < (f+1)*300; i++ {
			fmt.Fprintf(&b, "%d,%d,%d\n", i, i%41, i%13)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%02d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tables := fmt.Sprintf(`CREATE TABLE f (id BIGINT, k BIGINT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, dir)
	queries := []string{
		`SELECT k, COUNT(*), SUM(v), MAX(id) FROM f GROUP BY k`,
		`SELECT a.id, b.id FROM f a JOIN f b ON a.id = b.id + 1000 WHERE a.v < 3`,
	}
	for _, q := range queries {
		var want string
		for _, par := range []int{1, 2} {
			s := exchangeSession(t, par)
			execScript(t, s, tables)
			built := exchangesBuilt.Load()
			rows, _, err := queryRows(context.Background(), s, q, ModeStreaming)
			if err != nil {
				t.Fatalf("%s at parallelism %d: %v", q, par, err)
			}
			if n := exchangesBuilt.Load() - built; (par > 1) != (n == 1) {
				t.Fatalf("%s at parallelism %d: %d exchanges built (the source's subtasks feed one)", q, par, n)
			}
			m := changelog.NewMaterializer(nil)
			for _, r := range rows {
				if err := m.Apply(r); err != nil {
					t.Fatal(err)
				}
			}
			got := sortedLines(m.Rows())
			if par == 1 {
				want = got
				if strings.Count(want, "\n") < 5 {
					t.Fatalf("%s: too few rows:\n%s", q, want)
				}
			} else if got != want {
				t.Fatalf("%s: parallelism %d differs from parallelism 1\ngot:\n%.2000s\nwant:\n%.2000s", q, par, got, want)
			}
		}
	}
}
