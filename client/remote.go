package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/sql"
	"github.com/sluicesql/sluice/types"
)

// The remote shell (sql-client gateway --endpoint host:port): statements go to a SQL gateway over its REST
// API (package gateway); results come back page by page and are printed as the embedded shell prints them.
// Jobs run in the gateway and outlive the shell.

type remoteSession struct {
	base, token, handle string
	http                *http.Client
}

// gatewayError is a gateway's error answer ({"errors": [...]}, with the position of a SQL error).
type gatewayError struct {
	Errors       []string `json:"errors"`
	Line, Column int
}

func (r *remoteSession) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", r.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ge gatewayError
		if json.Unmarshal(data, &ge) != nil || len(ge.Errors) == 0 {
			return fmt.Errorf("gateway %s: %s %s: HTTP %d", r.base, method, path, resp.StatusCode)
		}
		// errors[0] is the message; the "Caused by" lines after it are the chain the embedded shell prints
		// with 'sql-client.verbose' (causes).
		var err error = errors.New(ge.Errors[0])
		if ge.Line > 0 {
			err = &sql.Error{Pos: sql.Pos{Line: ge.Line, Col: ge.Column}, Msg: ge.Errors[0], Err: err}
		}
		if len(ge.Errors) > 1 {
			err = &remoteCauses{err: err, lines: ge.Errors[1:]}
		}
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("gateway %s: bad answer to %s %s: %w", r.base, method, path, err)
		}
	}
	return nil
}

// openRemote opens a session on the gateway at endpoint with the given properties.
func openRemote(endpoint, token string, props map[string]string) (*remoteSession, error) {
	base := endpoint
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	r := &remoteSession{base: strings.TrimSuffix(base, "/"), token: token, http: &http.Client{Timeout: time.Minute}}
	var out struct{ SessionHandle string }
	if err := r.call(context.Background(), "POST", "/v1/sessions", map[string]any{"sessionName": "sql-client", "properties": props}, &out); err != nil {
		return nil, err
	}
	r.handle = out.SessionHandle
	return r, nil
}

func (r *remoteSession) close() {
	r.call(context.Background(), "DELETE", "/v1/sessions/"+r.handle, nil, nil)
}

type remotePage struct {
	ResultType string `json:"resultType"`
	JobID      string `json:"jobID"`
	Results    struct {
		Columns []struct {
			Name        string `json:"name"`
			LogicalType struct {
				SQL string `json:"sql"`
			} `json:"logicalType"`
		} `json:"columns"`
		Data []struct {
			Kind   string            `json:"kind"`
			Fields []json.RawMessage `json:"fields"`
		} `json:"data"`
	} `json:"results"`
	NextResultURI string `json:"nextResultUri"`
	SluiceKind    string `json:"sluiceKind"`
	Message       string `json:"message"`
	Batch         bool   `json:"batch"`
}

var kindSymbols = map[string]string{"INSERT": "+I", "UPDATE_BEFORE": "-U", "UPDATE_AFTER": "+U", "DELETE": "-D"}

// remoteCell is a field as the shell prints it.
func remoteCell(f json.RawMessage) string {
	switch {
	case string(f) == "null":
		return nullText
	case string(f) == "true":
		return "TRUE"
	case string(f) == "false":
		return "FALSE"
	case len(f) > 0 && f[0] == '"':
		var s string
		json.Unmarshal(f, &s)
		return s
	}
	return string(f)
}

