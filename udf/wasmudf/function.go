package wasmudf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/types"
)

// Function is one SQL function backed by an export of a WebAssembly module, with its own module instance
// (calls are serialized: a wazero instance is not safe for concurrent use).
type Function struct {
	name, export, path string
	sig                Signature
	cfg                Config
	rt                 *runtime
	compiled           wazero.CompiledModule

	mu      sync.Mutex
	mod     api.Module // nil until the first call and after a failed one
	fn      api.Function
	alloc   api.Function
	mem     api.Memory
	scratch uint32 // guest buffer from sluice_alloc and its size
	scrLen  uint32
	stack   []uint64
	stderr  tail
	closed  bool

	timer    *time.Timer
	tmu      sync.Mutex
	cctx     *callCtx // the context of guarded calls, replaced after it times out
	running  bool
	timedOut bool
}

// callCtx is the context of calls under a time limit: its Done channel is closed by the timer when a call
// runs too long, and wazero (WithCloseOnContextDone) then stops the call and closes the instance. It is
// reused from call to call until it fires, so that a call allocates no context.
type callCtx struct {
	context.Context
	done chan struct{}
}

func newCallCtx() *callCtx {
	return &callCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *callCtx) Done() <-chan struct{} { return c.done }

func (c *callCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Load compiles (or finds compiled) the module at location, reads the SQL signature of export from its
// export__signature function, checks the export's WebAssembly type against it, and instantiates it once.
// name is the SQL name of the function. The UDF calls the Function; once the UDF is unreachable (dropped
// and no plan uses it) the Function is closed.
func Load(ctx context.Context, name, export, location string, cfg Config) (*expr.UDF, *Function, error) {
	f, err := load(ctx, name, export, location, cfg)
	if err != nil {
		return nil, nil, err
	}
	u, err := expr.NewValueUDF(name, "WASM function '"+export+"' in "+f.path, f.sig.Params, f.sig.Result, f.call)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	goruntime.AddCleanup(u, (*Function).Close, f)
	return u, f, nil
}

func load(ctx context.Context, name, export, location string, cfg Config) (*Function, error) {
	if cfg.CallTimeout < 0 {
		return nil, fmt.Errorf("call timeout %s: want >= 0 (0: no limit)", cfg.CallTimeout)
	}
	path, err := LocalPath(location)
	if err != nil {
		return nil, err
	}
	rt, m, err := compile(ctx, path, cfg)
	if err != nil {
		return nil, err
	}
	f := &Function{name: strings.ToUpper(name), export: export, path: path, cfg: cfg, rt: rt, compiled: m}
	if _, ok := m.ExportedFunctions()[export]; !ok {
		return nil, fmt.Errorf("module '%s' exports no function '%s' (its functions: %s)", path, export, exportNames(m))
	}
	sigName := export + "__signature"
	if err := checkExport(m, sigName, nil, api.ValueTypeI64); err != nil {
		return nil, fmt.Errorf("module '%s': %w; a function module declares the SQL signature of '%s' in an export '%s' returning the packed text, e.g. \"STRING, STRING -> INT\" (see docs/UDF.md)", path, err, export, sigName)
	}
	if err := f.instantiate(ctx); err != nil {
		return nil, err
	}
	text, err := f.signatureText(ctx, sigName)
	if err != nil {
		f.Close()
		return nil, err
	}
	if f.sig, err = ParseSignature(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("module '%s', export '%s': %w", path, sigName, err)
	}
	if err := checkExport(m, export, wasmParams(f.sig.Params), wasmResult(f.sig.Result)); err != nil {
		f.Close()
		return nil, fmt.Errorf("module '%s': %w (for the SQL signature %s)", path, err, f.sig)
	}
	f.fn = f.mod.ExportedFunction(export)
	f.stack = make([]uint64, max(len(wasmParams(f.sig.Params)), 1))
	hasStr := false
	for _, p := range f.sig.Params {
		hasStr = hasStr || p.Kind == types.VarChar || p.Kind == types.VarBinary
	}
	if hasStr {
		if err := checkExport(m, "sluice_alloc", []api.ValueType{api.ValueTypeI32}, api.ValueTypeI32); err != nil {
			f.Close()
			return nil, fmt.Errorf("module '%s': %w; a function with STRING or BYTES arguments needs it (import udf/wasmguest)", path, err)
		}
	}
	f.cctx = newCallCtx()
	f.timer = time.AfterFunc(time.Hour, f.onTimeout)
	f.timer.Stop()
	return f, nil
}

// Signature is the SQL signature the module declares.
func (f *Function) Signature() Signature { return f.sig }

// Path is the absolute path of the module file.
func (f *Function) Path() string { return f.path }

// Close releases the function's instance; later calls fail.
func (f *Function) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.mod != nil {
		_ = f.mod.Close(context.Background())
		f.mod = nil
	}
}

