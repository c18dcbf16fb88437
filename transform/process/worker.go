package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/hydrantio/hydrant/transform"
)

// Sizes of a worker's read buffer: it starts small, grows to hold an
// answer line (up to transform.MaxResponseBytes and its newline), and is
// dropped after an invocation when it grew past keepBuffer, so that one
// huge answer does not pin its memory for the worker's life.
const (
	initialBuffer = 64 << 10
	keepBuffer    = 8 << 20
	maxHeaderLine = 256 // a bootstrap's answer header, "R <request id> <length>"
	maxErrorText  = 1024
)

// worker is one process of the pool, seen from the host: the protocol
// pipes, the process, and what the platform set up around it. A worker
// runs one invocation at a time; only kill and interrupt may be called
// during an invocation.
type worker struct {
	gen       int64
	pid       int
	started   time.Duration // how long the start took
	bootstrap bool          // speaks the bootstrap protocol, else raw lines
	memoryMB  int

	in   *os.File // the worker's protocol input
	out  *os.File // the worker's protocol output
	proc *os.Process
	sys  *workerSys // cgroup, scratch dir, namespaces: the platform's part

	exited     chan struct{}    // closed once the process is reaped
	state      *os.ProcessState // set before exited is closed
	stderr     *os.File
	stderrDone chan struct{} // closed when the stderr pump ends

	buf     []byte // output read buffer: buf[r:w] is read and not consumed
	r, w    int
	hdr     []byte // the bootstrap header being written
	compact bytes.Buffer
	wrote   chan error // the event writer's result

	// broken, set by a failed invoke, says why the worker must go.
	broken string
	killed atomic.Bool
}

// protocolError is output that breaks the process protocol.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// functionError is an error the handler raised, as the bootstrap reports it.
type functionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

var errTooLarge = errors.New("line too long")

// invoke sends event and returns the answer. On failure it sets
// w.broken unless the worker may serve again (the handler raised).
func (w *worker) invoke(ctx context.Context, event []byte) ([]byte, error) {
	w.broken = ""
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, transform.Errorf(transform.CodeTimedOut, "the invocation timed out before it started (%v)", context.Cause(ctx))
	}
	deadline, _ := ctx.Deadline()
	w.in.SetWriteDeadline(deadline)
	w.out.SetReadDeadline(deadline)
	if ctx.Done() != nil {
		interrupted := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			w.interrupt()
			close(interrupted)
		})
		defer func() {
			if !stop() {
				<-interrupted
			}
		}()
	}

	w.r, w.w = 0, 0
	msg := event
	var rid string
	w.hdr = w.hdr[:0]
	if w.bootstrap {
		rid = uuid.NewString()
		w.hdr = appendHeader(w.hdr, deadline, rid, len(event))
	} else if bytes.IndexByte(event, '\n') >= 0 {
		// One event per line: an event holding newlines (as whitespace,
		// JSON strings cannot) is compacted first.
		w.compact.Reset()
		if err := json.Compact(&w.compact, event); err != nil {
			return nil, transform.Errorf(transform.CodeFunctionError, "the event is not JSON: %v", err)
		}
		msg = w.compact.Bytes()
	}
	go func() { w.wrote <- w.writeEvent(msg) }()

	var answer []byte
	var err error
	if w.bootstrap {
		answer, err = w.readAnswer(rid)
	} else {
		var line []byte
		if line, err = w.readLine(transform.MaxResponseBytes); err == nil {
			answer = bytes.Clone(line)
			if w.r < w.w {
				err = &protocolError{"the worker wrote more than one line for one event"}
			}
		}
	}
	var fe *functionError
	if err != nil && !errors.As(err, &fe) {
		w.interrupt() // unblock the writer
	}
	werr := w.writerResult()
	if err == nil && werr != nil {
		err = &protocolError{fmt.Sprintf("the worker answered before it read the whole event (%v)", werr)}
	}
	if len(w.buf) > keepBuffer {
		w.buf = nil
	}
	if err != nil {
		return nil, w.failure(ctx, start, err)
	}
	return answer, nil
}

// writerGrace is how long the event's writer may take to return after the
// answer came: a worker that answers has read its event, unless it
// answered without reading it all.
const writerGrace = time.Second

func (w *worker) writerResult() error {
	select {
	case err := <-w.wrote:
		return err
	default:
	}
	t := time.NewTimer(writerGrace)
	defer t.Stop()
	select {
	case err := <-w.wrote:
		return err
	case <-t.C:
		w.interrupt()
		return <-w.wrote
	}
}

