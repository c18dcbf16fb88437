package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/smithy-go"
)

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
