package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
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
