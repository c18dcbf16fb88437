// Package process runs a transformation function as a pool of long-lived,
// sandboxed worker processes: any executable speaking the contract of
// package transform over stdin and stdout, one event JSON per line in and
// one answer JSON per line out, or an unmodified AWS Lambda handler in
// Python or Node.js, run by a bootstrap embedded here.
//
// Each worker runs one invocation at a time and serves many. A worker
// that crashes, times out, breaks the protocol or answers too much is
// killed with every process it started, and replaced at the next
// invocation. Workers run in a sandbox of Linux namespaces, cgroups and
// rlimits, with a read-only view of the system and a private /tmp; a
// program using this package calls RunInitIfRequested first thing in
// main, because each worker starts as a re-execution of that program.
// SANDBOX.md describes the sandbox and the protocol.
package process

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hydrantio/hydrant/transform"
)

// Paths inside the sandbox, as in Lambda.
const (
	taskRoot   = "/var/task"    // the code, read-only; the working directory
	runtimeDir = "/var/runtime" // the bootstraps
)

// Function is a process function: a pool of workers. It implements
// transform.Function.
type Function struct {
	name string
	cfg  Config
	log  *slog.Logger
	sb   *sandbox
	logs *stderrLimiter

	// idle holds one entry per worker slot not running an invocation; a
	// nil entry is a slot whose worker must be started first.
	idle chan *worker
	done chan struct{} // closed by Close
	gen  atomic.Int64  // numbers workers, for logs, cgroups and scratch dirs

	mu     sync.Mutex
	closed bool
	live   map[*worker]struct{} // started and not yet retired

	calls    sync.WaitGroup // Invoke calls in flight
	cleanups sync.WaitGroup // retired workers being torn down
}

var _ transform.Function = (*Function)(nil)

