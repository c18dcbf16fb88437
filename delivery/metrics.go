package delivery

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the per-stream counters, named after Firehose's CloudWatch
// metrics (IncomingBytes → hydrant_incoming_bytes_total, …). Gauges that
// describe a stream's state are computed at scrape time by the manager's
// collector, so a deleted stream leaves no stale series behind.
type metrics struct {
	incomingBytes    *prometheus.CounterVec
	incomingRecords  *prometheus.CounterVec
	incomingPuts     *prometheus.CounterVec
	throttledRecords *prometheus.CounterVec
	deliveryBytes    *prometheus.CounterVec
	deliveryRecords  *prometheus.CounterVec
	deliveryObjects  *prometheus.CounterVec
	deliveryAttempts *prometheus.CounterVec
	deliveryDuration *prometheus.HistogramVec
	compressedBytes  *prometheus.CounterVec
	appendDuration   *prometheus.HistogramVec
	failedRecords    *prometheus.CounterVec

	processingDuration    *prometheus.HistogramVec
	processingInvocations *prometheus.CounterVec
	processedRecords      *prometheus.CounterVec
	processedBytes        *prometheus.CounterVec
}

func newMetrics() *metrics {
	stream := []string{"stream"}
	return &metrics{
		incomingBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_incoming_bytes_total",
			Help: "Bytes of record data accepted into the stream (Firehose IncomingBytes).",
		}, stream),
		incomingRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_incoming_records_total",
			Help: "Records accepted into the stream (Firehose IncomingRecords).",
		}, stream),
		incomingPuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_incoming_put_requests_total",
			Help: "Put requests (PutRecord, PutRecordBatch, …) accepted into the stream (Firehose IncomingPutRequests).",
		}, stream),
		throttledRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_throttled_records_total",
			Help: "Records refused because the stream's log was at its disk limit (Firehose ThrottledRecords).",
		}, stream),
		deliveryBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_delivery_bytes_total",
			Help: "Bytes of record data delivered, before compression (Firehose DeliveryToS3.Bytes).",
		}, stream),
		deliveryRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_delivery_records_total",
			Help: "Records delivered (Firehose DeliveryToS3.Records).",
		}, stream),
		deliveryObjects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_delivery_objects_total",
			Help: "Objects written to the destination.",
		}, stream),
		deliveryAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_delivery_attempts_total",
			Help: "Object write attempts by result (success, error); success/total is Firehose's DeliveryToS3.Success.",
		}, []string{"stream", "result"}),
		deliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hydrant_delivery_duration_seconds",
			Help:    "Time to write one object to the destination, per attempt.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, stream),
		compressedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_delivery_object_bytes_total",
			Help: "Bytes of objects written, after compression.",
		}, stream),
		appendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hydrant_log_append_duration_seconds",
			Help:    "Time for a put to become durable in the stream's log (the producer's acknowledgement latency inside Hydrant).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, stream),
		failedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_error_output_records_total",
			Help: "Records written to the error output, by error output type (processing-failed, decompression-failed, format-conversion-failed, partitioning-failed, …).",
		}, []string{"stream", "type"}),
		processingDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hydrant_execute_processing_duration_seconds",
			Help:    "Time of one invocation of the stream's transformation function, per attempt (Firehose ExecuteProcessing.Duration).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, stream),
		processingInvocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_execute_processing_total",
			Help: "Invocations of the stream's transformation function by result (success, error); success/total is Firehose's ExecuteProcessing.Success.",
		}, []string{"stream", "result"}),
		processedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_processed_records_total",
			Help: "Records the transformation function answered, by result (Ok, Dropped, ProcessingFailed); Ok is Firehose's SucceedProcessing.Records.",
		}, []string{"stream", "result"}),
		processedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_succeed_processing_bytes_total",
			Help: "Bytes of the records the transformation function answered Ok (Firehose SucceedProcessing.Bytes).",
		}, stream),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.incomingBytes, m.incomingRecords, m.incomingPuts, m.throttledRecords,
		m.deliveryBytes, m.deliveryRecords, m.deliveryObjects, m.deliveryAttempts, m.deliveryDuration,
		m.compressedBytes, m.appendDuration, m.failedRecords,
		m.processingDuration, m.processingInvocations, m.processedRecords, m.processedBytes}
}

