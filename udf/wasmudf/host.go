// Package wasmudf runs SQL scalar functions compiled to WebAssembly, with wazero (pure Go, sandboxed): the
// module gets no files, no environment and no network, a bounded memory, and a time limit per call. See
// docs/UDF.md for the ABI and udf/wasmguest for the Go side of it.
package wasmudf

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Config limits the functions of a module.
type Config struct {
	// CallTimeout bounds one call; a call that runs longer is interrupted and fails. 0 means no limit: the
	// module is then compiled without the checks that make it interruptible, and a call costs about 10 times
	// less (wazero watches every interruptible call with a goroutine).
	CallTimeout time.Duration
	// MemoryLimit bounds the module's linear memory, in bytes (rounded down to 64 KiB pages; > 0).
	MemoryLimit int64
}

// host holds the wazero runtimes (one per memory limit and interruptibility, WASI instantiated in each)
// and the compiled modules (one per file, size and modification time, per runtime) of this process.
var host = struct {
	sync.Mutex
	cache    wazero.CompilationCache
	runtimes map[runtimeKey]*runtime
}{cache: wazero.NewCompilationCache(), runtimes: map[runtimeKey]*runtime{}}

type runtimeKey struct {
	pages         uint32
	interruptible bool
}

type runtime struct {
	r       wazero.Runtime
	modules map[moduleKey]wazero.CompiledModule
}

type moduleKey struct {
	path  string
	size  int64
	mtime time.Time
}

// LocalPath turns the USING JAR location into a local path: a file: URL (file:///p, file:/p) or a plain
// path, relative ones against the working directory.
func LocalPath(loc string) (string, error) {
	if i := strings.Index(loc, ":"); i > 1 && !strings.Contains(loc[:i], string(filepath.Separator)) {
		u, err := url.Parse(loc)
		if err != nil {
			return "", fmt.Errorf("module location '%s': %w", loc, err)
		}
		if !strings.EqualFold(u.Scheme, "file") {
			return "", fmt.Errorf("module location '%s': scheme '%s' is not supported; give a local path or a file: URL (file:///path/module.wasm)", loc, u.Scheme)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("module location '%s': a file: URL names no host; write file:///path/module.wasm", loc)
		}
		loc = u.Path
		if loc == "" {
			loc = u.Opaque
		}
	}
	if loc == "" {
		return "", errors.New("module location is empty; give the path of a .wasm file")
	}
	return filepath.Abs(loc)
}

// compile returns the compiled module of the file at path (an absolute path) in the runtime of the
// memory limit.
func compile(ctx context.Context, path string, cfg Config) (*runtime, wazero.CompiledModule, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("module '%s': %w", path, err)
	}
	if fi.IsDir() {
		return nil, nil, fmt.Errorf("module '%s' is a directory; give the path of a .wasm file", path)
	}
	pages := uint32(cfg.MemoryLimit / 65536)
	if pages < 1 || cfg.MemoryLimit/65536 > 65536 {
		return nil, nil, fmt.Errorf("memory limit %d bytes: want 64 KiB to 4 GiB", cfg.MemoryLimit)
	}
	host.Lock()
	defer host.Unlock()
	rk := runtimeKey{pages, cfg.CallTimeout > 0}
	rt := host.runtimes[rk]
	if rt == nil {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCompilationCache(host.cache).
			WithMemoryLimitPages(pages).
			WithCloseOnContextDone(rk.interruptible))
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
			return nil, nil, fmt.Errorf("starting WASI: %w", err)
		}
		rt = &runtime{r: r, modules: map[moduleKey]wazero.CompiledModule{}}
		host.runtimes[rk] = rt
	}
	key := moduleKey{path, fi.Size(), fi.ModTime()}
	if m := rt.modules[key]; m != nil {
		return rt, m, nil
	}
	code, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("module '%s': %w", path, err)
	}
	m, err := rt.r.CompileModule(ctx, code)
	if err != nil && strings.Contains(err.Error(), "over limit") {
		return nil, nil, fmt.Errorf("module '%s' needs more memory than the limit of %d bytes (session option 'sluice.udf.wasm.memory-limit'): %w", path, int64(pages)*65536, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("module '%s' is not a valid WebAssembly module: %w", path, err)
	}
	for k := range rt.modules {
		if k.path == path { // the file changed: functions created before keep their instances
			delete(rt.modules, k)
		}
	}
	rt.modules[key] = m
	return rt, m, nil
}

// exportNames lists a compiled module's exported functions for error messages.
func exportNames(m wazero.CompiledModule) string {
	var ns []string
	for n := range m.ExportedFunctions() {
		if !strings.HasSuffix(n, "__signature") && n != "sluice_alloc" && n != "_initialize" && n != "_start" {
			ns = append(ns, n)
		}
	}
	sort.Strings(ns)
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}

// checkExport checks that export name exists with the given WebAssembly signature.
func checkExport(m wazero.CompiledModule, name string, params []api.ValueType, result api.ValueType) error {
	d, ok := m.ExportedFunctions()[name]
	if !ok {
		return fmt.Errorf("the module exports no function '%s' (its functions: %s)", name, exportNames(m))
	}
	got, want := d.ParamTypes(), params
	if !sameTypes(got, want) || len(d.ResultTypes()) != 1 || d.ResultTypes()[0] != result {
		return fmt.Errorf("export '%s' has WebAssembly type %s -> %s, want %s -> %s", name,
			wasmTypes(got), wasmTypes(d.ResultTypes()), wasmTypes(want), api.ValueTypeName(result))
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
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