// execRemote runs one statement on the gateway and prints its result.
func (r *runner) execRemote(ctx context.Context, st sql.Statement, text string) error {
	g := r.remote
	var op struct{ OperationHandle string }
	if err := g.call(ctx, "POST", "/v1/sessions/"+g.handle+"/statements", map[string]string{"statement": text}, &op); err != nil {
		return err
	}
	opPath := "/v1/sessions/" + g.handle + "/operations/" + op.OperationHandle
	defer g.call(context.Background(), "DELETE", opPath+"/close", nil, nil)
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := r.cancelOnSignal(cancel)
	defer stop()

	var (
		cols    []engine.Column
		cells   [][]string
		sp      *streamPrinter
		kind    string
		pg      remotePage
		started bool
		uri     = opPath + "/result/0?rowFormat=JSON"
	)
	for {
		pg = remotePage{}
		if err := g.call(qctx, "GET", uri, nil, &pg); err != nil {
			if qctx.Err() != nil {
				break
			}
			return err
		}
		if pg.ResultType != "NOT_READY" && !started {
			started, kind = true, pg.SluiceKind
			for _, c := range pg.Results.Columns {
				t, err := sql.ParseDataType(c.LogicalType.SQL)
				if err != nil {
					t = types.StringType()
				}
				cols = append(cols, engine.Column{Name: c.Name, Type: t})
			}
			if kind == "QUERY" && !pg.Batch {
				if mode, _ := r.option("sql-client.execution.result-mode"); (mode == "table" || mode == "changelog") && r.tty != nil {
					// The live views need the terminal (view.go); scripts and pipes get tableau.
					if kb := openViewKeys(r.tty); kb != nil {
						defer kb.stop()
						return r.viewRemote(qctx, cancel, cols, pg, mode, kb)
					}
				}
				sp = r.newStreamPrinter(cols)
			}
		}
		for _, d := range pg.Results.Data {
			row := make([]string, len(d.Fields))
			for i, f := range d.Fields {
				row[i] = remoteCell(f)
			}
			if sp != nil {
				sp.row(kindSymbols[d.Kind], row)
			} else {
				cells = append(cells, row)
			}
		}
		if pg.ResultType == "EOS" || pg.NextResultURI == "" {
			break
		}
		uri = pg.NextResultURI
	}
	if qctx.Err() != nil && ctx.Err() == nil {
		g.call(context.Background(), "POST", opPath+"/cancel", nil, nil)
	}
	switch kind {
	case "OK":
		r.printOK(st, pg.Message)
	case "JOB":
		if len(cells) == 1 && len(cells[0]) == 1 {
			r.noteRemoteJob(cells[0][0], engine.OriginOf(ctx, st.Position()))
			fmt.Fprintf(r.out, "[INFO] Submitting SQL update statement to the cluster...\n"+
				"[INFO] SQL update statement has been successfully submitted to the cluster:\nJob ID: %s\n\n", cells[0][0])
		}
	case "TABLE":
		if rawResult(st) && len(cells) == 1 && len(cols) == 1 {
			fmt.Fprintln(r.out, cells[0][0])
			return nil
		}
		r.printCells(columnNames(cols), cells)
		if pg.Message != "" {
			fmt.Fprintln(r.out, pg.Message)
		}
	case "QUERY":
		if sp != nil {
			sp.end(qctx.Err() != nil)
		} else if qctx.Err() != nil {
			fmt.Fprintln(r.out, "Query terminated.")
		} else {
			r.printCells(columnNames(cols), cells)
		}
	}
	return nil
}

func columnNames(cols []engine.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// positioned returns a statement's text padded so that positions in it are those of the script: the gateway
// then reports errors at the script's line and column.
func positioned(text string, sp sql.Span) string {
	return strings.Repeat("\n", sp.Pos.Line-1) + strings.Repeat(" ", sp.Pos.Col-1) + text[sp.Start:sp.End]
}

// remoteMain is Main in gateway mode.
func remoteMain(cfg Config, endpoint, token string, props map[string]string, file, initFile string) int {
	rs, err := openRemote(endpoint, token, props)
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "[ERROR] Could not open a session on the SQL gateway: %v\n", err)
		return 1
	}
	defer closeRemote(cfg, rs)
	r := &runner{out: cfg.Stdout, errw: cfg.Stderr, jobs: newJobWatch(), interactive: cfg.Interactive && file == "", progress: cfg.Progress, remote: rs,
		remoteJobs: &remoteJobs{origins: map[string]string{}, reported: map[string]bool{}}}
	if f, ok := cfg.Stdin.(*os.File); ok && r.interactive {
		r.tty = f // the live result views
	}
	pctx, stopPolling := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() { defer close(polled); r.pollRemoteJobs(pctx) }()
	// failedAtEnd stops polling and prints the failures the last poll has not seen yet.
	failedAtEnd := func() bool {
		stopPolling()
		<-polled
		return r.checkRemoteJobs(context.Background()) > 0
	}
	defer stopPolling()
	r.sigs = cfg.Signals
	if r.sigs == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		r.sigs = ch
	}
	if initFile != "" {
		if err := r.runFile(context.Background(), initFile, false); errors.Is(err, errQuit) {
			return 0
		} else if err != nil {
			return 1
		}
	}
	if file != "" {
		err := r.runFile(context.Background(), file, true)
		if failedAtEnd() || err != nil && !errors.Is(err, errQuit) {
			return 1
		}
		return 0
	}
	code := r.shell(cfg.Stdin, cfg.Interactive)
	failedAtEnd()
	return code
}

// closeRemote closes the gateway session unless jobs run in it: those outlive the client, and the session
// stays open on the gateway (closing it would stop them).
func closeRemote(cfg Config, rs *remoteSession) {
	var out struct {
		Jobs []struct{ JobID, JobName, Status string }
	}
	if err := rs.call(context.Background(), "GET", "/v1/sessions/"+rs.handle+"/jobs", nil, &out); err == nil {
		n := 0
		for _, j := range out.Jobs {
			if j.Status == string(engine.JobRunning) {
				n++
			}
		}
		if n > 0 {
			fmt.Fprintf(cfg.Stderr, "[INFO] %d job(s) keep running in the gateway; session %s stays open there.\n", n, rs.handle)
			return
		}
	}
	rs.close()
}