// instantiate starts a fresh instance of the module: no files, arguments or environment; its stdout and
// stderr are kept (the last few KiB) for error messages. A reactor module's _initialize runs first.
func (f *Function) instantiate(ctx context.Context) error {
	f.stderr.reset()
	mc := wazero.NewModuleConfig().WithName("").WithStdout(&f.stderr).WithStderr(&f.stderr).
		WithSysWalltime().WithSysNanotime().WithStartFunctions()
	if _, ok := f.compiled.ExportedFunctions()["_initialize"]; ok {
		mc = mc.WithStartFunctions("_initialize")
	}
	mod, err := f.rt.r.InstantiateModule(ctx, f.compiled, mc)
	if err != nil {
		return fmt.Errorf("function %s: instantiating module '%s': %w%s", f.name, f.path, err, f.stderr.note())
	}
	f.mod, f.alloc, f.mem = mod, mod.ExportedFunction("sluice_alloc"), mod.Memory()
	f.fn = mod.ExportedFunction(f.export)
	f.scratch, f.scrLen = 0, 0
	if f.mem == nil {
		_ = mod.Close(ctx)
		f.mod = nil
		return fmt.Errorf("function %s: module '%s' exports no memory", f.name, f.path)
	}
	return nil
}

func (f *Function) signatureText(ctx context.Context, export string) (string, error) {
	res, err := f.mod.ExportedFunction(export).Call(ctx)
	if err != nil {
		return "", fmt.Errorf("function %s: calling '%s' in module '%s': %w%s", f.name, export, f.path, err, f.stderr.note())
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	b, ok := f.mem.Read(ptr, n)
	if !ok {
		return "", fmt.Errorf("function %s: '%s' in module '%s' returned bytes %d..%d outside its memory", f.name, export, f.path, ptr, ptr+n)
	}
	return string(b), nil
}

func (f *Function) onTimeout() {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	if f.running && !f.timedOut {
		f.timedOut = true
		close(f.cctx.done)
	}
}

// call runs the function on non-NULL arguments of its SQL parameter types.
func (f *Function) call(args []types.Value) (types.Value, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ctx := context.Background()
	if f.closed {
		return types.NullValue, fmt.Errorf("function %s was dropped", f.name)
	}
	if f.mod == nil {
		if err := f.instantiate(ctx); err != nil {
			return types.NullValue, err
		}
	}
	need := uint32(0)
	for i, p := range f.sig.Params {
		if p.Kind == types.VarChar || p.Kind == types.VarBinary {
			need += uint32(len(args[i].Str()))
		}
	}
	if need > f.scrLen {
		if err := f.grow(ctx, need); err != nil {
			return types.NullValue, err
		}
	}
	st, off := f.stack, f.scratch
	j := 0
	for i, p := range f.sig.Params {
		v := args[i]
		switch p.Kind {
		case types.BigInt:
			st[j] = uint64(v.Int())
		case types.Int:
			st[j] = api.EncodeI32(int32(v.Int()))
		case types.Double:
			st[j] = api.EncodeF64(v.Float())
		case types.Boolean:
			st[j] = 0
			if v.Bool() {
				st[j] = 1
			}
		default:
			s := v.Str()
			f.mem.WriteString(off, s)
			st[j], st[j+1] = uint64(off), uint64(len(s))
			off += uint32(len(s))
			j++
		}
		j++
	}
	if f.cfg.CallTimeout == 0 {
		if err := f.fn.CallWithStack(ctx, st); err != nil {
			return types.NullValue, f.failed(ctx, err)
		}
		return f.result(st[0])
	}
	f.tmu.Lock()
	f.running = true
	cctx := f.cctx
	f.tmu.Unlock()
	f.timer.Reset(f.cfg.CallTimeout)
	err := f.fn.CallWithStack(cctx, st)
	f.timer.Stop()
	f.tmu.Lock()
	f.running = false
	timedOut := f.timedOut
	if timedOut {
		f.cctx, f.timedOut = newCallCtx(), false
	}
	f.tmu.Unlock()
	if timedOut { // even when the call ended just in time: wazero may have closed the instance
		_ = f.mod.Close(ctx)
		f.mod = nil
		return types.NullValue, fmt.Errorf("function %s ran longer than %s and was interrupted (the limit is session option 'sluice.udf.wasm.call-timeout'; WASM function '%s' in %s)", f.name, f.cfg.CallTimeout, f.export, f.path)
	}
	if err != nil {
		return types.NullValue, f.failed(ctx, err)
	}
	return f.result(st[0])
}

// grow asks the guest for an argument buffer of at least need bytes.
func (f *Function) grow(ctx context.Context, need uint32) error {
	if f.alloc == nil {
		return fmt.Errorf("function %s: module '%s' exports no sluice_alloc", f.name, f.path)
	}
	size := max(need, 2*f.scrLen, 256)
	res, err := f.alloc.Call(ctx, uint64(size))
	if err != nil {
		return f.failed(ctx, fmt.Errorf("sluice_alloc(%d): %w", size, err))
	}
	f.scratch, f.scrLen = uint32(res[0]), size
	if uint64(f.scratch)+uint64(size) > uint64(f.mem.Size()) {
		f.scrLen = 0
		return fmt.Errorf("function %s: sluice_alloc(%d) in module '%s' returned %d, outside its memory", f.name, size, f.path, f.scratch)
	}
	return nil
}

// failed turns a trap into the function's error and drops the instance (a trapped instance may be in any
// state; the next call starts a fresh one).
func (f *Function) failed(ctx context.Context, err error) error {
	note := f.stderr.note()
	if f.mod != nil {
		_ = f.mod.Close(ctx)
		f.mod = nil
	}
	msg := err.Error()
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		msg = fmt.Sprintf("the module exited with code %d", ee.ExitCode())
	} else if i := strings.Index(msg, "\nwasm stack trace"); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("function %s failed: %s (WASM function '%s' in %s)%s", f.name, msg, f.export, f.path, note)
}

