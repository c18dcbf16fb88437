package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hydrantio/hydrant/transform"
)

// errFlag marks a hydrant_transform result that is an error message.
const errFlag = 1 << 31

// maxStderr bounds what is kept of an invocation's standard error.
const maxStderr = 4 << 10

// instance is one instantiation of the module. It runs one invocation at a
// time: whoever took it from the pool.
type instance struct {
	mod       api.Module
	mem       api.Memory
	alloc     api.Function
	transform api.Function
	stderr    *headBuffer
	stack     [2]uint64 // the parameters and results of a call

	memoryLimitMB int // for messages

	// broken is set when an invocation left the instance unusable: it
	// trapped, exited, was stopped, or broke the ABI. brokenBy says how,
	// for the log, without anything the function wrote.
	broken   bool
	brokenBy string
}

// instantiate makes an instance and runs its _initialize.
func (f *Function) instantiate(ctx context.Context) (*instance, error) {
	stderr := &headBuffer{max: maxStderr}
	mod, err := f.runtime.InstantiateModule(ctx, f.compiled, f.modCfg.WithStderr(stderr))
	if err != nil {
		in := &instance{stderr: stderr, memoryLimitMB: f.cfg.MemoryLimitMB}
		return nil, in.failure(ctx, exportInitialize, err)
	}
	return &instance{
		mod:           mod,
		mem:           mod.ExportedMemory(exportMemory),
		alloc:         mod.ExportedFunction(exportAlloc),
		transform:     mod.ExportedFunction(exportTransform),
		stderr:        stderr,
		memoryLimitMB: f.cfg.MemoryLimitMB,
	}, nil
}

// invoke runs the ABI's two calls over event and returns a copy of the
// answer.
func (in *instance) invoke(ctx context.Context, event []byte) ([]byte, error) {
	in.stderr.Reset()
	if uint64(len(event)) > 1<<32-1 {
		return nil, transform.Errorf(transform.CodeFunctionError, "the event is %d bytes, more than a wasm32 memory holds", len(event))
	}
	in.stack[0] = uint64(len(event))
	if err := in.alloc.CallWithStack(ctx, in.stack[:1]); err != nil {
		return nil, in.failure(ctx, exportAlloc, err)
	}
	ptr := uint32(in.stack[0])
	if !in.mem.Write(ptr, event) {
		return nil, in.abiError("%s returned %#x, too near the end of the %d-byte memory for the %d-byte event", exportAlloc, ptr, in.mem.Size(), len(event))
	}
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(event))
	if err := in.transform.CallWithStack(ctx, in.stack[:2]); err != nil {
		return nil, in.failure(ctx, exportTransform, err)
	}
	r := in.stack[0]
	ptr, n, failed := uint32(r>>32), uint32(r&(errFlag-1)), r&errFlag != 0
	if !failed && n > transform.MaxResponseBytes {
		in.broken, in.brokenBy = true, "answer too large"
		return nil, transform.Errorf(transform.CodeResponseTooLarge, "the answer is %d bytes, more than the %d allowed", n, transform.MaxResponseBytes)
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		return nil, in.abiError("%s pointed at %d bytes at %#x, outside the %d-byte memory", exportTransform, n, ptr, in.mem.Size())
	}
	if failed {
		// The guest reported its handler's error and stays usable.
		return nil, transform.Errorf(transform.CodeFunctionError, "%s", oneLine(b, 1<<10))
	}
	// b is a view of the guest's memory, which the next invocation reuses.
	return bytes.Clone(b), nil
}

func (in *instance) abiError(format string, args ...any) error {
	in.broken, in.brokenBy = true, "broke the ABI"
	return transform.Errorf(transform.CodeFunctionError, "the module broke the wasm ABI: "+format, args...)
}

// failure maps an error of a call into the module to an *Error, and marks
// the instance broken: wazero has closed it, or it trapped mid-way.
func (in *instance) failure(ctx context.Context, call string, err error) error {
	in.broken = true
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch code := exit.ExitCode(); code {
		case sys.ExitCodeDeadlineExceeded:
			in.brokenBy = "timed out"
			return transform.Errorf(transform.CodeTimedOut, "the function did not answer within the invocation timeout, and was stopped")
		case sys.ExitCodeContextCanceled:
			in.brokenBy = "cancelled"
			return transform.Errorf(transform.CodeTimedOut, "the invocation was cancelled, and the function stopped")
		default:
			in.brokenBy = fmt.Sprintf("exited with status %d", code)
			return transform.Errorf(transform.CodeFunctionError, "the function exited with status %d in %s%s", code, call, in.stderrNote())
		}
	}
	if in.outOfMemory() {
		in.brokenBy = "out of memory"
		return transform.Errorf(transform.CodeFunctionError, "the function ran out of memory in %s; the limit is %d MiB%s", call, in.memoryLimitMB, in.stderrNote())
	}
	if ctx.Err() != nil { // stopped before wazero saw it, such as mid-instantiation
		in.brokenBy = "timed out"
		return transform.Errorf(transform.CodeTimedOut, "the function did not answer within the invocation timeout (%v)", ctx.Err())
	}
	in.brokenBy = "trapped"
	// wazero's first line names the trap; a wasm stack trace follows.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return transform.Errorf(transform.CodeFunctionError, "the function trapped in %s: %s%s", call, oneLine([]byte(msg), 1<<10), in.stderrNote())
}

// outOfMemory reports whether the function died of a failed memory.grow:
// Go says so on its standard error before it aborts.
func (in *instance) outOfMemory() bool {
	return bytes.Contains(in.stderr.Bytes(), []byte("out of memory"))
}

// stderrNote quotes the first paragraph the function wrote to its
// standard error, where Go writes its panics and fatal errors.
func (in *instance) stderrNote() string {
	b := in.stderr.Bytes()
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	return "; it wrote: " + oneLine(b, 1<<10)
}

// oneLine returns b as one line of at most max bytes.
func oneLine(b []byte, max int) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "\uFFFD")), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// headBuffer keeps the first max bytes written to it and discards the
// rest, never failing a write.
type headBuffer struct {
	max int
	buf []byte
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) Reset()        { h.buf = h.buf[:0] }
func (h *headBuffer) Bytes() []byte { return h.buf }
