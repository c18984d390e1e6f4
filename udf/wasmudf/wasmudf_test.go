package wasmudf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/types"
)

var (
	buildDir  string
	buildOnce = map[string]*sync.Once{}
	buildMu   sync.Mutex
	built     = map[string]string{}
	buildErrs = map[string]error{}
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "wasmudf")
	if err != nil {
		panic(err)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// buildModule builds the Go package in dir (relative to this package) as a wasip1 reactor module once
// per test process, with the local Go toolchain.
func buildModule(t testing.TB, dir string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[dir]; ok {
		return p
	}
	if err := buildErrs[dir]; err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(buildDir, filepath.Base(dir)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		buildErrs[dir] = err
		t.Fatalf("building %s: %v\n%s", dir, err, b)
	}
	built[dir] = out
	return out
}

var testCfg = Config{CallTimeout: 2 * time.Second, MemoryLimit: 64 << 20}

func loadT(t *testing.T, mod, export string) *Function {
	t.Helper()
	u, f, err := Load(context.Background(), export, export, mod, testCfg)
	if err != nil {
		t.Fatal(err)
	}
	// The Function is closed once its UDF is unreachable (Load's cleanup, as when a dropped function's
	// plans are gone): the test keeps the UDF until it ends, as a plan does while it runs.
	t.Cleanup(func() { f.Close(); goruntime.KeepAlive(u) })
	return f
}

func TestCountChar(t *testing.T) {
	mod := buildModule(t, "../../examples/wasm/count_char")
	f := loadT(t, "file://"+mod, "count_char")
	if got := f.Signature().String(); got != "STRING, STRING -> INT" {
		t.Fatalf("signature %q", got)
	}
	for _, c := range []struct {
		s, c string
		want int64
	}{{"banana", "a", 3}, {"", "a", 0}, {"banana", "", 0}, {"héhé", "é", 2}, {strings.Repeat("x", 100000), "x", 100000}} {
		v, err := f.call([]types.Value{types.StringValue(c.s), types.StringValue(c.c)})
		if err != nil {
			t.Fatal(err)
		}
		if v.Int() != c.want {
			t.Errorf("count_char(%.10q, %q) = %d, want %d", c.s, c.c, v.Int(), c.want)
		}
	}
}

func TestTypes(t *testing.T) {
	mod := buildModule(t, "testdata/testmod")
	rev := loadT(t, mod, "rev")
	v, err := rev.call([]types.Value{types.StringValue("héllo")})
	if err != nil || v.Str() != "olléh" {
		t.Fatalf("rev = %v, %v", v, err)
	}
	mix := loadT(t, mod, "mix")
	v, err = mix.call([]types.Value{types.IntValue(1), types.FloatValue(0.5), types.IntValue(2), types.BoolValue(true), types.BytesValue([]byte{1, 2})})
	if err != nil || v.Float() != -5.5 {
		t.Fatalf("mix = %v, %v", v, err)
	}
	twice := loadT(t, mod, "twice")
	v, err = twice.call([]types.Value{types.BoolValue(true), types.BytesValue([]byte("ab"))})
	if err != nil || v.T != types.TagBytes || v.Str() != "abab" {
		t.Fatalf("twice = %v, %v", v, err)
	}
	even := loadT(t, mod, "is_even")
	if even.Signature().String() != "BIGINT -> BOOLEAN" {
		t.Fatalf("is_even signature %s", even.Signature())
	}
	v, err = even.call([]types.Value{types.IntValue(-4)})
	if err != nil || !v.Bool() || v.T != types.TagBool {
		t.Fatalf("is_even = %v, %v", v, err)
	}
}

// A trap fails the call with the function's name and the guest's panic message; the next call runs on a
// fresh instance.
func TestTrap(t *testing.T) {
	f := loadT(t, buildModule(t, "testdata/testmod"), "boom")
	_, err := f.call([]types.Value{types.StringValue("boom")})
	if err == nil || !strings.Contains(err.Error(), "function BOOM failed: wasm error: unreachable (WASM function 'boom' in ") || !strings.HasSuffix(err.Error(), "; the module wrote: panic: boom: the guest gave up") {
		t.Fatalf("err = %v", err)
	}
	v, err := f.call([]types.Value{types.StringValue("fine")})
	if err != nil || v.Int() != 4 {
		t.Fatalf("after a trap: %v, %v", v, err)
	}
}

func TestTimeout(t *testing.T) {
	mod := buildModule(t, "testdata/testmod")
	cfg := testCfg
	cfg.CallTimeout = 100 * time.Millisecond
	u, f, err := Load(context.Background(), "spin", "spin", mod, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer goruntime.KeepAlive(u) // else a GC during the call may run Load's cleanup and close f
	start := time.Now()
	_, err = f.call([]types.Value{types.IntValue(-1)})
	if err == nil || !strings.Contains(err.Error(), "function SPIN ran longer than 100ms and was interrupted") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("interrupted after %s", d)
	}
	v, err := f.call([]types.Value{types.IntValue(10)})
	if err != nil || v.Int() != 10 {
		t.Fatalf("after a timeout: %v, %v", v, err)
	}
}

// A module that grows its memory past the limit traps instead of taking the process's memory.
func TestMemoryLimit(t *testing.T) {
	mod := buildModule(t, "testdata/testmod")
	cfg := testCfg
	cfg.MemoryLimit = 1 << 20
	_, _, err := Load(context.Background(), "rev", "rev", mod, cfg)
	if err == nil || !strings.Contains(err.Error(), "testmod.wasm' needs more memory than the limit of 1048576 bytes (session option 'sluice.udf.wasm.memory-limit')") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	mod := buildModule(t, "testdata/testmod")
	bad := filepath.Join(t.TempDir(), "bad.wasm")
	if err := os.WriteFile(bad, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ export, loc, want string }{
		{"nope", mod, "exports no function 'nope' (its functions: badsig, boom, hog, is_even, mix, nosig, rev, spin, twice, wrongtype)"},
		{"nosig", mod, "the module exports no function 'nosig__signature'"},
		{"badsig", mod, `signature "BIGINT -> DATE": type "DATE" is not supported`},
		{"wrongtype", mod, "export 'wrongtype' has WebAssembly type (i32) -> (i64), want (i64) -> i64 (for the SQL signature BIGINT -> BIGINT)"},
		{"rev", filepath.Join(t.TempDir(), "missing.wasm"), "missing.wasm: no such file or directory"},
		{"rev", bad, "bad.wasm' is not a valid WebAssembly module"},
		{"rev", "hdfs:///udfs.wasm", "scheme 'hdfs' is not supported"},
		{"rev", "file://host/udfs.wasm", "a file: URL names no host"},
	} {
		_, _, err := Load(context.Background(), c.export, c.export, c.loc, testCfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s in %s: err = %v, want %q", c.export, c.loc, err, c.want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	wd, _ := os.Getwd()
	for in, want := range map[string]string{
		"file:///a/b.wasm": "/a/b.wasm", "file:/a/b.wasm": "/a/b.wasm", "/a/b.wasm": "/a/b.wasm",
		"b.wasm": filepath.Join(wd, "b.wasm"), "file://localhost/a.wasm": "/a.wasm",
	} {
		if got, err := LocalPath(in); err != nil || got != want {
			t.Errorf("LocalPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// A call whose guest grows its memory past the limit fails (the Go guest runtime gives up: out of memory);
// the host process is not affected.
func TestMemoryLimitAtRun(t *testing.T) {
	cfg := testCfg
	cfg.CallTimeout = time.Minute // growing memory is slow under -race
	u, f, err := Load(context.Background(), "hog", "hog", buildModule(t, "testdata/testmod"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer goruntime.KeepAlive(u)                        // else a GC during the call may run Load's cleanup and close f
	_, err = f.call([]types.Value{types.IntValue(100)}) // 100 MiB > the 64 MiB limit
	if err == nil || !strings.Contains(err.Error(), "function HOG failed: ") || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("err = %v", err)
	}
	v, err := f.call([]types.Value{types.IntValue(1)})
	if err != nil || v.Int() != 1 {
		t.Fatalf("after running out of memory: %v, %v (want a fresh instance)", v, err)
	}
}

// Calls from several goroutines share the function's one instance one at a time.
func TestConcurrentCalls(t *testing.T) {
	f := loadT(t, buildModule(t, "testdata/testmod"), "rev")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := strings.Repeat(string(rune('a'+g)), g+1) + "xyz"
			for range 200 {
				v, err := f.call([]types.Value{types.StringValue(in)})
				if err != nil {
					errs <- err
					return
				}
				if got, want := v.Str(), "zyx"+in[:g+1]; got != want {
					errs <- fmt.Errorf("rev(%q) = %q, want %q", in, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Once its UDF is unreachable (dropped, and no plan uses it), a function's instance is closed.
func TestClosedWhenUnreachable(t *testing.T) {
	u, f, err := Load(context.Background(), "rev", "rev", buildModule(t, "testdata/testmod"), testCfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name() != "REV" {
		t.Fatalf("name %s", u.Name())
	}
	u = nil
	for i := 0; i < 50 && !f.isClosed(); i++ {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if !f.isClosed() {
		t.Fatal("the function was not closed after its UDF became unreachable")
	}
}
