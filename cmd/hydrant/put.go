package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Firehose's limits: a record's data is at most 1,000 KiB, and a
// PutRecordBatch request carries at most 500 records and 4 MiB of data.
const (
	maxRecordBytes  = 1000 << 10
	maxBatchRecords = 500
	maxBatchBytes   = 4 << 20
)

// maxWarnings caps the per-line and per-batch warnings put prints; the
// summary counts every failure regardless.
const maxWarnings = 20

type putFlags struct {
	stream      string
	noNewline   bool
	concurrency int
	maxRetries  int
}

func newPutCmd() *cobra.Command {
	var co clientOptions
	var f putFlags
	cmd := &cobra.Command{
		Use:   "put --stream NAME [FILE...]",
		Short: "Send newline-delimited records to a delivery stream",
		Long: `Send each line of the files, or of standard input when there are none or a file
is "-", as one record to a delivery stream, with PutRecordBatch.

A record's data is the line including its newline, so the objects delivered are
newline-delimited; a last line without a newline gets one. With --no-newline the
line ending (\n or \r\n) is left out. Lines over the 1,000 KiB record limit are
reported with their file and line number and skipped.

Records go out in batches of up to 500 records and 4 MiB, --concurrency requests
at a time. Records the server fails (an ErrorCode in the response, or a throttled
request) are sent again after an exponential backoff with jitter, up to
--max-retries times each. Order is best-effort: a retried record arrives after
records read later.

On Ctrl-C put stops reading, finishes sending the records it has read (retries
included) and prints its summary; a second Ctrl-C abandons them. It exits
non-zero if any record was not delivered.`,
		Example: `  hydrant put --stream clicks clicks-*.jsonl
  producer | hydrant put --stream clicks`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd, &co, &f, args)
		},
	}
	addClientFlags(cmd.Flags(), &co)
	fl := cmd.Flags()
	fl.StringVar(&f.stream, "stream", "", "delivery stream to send to (required)")
	fl.BoolVar(&f.noNewline, "no-newline", false, "leave each line's ending out of its record")
	fl.IntVar(&f.concurrency, "concurrency", 4, "PutRecordBatch requests in flight at once")
	fl.IntVar(&f.maxRetries, "max-retries", 10, "times a failed record is sent again before it counts as failed")
	_ = cmd.MarkFlagRequired("stream")
	return cmd
}

func runPut(cmd *cobra.Command, co *clientOptions, f *putFlags, args []string) error {
	if f.concurrency < 1 {
		return fmt.Errorf("invalid --concurrency %d: want at least 1", f.concurrency)
	}
	if f.maxRetries < 0 {
		return fmt.Errorf("invalid --max-retries %d: want 0 or more", f.maxRetries)
	}
	inputs, err := putInputs(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	// put retries on its own, per record; the SDK's retryer would retry whole
	// requests behind its back and spend its retry quota under throttling.
	client, err := newFirehoseClient(ctx, *co, withMaxConns(f.concurrency), func(o *firehose.Options) {
		o.Retryer = aws.NopRetryer{}
	})
	if err != nil {
		return err
	}
	// The progress line goes to a terminal, but not to the one the records
	// are being typed into.
	typing := isTerminal(cmd.InOrStdin()) && slices.ContainsFunc(inputs, func(in input) bool { return in.path == "" })
	con := &console{w: cmd.ErrOrStderr(), tty: isTerminal(cmd.ErrOrStderr()) && !typing}
	if typing {
		con.printf("hydrant: reading records from the terminal, one per line; end with Ctrl-D")
	}
	p := newPutter(client, co.endpoint, f, con)

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	sendCtx, abandon := context.WithCancel(ctx)
	defer abandon()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		con.printf("hydrant: interrupted; sending the records already read (Ctrl-C again to abandon them)")
		stopReading()
		select {
		case <-sigs:
			abandon()
		case <-done:
		}
	})
	err = p.run(readCtx, sendCtx, inputs)
	close(done)
	wg.Wait()
	return err
}

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

