package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

var hexID = regexp.MustCompile(`[0-9a-f]{32}`)

// TestCheckpointGolden runs testdata/checkpoint/*. Paths are written $DIR (a fresh directory per file) and
// $SAVEPOINT (the last savepoint written). Commands:
//
//	exec                  run statements (as TestGolden's exec)
//	wait-checkpoint       wait until the newest job completed a checkpoint; print whether its newest
//	                      completed checkpoint is seen on disk (with _metadata) before the deadline
//	stop [savepoint] [drain]
//	                      STOP JOB the newest job; with savepoint, remember the path as $SAVEPOINT
//	copy from=P to=Q      copy the checkpoint directory P to Q
//	damage path=P how=delete|garbage|flip
//	                      delete a file, overwrite it with garbage, or flip a byte in its middle
//	jobs                  print status and last error of every job (errors with paths as $DIR)
func TestCheckpointGolden(t *testing.T) {
	datadriven.Walk(t, "testdata/checkpoint", func(t *testing.T, path string) {
		dir := t.TempDir()
		var out syncBuffer // jobs write notices from their goroutines
		s, err := NewSession(Config{Stdout: &out, Stderr: &out, Notice: &out, TempDir: t.TempDir(), Options: map[string]string{"table.local-time-zone": "UTC"}})
		if err != nil {
			t.Fatal(err)
		}
		savepoint := ""
		subst := func(in string) string {
			in = strings.ReplaceAll(in, "$SAVEPOINT", savepoint)
			return strings.ReplaceAll(in, "$DIR", dir)
		}
		unsubst := func(in string) string {
			if savepoint != "" {
				in = strings.ReplaceAll(in, savepoint, "$SAVEPOINT")
			}
			return strings.ReplaceAll(in, dir, "$DIR")
		}
		newest := func() *Job {
			jobs := s.Jobs()
			if len(jobs) == 0 {
				t.Fatal("no job")
			}
			return jobs[len(jobs)-1]
		}
		defer func() {
			for _, j := range s.Jobs() {
				j.Cancel()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			switch d.Cmd {
			case "exec":
				out.Reset()
				res := execAll(ctx, t, s, subst(d.Input))
				return unsubst(res + out.String())
			case "wait-checkpoint":
				j := newest()
				deadline := time.Now().Add(20 * time.Second)
				for j.LastCheckpoint().ID == 0 && j.Status() == JobRunning && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				c := j.LastCheckpoint()
				if c.ID == 0 {
					return "no checkpoint; job " + string(j.Status()) + "\n"
				}
				// The job keeps checkpointing (every 50 ms in the files here) and keeps one: the next one prunes
				// c's directory before it is noted as the last, so a directory that is gone is looked up again
				// in the newest completed checkpoint until one is seen on disk or the deadline passes.
				_, err := os.Stat(filepath.Join(c.Path, "_metadata"))
				for err != nil && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
					c = j.LastCheckpoint()
					_, err = os.Stat(filepath.Join(c.Path, "_metadata"))
				}
				return "checkpoint completed; _metadata on disk: " + map[bool]string{true: "yes", false: "no"}[err == nil] + "\n"
			case "stop":
				j := newest()
				stmt := "STOP JOB '" + j.ID() + "'"
				if d.HasArg("savepoint") {
					stmt += " WITH SAVEPOINT"
				}
				if d.HasArg("drain") {
					stmt += " WITH DRAIN"
				}
				res := execAll(ctx, t, s, stmt+";")
				if d.HasArg("savepoint") {
					if lines := strings.Split(strings.TrimSpace(res), "\n"); len(lines) == 2 && strings.HasPrefix(lines[1], dir) {
						savepoint = lines[1]
						res = lines[0] + "\n" + filepath.Join("$DIR", filepath.Base(filepath.Dir(savepoint)), "savepoint-<id>") + "\n"
					}
				}
				return unsubst(res) + "job " + string(j.Status()) + "\n"
			case "copy":
				var from, to string
				d.ScanArgs(t, "from", &from)
				d.ScanArgs(t, "to", &to)
				if err := os.CopyFS(subst(to), os.DirFS(subst(from))); err != nil {
					t.Fatal(err)
				}
				return ""
			case "damage":
				var p, how string
				d.ScanArgs(t, "path", &p)
				d.ScanArgs(t, "how", &how)
				p = subst(p)
				if m, _ := filepath.Glob(p); len(m) == 1 {
					p = m[0]
				}
				switch how {
				case "delete":
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
				case "garbage":
					if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
						t.Fatal(err)
					}
				case "flip":
					b, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					b[len(b)/2] ^= 0xff
					if err := os.WriteFile(p, b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return ""
			case "jobs":
				var b strings.Builder
				defer func() { out.Reset() }()
				for _, j := range s.Jobs() {
					_ = j.Wait(ctx)
					b.WriteString(string(j.Status()))
					if err := j.Wait(ctx); err != nil {
						b.WriteString(": " + errText(err))
					}
					b.WriteString("\n")
				}
				b.WriteString(out.String())
				return hexID.ReplaceAllString(unsubst(b.String()), "<job id>")
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