// appendHeader appends the bootstrap's event header:
// "<deadline, ms since the epoch, 0 for none> <request id> <length>\n".
func appendHeader(dst []byte, deadline time.Time, rid string, n int) []byte {
	var ms int64
	if !deadline.IsZero() {
		ms = deadline.UnixMilli()
	}
	dst = strconv.AppendInt(dst, ms, 10)
	dst = append(dst, ' ')
	dst = append(dst, rid...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\n')
}

func (w *worker) writeEvent(event []byte) error {
	if len(w.hdr) > 0 {
		if _, err := w.in.Write(w.hdr); err != nil {
			return err
		}
	}
	if _, err := w.in.Write(event); err != nil {
		return err
	}
	_, err := w.in.Write(newline)
	return err
}

var newline = []byte{'\n'}

// readLine returns the next output line, without its newline, as a slice
// of w.buf valid until the next read. A line longer than limit is
// errTooLarge; the buffer never grows past limit+1 bytes.
func (w *worker) readLine(limit int) ([]byte, error) {
	scan := w.r
	for {
		if i := bytes.IndexByte(w.buf[scan:w.w], '\n'); i >= 0 {
			line := w.buf[w.r : scan+i]
			w.r = scan + i + 1
			return line, nil
		}
		scan = w.w
		if w.w-w.r > limit {
			return nil, errTooLarge
		}
		if w.w == len(w.buf) {
			if w.r > 0 {
				copy(w.buf, w.buf[w.r:w.w])
				w.w -= w.r
				scan -= w.r
				w.r = 0
			} else {
				n := max(2*len(w.buf), initialBuffer)
				if n >= limit {
					n = limit + 1
				}
				nb := make([]byte, n)
				copy(nb, w.buf[:w.w])
				w.buf = nb
			}
		}
		n, err := w.out.Read(w.buf[w.w:])
		w.w += n
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// readAnswer reads a bootstrap's answer to request rid:
// "R <rid> <n>\n" or "E <rid> <n>\n", then n bytes and a newline.
func (w *worker) readAnswer(rid string) ([]byte, error) {
	kind, n, err := w.readAnswerHeader(rid)
	if err != nil {
		return nil, err
	}
	body := make([]byte, n)
	k := copy(body, w.buf[w.r:w.w])
	w.r += k
	if k < n {
		if _, err := io.ReadFull(w.out, body[k:]); err != nil {
			return nil, err
		}
	}
	if w.r == w.w { // the newline is still in the pipe
		if err := w.fill(); err != nil {
			return nil, err
		}
	}
	if w.buf[w.r] != '\n' {
		return nil, &protocolError{"the answer is longer than its header says"}
	}
	w.r++
	if w.r < w.w {
		return nil, &protocolError{"the worker wrote more than one answer for one event"}
	}
	if kind == 'E' {
		return nil, decodeFunctionError(body)
	}
	return body, nil
}

// fill reads into the emptied buffer.
func (w *worker) fill() error {
	w.r, w.w = 0, 0
	if len(w.buf) == 0 {
		w.buf = make([]byte, initialBuffer)
	}
	n, err := w.out.Read(w.buf)
	w.w = n
	if n == 0 && err == nil {
		err = io.ErrUnexpectedEOF
	}
	if n > 0 {
		return nil
	}
	return err
}

func (w *worker) readAnswerHeader(rid string) (kind byte, n int, err error) {
	line, err := w.readLine(maxHeaderLine)
	if errors.Is(err, errTooLarge) {
		return 0, 0, &protocolError{"the worker wrote output that is not an answer header"}
	}
	if err != nil {
		return 0, 0, err
	}
	f := bytes.Fields(line)
	if len(f) != 3 || len(f[0]) != 1 || (f[0][0] != 'R' && f[0][0] != 'E') {
		return 0, 0, &protocolError{fmt.Sprintf("the worker wrote %q where an answer header belongs", truncate(line, 64))}
	}
	if string(f[1]) != rid {
		return 0, 0, &protocolError{fmt.Sprintf("the worker answered request %q, not %q", truncate(f[1], 64), rid)}
	}
	n, err = strconv.Atoi(string(f[2]))
	if err != nil || n < 0 {
		return 0, 0, &protocolError{fmt.Sprintf("the answer header has length %q", truncate(f[2], 32))}
	}
	if n > transform.MaxResponseBytes {
		return 0, 0, fmt.Errorf("%w: %d bytes", errTooLarge, n)
	}
	return f[0][0], n, nil
}

// readReady waits for a bootstrap's "READY" line, or its error loading
// the handler.
func (w *worker) readReady(deadline time.Time) error {
	w.out.SetReadDeadline(deadline)
	defer w.out.SetReadDeadline(time.Time{})
	line, err := w.readLine(maxHeaderLine)
	if err != nil {
		return err
	}
	if string(line) == "READY" {
		if w.r < w.w {
			return &protocolError{"the bootstrap wrote more than READY"}
		}
		return nil
	}
	f := bytes.Fields(line)
	if len(f) != 3 || string(f[0]) != "E" {
		return &protocolError{fmt.Sprintf("the bootstrap wrote %q instead of READY", truncate(line, 64))}
	}
	n, err := strconv.Atoi(string(f[2]))
	if err != nil || n < 0 || n > 1<<20 {
		return &protocolError{"the bootstrap's error header is malformed"}
	}
	body := make([]byte, n)
	k := copy(body, w.buf[w.r:w.w])
	w.r += k
	if _, err := io.ReadFull(w.out, body[k:]); err != nil {
		return err
	}
	return decodeFunctionError(body)
}

func decodeFunctionError(body []byte) error {
	fe := &functionError{}
	if err := json.Unmarshal(body, fe); err != nil || (fe.Message == "" && fe.Type == "") {
		return &protocolError{"the worker reported an error that is not {errorMessage, errorType}"}
	}
	return fe
}

func (e *functionError) Error() string {
	msg := e.Message
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "…"
	}
	if e.Type == "" {
		return msg
	}
	return e.Type + ": " + msg
}

// failure turns err, the failure of the invocation started at start, into
// a *transform.Error, and says in w.broken why the worker must go.
func (w *worker) failure(ctx context.Context, start time.Time, err error) error {
	var fe *functionError
	var pe *protocolError
	switch {
	case errors.As(err, &fe):
		return transform.Errorf(transform.CodeFunctionError, "%v", fe)
	case errors.Is(err, errTooLarge):
		w.broken = "its answer was too large"
		return transform.Errorf(transform.CodeResponseTooLarge, "the answer is longer than %d bytes", transform.MaxResponseBytes)
	case errors.As(err, &pe):
		w.broken = pe.msg
		return transform.Errorf(transform.CodeInvalidResponse, "%s", pe.msg)
	case errors.Is(err, os.ErrDeadlineExceeded) && !w.killed.Load():
		took := time.Since(start).Round(time.Millisecond)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
			w.broken = "its invocation was cancelled"
			return transform.Errorf(transform.CodeTimedOut, "the invocation was cancelled after %v (%v)", took, context.Cause(ctx))
		}
		w.broken = "it timed out"
		return transform.Errorf(transform.CodeTimedOut, "the function did not answer within %v, the invocation timeout; its worker was killed", took)
	default:
		w.broken = "it exited or closed its output"
		return transform.Errorf(transform.CodeFunctionError, "the worker %s", w.exitReason())
	}
}

// exitReason describes why the worker stopped answering: its exit status
// once it exits (it is killed if it does not within a moment), and
// whether it ran out of memory.
func (w *worker) exitReason() string {
	var why string
	select {
	case <-w.exited:
	case <-time.After(200 * time.Millisecond):
		if !w.killed.Load() {
			why = "closed its output"
		}
		w.kill()
		<-w.exited
	}
	if why == "" {
		why = describeExit(w.state)
	}
	if w.sys.oomKilled() {
		why += fmt.Sprintf(": it ran out of memory, the limit being %d MB", w.memoryMB)
	}
	return why
}

// describeExit says how a process ended: "exited with status 3", "was
// killed by signal 9 (killed)".
func describeExit(st *os.ProcessState) string {
	if st == nil {
		return "ended"
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return "ended"
	case ws.Signaled():
		return fmt.Sprintf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	default:
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
}

// unusable says why an idle worker cannot take an invocation: it died,
// or wrote output nobody asked for, which would pass for the next answer.
func (w *worker) unusable() string {
	select {
	case <-w.exited:
		return "it " + describeExit(w.state) + " between invocations"
	default:
	}
	if w.r < w.w || pendingBytes(w.out) > 0 {
		return "it wrote output after its last answer"
	}
	return ""
}

// interrupt makes the invocation's blocked reads and writes return.
func (w *worker) interrupt() {
	past := time.Unix(1, 0)
	w.in.SetWriteDeadline(past)
	w.out.SetReadDeadline(past)
}

// kill kills the worker and every process it started, and interrupts
// its invocation. It does not wait.
func (w *worker) kill() {
	w.killed.Store(true)
	w.sys.kill(w.proc)
	w.interrupt()
}

// cleanup waits for the killed worker's processes to be gone, then frees
// its pipes, cgroup and scratch dir.
func (w *worker) cleanup() {
	select {
	case <-w.exited:
	case <-time.After(10 * time.Second):
		// Unkillable (stuck in the kernel): leave it to the reaper.
	}
	w.sys.cleanup()
	select {
	case <-w.stderrDone:
	case <-time.After(time.Second):
		// Held open by a process that escaped the kill: stop reading.
	}
	w.stderr.Close()
	w.in.Close()
	w.out.Close()
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
