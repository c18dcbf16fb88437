// Package wasm runs transformation functions as WebAssembly modules under
// wazero, in the server's process but sandboxed: each instance has its own
// linear memory, capped; it sees no file system unless directories are
// granted, and no network at all (WASI preview 1 has no sockets, and none
// are granted); an invocation that runs past its timeout is stopped. A
// module speaks the ABI of ABI.md and answers the same Lambda contract JSON
// as every runtime (package transform); package guest writes one in Go.
//
// A Function keeps a bounded pool of instances and reuses each across
// invocations, so a module's start-up is paid once per instance, not per
// batch. An instance that traps, exits, runs out of memory or is stopped
// at the timeout is thrown away, never reused: its memory may be in any
// state. The module is compiled once per Function, or loaded from the
// on-disk compilation cache.
package wasm

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/hydrantio/hydrant/transform"
)

// The exports of the ABI (ABI.md).
const (
	exportAlloc      = "hydrant_alloc"
	exportTransform  = "hydrant_transform"
	exportMemory     = "memory"
	exportInitialize = "_initialize"
)

// Function is a transformation function run by wazero. It implements
// transform.Function.
type Function struct {
	cfg      Config
	log      *slog.Logger
	runtime  wazero.Runtime
	cache    wazero.CompilationCache // nil without Config.CacheDir
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig

	// pool holds Config.Instances slots, each an idle instance or nil for
	// one yet to be made. Taking a slot is the right to run an invocation.
	pool chan *instance
	done chan struct{} // closed by Close: wakes those waiting for a slot

	mu       sync.RWMutex // guards closed against inflight.Add
	closed   bool
	inflight sync.WaitGroup
}

var _ transform.Function = (*Function)(nil)

// New compiles the module of cfg, or loads it from cfg.CacheDir, and
// starts its first instance, so that a module that cannot run fails here
// rather than at its first batch. The others start on demand. ctx bounds
// New only; log takes a line per compilation and per instance thrown away,
// never a record; nil discards them.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Function, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkFiles(); err != nil {
		return nil, err
	}
	code, err := os.ReadFile(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("cannot read the module: %w", err)
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(uint32(cfg.MemoryLimitMB) * 16) // 64 KiB pages
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("cannot use the compilation cache directory %q: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	f := &Function{
		cfg:     cfg,
		log:     log.With("module", cfg.Module),
		runtime: wazero.NewRuntimeWithConfig(ctx, rc),
		cache:   cache,
		pool:    make(chan *instance, cfg.Instances),
		done:    make(chan struct{}),
	}
	if err := f.start(ctx, code); err != nil {
		f.free()
		return nil, err
	}
	return f, nil
}

func (f *Function) start(ctx context.Context, code []byte) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, f.runtime); err != nil {
		return fmt.Errorf("cannot provide WASI to the module: %w", err)
	}
	began := time.Now()
	compiled, err := f.runtime.CompileModule(ctx, code)
	if err != nil {
		if strings.Contains(err.Error(), "over limit") {
			return fmt.Errorf("cannot compile the module %q: it needs more memory than the limit of %d MiB: %w", f.cfg.Module, f.cfg.MemoryLimitMB, err)
		}
		return fmt.Errorf("cannot compile the module %q: %w", f.cfg.Module, err)
	}
	f.compiled = compiled
	if err := checkABI(compiled); err != nil {
		return fmt.Errorf("the module %q does not follow Hydrant's wasm ABI: %w", f.cfg.Module, err)
	}
	f.log.Info("wasm module compiled", "duration", time.Since(began).Round(time.Millisecond), "cache_dir", f.cfg.CacheDir)

	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous, so that it can be instantiated many times
		WithStartFunctions(exportInitialize).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStdout(io.Discard)
	// A Go guest collects garbage harder as it nears the cap, rather than
	// dying at it (ABI.md).
	mc = mc.WithEnv("GOMEMLIMIT", strconv.Itoa(f.cfg.MemoryLimitMB*768)+"KiB")
	if len(f.cfg.ReadOnlyDirs) > 0 || f.cfg.ScratchDir != "" {
		fs := wazero.NewFSConfig()
		for _, d := range f.cfg.ReadOnlyDirs {
			fs = fs.WithReadOnlyDirMount(d, d)
		}
		if d := f.cfg.ScratchDir; d != "" {
			fs = fs.WithDirMount(d, d)
			mc = mc.WithEnv("TMPDIR", d)
		}
		mc = mc.WithFSConfig(fs)
	}
	f.modCfg = mc

	inst, err := f.instantiate(ctx)
	if err != nil {
		return fmt.Errorf("cannot start the module %q: %w", f.cfg.Module, err)
	}
	f.pool <- inst
	for i := 1; i < f.cfg.Instances; i++ {
		f.pool <- nil
	}
	return nil
}