// putter reads lines into batches and sends them, retrying failed records.
type putter struct {
	client     *firehose.Client
	endpoint   string
	stream     string
	noNewline  bool
	workers    int // requests in flight at most
	maxRetries int
	backoff    backoff
	con        *console

	sent      atomic.Int64 // records the server accepted
	sentBytes atomic.Int64
	retries   atomic.Int64 // records sent again
	failed    atomic.Int64 // records that will not be delivered
	answered  atomic.Bool  // the server has answered a request
	refusals  atomic.Int32 // whole requests refused since one was accepted

	stopRead  context.CancelCauseFunc
	aborted   atomic.Bool
	abortOnce sync.Once
	abortErr  error // set once, before aborted; read after the workers are done

	mu       sync.Mutex
	lastErr  error // why the most recent record failed
	warnings int
}

func newPutter(client *firehose.Client, endpoint string, f *putFlags, con *console) *putter {
	return &putter{
		client:     client,
		endpoint:   endpoint,
		stream:     f.stream,
		noNewline:  f.noNewline,
		workers:    f.concurrency,
		maxRetries: f.maxRetries,
		backoff:    backoff{base: 100 * time.Millisecond, max: 5 * time.Second},
		con:        con,
	}
}

// errAbandoned is why the records read but not delivered fail after a second
// Ctrl-C.
var errAbandoned = errors.New("interrupted; the records in flight were abandoned")

// run sends every input and prints the summary. Cancelling readCtx stops
// reading; what was read is still sent. Cancelling sendCtx abandons the
// requests in flight and the retries. It returns an error when a record was
// not delivered or not all the input was read.
func (p *putter) run(readCtx, sendCtx context.Context, inputs []input) error {
	start := time.Now()
	ctx, stopRead := context.WithCancelCause(readCtx)
	defer stopRead(nil)
	p.stopRead = stopRead
	stopProgress := p.startProgress(start)

	fresh := make(chan batch)
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(fresh)
		readErr = p.readAll(ctx, inputs, fresh)
	})
	p.schedule(sendCtx, fresh)
	wg.Wait()
	stopProgress()

	p.con.printf("%s", p.summary(time.Since(start)))
	switch failed := p.failed.Load(); {
	case p.abortErr != nil:
		return p.abortErr
	case readErr != nil:
		return readErr
	case failed > 0:
		return fmt.Errorf("%d %s not delivered; last error: %v", failed, plural(failed, "record was", "records were"), p.lastErr)
	case readCtx.Err() != nil:
		return errors.New("interrupted before the end of the input")
	}
	return nil
}

// summary reads "sent N records (X MiB) in T, R records/s; F failed".
func (p *putter) summary(elapsed time.Duration) string {
	n := p.sent.Load()
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(n) / s
	}
	return fmt.Sprintf("sent %d %s (%.2f MiB) in %v, %.0f records/s; %d failed",
		n, plural(n, "record", "records"), float64(p.sentBytes.Load())/(1<<20), roundDuration(elapsed), rate, p.failed.Load())
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
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

// putRecord is one record on its way to the server.
type putRecord struct {
	data    []byte
	retries int       // times the record has been failed and queued again
	readyAt time.Time // when a record waiting for its retry may be sent
}

// batch is the records of one PutRecordBatch request: at most
// maxBatchRecords of them and maxBatchBytes of data.
type batch []putRecord

// batcher fills batches to Firehose's limits, copying the records of a batch
// back to back into one buffer.
type batcher struct {
	data []byte
	ends []int // where each record ends in data
}

// add copies a record (data, plus a newline if addNL) into the batch being
// filled, and returns the batch it completed, if any. A batch is complete
// when it holds maxBatchRecords records or maxBatchBytes of data, or when the
// next record would not fit. The record must be at most maxRecordBytes.
func (bt *batcher) add(data []byte, addNL bool) (full batch) {
	size := len(data)
	if addNL {
		size++
	}
	if len(bt.ends) > 0 && len(bt.data)+size > maxBatchBytes {
		full = bt.flush()
	}
	if bt.data == nil {
		// Never nil, so that neither is an empty record: the SDK requires Data.
		bt.data = make([]byte, 0, 64<<10)
	}
	bt.data = append(bt.data, data...)
	if addNL {
		bt.data = append(bt.data, '\n')
	}
	bt.ends = append(bt.ends, len(bt.data))
	// When a full batch was just returned, one record is left, which is
	// under either limit: add never completes two batches at once.
	if len(bt.ends) == maxBatchRecords || len(bt.data) == maxBatchBytes {
		full = bt.flush()
	}
	return full
}

