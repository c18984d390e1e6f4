package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

type runner struct {
	sess        *engine.Session
	out, errw   io.Writer
	sigs        <-chan os.Signal
	jobs        *jobWatch         // jobs.go
	interactive bool              // the shell runs on a terminal
	progress    bool              // stderr is a terminal: show a progress line while a script waits for its jobs
	sync        bool              // 'table.dml-sync' is on for the statement being executed
	prompt      atomic.Value      // string: the shell's current prompt, redrawn after a background message
	remote      *remoteSession    // sql-client gateway: statements run on a SQL gateway (remote.go); sess is nil
	remoteJobs  *remoteJobs       // sql-client gateway: the jobs' failures printed (remote_jobs.go)
	stmtText    string            // the text of the statement being executed, positioned as in its script
	vars        map[string]string // script variables the client defines (vars.go)
	tty         *os.File          // the shell's terminal (interactive shell only): live result views (view.go)
}

// exec runs one statement and prints its result the way Flink's SQL client does.
func (r *runner) exec(ctx context.Context, st sql.Statement) error {
	if r.remote != nil {
		return r.execRemote(ctx, st, r.stmtText)
	}
	v, _ := r.sess.Option("table.dml-sync")
	r.sync = v == "true"
	res, err := r.sess.Execute(ctx, st)
	if err != nil {
		if _, _, _, ok := sql.Position(err); !ok && r.sync {
			switch st.(type) {
			case *sql.Insert, *sql.StatementSet, *sql.CreateTable:
				// A job run synchronously failed: name its statement.
				return &sql.Error{Pos: st.Position(), Msg: err.Error(), Err: err}
			}
		}
		return err
	}
	switch res.Kind {
	case engine.ResultOK:
		r.printOK(st, res.Message)
	case engine.ResultTable:
		if rawResult(st) && len(res.Rows) == 1 && len(res.Columns) == 1 {
			fmt.Fprintln(r.out, res.Rows[0][0].Str())
			return nil
		}
		r.printTable(res.Columns, res.Rows)
		if res.Message != "" {
			fmt.Fprintln(r.out, res.Message)
		}
	case engine.ResultJob:
		// The job was announced when it was submitted (engine.Config.OnSubmit).
		if v, _ := r.sess.Option("table.dml-sync"); v == "true" {
			fmt.Fprintln(r.out, "[INFO] Complete execution of the SQL update statement.")
		}
	case engine.ResultQuery:
		if mode, _ := r.option("sql-client.execution.result-mode"); (mode == "table" || mode == "changelog") && r.tty != nil {
			// The live views need the terminal; scripts and pipes always get tableau.
			if kb := openViewKeys(r.tty); kb != nil {
				defer kb.stop()
				return r.viewQuery(ctx, res, mode, kb)
			}
		}
		return r.printQuery(ctx, res)
	}
	return nil
}

// printOK prints the message of a statement without rows.
func (r *runner) printOK(st sql.Statement, msg string) {
	if msg == "" {
		msg = "Execute statement succeed."
	}
	if _, isExplain := st.(*sql.Explain); !isExplain && !strings.HasPrefix(msg, "[") {
		msg = "[INFO] " + msg
	}
	fmt.Fprintln(r.out, msg)
}

// rawResult reports whether st's one-cell result is printed as it is (EXPLAIN, SHOW CREATE).
func rawResult(st sql.Statement) bool {
	switch st := st.(type) {
	case *sql.Explain:
		return true
	case *sql.Show:
		return strings.HasPrefix(st.What, "CREATE ")
	}
	return false
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
	for ri, row := range rows {
		cells[ri] = make([]string, len(cols))
		for i := range cols {
			cells[ri][i] = r.cell(row[i], cols[i].Type)
		}
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	r.printCells(names, cells)
}

// printCells prints a final table of cells as text, sized to its contents.
func (r *runner) printCells(names []string, cells [][]string) {
	if len(cells) == 0 && len(names) > 0 {
		fmt.Fprintln(r.out, "Empty set")
		return
	}
	widths := make([]int, len(names))
	for i, n := range names {
		widths[i] = utf8.RuneCountInString(n)
	}
	for _, row := range cells {
		for i, s := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	rows := cells
	var b strings.Builder
	border(&b, widths)
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
		if ctx.Err() != nil { // interrupted: Err is the cancelled ctx's, not a failure
			fmt.Fprintln(r.out, "Query terminated.")
			return nil
		}
		if err := q.Err(); err != nil {
			return err
		}
		r.printTable(res.Columns, rows)
		return nil
	}
	sp := r.newStreamPrinter(res.Columns)
	cells := make([]string, len(res.Columns))
	for {
		row, ok := q.Next(ctx)
		if !ok {
			break
		}
		for i, c := range res.Columns {
			cells[i] = r.cell(row.Vals[i], c.Type)
		}
		sp.row(row.Kind.String(), cells)
	}
	if err := q.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	sp.end(ctx.Err() != nil)
	return nil
}

// streamPrinter prints a streaming result in tableau form: an op column and each change as it arrives.
type streamPrinter struct {
	r      *runner
	widths []int
	cells  []string
	b      strings.Builder
	n      int
}

func (r *runner) newStreamPrinter(cols []engine.Column) *streamPrinter {
	p := &streamPrinter{r: r, widths: []int{2}}
	names := []string{"op"}
	for _, c := range cols {
		p.widths = append(p.widths, streamWidth(c))
		names = append(names, c.Name)
	}
	p.cells = make([]string, len(p.widths))
	border(&p.b, p.widths)
	line(&p.b, p.widths, names)
	border(&p.b, p.widths)
	io.WriteString(r.out, p.b.String())
	return p
}

// row prints one change: its kind ("+I") and its cells as text.
func (p *streamPrinter) row(kind string, cells []string) {
	p.n++
	p.cells[0] = kind
	for i, c := range cells {
		p.cells[i+1] = cut(c, p.widths[i+1])
	}
	p.b.Reset()
	line(&p.b, p.widths, p.cells)
	io.WriteString(p.r.out, p.b.String())
}

// end closes the table and says how many rows came.
func (p *streamPrinter) end(terminated bool) {
	p.b.Reset()
	border(&p.b, p.widths)
	io.WriteString(p.r.out, p.b.String())
	if terminated {
		fmt.Fprintln(p.r.out, "Query terminated, received a total of", p.n, rowsWord(p.n))
	} else {
		fmt.Fprintln(p.r.out, "Received a total of", p.n, rowsWord(p.n))
	}
}

func rowsWord(n int) string {
	if n == 1 {
		return "row"
	}
	return "rows"
}
