package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicesql/sluice/engine"
)

// The live result views of the interactive shell ('sql-client.execution.result-mode'):
//
//	table      a materialized view of the result, updated in place as changes arrive
//	changelog  every change with its kind, as it arrives
//	tableau    the rows printed below the statement (the default, and what scripts and pipes always get)
//
// A view takes the terminal's alternate screen and redraws at most every 100 ms. Keys: q (or Esc, Ctrl-C)
// quits and cancels the query; Up/Down or k/j scroll a row, PgUp/PgDn or Space/b a page, g/G go to the top
// or the end (the end follows new rows). The query's end is shown in the status line; the view stays until q.

// viewKeys delivers the terminal's keys while a view is open; stop ends it and gives the terminal back.
type viewKeys interface {
	keys() <-chan byte
	stop()
	size() (cols, rows int)
}

// resultView is the state of an open view.
type resultView struct {
	mode    string // "table" or "changelog"
	names   []string
	rows    [][]string // table: the current rows; changelog: op + cells
	limit   int
	total   int
	top     int  // first row shown
	follow  bool // keep the end in view
	status  string
	dirty   bool
	dropped int
}

// apply adds one change.
func (v *resultView) apply(kind string, cells []string) {
	v.total++
	v.dirty = true
	if v.mode == "changelog" {
		v.rows = append(v.rows, append([]string{kind}, cells...))
	} else {
		switch kind {
		case "-U", "-D":
			for i, r := range v.rows {
				if equalCells(r, cells) {
					v.rows = append(v.rows[:i], v.rows[i+1:]...)
					break
				}
			}
			return
		default:
			v.rows = append(v.rows, append([]string(nil), cells...))
		}
	}
	if len(v.rows) > v.limit {
		n := len(v.rows) - v.limit
		v.rows = v.rows[n:]
		v.dropped += n
	}
}

