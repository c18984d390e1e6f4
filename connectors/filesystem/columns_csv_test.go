package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connectors/filesystem"
)

// TestSourceCSVColumnsSameRows: CSV files (quoted fields, NULL literals, blank lines, comments and, in one
// case, a line that does not parse) read as columns give the rows and the error (file and line number) of
// the row path, for each option combination, without and with a projection (the columns not read are
// NULL on both paths), and the column path pushes columnar batches.
func TestSourceCSVColumnsSameRows(t *testing.T) {
	var lines []string
	for k := 0; k < 2500; k++ {
		switch {
		case k%97 == 0:
			lines = append(lines, "")
		case k%89 == 0:
			lines = append(lines, "# a comment")
		default:
			lines = append(lines, fmt.Sprintf(`%d;"s;""%d""";%d.25;%s;2024-01-%02d 10:00:00.%03d;%v`, k*1000003, k, k%1000,
				map[bool]string{true: "NULL", false: fmt.Sprint(k % 7)}[k%5 == 0], k%28+1, k%1000, k%2 == 0))
		}
	}
	bad := append(append([]string(nil), lines...), `12;"x";not a number;1;2024-01-01 00:00:00;true`)
	cases := []struct {
		name, extra string
		lines       []string
		wantErr     string
	}{
		{"plain", ", 'csv.allow-comments' = 'true'", lines, ""},
		{"error", ", 'csv.allow-comments' = 'true'", bad, "line 2501: "},
		{"comment-error", "", lines, "line 90: "},
		{"ignore", ", 'csv.ignore-parse-errors' = 'true'", bad, ""},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "part-0.csv"), []byte(strings.Join(c.lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		tbl := table(t, fmt.Sprintf(`CREATE TABLE c (id BIGINT, s STRING, m DECIMAL(10, 2), n INT, ts TIMESTAMP(3), b BOOLEAN)
			WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv', 'csv.field-delimiter' = ';', 'csv.null-literal' = 'NULL'%s)`, dir, c.extra))
		for _, project := range [][]int{nil, {1, 2}} { // m, which does not parse in the bad line, is read
			var res []string
			for _, columns := range []bool{false, true} {
				src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
				if err != nil {
					t.Fatal(err)
				}
				if project != nil {
					src.(projector).ProjectColumns(project)
				}
				out := &colOutput{columns: columns}
				err = src.Run(context.Background(), out)
				if columns && out.batches == 0 && len(out.rows) > 0 {
					t.Fatalf("%s: the column path pushed no columnar batch", c.name)
				}
				if c.wantErr == "" && (err != nil || len(out.rows) < 2400) {
					t.Fatalf("%s: %d rows, error %v", c.name, len(out.rows), err)
				}
				if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
					t.Fatalf("%s columns=%v: %d rows, last %v, error %v, want one naming %q", c.name, columns, len(out.rows), out.rows[len(out.rows)-1], err, c.wantErr)
				}
				if project != nil && len(out.rows) > 0 && !strings.HasPrefix(out.rows[len(out.rows)-1], "[{0 0 0  <nil>} {") {
					t.Fatalf("%s: projected row %s: the column 'id' is not NULL", c.name, out.rows[len(out.rows)-1])
				}
				res = append(res, fmt.Sprintf("rows %v, error %v", out.rows, err))
			}
			if res[0] != res[1] {
				t.Fatalf("%s project %v: the paths differ:\ncolumns: %.400s\nrows:    %.400s", c.name, project, res[1], res[0])
			}
		}
	}
}

// TestSourceAvroColumnsSameErrors: an Avro file damaged at many places (a byte overwritten) reads the
// same on the row and the columnar path: the same rows, then the same error (file, block, record, field)
// or none.
func TestSourceAvroColumnsSameErrors(t *testing.T) {
	tables, _ := writeTables(t, "avro", ", 'avro.codec' = 'null'", colsRows(300), []bool{false})
	tbl := tables[0]
	var file string
	if err := filepath.Walk(tbl.Options["path"], func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && file == "" && !strings.HasPrefix(info.Name(), ".") {
			file = p
		}
		return err
	}); err != nil || file == "" {
		t.Fatalf("no data file: %v", err)
	}
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	errs := 0
	for k := 0; k < 60; k++ {
		b := append([]byte(nil), orig...)
		at := len(b) - 1 - k*len(b)/90 // the data blocks are at the end, the header at the start
		b[at] ^= byte(0x41 + k)
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var res []string
		for _, columns := range []bool{false, true} {
			src, err := filesystem.NewFactory().CreateSource(connCtx(tbl, true))
			if err != nil {
				t.Fatal(err)
			}
			out := &colOutput{columns: columns}
			err = src.Run(context.Background(), out)
			if columns && out.batches == 0 && len(out.rows) > 0 {
				t.Fatal("the column path pushed rows")
			}
			if columns && err != nil {
				errs++
			}
			res = append(res, fmt.Sprintf("rows %v, error %v", out.rows, err))
		}
		if res[0] != res[1] {
			t.Fatalf("byte %d:\ncolumns: %.600s\nrows:    %.600s", at, res[1], res[0])
		}
	}
	if errs == 0 {
		t.Fatal("no damage was an error: the test compares nothing but rows")
	}
}
