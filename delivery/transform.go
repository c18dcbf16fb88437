package delivery

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hydrantio/hydrant/transform"
)

// Transformer runs a transformation function: see transform.Function,
// whose Invoke it is.
type Transformer interface {
	// Invoke runs the function over one event of Firehose's Lambda
	// transformation JSON and returns its answer, unchecked. It returns
	// when the function answers, fails (a *transform.Error) or ctx is done.
	Invoke(ctx context.Context, event []byte) ([]byte, error)
}

// Function is a transformation function as the streams see it.
type Function struct {
	Transformer Transformer
	// Timeout bounds one invocation; 0 means DefaultFunctionTimeout.
	Timeout time.Duration
}

// DefaultFunctionTimeout bounds an invocation of a function that sets no
// timeout of its own.
const DefaultFunctionTimeout = time.Minute

// maxFunctionRecords caps the records of one invocation. The buffer size
// counts record data, so without it a buffer of empty or tiny records
// (de-aggregation makes them) would grow an event of millions of records
// and hundreds of megabytes.
const maxFunctionRecords = 10_000

// keepFunctionBuffer is the most capacity the processing buffer's
// reused slices keep after an invocation; a larger one is dropped.
const keepFunctionBuffer = 8 << 20

// fnBuffer is the processing buffer: the records waiting for the
// destination's function, invoked once per buffer.
type fnBuffer struct {
	ev       transform.Event
	arrivals []time.Time
	arena    []byte // the records' data, one after another
	ends     []int  // where each record's data ends in arena
	openedAt time.Time
	enc      []byte // the encoded event, reused
	seq      int    // records buffered in the batch so far, for record ids
}

func (f *fnBuffer) reset() {
	f.ev.Records = f.ev.Records[:0]
	f.arrivals = f.arrivals[:0]
	f.arena = f.arena[:0]
	f.ends = f.ends[:0]
	if cap(f.enc) > keepFunctionBuffer {
		f.enc = nil
	}
	if cap(f.arena) > keepFunctionBuffer {
		f.arena = nil
	}
}

// fnAppend buffers one record for the destination's function, invoking
// the function when the processing buffer is full or old enough.
func (s *stream) fnAppend(ctx context.Context, b *batch, arrival time.Time, data []byte) {
	f := &s.fnBuf
	fp := &b.info.Config.Destination.Processing.Function
	if len(f.ev.Records) == 0 {
		f.openedAt = s.m.now()
	}
	f.arena = append(f.arena, data...)
	f.ends = append(f.ends, len(f.arena))
	f.ev.Records = append(f.ev.Records, transform.Record{
		RecordID:                    strconv.FormatUint(b.first, 10) + "-" + strconv.Itoa(f.seq),
		ApproximateArrivalTimestamp: arrival.UnixMilli(),
	})
	f.seq++
	f.arrivals = append(f.arrivals, arrival)
	if int64(len(f.arena)) >= fp.BufferSizeBytes || len(f.ev.Records) >= maxFunctionRecords ||
		s.m.now().Sub(f.openedAt) >= time.Duration(fp.BufferIntervalSeconds)*time.Second {
		s.flushFunction(ctx, b)
	}
}

// flushFunction invokes the destination's function over the processing
// buffer, retrying a failed invocation up to NumberOfRetries times, and
// passes its results on: Ok records to partitioning and the objects,
// ProcessingFailed ones and those of an invocation that failed for good
// to the error output. When ctx ends first the batch is abandoned (b.err),
// to be read again from the log.
func (s *stream) flushFunction(ctx context.Context, b *batch) {
	f := &s.fnBuf
	if len(f.ev.Records) == 0 {
		return
	}
	defer f.reset()
	start := 0
	for i, end := range f.ends {
		f.ev.Records[i].Data = f.arena[start:end:end]
		start = end
	}
	fp := &b.info.Config.Destination.Processing.Function
	if fn, ok := s.m.opts.Functions[fp.Name]; !ok || fn.Transformer == nil {
		// A server misconfiguration, not the records' fault: they wait in
		// the log, as for a destination outage, until the function is
		// declared again (or the stream changed), rather than all going
		// to the error output.
		b.err = fmt.Errorf("the stream runs function %q, which the server's config does not declare (functions:): declare it, or update the stream; its records wait in the log", fp.Name)
		return
	}
	results, attempts, err := s.invoke(ctx, b, fp)
	if err != nil {
		if ctx.Err() != nil || s.forcing() {
			b.err = fmt.Errorf("stopped while the function ran: %w", context.Canceled)
			return
		}
		code, msg := transform.CodeFunctionError, err.Error()
		var te *transform.Error
		if errors.As(err, &te) {
			code, msg = te.Code, te.Message
		}
		msg = fmt.Sprintf("function %s: %s", fp.Name, msg)
		for i := range f.ev.Records {
			s.failFunction(b, fp, code, msg, attempts, f.arrivals[i], f.ev.Records[i].Data)
		}
		return
	}
	var ok, dropped, failed, okBytes int
	for i := range results {
		r := &results[i]
		switch r.Result {
		case transform.ResultOk:
			ok++
			okBytes += len(r.Data)
			var keys map[string]string
			if r.Metadata != nil {
				keys = r.Metadata.PartitionKeys
			}
			s.addSub(b, f.arrivals[i], r.Data, keys)
		case transform.ResultDropped:
			dropped++
		default:
			failed++
			s.failFunction(b, fp, transform.CodeProcessingFailed,
				fmt.Sprintf("function %s answered %s for the record", fp.Name, transform.ResultProcessingFailed),
				attempts, f.arrivals[i], f.ev.Records[i].Data)
		}
	}
	pm := s.m.metrics
	pm.processedRecords.WithLabelValues(s.name, transform.ResultOk).Add(float64(ok))
	pm.processedRecords.WithLabelValues(s.name, transform.ResultDropped).Add(float64(dropped))
	pm.processedRecords.WithLabelValues(s.name, transform.ResultProcessingFailed).Add(float64(failed))
	pm.processedBytes.WithLabelValues(s.name).Add(float64(okBytes))
}

