package filesystem_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/catalog"
	"github.com/sluicesql/sluice/changelog"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/filesystem"
	"github.com/sluicesql/sluice/types"
	"github.com/sluicesql/sluice/vec"
)

const colsDDL = `CREATE TABLE t (id BIGINT, i INT, s STRING, d DOUBLE, m DECIMAL(10, 2), big DECIMAL(25, 3), b BOOLEAN,
	dt DATE, tm TIME, ts TIMESTAMP(6), bin BYTES, p STRING, h INT) PARTITIONED BY (p, h)
	WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = '%s'%s)`

// colsRows are rows of every type with NULLs in every column (the partition columns too: the default
// partition name).
func colsRows(n int) []changelog.Row {
	rows := make([]changelog.Row, n)
	for k := range rows {
		v := []types.Value{types.IntValue(int64(k) * 1000003), types.IntValue(int64(k % 77)),
			types.StringValue(fmt.Sprintf("s,\"%d\"\n", k)), types.FloatValue(float64(k) / 7),
			{T: types.TagDecimal, I: int64(k) * 101, N: 2}, {T: types.TagDecimal, I: int64(k) * 12345, N: 3},
			types.BoolValue(k%2 == 0), {T: types.TagDate, I: int64(19000 + k%50)}, {T: types.TagTime, I: int64(k) * 1_000_000_007 % 86_400_000_000_000},
			{T: types.TagTimestamp, I: 1_700_000_000_000 + int64(k)*61_001, N: int32(k % 1000 * 1000)},
			{T: types.TagBytes, S: string([]byte{byte(k), 0, 255})},
			types.StringValue(fmt.Sprintf("2024-01-0%d", k%3+1)), types.IntValue(int64(k % 2))}
		for j := range v {
			if (k+j)%11 == 0 {
				v[j] = types.NullValue
			}
		}
		rows[k] = changelog.Row{Kind: changelog.Insert, Vals: v}
	}
	return rows
}

// writeBoth writes rows through the row path (Push) and the column path (PushColumns, batches of 37 rows
// with a selection dropping none) into two directories, and returns their files by partition directory.
func writeBoth(t *testing.T, format, extra string, rows []changelog.Row) (*catalog.Table, map[string]string, map[string]string) {
	tables, files := writeTables(t, format, extra, rows, []bool{false, true})
	return tables[1], files[0], files[1]
}

