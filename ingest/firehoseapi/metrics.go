package firehoseapi

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiLabel is this API's value of the api label, which the metrics share
// with Hydrant's other front doors.
const apiLabel = "firehose"

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics creates the API's metrics and registers them on reg when it is
// not nil. The vectors are shared by every ingest API (the api label tells
// them apart), so one that another API registered first is reused.
func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hydrant_api_requests_total",
			Help: "Requests answered by an ingest API, by API, operation and HTTP status code.",
		}, []string{"api", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hydrant_api_request_duration_seconds",
			Help:    "Time an ingest API took to answer a request, by API and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api", "operation"}),
	}
	if reg == nil {
		return m
	}
	if err := reg.Register(m.requests); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if c, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				m.requests = c
			}
		} else {
			log.Warn("firehose api: cannot register metric", "metric", "hydrant_api_requests_total", "err", err)
		}
	}
	if err := reg.Register(m.duration); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if h, ok := are.ExistingCollector.(*prometheus.HistogramVec); ok {
				m.duration = h
			}
		} else {
			log.Warn("firehose api: cannot register metric", "metric", "hydrant_api_request_duration_seconds", "err", err)
		}
	}
	return m
}

func (m *metrics) observe(operation string, status int, d time.Duration) {
	m.requests.WithLabelValues(apiLabel, operation, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(apiLabel, operation).Observe(d.Seconds())
}