// New starts the function's workers and returns it with the parts of the
// sandbox the host could not apply, each also logged at Warn; with
// cfg.RequireIsolation, any such part is an error instead. name, a
// function or delivery stream name ([A-Za-z0-9_.-], at most 64
// characters), names the function in logs, cgroups and Lambda's context.
// ctx bounds the start; it is not kept.
func New(ctx context.Context, name string, cfg Config, log *slog.Logger) (*Function, []string, error) {
	if !namePattern.MatchString(name) {
		return nil, nil, fmt.Errorf("function name %q is not [A-Za-z0-9_.-], at most 64 characters", name)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("function %s: %w", name, err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("function", name)
	sb, warnings, err := newSandbox(name, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("function %s: %w", name, err)
	}
	f := &Function{
		name: name,
		cfg:  cfg,
		log:  log,
		sb:   sb,
		logs: newStderrLimiter(log),
		idle: make(chan *worker, cfg.Workers),
		done: make(chan struct{}),
		live: make(map[*worker]struct{}),
	}
	fail := func(err error) (*Function, []string, error) {
		for range cfg.Workers - len(f.idle) {
			f.idle <- nil
		}
		f.Close()
		return nil, nil, fmt.Errorf("function %s: %w", name, err)
	}
	// The first worker probes the host: what it cannot apply is dropped
	// and reported, and the other workers start as it did.
	w, more, err := f.startFirst(ctx)
	if err != nil {
		return fail(err)
	}
	f.idle <- w
	warnings = append(warnings, more...)
	if cfg.RequireIsolation && len(warnings) > 0 {
		return fail(fmt.Errorf("the sandbox is incomplete on this host and RequireIsolation is set: %s", strings.Join(warnings, "; ")))
	}
	for _, msg := range warnings {
		log.Warn("process function runs with less isolation", "reason", msg)
	}
	errs := make(chan error, cfg.Workers-1)
	for range cfg.Workers - 1 {
		go func() {
			w, err := f.start(ctx)
			if err == nil {
				f.idle <- w
			}
			errs <- err
		}()
	}
	for range cfg.Workers - 1 {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return fail(err)
	}
	return f, warnings, nil
}

// Name returns the function's name.
func (f *Function) Name() string { return f.name }

// Invoke runs one event on a free worker, waiting for one as long as ctx
// allows, and returns the worker's answer, unchecked. The invocation's
// timeout is ctx's deadline: when it passes, the worker and everything it
// started are killed and the invocation fails with CodeTimedOut. Every
// failure is a *transform.Error.
func (f *Function) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	if !f.enter() {
		return nil, f.closedError()
	}
	defer f.calls.Done()
	var w *worker
	select {
	case w = <-f.idle:
	default:
		select {
		case w = <-f.idle:
		case <-ctx.Done():
			return nil, transform.Errorf(transform.CodeUnavailable, "function %s: all %d workers stayed busy (%v)", f.name, f.cfg.Workers, context.Cause(ctx))
		case <-f.done:
			return nil, f.closedError()
		}
	}
	answer, err := f.invoke(ctx, &w, event)
	f.idle <- w
	return answer, err
}

// invoke runs event on *wp, starting a worker into the slot first when it
// is empty, and empties the slot when the worker must go.
func (f *Function) invoke(ctx context.Context, wp **worker, event []byte) ([]byte, error) {
	w := *wp
	if w != nil {
		if reason := w.unusable(); reason != "" {
			f.retire(w, reason)
			w, *wp = nil, nil
		}
	}
	if w == nil {
		var err error
		if w, err = f.start(ctx); err != nil {
			if f.isClosed() {
				return nil, f.closedError()
			}
			if ctx.Err() != nil {
				return nil, transform.Errorf(transform.CodeTimedOut, "the invocation timed out while %v", err)
			}
			return nil, transform.Errorf(transform.CodeFunctionError, "%v", err)
		}
		*wp = w
	}
	answer, err := w.invoke(ctx, event)
	if err == nil {
		return answer, nil
	}
	if w.broken != "" {
		f.retire(w, w.broken)
		*wp = nil
	}
	if f.isClosed() {
		return nil, f.closedError()
	}
	return nil, err
}

// start starts a worker and registers it, unless the function is closed,
// when it fails with the closed error, a *transform.Error.
func (f *Function) start(ctx context.Context) (*worker, error) {
	gen := f.gen.Add(1)
	w, _, err := f.sb.start(ctx, gen, f.logs)
	if err != nil {
		return nil, fmt.Errorf("cannot start a worker: %w", err)
	}
	if !f.register(w) {
		w.kill()
		w.cleanup()
		return nil, f.closedError()
	}
	f.log.Debug("worker started", "worker", gen, "pid", w.pid, "took", w.started)
	return w, nil
}

// startFirst starts the first worker, dropping what the host cannot
// apply, and returns it with what was dropped.
func (f *Function) startFirst(ctx context.Context) (*worker, []string, error) {
	gen := f.gen.Add(1)
	w, warnings, err := f.sb.startProbing(ctx, gen, f.logs)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot start a worker: %w", err)
	}
	if !f.register(w) {
		w.kill()
		w.cleanup()
		return nil, nil, f.closedError()
	}
	f.log.Debug("worker started", "worker", gen, "pid", w.pid, "took", w.started)
	return w, warnings, nil
}

func (f *Function) register(w *worker) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.live[w] = struct{}{}
	return true
}

// retire kills w and tears it down in the background: its processes,
// cgroup and scratch dir.
func (f *Function) retire(w *worker, reason string) {
	f.log.Warn("worker replaced", "worker", w.gen, "pid", w.pid, "reason", reason)
	w.kill()
	f.cleanups.Add(1)
	go func() {
		defer f.cleanups.Done()
		w.cleanup()
		f.mu.Lock()
		delete(f.live, w)
		f.mu.Unlock()
	}()
}

func (f *Function) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.calls.Add(1)
	return true
}

func (f *Function) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *Function) closedError() error {
	return transform.Errorf(transform.CodeUnavailable, "function %s is closed", f.name)
}

// Close kills every worker, failing the invocations in flight with
// CodeUnavailable, waits until their processes are gone, and removes the
// function's cgroups and files. It is safe to call more than once.
func (f *Function) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.done)
	all := make([]*worker, 0, len(f.live))
	for w := range f.live {
		all = append(all, w)
	}
	f.mu.Unlock()
	for _, w := range all {
		w.kill() // interrupts the invocations in flight
	}
	f.calls.Wait()
	// Every slot is back: the invocations returned theirs, and a failed
	// New filled the ones it could not start with nil.
	for range cap(f.idle) {
		if w := <-f.idle; w != nil {
			f.cleanups.Add(1)
			go func() {
				defer f.cleanups.Done()
				w.kill()
				w.cleanup()
			}()
		}
	}
	f.cleanups.Wait()
	return f.sb.close()
}