// writeTables writes rows into one table per mode (false: the row path, true: the column path).
func writeTables(t testing.TB, format, extra string, rows []changelog.Row, modes []bool) ([]*catalog.Table, []map[string]string) {
	var tables []*catalog.Table
	var files []map[string]string
	for _, columns := range modes {
		dir := t.TempDir()
		tbl := table(t, fmt.Sprintf(colsDDL, dir, format, extra))
		out := openSink(t, tbl)
		vo, ok := out.(vec.Output)
		if columns && (!ok || !vo.AcceptsColumns()) {
			t.Fatalf("format %s: the sink does not take columns", format)
		}
		ts := make([]types.Type, 0)
		for _, f := range tbl.PhysicalRowType().Fields {
			ts = append(ts, f.Type)
		}
		for from := 0; from < len(rows); from += 37 {
			chunk := rows[from:min(len(rows), from+37)]
			if !columns {
				if err := out.Push(&changelog.Batch{Rows: chunk}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// the chunk plus one row not selected
			b := &vec.Batch{}
			if !vec.FromRows(b, append(append([]changelog.Row(nil), chunk...), rows[0]), ts, nil) {
				t.Fatal("rows without a columnar form")
			}
			for i := range chunk {
				b.Sel = append(b.Sel, int32(i))
			}
			if err := vo.PushColumns(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := out.End(); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tbl)
		files = append(files, readTree(t, dir))
	}
	return tables, files
}

// readTree returns the contents of the part files below dir by directory (files of a directory
// concatenated in name order).
func readTree(t testing.TB, dir string) map[string]string {
	var paths []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasPrefix(fi.Name(), "part-") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	m := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		m[rel] += string(data)
	}
	return m
}

// TestSinkColumnsSameFiles: the column path writes the files of the row path, byte for byte (CSV and
// Parquet, every type, NULLs, partitioned by a STRING and an INT with NULL partition values).
func TestSinkColumnsSameFiles(t *testing.T) {
	for _, format := range []string{"csv", "parquet"} {
		t.Run(format, func(t *testing.T) {
			_, rowFiles, colFiles := writeBoth(t, format, "", colsRows(500))
			if len(rowFiles) != 11 { // (3 dates + NULL) x (2 hours + NULL), less NULL x NULL (no such row)
				t.Fatalf("%d partition directories: %v", len(rowFiles), keys(rowFiles))
			}
			if fmt.Sprint(keys(rowFiles)) != fmt.Sprint(keys(colFiles)) {
				t.Fatalf("partitions: rows %v, columns %v", keys(rowFiles), keys(colFiles))
			}
			for dir, want := range rowFiles {
				if colFiles[dir] != want {
					t.Errorf("%s: the column path wrote %d bytes, the row path %d, not the same", dir, len(colFiles[dir]), len(want))
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// colOutput takes columns (AcceptsColumns) and records the rows of both paths as text.
type colOutput struct {
	mu      sync.Mutex
	columns bool
	batches int
	rows    []string
	types   []types.Type
}

func (c *colOutput) Push(b *changelog.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range b.Rows {
		c.rows = append(c.rows, fmt.Sprint(r.Vals))
	}
	return nil
}

func (c *colOutput) PushColumns(b *vec.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	vals := make([]types.Value, len(b.Cols))
	for k := 0; k < b.Len(); k++ {
		i := b.Row(k)
		for j, col := range b.Cols {
			vals[j] = col.Value(i)
		}
		c.rows = append(c.rows, fmt.Sprint(vals))
	}
	return nil
}

func (c *colOutput) AcceptsColumns() bool { return c.columns }
func (*colOutput) Watermark(int64) error  { return nil }
func (*colOutput) End() error             { return nil }

func readSource(t *testing.T, tbl *catalog.Table, columns bool, project []int, pos []byte) *colOutput {
	t.Helper()
	src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
	if err != nil {
		t.Fatal(err)
	}
	if project != nil {
		src.(projector).ProjectColumns(project)
	}
	if pos != nil {
		if err := src.(connectors.Checkpointed).RestorePosition(pos); err != nil {
			t.Fatal(err)
		}
	}
	out := &colOutput{columns: columns}
	if err := src.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSourceColumnsSameRows: a Parquet, JSON or Avro table read as columns gives the rows of the row path
// (partition columns filled, projection kept, a restored position skipping the rows already read).
func TestSourceColumnsSameRows(t *testing.T) {
	for _, format := range []string{"parquet", "json", "avro"} {
		t.Run(format, func(t *testing.T) { testSourceColumnsSameRows(t, format) })
	}
}

func testSourceColumnsSameRows(t *testing.T, format string) {
	rows := colsRows(3000)
	tables, written := writeTables(t, format, "", rows, []bool{false}) // the row path writes every format
	tbl, files := tables[0], written[0]
	for _, project := range [][]int{nil, {0, 2, 11}, {12}} {
		want := readSource(t, tbl, false, project, nil)
		got := readSource(t, tbl, true, project, nil)
		if got.batches == 0 || want.batches != 0 {
			t.Fatalf("project %v: %d columnar batches on the column path, %d on the row path", project, got.batches, want.batches)
		}
		if len(want.rows) != len(rows) || strings.Join(got.rows, "\n") != strings.Join(want.rows, "\n") {
			t.Fatalf("project %v: %d rows as columns, %d as rows (of %d), or not the same", project, len(got.rows), len(want.rows), len(rows))
		}
	}
	// restore in the middle of a file: the rows after the position, the same on both paths
	dir := "p=2024-01-01/h=0" // about 450 rows: more than the position skips
	if files[dir] == "" {
		t.Fatalf("no partition %s: %v", dir, keys(files))
	}
	entries, err := os.ReadDir(filepath.Join(tbl.Options["path"], dir))
	if err != nil {
		t.Fatal(err)
	}
	cur := filepath.Join(dir, entries[0].Name())
	pos, _ := json.Marshal(map[string]any{"cur": cur, "rows": 100})
	want := readSource(t, tbl, false, nil, pos)
	got := readSource(t, tbl, true, nil, pos)
	if len(want.rows) != len(rows)-100 || strings.Join(got.rows, "\n") != strings.Join(want.rows, "\n") {
		t.Fatalf("restored: %d rows as columns, %d as rows, want %d", len(got.rows), len(want.rows), len(rows)-100)
	}
}

// TestSourceJSONColumnsSameErrors: a JSON file with blank lines, a line that does not parse and, with
// 'json.ignore-parse-errors', the same line with the field that does not parse NULL: the column path gives the rows and the error (file
// and line number) of the row path, and decodes into columns.
func TestSourceJSONColumnsSameErrors(t *testing.T) {
	lines := []string{`{"id": 1, "s": "a", "m": 1.25}`, ``, `{"id": 2, "s": null, "m": -0.5}`, `   `,
		`{"id": "x", "s": "b"}`, `{"id": 4, "m": 12345678.99}`}
	for _, ignore := range []bool{false, true} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "part-0.json"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		extra := ""
		if ignore {
			extra = ", 'json.ignore-parse-errors' = 'true'"
		}
		tbl := table(t, fmt.Sprintf(`CREATE TABLE j (id BIGINT, s STRING, m DECIMAL(10, 2)) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'json'%s)`, dir, extra))
		var res []string
		for _, columns := range []bool{false, true} {
			src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
			if err != nil {
				t.Fatal(err)
			}
			out := &colOutput{columns: columns}
			err = src.Run(context.Background(), out)
			if columns && out.batches == 0 && len(out.rows) > 0 {
				t.Fatalf("ignore %v: the column path pushed rows", ignore)
			}
			res = append(res, fmt.Sprintf("rows %v, error %v", out.rows, err))
		}
		if res[0] != res[1] {
			t.Fatalf("ignore %v:\ncolumns: %s\nrows:    %s", ignore, res[1], res[0])
		}
		// the error names line 5; ignored, the field that does not parse is NULL and the row kept
		if !ignore && !strings.Contains(res[0], "line 5: ") || ignore && !strings.Contains(res[0], "[{0 0 0  <nil>} {4 0 0 b <nil>}") {
			t.Fatalf("ignore %v: unexpected result %s", ignore, res[0])
		}
		t.Log(res[0])
	}
}

// discardOut takes rows, and columns when columns is set, and drops them.
type discardOut struct{ columns bool }

func (discardOut) Push(*changelog.Batch) error  { return nil }
func (discardOut) PushColumns(*vec.Batch) error { return nil }
func (d discardOut) AcceptsColumns() bool       { return d.columns }
func (discardOut) Watermark(int64) error        { return nil }
func (discardOut) End() error                   { return nil }

// BenchmarkSourceJSON reads a JSON table of 20,000 rows of every type (partitioned) into an output that
// takes rows and into one that takes columns. Reported as ns/row.
func BenchmarkSourceJSON(b *testing.B) {
	const n = 20000
	tables, _ := writeTables(b, "json", "", colsRows(n), []bool{false})
	for _, columns := range []bool{false, true} {
		b.Run(map[bool]string{false: "rows", true: "columns"}[columns], func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				src, err := filesystem.NewFactory().CreateSource(connCtx(tables[0], true))
				if err != nil {
					b.Fatal(err)
				}
				if err := src.Run(context.Background(), discardOut{columns: columns}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