// flush returns the batch being filled, or nil if it is empty.
func (bt *batcher) flush() batch {
	if len(bt.ends) == 0 {
		return nil
	}
	b := make(batch, len(bt.ends))
	start := 0
	for i, end := range bt.ends {
		b[i].data = bt.data[start:end:end]
		start = end
	}
	bt.data, bt.ends = nil, bt.ends[:0] // the records keep the buffer
	return b
}

// outcome is what became of a request: the records to send again, and why.
type outcome struct {
	retry batch
	cause error
	whole bool // the whole request failed
}

// schedule sends the fresh batches and the retries, with up to p.workers
// requests in flight, until fresh is closed and every record is delivered or
// failed. Records whose retry is due go first, merged into full batches
// across the requests they failed in. A request that failed as a whole holds
// its slot for a backoff that grows while requests keep being refused, so
// that a throttled server sees fewer of them; a record that failed on its own
// waits out its backoff in the queue, leaving the slot to other records.
// After an abort nothing more is sent, and what is left counts as failed.
func (p *putter) schedule(ctx context.Context, fresh <-chan batch) {
	outcomes := make(chan outcome, p.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	dispatch := func(b batch) {
		wg.Go(func() { outcomes <- p.send(ctx, b) })
	}
	var queue []putRecord // records waiting for a retry
	inflight, freshOpen := 0, true
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			p.abort(errAbandoned)
		}
		stopping := p.aborted.Load()
		if stopping && len(queue) > 0 {
			p.fail(len(queue), nil)
			queue = nil
		}
		if !freshOpen && inflight == 0 && len(queue) == 0 {
			return
		}
		var freshC <-chan batch
		var wake <-chan time.Time
		var done <-chan struct{}
		switch {
		case stopping:
			if freshOpen {
				freshC = fresh
			}
		case inflight < p.workers:
			now := time.Now()
			if b := takeDue(&queue, now); b != nil {
				inflight++
				dispatch(b)
				continue
			}
			if freshOpen {
				freshC = fresh
			}
			if len(queue) > 0 {
				timer.Reset(earliest(queue).Sub(now))
				wake = timer.C
			}
			done = ctx.Done()
		default:
			done = ctx.Done()
		}
		select {
		case b, ok := <-freshC:
			switch {
			case !ok:
				freshOpen = false
			case stopping:
				p.fail(len(b), nil)
			default:
				inflight++
				dispatch(b)
			}
		case o := <-outcomes:
			inflight--
			queue = p.requeue(queue, o)
		case <-wake:
		case <-done:
		}
	}
}

// takeDue removes from the queue the records whose retry is due, up to a
// batch of them, and returns them, or nil when none is due.
func takeDue(queue *[]putRecord, now time.Time) batch {
	var b batch
	size := 0
	rest := (*queue)[:0] // filled in place: rest[j] is written after (*queue)[i≥j] is read
	for _, r := range *queue {
		if !r.readyAt.After(now) && len(b) < maxBatchRecords && size+len(r.data) <= maxBatchBytes {
			b = append(b, r)
			size += len(r.data)
			continue
		}
		rest = append(rest, r)
	}
	*queue = rest
	return b
}

func earliest(queue []putRecord) time.Time {
	t := queue[0].readyAt
	for _, r := range queue[1:] {
		if r.readyAt.Before(t) {
			t = r.readyAt
		}
	}
	return t
}

// requeue queues the records of an outcome for their next retry, or counts
// them as failed when they have had all their retries.
func (p *putter) requeue(queue []putRecord, o outcome) []putRecord {
	now := time.Now()
	gaveUp := 0
	for _, r := range o.retry {
		r.retries++
		if r.retries > p.maxRetries {
			gaveUp++
			continue
		}
		r.readyAt = now
		if !o.whole { // a failed request has already waited out its backoff
			r.readyAt = now.Add(p.backoff.delay(r.retries))
		}
		queue = append(queue, r)
	}
	if gaveUp > 0 {
		p.fail(gaveUp, o.cause)
		p.warnf("hydrant: %d %s failed after %d %s: %v", gaveUp, plural(int64(gaveUp), "record", "records"),
			p.maxRetries, plural(int64(p.maxRetries), "retry", "retries"), o.cause)
	}
	return queue
}

