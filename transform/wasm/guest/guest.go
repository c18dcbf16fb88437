//go:build wasip1

package guest

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/hydrantio/hydrant/transform"
)

// maxMessage bounds an error message handed to the host.
const maxMessage = 64 << 10

// errFlag marks a result that is an error message, not an answer (ABI.md).
const errFlag = 1 << 31

var (
	handler func(event []byte) ([]byte, error)
	// input is the buffer hydrant_alloc hands out; the host writes the
	// event into it.
	input []byte
	// result is what the last hydrant_transform pointed the host at; it
	// stays reachable, so unmoved and uncollected, until the next call.
	result []byte
)

// Handle makes h the module's transformation: each invocation decodes the
// event, calls h, and answers h's Response. An error from h fails the whole
// invocation (Lambda.FunctionError) with its message, and the instance
// stays in service; a panic or os.Exit also fails it, and the host throws
// the instance away. The Event and its records belong to h. h's context
// is never done: the host stops a handler that runs past the invocation
// timeout. Call Handle from an init function: a reactor's main never
// runs.
func Handle(h transform.Handler) {
	var (
		ctx = context.Background()
		buf []byte
	)
	HandleJSON(func(event []byte) ([]byte, error) {
		var ev transform.Event
		if err := decodeEvent(event, &ev); err != nil {
			return nil, err
		}
		resp, err := h(ctx, &ev)
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return nil, errors.New("the handler returned neither a response nor an error")
		}
		buf = appendResponse(buf[:0], resp)
		return buf, nil
	})
}

// HandleJSON makes h the module's transformation at the level of bytes:
// h gets the event JSON, which it must not keep, and returns the answer
// JSON, which must stay unmodified until h is called again. It is for
// handlers that bring their own JSON codec; most want Handle.
func HandleJSON(h func(event []byte) (answer []byte, err error)) {
	handler = h
}

// gcPercent is the guest's GOGC unless its environment sets one. Each
// batch leaves a few MiB of garbage behind it, and a collection costs
// several times more under wazero's termination checks than natively,
// so collecting at the default, each time the heap doubles, would take
// a quarter of the time. The host sets GOMEMLIMIT below its memory cap, so
// that a guest near the cap collects rather than dies.
const gcPercent = 400

func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

//go:wasmexport hydrant_alloc
func hydrantAlloc(size uint32) uint32 {
	if uint32(cap(input)) < size {
		input = make([]byte, int(size)+int(size)/4) // room for the next, larger batch
	}
	input = input[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input[:cap(input)]))))
}

//go:wasmexport hydrant_transform
func hydrantTransform(ptr, size uint32) uint64 {
	if handler == nil {
		return fail("the module has no handler: call guest.Handle from an init function")
	}
	if size > uint32(cap(input)) || size > 0 && ptr != uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input[:cap(input)])))) {
		return fail("hydrant_transform: the event is not in the buffer hydrant_alloc returned")
	}
	answer, err := handler(input[:size])
	if err != nil {
		return fail(err.Error())
	}
	if len(answer) >= errFlag {
		return fail("the answer is larger than 2 GiB")
	}
	result = answer
	return pack(answer)
}

func fail(msg string) uint64 {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	result = []byte(msg)
	return pack(result) | errFlag
}

func pack(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))<<32 | uint64(len(b))
}
