package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal client of the Chrome DevTools Protocol over --remote-debugging-pipe (JSON messages separated
// by NUL bytes; the browser reads commands on fd 3 and writes replies and events on fd 4): one browser
// process serves all the pages of a test, and a test waits for what it expects in the DOM instead of a
// fixed time budget. (chromedp would do this too, but would add a module and its dependencies for three
// commands.)

// findChromium finds the Chromium binary. Under CI (CI set) a missing browser fails the test; locally it
// skips.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium binary (chromium, chromium-browser, google-chrome) on PATH: the dashboard's browser test needs it; on Debian: apt-get install chromium (.ci/run installs it)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + " (this is a failure when CI is set)")
	return ""
}

type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	toB     *os.File // our end of the browser's fd 3
	stderr  *bytes.Buffer
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	dead    chan struct{}
	session string // the page's flat session
}

type cdpReply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser starts headless Chromium with one blank page; it is stopped when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := findChromium(t)
	cmdR, cmdW, err := os.Pipe() // we write commands, the browser reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe() // the browser writes fd 4, we read
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, toB: cmdW, stderr: &bytes.Buffer{}, pending: map[int]chan cdpReply{}, dead: make(chan struct{})}
	b.cmd = exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	b.cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	b.cmd.ExtraFiles = []*os.File{cmdR, evW}
	b.cmd.Stderr = &lockedWriter{w: b.stderr}
	start := time.Now()
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cmdR.Close()
	evW.Close()
	go b.read(evR)
	t.Cleanup(func() {
		cmdW.Close()
		b.cmd.Process.Kill()
		b.cmd.Wait()
	})
	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	t.Logf("browser started in %v", time.Since(start).Round(time.Millisecond))
	return b
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *browser) read(r *os.File) {
	defer close(b.dead)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var rep cdpReply
		if json.Unmarshal(msg[:len(msg)-1], &rep) != nil || rep.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[rep.ID]
		delete(b.pending, rep.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
}

// call sends a command (to the page's session unless session is "" for the browser) and decodes its result.
func (b *browser) call(session, method string, params any, out any) {
	b.t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpReply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.toB.Write(append(data, 0)); err != nil {
		b.t.Fatalf("%s: write to the browser: %v", method, err)
	}
	select {
	case rep := <-ch:
		if rep.Error != nil {
			b.t.Fatalf("%s: %d %s", method, rep.Error.Code, rep.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(rep.Result, out); err != nil {
				b.t.Fatalf("%s: %v in %s", method, err, rep.Result)
			}
		}
	case <-b.dead:
		b.t.Fatalf("%s: the browser exited:\n%s", method, b.stderr.String())
	case <-time.After(15 * time.Second):
		b.t.Fatalf("%s: no answer from the browser within 15s", method)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("evaluate %s: %s", expr, r.ExceptionDetails.Text)
	}
	if out != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			b.t.Fatalf("evaluate %s: %v in %s", expr, err, r.Result.Value)
		}
	}
}

// open navigates the page to url.
func (b *browser) open(url string) {
	b.t.Helper()
	b.call(b.session, "Page.navigate", map[string]any{"url": url}, nil)
}

// waitFor polls the page until the JavaScript expression cond is true and returns the DOM as HTML then;
// after the timeout it fails the test with what the page shows.
func (b *browser) waitFor(what, cond string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	for {
		var ok bool
		b.eval(fmt.Sprintf("(() => { try { return !!(%s); } catch (e) { return false; } })()", cond), &ok)
		var dom string
		// between two documents (a navigation, the login's redirect) there may be no document element
		b.eval(`(() => { try { return document.documentElement.outerHTML; } catch (e) { return ""; } })()`, &dom)
		if ok && dom != "" {
			b.t.Logf("%s: rendered after %v", what, time.Since(start).Round(time.Millisecond))
			return dom
		}
		select {
		case <-ctx.Done():
			if len(dom) > 6000 {
				dom = "..." + dom[len(dom)-6000:]
			}
			b.t.Fatalf("%s: the page did not show %s within 15s:\n%s", what, strings.TrimSpace(cond), dom)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