// invoke runs the function over the buffer until an invocation succeeds,
// its retries are spent, or ctx ends. It returns the results in the order
// of the records, and the invocations made.
func (s *stream) invoke(ctx context.Context, b *batch, fp *FunctionProcessing) ([]transform.Result, int, error) {
	f := &s.fnBuf
	fn := s.m.opts.Functions[fp.Name] // flushFunction checked it
	timeout := fn.Timeout
	if timeout <= 0 {
		timeout = DefaultFunctionTimeout
	}
	f.ev.InvocationID = uuid.NewString()
	f.ev.DeliveryStreamArn = s.m.streamARN(s.name)
	f.ev.Region = s.m.opts.Region
	f.enc = transform.AppendEvent(f.enc[:0], &f.ev)
	pm := s.m.metrics
	var err error
	attempts := 0
	for attempt := 0; attempt <= fp.NumberOfRetries; attempt++ {
		if attempt > 0 && !sleep(ctx, functionRetryDelay(attempt)) {
			return nil, attempts, ctx.Err()
		}
		if s.forcing() {
			// Force-deleted: the records are being discarded.
			return nil, attempts, context.Canceled
		}
		attempts++
		var answer []byte
		start := time.Now()
		ictx, cancel := context.WithTimeout(ctx, timeout)
		answer, err = fn.Transformer.Invoke(ictx, f.enc)
		timedOut := errors.Is(ictx.Err(), context.DeadlineExceeded)
		cancel()
		pm.processingDuration.WithLabelValues(s.name).Observe(time.Since(start).Seconds())
		if err == nil {
			var results []transform.Result
			if results, err = transform.Decode(answer, &f.ev); err == nil {
				pm.processingInvocations.WithLabelValues(s.name, "success").Inc()
				return results, attempts, nil
			}
		}
		pm.processingInvocations.WithLabelValues(s.name, "error").Inc()
		if ctx.Err() != nil {
			return nil, attempts, ctx.Err()
		}
		if timedOut {
			err = transform.Errorf(transform.CodeTimedOut, "the function did not answer within %v", timeout)
		}
		s.logger.Warn("transformation function failed", "function", fp.Name, "records", len(f.ev.Records),
			"attempt", attempts, "retries", fp.NumberOfRetries, "first", b.first, "err", err)
	}
	return nil, attempts, err
}

// functionRetryDelay is the pause before retry n (from 1) of a failed
// invocation: 200 ms, doubling, at most 5 s.
func functionRetryDelay(n int) time.Duration {
	return min(200*time.Millisecond<<min(n-1, 5), 5*time.Second)
}

// failFunction sends one record the function failed on to the error
// output under processing-failed, naming the function as Firehose names
// the Lambda.
func (s *stream) failFunction(b *batch, fp *FunctionProcessing, code, msg string, attempts int, arrival time.Time, data []byte) {
	arn := fp.ARN
	if arn == "" {
		arn = s.m.functionARN(fp.Name)
	}
	s.writeFailure(b, ErrorTypeProcessing, errorRecord{
		AttemptsMade:     max(attempts, 1),
		ArrivalTimestamp: arrival.UnixMilli(),
		ErrorCode:        code,
		ErrorMessage:     msg,
		RawData:          data,
		LambdaARN:        arn,
	})
}