// checkABI checks the module's exports and imports against ABI.md.
func checkABI(m wazero.CompiledModule) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	want := []struct {
		name            string
		params, results []api.ValueType
	}{
		{exportAlloc, []api.ValueType{i32}, []api.ValueType{i32}},
		{exportTransform, []api.ValueType{i32, i32}, []api.ValueType{i64}},
	}
	fns := m.ExportedFunctions()
	for _, w := range want {
		fn, ok := fns[w.name]
		if !ok {
			return fmt.Errorf("it does not export the function %s: build a Go module with -buildmode=c-shared and package guest", w.name)
		}
		if !sameTypes(fn.ParamTypes(), w.params) || !sameTypes(fn.ResultTypes(), w.results) {
			return fmt.Errorf("its %s has the signature %s, not %s", w.name, signature(fn.ParamTypes(), fn.ResultTypes()), signature(w.params, w.results))
		}
	}
	if fn, ok := fns[exportInitialize]; ok && (len(fn.ParamTypes()) > 0 || len(fn.ResultTypes()) > 0) {
		return fmt.Errorf("its %s takes or returns values", exportInitialize)
	}
	if _, ok := m.ExportedMemories()[exportMemory]; !ok {
		return fmt.Errorf("it does not export its memory as %q", exportMemory)
	}
	for _, fn := range m.ImportedFunctions() {
		if mod, name, _ := fn.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("it imports %s.%s: a module may import only from %s", mod, name, wasi_snapshot_preview1.ModuleName)
		}
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

func signature(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return name(params) + " -> " + name(results)
}

// Invoke runs the function over event in an idle instance, or a new one,
// waiting for a free slot when all Config.Instances are busy. ctx bounds
// the wait and the run: when it is done, the instance is stopped and
// thrown away, and Invoke returns a Lambda.FunctionTimedOut error.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		return nil, errClosed()
	}
	f.inflight.Add(1)
	f.mu.RUnlock()
	defer f.inflight.Done()

	if err := ctx.Err(); err != nil { // rather than spoil an instance
		return nil, transform.Errorf(transform.CodeTimedOut, "the invocation timed out before it started (%v)", err)
	}
	var inst *instance
	select {
	case inst = <-f.pool:
	case <-ctx.Done():
		return nil, transform.Errorf(transform.CodeTimedOut, "all %d instances stayed busy until the invocation timed out (%v)", f.cfg.Instances, ctx.Err())
	case <-f.done:
		return nil, errClosed()
	}
	if inst == nil {
		var err error
		if inst, err = f.instantiate(ctx); err != nil {
			f.pool <- nil
			if f.isClosed() {
				return nil, errClosed()
			}
			return nil, err
		}
	}
	answer, err := inst.invoke(ctx, event)
	if err == nil || !inst.broken {
		f.pool <- inst
		return answer, err
	}
	_ = inst.mod.Close(context.WithoutCancel(ctx))
	f.pool <- nil
	if f.isClosed() {
		return nil, errClosed()
	}
	f.log.Warn("wasm instance thrown away", "code", err.(*transform.Error).Code, "reason", inst.brokenBy)
	return nil, err
}

func (f *Function) isClosed() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.closed
}

func errClosed() error {
	return transform.Errorf(transform.CodeUnavailable, "the wasm function is closed")
}

// Close stops every invocation in flight, waits for them to return, and
// frees the instances, the compiled module and the cache.
func (f *Function) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	close(f.done)
	// Closing the runtime closes every instance, which stops one that is
	// running: WithCloseOnContextDone also watches for that.
	err := f.runtime.Close(context.Background())
	f.inflight.Wait()
	if f.cache != nil {
		if cerr := f.cache.Close(context.Background()); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("cannot close the wasm function: %w", err)
	}
	return nil
}

// free releases what a failed New made.
func (f *Function) free() {
	ctx := context.Background()
	_ = f.runtime.Close(ctx)
	if f.cache != nil {
		_ = f.cache.Close(ctx)
	}
}
