package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const outageStreams = `  - name: outage
    max_log_bytes: 256MiB
    destination: {bucket: outage, prefix: "o/", buffering: {size_mb: 1, interval_seconds: 1}, compression: GZIP}
`

// outageLength is how long MinIO is down.
const outageLength = 30 * time.Second

// TestS3Outage stops MinIO for 30 s while four producers keep putting
// records into a stream that delivers to it: every put must still be
// acknowledged (the stream's log absorbs them), nothing may be delivered,
// and hydrant_delivery_data_freshness_seconds must show the outage, rising
// with it past 20 s. Once MinIO is back, every acknowledged record must be
// delivered exactly once and the freshness must fall back to 0.
func TestS3Outage(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("outage")
	creds := fmt.Sprintf("    access_key_id: %s\n    secret_access_key: %s\n", minioUser, minioPassword)
	srv := startServer(t, m.s3Config(creds, outageStreams))
	c := newClient(srv.Endpoint())
	l := newLedger()
	ld := startProducers(t, srv, c, "outage", "outage", 4, 50, 200, 100*time.Millisecond, makeRecord, l)

	// A few deliveries first, so that the outage interrupts a stream that
	// was delivering.
	for deadline := time.Now().Add(20 * time.Second); srv.MetricValue("hydrant_delivery_objects_total", "outage") < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 2 objects delivered within 20s of the first put; ledger: %s", l)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// How far behind delivery already is: on a loaded machine, a little.
	before := srv.MetricValue("hydrant_delivery_data_freshness_seconds", "outage")
	m.Stop()
	began := time.Now()
	t.Logf("minio stopped: %d records acknowledged, %v delivered, freshness %.1fs", l.ackedCount(), srv.MetricValue("hydrant_delivery_records_total", "outage"), before)
	// Every second: the freshness, what was delivered, what was acknowledged.
	var (
		fresh, maxFresh float64
		deliveredAt     = -1.0 // hydrant_delivery_records_total a second into the outage
		ackedAt         = l.ackedCount()
		stalled         time.Duration // since the last acknowledged put
		series          []string
	)
	for tick := time.Second; tick <= outageLength; tick += time.Second {
		time.Sleep(time.Until(began.Add(tick)))
		ms, err := srv.Metrics()
		if err != nil {
			t.Fatalf("%v into the outage: cannot read /metrics: %v", tick, err)
		}
		var ok bool
		if fresh, ok = streamMetric(ms, "hydrant_delivery_data_freshness_seconds", "outage"); !ok {
			t.Fatalf("/metrics has no series hydrant_delivery_data_freshness_seconds{stream=\"outage\"}")
		}
		maxFresh = max(maxFresh, fresh)
		delivered, _ := streamMetric(ms, "hydrant_delivery_records_total", "outage")
		backlog, _ := streamMetric(ms, "hydrant_backlog_records", "outage")
		series = append(series, fmt.Sprintf("%v:%.1f", tick, fresh))
		if verbose {
			t.Logf("%v into the outage: freshness %.1fs, backlog %v records, %d acknowledged", tick, fresh, backlog, l.ackedCount())
		}
		// A delivery in flight when MinIO stopped may end within the first
		// second; after that nothing can be delivered.
		if deliveredAt < 0 {
			deliveredAt = delivered
		} else if delivered != deliveredAt {
			t.Errorf("%v into the outage: hydrant_delivery_records_total went from %v to %v with MinIO down", tick, deliveredAt, delivered)
			deliveredAt = delivered
		}
		// The oldest record not delivered is at most as old as the one
		// waiting when MinIO stopped.
		if elapsed := time.Since(began).Seconds(); fresh > before+elapsed+2 {
			t.Errorf("%v into the outage: freshness %.1fs; want at most %.1fs, the freshness when MinIO stopped plus the outage's length so far", tick, fresh, before+elapsed)
		}
		// Puts take milliseconds, but under -race on a busy machine an
		// fsync or a GC pause may hold one up for a second or two.
		if n := l.ackedCount(); n > ackedAt {
			ackedAt, stalled = n, 0
		} else if stalled += time.Second; stalled >= 5*time.Second {
			t.Errorf("%v into the outage: no put acknowledged for %v; want the log to absorb them while MinIO is down", tick, stalled)
		}
	}
	t.Logf("freshness during the outage (time into it: seconds): %s", strings.Join(series, " "))
	if maxFresh < 20 {
		t.Errorf("hydrant_delivery_data_freshness_seconds rose to %.1fs during a %v outage; want more than 20s", maxFresh, outageLength)
	}
	if n := srv.countLog("cannot write object; retrying"); n == 0 {
		t.Errorf("no failed object write was logged while minio was down")
	}

	m.Start()
	restarted := time.Now()
	t.Logf("minio restarted after %v: %d records acknowledged", restarted.Sub(began).Round(time.Millisecond), l.ackedCount())
	ld.stop()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", ld.batches.Load(), ld.failures.Load(), l)
	if ld.failures.Load() > 0 {
		t.Errorf("%d puts failed; want every put acknowledged, whether MinIO is up or not", ld.failures.Load())
	}

	srv.WaitBacklogZero("outage", 90*time.Second)
	t.Logf("backlog delivered %v after minio restarted", time.Since(restarted).Round(time.Millisecond))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if fresh = srv.MetricValue("hydrant_delivery_data_freshness_seconds", "outage"); fresh == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("hydrant_delivery_data_freshness_seconds is %.1fs 10s after everything was delivered; want 0", fresh)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Stop()
	checkExactlyOnce(t, m.ReadBucket("outage"), l)
	if ups := m.IncompleteUploads("outage"); len(ups) > 0 {
		t.Errorf("multipart uploads left behind: %q", ups)
	}
}