func (f *Function) result(r uint64) (types.Value, error) {
	switch f.sig.Result.Kind {
	case types.BigInt:
		return types.IntValue(int64(r)), nil
	case types.Int:
		return types.IntValue(int64(api.DecodeI32(r))), nil
	case types.Double:
		return types.FloatValue(api.DecodeF64(r)), nil
	case types.Boolean:
		return types.BoolValue(uint32(r) != 0), nil
	}
	ptr, n := uint32(r>>32), uint32(r)
	b, ok := f.mem.Read(ptr, n)
	if !ok {
		return types.NullValue, fmt.Errorf("function %s returned bytes %d..%d outside its module's memory (WASM function '%s' in %s)", f.name, ptr, uint64(ptr)+uint64(n), f.export, f.path)
	}
	if f.sig.Result.Kind == types.VarBinary {
		return types.BytesValue(b), nil
	}
	return types.StringValue(string(b)), nil
}

// tail keeps the last 16 KiB written to it (the module's stdout and stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tail) reset() {
	t.mu.Lock()
	t.buf = t.buf[:0]
	t.mu.Unlock()
}

// note is the gist of the module's output for an error message, "; the module wrote: ...": the last line
// that starts a Go panic or fatal error (without the goroutine stacks that follow), else the last line.
func (t *tail) note() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(string(bytes.TrimSpace(t.buf)), "\n")
	msg := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			msg = l
		}
	}
	if msg == "" {
		msg = lines[len(lines)-1]
	}
	if msg = strings.TrimSpace(msg); msg == "" {
		return ""
	}
	return "; the module wrote: " + msg
}

func (f *Function) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}
