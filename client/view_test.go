package client

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The table result view on a terminal: an aggregate's row is updated in place (one row, its count going up),
// the end of the query shows in the status line, q quits back to the prompt, and the shell works on.
func TestShellTableView(t *testing.T) {
	checkResultViews(t, startPtyShell(t), true)
}

// checkResultViews drives the table and changelog views of the shell on p (at its first prompt). every: the
// table view must show a count before the final one (the embedded shell; the remote one may get all changes
// in one page).
func checkResultViews(t *testing.T, p *ptyShell, every bool) {
	p.send(`SET 'sql-client.execution.result-mode' = 'table';`)
	p.expect("Session property has been set.")
	p.send(`CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '10', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '6');`)
	p.expect("Execute statement succeed.")
	p.send(`SELECT 'total' AS k, COUNT(*) AS c FROM src;`)
	p.expect("\x1b[?1049h") // the alternate screen
	p.expect("Table view: 1 rows")
	p.expect("total | 6")
	p.expect("(query finished)")
	out := p.output()
	if every && !regexp.MustCompile(`total \| [1-5]\b`).MatchString(out) {
		// The view redraws at most every 100 ms, so which counts it shows depends on timing; but before the
		// last one it showed an earlier one, in place (one row).
		t.Fatalf("the table view showed no count before the final one:\n%q", out)
	}
	if strings.Contains(out, "Table view: 2 rows") {
		t.Fatalf("the table view showed an update as a second row:\n%q", out)
	}
	if strings.Contains(out, "| +I |") || strings.Contains(out, "Received a total of") {
		t.Fatalf("the table view printed tableau rows:\n%q", out)
	}
	p.tty.Write([]byte("q"))
	p.expect("\x1b[?1049l") // back to the shell's screen
	p.expectN("Sluice SQL> ", 4)
	// The terminal is the line editor's again: a statement typed now runs.
	p.send(`SET 'sql-client.execution.result-mode' = 'changelog';`)
	p.expectN("Session property has been set.", 2)
	p.send(`SELECT id FROM src WHERE id > 4;`)
	p.expect("Changelog view: 2 rows")
	p.expect("+I |  6")
	p.tty.Write([]byte("q"))
	p.expectN("\x1b[?1049l", 2)
	p.expectN("Sluice SQL> ", 6) // the view gave the terminal back (keys typed before are the view's)
	p.send(`SHOW TABLES;`)
	p.expect("1 row in set")
}

// A statement typed over several lines is one history entry: Up recalls it whole, and it runs again.
func TestShellHistoryMultiLine(t *testing.T) {
	p := startPtyShell(t)
	p.send(`SELECT 'a' AS x,`)
	p.send(`  'b' AS y`)
	p.send(`  ;`)
	p.expect("Received a total of 1 row")
	// Up recalls the statement. On a loaded machine the key can reach the terminal before the line editor has
	// put it into raw mode again (the cooked terminal echoes "^[[A" and the key is lost), so press it again
	// until the line shows: with one statement in the history, more presses keep showing it.
	for try := 0; ; try++ {
		p.tty.Write([]byte("\x1b[A")) // Up
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(p.output(), "SELECT 'a' AS x, 'b' AS y ;") {
			time.Sleep(20 * time.Millisecond)
		}
		if strings.Contains(p.output(), "SELECT 'a' AS x, 'b' AS y ;") || try == 9 {
			break
		}
	}
	p.expect("SELECT 'a' AS x, 'b' AS y ;")
	p.send("")
	p.expectN("Received a total of 1 row", 2)
	if got := historyEntry("SELECT 1 -- one\n, 2"); got != "SELECT 1 -- one\n, 2" {
		t.Fatalf("a line comment was joined: %q", got)
	}
	if got := historyEntry("SELECT 'x\ny'"); got != "SELECT 'x\ny'" {
		t.Fatalf("a multi-line literal was joined: %q", got)
	}
}

// The same views in the remote shell (sql-client gateway): the result mode is the gateway session's option,
// rows come page by page from the gateway, and q gives the prompt back.
func TestRemoteShellTableView(t *testing.T) {
	p := startPty(t, "gateway --endpoint "+startGateway(t, ""))
	p.expect("Sluice SQL> ")
	checkResultViews(t, p, false)
}
