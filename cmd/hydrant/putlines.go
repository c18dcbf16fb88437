package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// input is one source of lines.
type input struct {
	name  string    // shown in messages: the path, or "stdin"
	path  string    // empty for standard input
	stdin io.Reader // standard input, when path is empty
}

// putInputs checks the files up front, so that a typo fails before anything
// is sent, and opens them only when their turn comes.
func putInputs(args []string, stdin io.Reader) ([]input, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	inputs := make([]input, 0, len(args))
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, input{name: "stdin", stdin: stdin})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", a, errors.Unwrap(err))
		}
		if st.IsDir() {
			return nil, fmt.Errorf("cannot read %s: is a directory", a)
		}
		inputs = append(inputs, input{name: a, path: a})
	}
	return inputs, nil
}

// open returns a reader for the input and a function that releases it.
// Regular files are read directly; anything that can block indefinitely (a
// terminal, a pipe) goes through a ctxReader so that Ctrl-C can stop it.
func (in input) open(ctx context.Context) (io.Reader, func(), error) {
	r, release := in.stdin, func() {}
	if in.path != "" {
		f, err := os.Open(in.path)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read %s: %w", in.name, errors.Unwrap(err))
		}
		r, release = f, func() { f.Close() }
	}
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return r, release, nil
		}
	}
	cr := newCtxReader(ctx, r)
	return cr, func() { cr.stop(); release() }, nil
}

// readAll reads the inputs in order into batches. It returns early, without
// error, when ctx is done; the batch being filled is always sent on.
func (p *putter) readAll(ctx context.Context, inputs []input, out chan<- batch) error {
	var bt batcher
	defer func() {
		if b := bt.flush(); b != nil {
			out <- b // schedule drains out until it is closed
		}
	}()
	for _, in := range inputs {
		if ctx.Err() != nil {
			return nil
		}
		if err := p.readInput(ctx, in, &bt, out); err != nil {
			return err
		}
	}
	return nil
}

func (p *putter) readInput(ctx context.Context, in input, bt *batcher, out chan<- batch) error {
	r, release, err := in.open(ctx)
	if err != nil {
		return err
	}
	defer release()
	var idle func() bool
	if cr, ok := r.(*ctxReader); ok {
		idle = cr.idle
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var scratch []byte
	for lineNo := 1; ; lineNo++ {
		if ctx.Err() != nil {
			return nil
		}
		// A quiet pipe or a terminal must not hold records back until a
		// batch fills up: send what there is before waiting for more.
		if idle != nil && br.Buffered() == 0 && idle() {
			if b := bt.flush(); b != nil {
				out <- b
			}
		}
		line, n, err := nextLine(br, &scratch, maxRecordBytes+2)
		if err != nil && err != io.EOF {
			if ctx.Err() != nil {
				return nil // interrupted within a line: the part read is dropped
			}
			return fmt.Errorf("cannot read %s: %w", in.name, err)
		}
		if n > 0 {
			p.addLine(in.name, lineNo, line, n, bt, out)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// nextLine returns the next line including its '\n', which only the last
// line of an input may lack, and the line's length. A line longer than limit
// is consumed and returned as nil, with its length. The line is valid until
// the next call.
func nextLine(br *bufio.Reader, scratch *[]byte, limit int) (line []byte, n int, err error) {
	frag, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return frag, len(frag), err
	}
	buf := append((*scratch)[:0], frag...)
	n = len(frag)
	for err == bufio.ErrBufferFull {
		frag, err = br.ReadSlice('\n')
		n += len(frag)
		if n <= limit {
			buf = append(buf, frag...)
		}
	}
	*scratch = buf
	if n > limit {
		return nil, n, err
	}
	return buf, n, err
}

// addLine turns a line into a record and adds it to the batch being filled,
// or reports it when it is over the record limit.
func (p *putter) addLine(name string, lineNo int, line []byte, n int, bt *batcher, out chan<- batch) {
	size, addNL := n, false
	if line != nil {
		line, addNL = p.recordData(line)
		size = len(line)
		if addNL {
			size++
		}
	}
	if line == nil || size > maxRecordBytes {
		p.fail(1, fmt.Errorf("%s:%d: line over the 1,000 KiB record limit", name, lineNo))
		p.warnf("hydrant: %s:%d: line of %d bytes is over the 1,000 KiB record limit; skipped", name, lineNo, n)
		return
	}
	if b := bt.add(line, addNL); b != nil {
		out <- b
	}
}

// recordData returns a line's record data, and whether a newline is to be
// added: the line as it is, without its ending for --no-newline, or with a
// newline when it is the last line and has none.
func (p *putter) recordData(line []byte) (data []byte, addNL bool) {
	hasNL := len(line) > 0 && line[len(line)-1] == '\n'
	if p.noNewline {
		if hasNL {
			line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
		}
		return line, false
	}
	return line, !hasNL
}

// ctxReader reads from r in a goroutine, so that a Read blocked on a
// terminal or a quiet pipe, which Go cannot interrupt, can be abandoned when
// ctx is done; the goroutine then ends when that Read returns. Buffers are
// recycled, and the goroutine reads ahead of the consumer by up to
// ctxReaderBuffers of them.
type ctxReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	full   chan chunk
	free   chan []byte
	cur    chunk // the chunk being consumed
	off    int   // how much of cur has been consumed
}

type chunk struct {
	buf []byte // the whole buffer, returned to free once consumed
	n   int
	err error
}

const ctxReaderBuffers = 4

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	ctx, cancel := context.WithCancel(ctx)
	cr := &ctxReader{
		ctx:    ctx,
		cancel: cancel,
		full:   make(chan chunk, ctxReaderBuffers),
		free:   make(chan []byte, ctxReaderBuffers),
	}
	for range ctxReaderBuffers {
		cr.free <- make([]byte, 64<<10)
	}
	go cr.pump(r)
	return cr
}

func (cr *ctxReader) pump(r io.Reader) {
	for {
		var buf []byte
		select {
		case buf = <-cr.free:
		case <-cr.ctx.Done():
			return
		}
		n, err := r.Read(buf)
		cr.full <- chunk{buf: buf, n: n, err: err} // never blocks: full has room for every buffer
		if err != nil {
			return
		}
	}
}

func (cr *ctxReader) Read(p []byte) (int, error) {
	for cr.off == cr.cur.n {
		if cr.cur.err != nil {
			return 0, cr.cur.err
		}
		if cr.cur.buf != nil {
			cr.free <- cr.cur.buf // never blocks: free has room for every buffer
		}
		cr.cur, cr.off = chunk{}, 0
		select {
		case cr.cur = <-cr.full:
		case <-cr.ctx.Done():
			return 0, cr.ctx.Err()
		}
	}
	n := copy(p, cr.cur.buf[cr.off:cr.cur.n])
	cr.off += n
	return n, nil
}

// idle reports whether the next Read would wait for the source.
func (cr *ctxReader) idle() bool {
	return cr.off == cr.cur.n && cr.cur.err == nil && len(cr.full) == 0
}

// stop ends the reading goroutine once its current Read returns.
func (cr *ctxReader) stop() { cr.cancel() }
