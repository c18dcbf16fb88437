package delivery

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// RecordSink is a destination that takes records rather than objects: an
// HTTP endpoint, a ClickHouse table. The worker hands it each batch's
// records once they are processed.
//
// Deliver returns once every record of recs is at the destination or has
// failed for good; the failures are listed, by index in recs, and go to
// the error output (Firehose's S3 backup of failed data). An error means
// nothing is known about the attempt: the worker backs off and calls
// Deliver again with the same batchID and records, so a destination that
// deduplicates by batchID (the HTTP endpoint protocol's request ids)
// receives each record once. Deliver does its own retries within its
// retry duration before it reports a record failed; it does not keep recs
// after it returns.
type RecordSink interface {
	Deliver(ctx context.Context, batchID string, recs []record.Record) ([]FailedRecord, error)
	Close() error
}

// FailedRecord is a record a RecordSink gave up on.
type FailedRecord struct {
	Index    int    // in the records given to Deliver
	Code     string // Firehose's error code, such as HttpEndpoint.DestinationException
	Message  string
	Attempts int
}

// Destination kinds.
const (
	KindObjects    = "objects"
	KindHTTP       = "http"
	KindClickHouse = "clickhouse"
)

// Error output types of the record sinks, as Firehose names the HTTP
// endpoint's.
const (
	ErrorTypeHTTP       = "http-endpoint-failed"
	ErrorTypeClickHouse = "clickhouse-failed"
)

// Kind says where d delivers: objects in the object store, an HTTP
// endpoint, or ClickHouse.
func (d *Destination) Kind() string {
	switch {
	case d.HTTP.URL != "":
		return KindHTTP
	case len(d.ClickHouse.Addrs) > 0:
		return KindClickHouse
	}
	return KindObjects
}

// recordSink reports whether d delivers to a RecordSink.
func (d *Destination) recordSink() bool { return d.Kind() != KindObjects }

// copiesAll reports whether a record-sink destination also writes every
// record to its bucket (Firehose's S3BackupMode AllData).
func (d *Destination) copiesAll() bool { return d.recordSink() && d.Backup.Mode == BackupAllData }

func (d *Destination) errorType() string {
	if d.Kind() == KindClickHouse {
		return ErrorTypeClickHouse
	}
	return ErrorTypeHTTP
}

// validateRecordSink checks what a record-sink destination may use.
func (d *Destination) validateRecordSink() *FieldError {
	if d.HTTP.URL != "" && len(d.ClickHouse.Addrs) > 0 {
		return &FieldError{"http", "cannot be used with clickhouse: a stream has one destination"}
	}
	switch d.Kind() {
	case KindHTTP:
		if err := d.HTTP.Validate(); err != nil {
			return &FieldError{"http", err.Error()}
		}
	case KindClickHouse:
		if err := d.ClickHouse.Validate(); err != nil {
			return &FieldError{"clickhouse", err.Error()}
		}
	default:
		return nil
	}
	switch {
	case d.DynamicPartitioning.Enabled:
		return &FieldError{"dynamic_partitioning.enabled", "is for object destinations only"}
	case d.FormatConversion.Enabled:
		return &FieldError{"format_conversion.enabled", "is for object destinations only"}
	}
	switch d.Backup.Mode {
	case "", BackupFailedDataOnly, BackupAllData:
	default:
		return &FieldError{"backup.mode", fmt.Sprintf("%q is not a backup mode of a %s destination: use %s (failed records to the bucket's error output) or %s (every record to the bucket as well)", d.Backup.Mode, d.Kind(), BackupFailedDataOnly, BackupAllData)}
	}
	if d.Backup.Bucket != "" {
		return &FieldError{"backup.bucket", "is for object destinations: a " + d.Kind() + " destination backs up to its own bucket"}
	}
	return nil
}

// sinkFor returns the stream's record sink for dest, made on first use
// and again when the destination's settings change.
func (s *stream) sinkFor(dest *Destination) (RecordSink, error) {
	if s.sink != nil && reflect.DeepEqual(s.sinkDest.HTTP, dest.HTTP) && reflect.DeepEqual(s.sinkDest.ClickHouse, dest.ClickHouse) &&
		s.sinkDest.HTTP.AccessKey == dest.HTTP.AccessKey && s.sinkDest.ClickHouse.Password == dest.ClickHouse.Password {
		return s.sink, nil
	}
	if s.m.opts.NewRecordSink == nil {
		return nil, fmt.Errorf("this server cannot deliver to %s destinations", dest.Kind())
	}
	s.closeSink()
	sink, err := s.m.opts.NewRecordSink(s.name, dest, s.observeAttempt)
	if err != nil {
		return nil, err
	}
	s.sink, s.sinkDest = sink, *dest
	return sink, nil
}

// observeAttempt counts one attempt of the stream's record sink to
// deliver (one HTTP request, one INSERT).
func (s *stream) observeAttempt(ok bool, took time.Duration) {
	s.metrics.deliveryDuration.Observe(took.Seconds())
	if ok {
		s.metrics.attemptsOK.Inc()
	} else {
		s.metrics.attemptsErr.Inc()
	}
}

func (s *stream) closeSink() {
	if s.sink != nil {
		if err := s.sink.Close(); err != nil {
			s.logger.Warn("cannot close the destination", "err", err)
		}
		s.sink = nil
	}
}

// deliverRecords hands the batch's records to the stream's record sink,
// retrying until it answers, and sends what it gave up on to the error
// output. It reports whether to go on with the batch.
func (s *stream) deliverRecords(ctx context.Context, b *batch) outcome {
	dest := &b.info.Config.Destination
	ps := s.sinkSpool
	var recs []record.Record
	if err := ps.each(func(arrival time.Time, data []byte) {
		recs = append(recs, record.Record{ArrivalTime: arrival, Data: append([]byte(nil), data...)})
	}); err != nil {
		s.logger.Error("cannot read the batch's records back; reading the batch again from the log", "err", err)
		return rebuild
	}
	if len(recs) == 0 {
		return delivered
	}
	// The same records get the same id after a crash, so an endpoint can
	// drop what it already has.
	batchID := b.info.ID + "-" + strconv.FormatUint(b.first, 10) + "-" + strconv.FormatUint(b.last, 10)
	var failed []FailedRecord
	ok := s.retry(ctx, "cannot deliver to "+dest.Kind(), func() error {
		sink, err := s.sinkFor(dest)
		if err != nil {
			return err
		}
		// The sink reports its attempts itself (observeAttempt): one
		// Deliver may retry many requests.
		failed, err = sink.Deliver(ctx, batchID, recs)
		return err
	})
	if !ok {
		return stopped
	}
	bytes := 0
	for _, r := range recs {
		bytes += len(r.Data)
	}
	for _, f := range failed {
		if f.Index < 0 || f.Index >= len(recs) {
			continue
		}
		r := recs[f.Index]
		bytes -= len(r.Data)
		s.failAttempts(b, dest.errorType(), f.Code, f.Message, f.Attempts, r.ArrivalTime, r.Data)
	}
	if b.err != nil {
		s.logger.Error("cannot write failed records to the error output; reading the batch again from the log", "err", b.err)
		return rebuild
	}
	s.metrics.deliveryRecords.Add(float64(len(recs) - len(failed)))
	s.metrics.deliveryBytes.Add(float64(bytes))
	return delivered
}
