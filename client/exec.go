package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

type runner struct {
	sess      *engine.Session
	out, errw io.Writer
	sigs      <-chan os.Signal
	// jobStmt is the position of the statement that submitted each job (by id), for reporting its failure.
	jobStmt map[string]sql.Pos
}

// exec runs one statement and prints its result the way Flink's SQL client does.
func (r *runner) exec(ctx context.Context, st sql.Statement) error {
	res, err := r.sess.Execute(ctx, st)
	if err != nil {
		return err
	}
	switch res.Kind {
	case engine.ResultOK:
		msg := res.Message
		if msg == "" {
			msg = "Execute statement succeed."
		}
		if _, isExplain := st.(*sql.Explain); !isExplain && !strings.HasPrefix(msg, "[") {
			msg = "[INFO] " + msg
		}
		fmt.Fprintln(r.out, msg)
	case engine.ResultTable:
		raw := false
		switch st := st.(type) {
		case *sql.Explain:
			raw = true
		case *sql.Show:
			raw = strings.HasPrefix(st.What, "CREATE ")
		}
		if raw && len(res.Rows) == 1 && len(res.Columns) == 1 {
			fmt.Fprintln(r.out, res.Rows[0][0].Str())
			return nil
		}
		r.printTable(res.Columns, res.Rows)
		if res.Message != "" {
			fmt.Fprintln(r.out, res.Message)
		}
	case engine.ResultJob:
		if res.Job != nil {
			if r.jobStmt == nil {
				r.jobStmt = map[string]sql.Pos{}
			}
			r.jobStmt[res.Job.ID()] = st.Position()
		}
		// The job was announced when it was submitted (engine.Config.OnSubmit).
		if v, _ := r.sess.Option("table.dml-sync"); v == "true" {
			fmt.Fprintln(r.out, "[INFO] Complete execution of the SQL update statement.")
		}
	case engine.ResultQuery:
		return r.printQuery(ctx, res)
	}
	return nil
}

const nullText = "<NULL>"

func (r *runner) cell(v types.Value, t types.Type) string {
	if v.IsNull() {
		return nullText
	}
	return string(types.AppendSQL(nil, v, t, r.sess.Location()))
}

// printTable prints a final table (SHOW, DESCRIBE, batch results) sized to its contents.
func (r *runner) printTable(cols []engine.Column, rows [][]types.Value) {
	if len(rows) == 0 && len(cols) > 0 {
		fmt.Fprintln(r.out, "Empty set")
		return
	}
	cells := make([][]string, len(rows))
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c.Name)
	}
	for ri, row := range rows {
		cells[ri] = make([]string, len(cols))
		for i := range cols {
			s := r.cell(row[i], cols[i].Type)
			cells[ri][i] = s
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	border(&b, widths)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	line(&b, widths, names)
	border(&b, widths)
	for _, c := range cells {
		line(&b, widths, c)
	}
	border(&b, widths)
	if len(rows) == 1 {
		b.WriteString("1 row in set\n")
	} else {
		fmt.Fprintf(&b, "%d rows in set\n", len(rows))
	}
	io.WriteString(r.out, b.String())
}

func border(b *strings.Builder, widths []int) {
	for _, w := range widths {
		b.WriteString("+")
		b.WriteString(strings.Repeat("-", w+2))
	}
	b.WriteString("+\n")
}

func line(b *strings.Builder, widths []int, cells []string) {
	for i, w := range widths {
		b.WriteString("| ")
		b.WriteString(strings.Repeat(" ", w-utf8.RuneCountInString(cells[i])))
		b.WriteString(cells[i])
		b.WriteString(" ")
	}
	b.WriteString("|\n")
}

// streamWidth is the column width of a streaming result (rows are printed as they come, so the width comes
// from the type, as Flink's tableau mode does; longer values are cut with "...").
func streamWidth(c engine.Column) int {
	w := utf8.RuneCountInString(c.Name)
	tw := 0
	switch c.Type.Kind {
	case types.Boolean:
		tw = 6
	case types.TinyInt:
		tw = 4
	case types.SmallInt:
		tw = 6
	case types.Int:
		tw = 11
	case types.BigInt:
		tw = 20
	case types.Float, types.Double:
		tw = 14
	case types.Decimal:
		tw = c.Type.Precision + 2
	case types.Date:
		tw = 10
	case types.Time:
		tw = 8 + c.Type.Precision + 1
	case types.Timestamp, types.TimestampLTZ:
		tw = 19 + c.Type.Precision + 1
	case types.Char, types.VarChar:
		tw = min(max(c.Type.Length, 6), 30)
	default:
		tw = 30
	}
	return max(w, tw, len(nullText))
}

func cut(s string, w int) string {
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	rs := []rune(s)
	return string(rs[:w-3]) + "..."
}

// printQuery prints a SELECT's result: in batch mode the final table; in streaming mode an op column and
// each change as it arrives, until the query ends or is interrupted.
func (r *runner) printQuery(ctx context.Context, res *engine.Result) error {
	q := res.Query
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.cancelOnSignal(cancel)
	defer stop()
	defer q.Close()
	if res.Batch {
		var rows [][]types.Value
		for {
			row, ok := q.Next(ctx)
			if !ok {
				break
			}
			rows = append(rows, row.Vals)
		}
		if err := q.Err(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			fmt.Fprintln(r.out, "Query terminated.")
			return nil
		}
		r.printTable(res.Columns, rows)
		return nil
	}
	widths := []int{2}
	names := []string{"op"}
	for _, c := range res.Columns {
		widths = append(widths, streamWidth(c))
		names = append(names, c.Name)
	}
	var b strings.Builder
	border(&b, widths)
	line(&b, widths, names)
	border(&b, widths)
	io.WriteString(r.out, b.String())
	n := 0
	cells := make([]string, len(widths))
	for {
		row, ok := q.Next(ctx)
		if !ok {
			break
		}
		n++
		cells[0] = row.Kind.String()
		for i, c := range res.Columns {
			cells[i+1] = cut(r.cell(row.Vals[i], c.Type), widths[i+1])
		}
		b.Reset()
		line(&b, widths, cells)
		io.WriteString(r.out, b.String())
	}
	if err := q.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	b.Reset()
	border(&b, widths)
	io.WriteString(r.out, b.String())
	if ctx.Err() != nil {
		fmt.Fprintln(r.out, "Query terminated, received a total of", n, rowsWord(n))
	} else {
		fmt.Fprintln(r.out, "Received a total of", n, rowsWord(n))
	}
	return nil
}

func rowsWord(n int) string {
	if n == 1 {
		return "row"
	}
	return "rows"
}
