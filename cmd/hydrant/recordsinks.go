package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/record"
	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// errCodeClickHouseRow is the error output code of a record ClickHouse's
// sink rejected: it does not fit the table.
const errCodeClickHouseRow = "ClickHouse.InvalidRecord"

// newRecordSinks returns delivery's factory of HTTP endpoint and
// ClickHouse sinks. arn names a stream as the Firehose API does; the HTTP
// endpoint protocol sends it in X-Amz-Firehose-Source-Arn.
func newRecordSinks(logger *slog.Logger, arn func(stream string) string) func(string, *delivery.Destination, func(bool, time.Duration)) (delivery.RecordSink, error) {
	return func(stream string, d *delivery.Destination, attempt func(bool, time.Duration)) (delivery.RecordSink, error) {
		switch d.Kind() {
		case delivery.KindHTTP:
			cfg := d.HTTP
			if cfg.SourceARN == "" {
				cfg.SourceARN = arn(stream)
			}
			s, err := webhook.New(cfg, logger.With("stream", stream, "sink", "http"), webhook.WithAttemptObserver(attempt))
			if err != nil {
				return nil, err
			}
			return webhookSink{s}, nil
		case delivery.KindClickHouse:
			s, err := clickhouse.New(context.Background(), d.ClickHouse, logger.With("stream", stream, "sink", "clickhouse"))
			if err != nil {
				return nil, err
			}
			return clickhouseSink{s, attempt}, nil
		}
		return nil, errors.New("not a record destination")
	}
}

// webhookSink adapts webhook.Sink: the requests it gave up on become
// failed records.
type webhookSink struct{ s *webhook.Sink }

func (w webhookSink) Deliver(ctx context.Context, batchID string, recs []record.Record) ([]delivery.FailedRecord, error) {
	err := w.s.Send(ctx, batchID, recs)
	var fe *webhook.FailedError
	if !errors.As(err, &fe) {
		return nil, err
	}
	var failed []delivery.FailedRecord
	for _, req := range fe.Requests {
		for _, i := range req.Records {
			failed = append(failed, delivery.FailedRecord{Index: i, Code: req.LastCode, Message: req.LastMessage, Attempts: req.Attempts})
		}
	}
	return failed, nil
}

func (w webhookSink) Close() error { return w.s.Close() }

// clickhouseSink adapts clickhouse.Sink: the rows it rejected become
// failed records; an insert that failed is retried whole.
type clickhouseSink struct {
	s       *clickhouse.Sink
	attempt func(ok bool, took time.Duration)
}

func (c clickhouseSink) Deliver(ctx context.Context, _ string, recs []record.Record) ([]delivery.FailedRecord, error) {
	start := time.Now()
	rejected, err := c.s.Insert(ctx, recs)
	c.attempt(err == nil, time.Since(start))
	if err != nil {
		return nil, err
	}
	failed := make([]delivery.FailedRecord, len(rejected))
	for i, r := range rejected {
		failed[i] = delivery.FailedRecord{Index: r.Index, Code: errCodeClickHouseRow, Message: r.Reason, Attempts: 1}
	}
	return failed, nil
}

func (c clickhouseSink) Close() error { return c.s.Close() }
