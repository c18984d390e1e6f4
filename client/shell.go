package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/peterh/liner"

	"github.com/sluicesql/sluice/sql"
)

const (
	prompt     = "Sluice SQL> "
	contPrompt = "> "
	helpText   = `The following commands are available:

CLEAR		Clears the current terminal.
HELP		Prints the available commands.
QUIT/EXIT	Quits the SQL CLI client (asks first when jobs are running: quitting stops them).
CREATE TABLE, CREATE VIEW, DROP, SET, RESET, SHOW, DESCRIBE, EXPLAIN, INSERT INTO, SELECT, STOP JOB,
DESCRIBE JOB '<id>' (a job's plan, counters and failure cause):
		SQL statements, ended by ';'.

Hint: Make sure that a statement ends with ';' for finalizing (multi-line) statements.
`
)

// lineReader is the shell's input: liner on a terminal, plain lines otherwise.
type lineReader interface {
	Prompt(p string) (string, error)
	AppendHistory(s string)
	Close() error
}

type plainReader struct{ sc *bufio.Scanner }

func (p *plainReader) Prompt(string) (string, error) {
	if p.sc.Scan() {
		return p.sc.Text(), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}
func (p *plainReader) AppendHistory(string) {}
func (p *plainReader) Close() error         { return nil }

type linerReader struct {
	st   *liner.State
	hist string
}

func (l *linerReader) Prompt(p string) (string, error) { return l.st.Prompt(p) }
func (l *linerReader) AppendHistory(s string)          { l.st.AppendHistory(historyEntry(s)) }

// historyEntry is a statement as one history entry: a statement typed over several lines is recalled as one
// line (the line editor edits one line; the history file holds one entry per line). Lines are joined with a
// space unless that would change the statement: a '--' comment would swallow the next lines, a string
// literal spanning lines would change; such a statement keeps its lines.
func historyEntry(s string) string {
	if !strings.Contains(s, "\n") || strings.Contains(s, "--") {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Count(l, "'")%2 != 0 || strings.Count(l, "`")%2 != 0 {
			return s
		}
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}
func (l *linerReader) Close() error {
	if l.hist != "" {
		if f, err := os.Create(l.hist); err == nil {
			l.st.WriteHistory(f)
			f.Close()
		}
	}
	return l.st.Close()
}

func newLineReader(in io.Reader, interactive bool) lineReader {
	if !interactive {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		return &plainReader{sc: sc}
	}
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	lr := &linerReader{st: st}
	if dir, err := os.UserHomeDir(); err == nil {
		lr.hist = filepath.Join(dir, ".sluice_history")
		if f, err := os.Open(lr.hist); err == nil {
			st.ReadHistory(f)
			f.Close()
		}
	}
	return lr
}

// shell runs the interactive loop until QUIT, EXIT or end of input. Ctrl-C at the prompt clears the
// statement being typed; during a query it cancels the query.
func (r *runner) shell(in io.Reader, interactive bool) int {
	lr := newLineReader(in, interactive)
	defer lr.Close()
	if interactive {
		fmt.Fprintln(r.out, "Welcome to Sluice SQL. Statements end with ';'. Type HELP; for help, QUIT; to leave.")
	}
	var buf strings.Builder
	for {
		p := prompt
		if buf.Len() > 0 {
			p = contPrompt
		}
		r.prompt.Store(p)
		line, err := lr.Prompt(p)
		r.prompt.Store("") // a statement runs: no prompt to redraw
		if errors.Is(err, liner.ErrPromptAborted) {
			buf.Reset()
			continue
		}
		if err != nil {
			if buf.Len() > 0 && strings.TrimSpace(buf.String()) != "" {
				fmt.Fprintln(r.errw, "[ERROR] Incomplete statement at end of input (missing ';').")
				return 1
			}
			if jobs := r.running(); len(jobs) > 0 {
				r.stopJobs(jobs, "End of input")
			}
			if interactive {
				fmt.Fprintln(r.out, "\nShutting down the session...\ndone.")
			}
			return 0
		}
		if buf.Len() > 0 {
			buf.WriteByte('\n')
		}
		buf.WriteString(line)
		text := buf.String()
		if strings.TrimSpace(text) == "" {
			buf.Reset()
			continue
		}
		if cmd := command(text); cmd != "" {
			buf.Reset()
			lr.AppendHistory(text)
			switch cmd {
			case "QUIT", "EXIT":
				if interactive && !r.confirmQuit(lr) {
					continue
				}
				if jobs := r.running(); len(jobs) > 0 {
					r.stopJobs(jobs, cmd)
				}
				fmt.Fprintln(r.out, "Shutting down the session...\ndone.")
				return 0
			case "HELP":
				fmt.Fprint(r.out, helpText)
			case "CLEAR":
				fmt.Fprint(r.out, "\033[H\033[2J")
			}
			continue
		}
		if !sql.Complete(text) {
			continue
		}
		buf.Reset()
		lr.AppendHistory(text)
		text = r.expandVars(text)
		stmts, err := sql.ParseScript(text)
		if err != nil {
			r.report(err)
			continue
		}
		spans := sql.SplitStatements(text)
		for i, st := range stmts {
			if i < len(spans) {
				r.stmtText = positioned(text, spans[i])
			}
			if err := r.exec(context.Background(), st); err != nil {
				r.report(err)
				break
			}
		}
	}
}

// command recognizes the client commands QUIT, EXIT, HELP and CLEAR (with or without ';').
func command(text string) string {
	t := strings.ToUpper(strings.TrimSpace(text))
	t = strings.TrimSpace(strings.TrimSuffix(t, ";"))
	switch t {
	case "QUIT", "EXIT", "HELP", "CLEAR":
		return t
	}
	return ""
}

func (r *runner) report(err error) {
	if line, col, msg, ok := sql.Position(err); ok {
		fmt.Fprintf(r.errw, "[ERROR] Could not execute SQL statement. Reason:\nline %d, column %d: %s\n%s\n", line, col, msg, r.causes(err))
		return
	}
	fmt.Fprintf(r.errw, "[ERROR] Could not execute SQL statement. Reason:\n%v\n%s\n", err, r.causes(err))
}