// forget drops every series of a deleted stream.
func (m *metrics) forget(stream string) {
	l := prometheus.Labels{"stream": stream}
	for _, v := range []*prometheus.CounterVec{m.incomingBytes, m.incomingRecords, m.incomingPuts, m.throttledRecords,
		m.deliveryBytes, m.deliveryRecords, m.deliveryObjects, m.deliveryAttempts, m.compressedBytes, m.failedRecords,
		m.processingInvocations, m.processedRecords, m.processedBytes} {
		v.DeletePartialMatch(l)
	}
	m.deliveryDuration.DeletePartialMatch(l)
	m.appendDuration.DeletePartialMatch(l)
	m.processingDuration.DeletePartialMatch(l)
}

// stateCollector reports each stream's gauges at scrape time.
type stateCollector struct {
	m            *Manager
	freshness    *prometheus.Desc
	backlogBytes *prometheus.Desc
	backlogRecs  *prometheus.Desc
	maxLogBytes  *prometheus.Desc
	fsyncs       *prometheus.Desc
	active       *prometheus.Desc
}

func newStateCollector(m *Manager) *stateCollector {
	stream := []string{"stream"}
	return &stateCollector{
		m: m,
		freshness: prometheus.NewDesc("hydrant_delivery_data_freshness_seconds",
			"Age of the oldest record not yet delivered; 0 when everything is delivered (Firehose DeliveryToS3.DataFreshness).", stream, nil),
		backlogBytes: prometheus.NewDesc("hydrant_backlog_bytes",
			"Bytes of the stream's log on disk that are not yet removed after delivery.", stream, nil),
		backlogRecs: prometheus.NewDesc("hydrant_backlog_records",
			"Records accepted but not yet delivered.", stream, nil),
		maxLogBytes: prometheus.NewDesc("hydrant_log_max_bytes",
			"The stream's log disk limit; at it, producers get ServiceUnavailableException.", stream, nil),
		fsyncs: prometheus.NewDesc("hydrant_log_fsyncs_total",
			"fsync calls made by the stream's log (group commit makes this far smaller than the put count).", stream, nil),
		active: prometheus.NewDesc("hydrant_stream_active",
			"1 while the stream is ACTIVE, 0 while it is being deleted.", stream, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.freshness
	ch <- c.backlogBytes
	ch <- c.backlogRecs
	ch <- c.maxLogBytes
	ch <- c.fsyncs
	ch <- c.active
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.m.now()
	for _, s := range c.m.snapshot() {
		st := s.log.Stats()
		name := s.name
		fresh := 0.0
		if t := s.oldestUndelivered.Load(); t != 0 {
			fresh = max(0, now.Sub(time.Unix(0, t)).Seconds())
		}
		active := 1.0
		if s.info().Status != StatusActive {
			active = 0
		}
		ch <- prometheus.MustNewConstMetric(c.freshness, prometheus.GaugeValue, fresh, name)
		ch <- prometheus.MustNewConstMetric(c.backlogBytes, prometheus.GaugeValue, float64(st.DiskBytes), name)
		ch <- prometheus.MustNewConstMetric(c.backlogRecs, prometheus.GaugeValue, float64(st.NextOffset-st.Committed), name)
		ch <- prometheus.MustNewConstMetric(c.maxLogBytes, prometheus.GaugeValue, float64(s.info().Config.MaxLogBytes), name)
		ch <- prometheus.MustNewConstMetric(c.fsyncs, prometheus.CounterValue, float64(st.Fsyncs), name)
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, active, name)
	}
}