// send makes one PutRecordBatch request, and returns the records to try
// again. It counts what was delivered, and what failed for good.
func (p *putter) send(ctx context.Context, b batch) outcome {
	recs := make([]types.Record, len(b))
	var resent int64
	for i, r := range b {
		recs[i] = types.Record{Data: r.data}
		if r.retries > 0 {
			resent++
		}
	}
	p.retries.Add(resent)
	out, err := p.client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{
		DeliveryStreamName: aws.String(p.stream),
		Records:            recs,
	})
	fatal := func(cause error) outcome {
		p.fail(len(b), cause)
		p.abort(cause)
		return outcome{}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return fatal(errAbandoned)
	case err != nil:
		cause := describeError(err, p.endpoint)
		if !p.retryable(err) {
			return fatal(cause)
		}
		if !sleep(ctx, p.backoff.delay(int(p.refusals.Add(1)))) {
			return fatal(errAbandoned)
		}
		return outcome{retry: b, cause: cause, whole: true}
	case len(out.RequestResponses) != len(recs):
		return fatal(fmt.Errorf("server answered %d entries for %d records", len(out.RequestResponses), len(recs)))
	}
	p.answered.Store(true)
	p.refusals.Store(0)
	var o outcome
	var n, size int64
	for k, e := range out.RequestResponses {
		if e.ErrorCode != nil {
			o.retry = append(o.retry, b[k])
			o.cause = &apiError{code: aws.ToString(e.ErrorCode), message: aws.ToString(e.ErrorMessage)}
			continue
		}
		n++
		size += int64(len(recs[k].Data))
	}
	p.sent.Add(n)
	p.sentBytes.Add(size)
	return o
}

// retryable reports whether a failed request is worth sending again:
// throttling and server faults are; client errors (no such stream, bad
// request) are not. A request that got no answer at all is retried only once
// the server has answered another, so that a server restart is ridden out
// but a wrong --endpoint fails at once.
func (p *putter) retryable(err error) bool {
	status := 0 // 0 when the request got no response
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if status != 0 {
		p.answered.Store(true)
		if status == http.StatusTooManyRequests || status >= 500 {
			return true
		}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ServiceUnavailableException", "ThrottlingException", "InternalFailure", "InternalFailureException":
			return true
		}
		return false
	}
	if status != 0 {
		return false
	}
	return p.answered.Load()
}

// fail counts n records as not delivered, for cause.
func (p *putter) fail(n int, cause error) {
	p.failed.Add(int64(n))
	if cause != nil {
		p.mu.Lock()
		p.lastErr = cause
		p.mu.Unlock()
	}
}

// abort stops the run after an error that retrying cannot fix: reading
// stops, and the records not yet sent count as failed.
func (p *putter) abort(err error) {
	p.abortOnce.Do(func() {
		p.abortErr = err
		p.aborted.Store(true)
		p.stopRead(err)
	})
}

func (p *putter) warnf(format string, args ...any) {
	p.mu.Lock()
	p.warnings++
	n := p.warnings
	p.mu.Unlock()
	switch {
	case n < maxWarnings:
		p.con.printf(format, args...)
	case n == maxWarnings:
		p.con.printf("hydrant: further warnings are not shown; the summary counts every failure")
	}
}

// startProgress shows a progress line on a terminal, updated four times a
// second, until the returned function is called.
func (p *putter) startProgress(start time.Time) (stop func()) {
	if !p.con.tty {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		type sample struct {
			at   time.Time
			sent int64
		}
		window := []sample{{start, 0}} // the last two seconds, for the rate
		for {
			select {
			case <-done:
				p.con.clearProgress()
				return
			case now := <-t.C:
				sent := p.sent.Load()
				window = append(window, sample{now, sent})
				if len(window) > 9 {
					window = window[1:]
				}
				first := window[0]
				rate := float64(sent-first.sent) / now.Sub(first.at).Seconds()
				p.con.progress(fmt.Sprintf("sent %d records (%.2f MiB), %.0f records/s, %d retries, %d failed",
					sent, float64(p.sentBytes.Load())/(1<<20), rate, p.retries.Load(), p.failed.Load()))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// console serializes put's writes to stderr, so that a warning never lands
// inside the progress line.
type console struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	shown bool // a progress line is on screen
}

func isTerminal(rw any) bool {
	f, ok := rw.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	fmt.Fprintf(c.w, format+"\n", args...)
}

func (c *console) progress(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "\r\x1b[K%s", line)
	c.shown = true
}

func (c *console) clearProgress() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *console) clearLocked() {
	if c.shown {
		io.WriteString(c.w, "\r\x1b[K")
		c.shown = false
	}
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