func equalCells(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// render draws the view into a screen of the given size.
func (v *resultView) render(w io.Writer, cols, rows int) {
	names := v.names
	if v.mode == "changelog" {
		names = append([]string{"op"}, v.names...)
	}
	body := max(rows-4, 1)
	if v.follow || v.top > max(len(v.rows)-body, 0) {
		v.top = max(len(v.rows)-body, 0)
	}
	shown := v.rows[v.top:min(v.top+body, len(v.rows))]
	widths := make([]int, len(names))
	for i, n := range names {
		widths[i] = utf8.RuneCountInString(n)
	}
	for _, r := range shown {
		for i, c := range r {
			widths[i] = min(max(widths[i], utf8.RuneCountInString(c)), 40)
		}
	}
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	title := "Table view"
	if v.mode == "changelog" {
		title = "Changelog view"
	}
	fmt.Fprintf(&b, "%s: %d rows (%d changes received) %s\r\n", title, len(v.rows), v.total, v.status)
	writeRow := func(cells []string) {
		var l strings.Builder
		for i, c := range cells {
			if i > 0 {
				l.WriteString(" | ")
			}
			c = cut(c, max(widths[i], 4))
			l.WriteString(strings.Repeat(" ", widths[i]-min(utf8.RuneCountInString(c), widths[i])))
			l.WriteString(c)
		}
		s := l.String()
		if utf8.RuneCountInString(s) > cols && cols > 3 {
			s = string([]rune(s)[:cols-3]) + "..."
		}
		b.WriteString(s)
		b.WriteString("\r\n")
	}
	writeRow(names)
	for _, r := range shown {
		writeRow(r)
	}
	b.WriteString(strings.Repeat("\r\n", max(body-len(shown), 0)))
	fmt.Fprintf(&b, "\x1b[7m q quit  Up/Down scroll  PgUp/PgDn page  g/G top/end  rows %d-%d of %d \x1b[0m",
		min(v.top+1, len(v.rows)), v.top+len(shown), len(v.rows))
	io.WriteString(w, b.String())
	v.dirty = false
}

// key handles one key; it reports whether the view should close.
func (v *resultView) key(k byte, esc *[]byte, page int) bool {
	if len(*esc) > 0 || k == 0x1b {
		*esc = append(*esc, k)
		s := string(*esc)
		switch s {
		case "\x1b[A":
			v.scroll(-1)
		case "\x1b[B":
			v.scroll(1)
		case "\x1b[5~":
			v.scroll(-page)
		case "\x1b[6~":
			v.scroll(page)
		default:
			if len(s) < 4 && (s == "\x1b" || s == "\x1b[" || s == "\x1b[5" || s == "\x1b[6") {
				return false
			}
		}
		*esc = (*esc)[:0]
		return false
	}
	switch k {
	case 'q', 'Q', 0x03:
		return true
	case 'k':
		v.scroll(-1)
	case 'j':
		v.scroll(1)
	case ' ':
		v.scroll(page)
	case 'b':
		v.scroll(-page)
	case 'g':
		v.follow, v.top = false, 0
	case 'G':
		v.follow = true
	}
	v.dirty = true
	return false
}

func (v *resultView) scroll(n int) {
	v.follow = false
	v.top = max(v.top+n, 0)
	v.dirty = true
}

// viewChange is one change of a viewed result: its kind (+I, -U, +U, -D) and cells as the shell prints them.
type viewChange struct {
	kind  string
	cells []string
}

// viewQuery shows a query's result in a live view until q; it returns the query's error, if any.
func (r *runner) viewQuery(ctx context.Context, res *engine.Result, mode string, kb viewKeys) error {
	q := res.Query
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer q.Close()
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	changes := make(chan viewChange, 1024)
	go func() {
		defer close(changes)
		for {
			row, ok := q.Next(ctx)
			if !ok {
				return
			}
			cells := make([]string, len(res.Columns))
			for i, c := range res.Columns {
				cells[i] = r.cell(row.Vals[i], c.Type)
			}
			select {
			case changes <- viewChange{row.Kind.String(), cells}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// The view's own cancel (q, an interrupt, or the shell's ctx ending) is not a failure of the query.
	errOf := func() error {
		if err := q.Err(); err != nil && !(ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return err
		}
		return nil
	}
	return r.showView(names, changes, errOf, mode, r.maxViewRows(), kb, cancel)
}

// showView runs a view over changes (closed at the query's end, when errOf tells whether it failed) until q;
// cancel stops the query. It returns the query's error, if any.
func (r *runner) showView(names []string, changes <-chan viewChange, errOf func() error, mode string, limit int, kb viewKeys, cancel func()) error {
	v := &resultView{mode: mode, limit: limit, follow: true, status: "(running)", dirty: true, names: names}
	io.WriteString(r.out, "\x1b[?1049h\x1b[?25l") // alternate screen, no cursor
	defer io.WriteString(r.out, "\x1b[?25h\x1b[?1049l")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var esc []byte
	ch := changes
	var qerr error
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				ch = nil
				v.status, v.dirty = "(query finished)", true
				if err := errOf(); err != nil {
					qerr = err
					v.status = "(query failed: " + err.Error() + ")"
				}
				continue
			}
			v.apply(c.kind, c.cells)
		case k := <-kb.keys():
			_, rows := kb.size()
			if v.key(k, &esc, max(rows-4, 1)) {
				cancel()
				return qerr
			}
		case <-r.sigs:
			cancel()
			return qerr
		case <-tick.C:
			if v.dirty {
				cols, rows := kb.size()
				v.render(r.out, cols, rows)
			}
		}
	}
}

// maxViewRows is 'sql-client.execution.max-table-result.rows' (Flink's default 1000000): the rows a view
// keeps; older ones are dropped.
func (r *runner) maxViewRows() int {
	n := 1000000
	if v, ok := r.option("sql-client.execution.max-table-result.rows"); ok {
		fmt.Sscan(v, &n)
	}
	return max(n, 1)
}
