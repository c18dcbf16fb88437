package integration

import (
	"context"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

// recordSink is a destination that takes records rather than objects (the
// HTTP endpoint, ClickHouse: delivery.RecordSink), as the conformance
// suite sees it: how to make a destination of it, what that destination
// holds, and how it refuses records. Everything else in the suite is the
// same for every record sink, as TestObjectSinkConformance is for the
// object stores.
type recordSink interface {
	// name names the sink in subtest names.
	name() string
	// newDest makes a destination of the sink for stream, of its own (a
	// receiver, a ClickHouse server) and ready to take records, stopped on
	// t's cleanup. A refusing destination refuses some records for good,
	// as refusal says.
	newDest(t *testing.T, stream string, refusing bool) recordDest
	// refusal says how a refusing destination refuses records.
	refusal() refusal
	// dedups reports whether the destination drops records delivered
	// again (a batch redelivered after a crash, an attempt whose answer
	// was lost), so that every record arrives exactly once through faults
	// too. Without, delivery is at least once: a fault may deliver one
	// batch twice.
	dedups() bool
}

// recordDest is one destination of a record sink. Its methods fail the
// test that made it.
type recordDest interface {
	// yaml returns the destination's own section of the stream's
	// destination (http: or clickhouse:), indented to go in it.
	yaml() string
	// read returns the records the destination holds, as one pseudo
	// object; it fails the test if the destination saw a delivery that
	// broke its protocol.
	read() objectSet
	// deliveries returns how many deliveries (requests taken, INSERTs)
	// brought it records.
	deliveries() int
	// down makes the destination unavailable, as an outage would, until
	// up brings it back where it was, with what it held.
	down()
	up()
}

// refusal is how a refusing destination refuses records for good.
type refusal struct {
	// bad returns a record, unique by id, of about size bytes, that the
	// destination refuses, and what its error record must say. It is nil
	// for a destination that refuses whole requests of its own choosing,
	// whatever their records: an HTTP endpoint answers a request, not a
	// record.
	bad func(id string, size int) badRecord
	// code and msg are the errorCode and part of the errorMessage of every
	// record a destination refusing whole requests refused.
	code, msg string
	// errorType is the error output type of the refused records, as
	// Firehose names it: their objects are under errors/<type>/.
	errorType string
}

// webhookSink is the HTTP endpoint destination: each destination is a
// receiver process of ./receiver (plain http to loopback, gzip, common
// attributes and the source ARN checked), which drops the request ids it
// already took.
type webhookSink struct{ bin string }

func (webhookSink) name() string { return "webhook" }

func (webhookSink) dedups() bool { return true }

// refusal: a refusing receiver answers 413 to about one request in three;
// Hydrant sends such a request once and writes its records off.
func (webhookSink) refusal() refusal {
	return refusal{code: "HttpEndpoint.DestinationException", msg: "413", errorType: "http-endpoint-failed"}
}

func (s webhookSink) newDest(t *testing.T, stream string, refusing bool) recordDest {
	o := receiverOpts{stream: stream, encoding: "GZIP", attrs: map[string]string{"suite": "record-sink"}, seed: 11}
	if refusing {
		o.faults = map[string]float64{"413": 0.3}
	}
	return &webhookDest{t: t, rc: startReceiver(t, s.bin, o), refusing: refusing}
}

type webhookDest struct {
	t        *testing.T
	rc       *receiverProc
	refusing bool
}

// yaml: a retry duration longer than any outage of the suite, so that
// nothing goes to the error output for being late; with refusing, small
// requests, so that a batch makes many and the receiver refuses some.
func (d *webhookDest) yaml() string {
	y := fmt.Sprintf("      http:\n        url: %s/ingest\n        common_attributes: {suite: record-sink}\n"+
		"        content_encoding: GZIP\n        request_timeout: 5s\n        retry_duration: 60s\n", d.rc.url)
	if d.refusing {
		y += "        max_records_per_request: 50\n"
	}
	return y
}

// read checks the receiver's counts as checkClean does, except that the
// ids of requests answered 413 are never taken, and that a body cut short
// (the sender killed, or giving up on the attempt, mid-request) is a
// request that never arrived rather than one that broke the protocol.
func (d *webhookDest) read() objectSet {
	t := d.t
	t.Helper()
	st := d.rc.stats()
	var broke []string
	for _, r := range st.InvalidReasons {
		if !strings.HasPrefix(r, "cannot read the body") {
			broke = append(broke, r)
		}
	}
	if len(broke) > 0 || st.Invalid > len(st.InvalidReasons) || st.DigestMismatches != 0 || st.TooLarge != 0 {
		t.Errorf("receiver: %d requests broke the protocol (%q), %d ids came again with other records, %d bodies too large; want none",
			st.Invalid, st.InvalidReasons, st.DigestMismatches, st.TooLarge)
	}
	refused := make(map[string]bool, len(st.Rejected413))
	for _, id := range st.Rejected413 {
		refused[id] = true
	}
	var abandoned []string
	for id, s := range st.IDs {
		if !s.Accepted && !refused[id] {
			abandoned = append(abandoned, fmt.Sprintf("%s×%d", id, s.Attempts))
		}
	}
	if len(abandoned) > 0 {
		slices.Sort(abandoned)
		t.Errorf("receiver never took the records of %d request ids (attempts): %s; every id not refused must be retried until taken", len(abandoned), head(abandoned, 5))
	}
	return d.rc.records()
}

func (d *webhookDest) deliveries() int { return d.rc.stats().AcceptedRequests }

// down stops the receiver gracefully: it answers the requests in flight
// first, so no request is left whose outcome Hydrant does not know, and
// its forgetting the ids it took loses no deduplication.
func (d *webhookDest) down() { d.rc.stop() }

func (d *webhookDest) up() { d.rc.start() }

// clickhouseSink is the ClickHouse destination: each destination is a
// ClickHouse server of its own, with a table Hydrant creates whose column
// raw holds each record's JSON text, so that the rows read back as the
// records sent.
type clickhouseSink struct{}

func (clickhouseSink) name() string { return "clickhouse" }

// dedups: a plain MergeTree in ClickHouse 18.16 keeps a retried INSERT's
// block twice (the README's "delivery to ClickHouse is at-least-once").
func (clickhouseSink) dedups() bool { return false }

// refusal: records that do not fit the table, three kinds.
func (clickhouseSink) refusal() refusal {
	const code = "ClickHouse.InvalidRecord"
	return refusal{errorType: "clickhouse-failed", code: code, bad: func(id string, size int) badRecord {
		rec := rsRecord(id, size)
		switch crc32.ChecksumIEEE([]byte(id)) % 3 {
		case 0:
			rec = strings.Replace(rec, `"n":`+strconv.Itoa(size), `"n":"many"`, 1)
			return badRecord{rec, code, "field .n: cannot convert a string to UInt64 for column n"}
		case 1:
			rec = strings.Replace(rec, `"id":`, `"di":`, 1)
			return badRecord{rec, code, "field .id is missing: column id requires it"}
		default:
			return badRecord{"[" + rec + "]", code, "the record is an array, not a JSON object"}
		}
	}}
}

func (clickhouseSink) newDest(t *testing.T, stream string, _ bool) recordDest {
	return &chDest{t: t, ch: startClickHouse(t), table: strings.ReplaceAll(stream, "-", "_")}
}

type chDest struct {
	t     *testing.T
	ch    *chServer
	table string
}

func (d *chDest) yaml() string {
	return fmt.Sprintf(`      clickhouse:
        addrs: [%s]
        table: %s
        create_table: true
        columns:
          - {name: raw, type: String, path: "."}
          - {name: id, type: String, required: true}
          - {name: n, type: UInt64}
          - {name: pad, type: String}
`, d.ch.tcp, d.table)
}

// query runs q and hands its rows to scan, trying again for a few seconds
// on an error: the client's pooled connections break when the server is
// killed. scan is called afresh for each attempt.
func (d *chDest) query(q string, scan func(rows driver.Rows) error) {
	d.t.Helper()
	try := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rows, err := d.ch.Conn().Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := scan(rows); err != nil {
			return err
		}
		return rows.Err()
	}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			time.Sleep(250 * time.Millisecond)
		}
		if err = try(); err == nil {
			return
		}
	}
	d.t.Fatalf("%s: %v", q, err)
}

func (d *chDest) read() objectSet {
	d.t.Helper()
	var set objectSet
	d.query("SELECT raw, count() FROM "+d.table+" GROUP BY raw", func(rows driver.Rows) error {
		set = objectSet{keys: []string{d.table}, counts: map[string]int{}, byKey: map[string][]string{}}
		for rows.Next() {
			var raw string
			var n uint64
			if err := rows.Scan(&raw, &n); err != nil {
				return err
			}
			set.counts[raw] += int(n)
			for range n {
				set.byKey[d.table] = append(set.byKey[d.table], raw)
			}
		}
		return nil
	})
	return set
}

// deliveries counts INSERTs by their block numbers: each INSERT of one
// block into an unpartitioned MergeTree takes the table's next one, and
// a part merged from others keeps the highest.
func (d *chDest) deliveries() int {
	d.t.Helper()
	var n int64
	d.query("SELECT toInt64(max(max_block_number)) FROM system.parts WHERE database = 'default' AND table = '"+d.table+"'",
		func(rows driver.Rows) error {
			for rows.Next() {
				if err := rows.Scan(&n); err != nil {
					return err
				}
			}
			return nil
		})
	return int(n)
}

// down kills the server (SIGKILL), so that an INSERT in flight may or may
// not be committed: the outage subtest allows one batch of duplicates.
func (d *chDest) down() { d.ch.Kill() }

func (d *chDest) up() { d.ch.Start() }

// rsRecord returns a unique JSON object of exactly size bytes, without a
// newline: {"id":…,"n":size,"pad":random text}.
func rsRecord(id string, size int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	head := `{"id":"` + id + `","n":` + strconv.Itoa(size) + `,"pad":"`
	const tail = `"}`
	if size < len(head)+len(tail) {
		panic("record too small")
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	for len(b) < size-len(tail) {
		b = append(b, alphabet[rand.N(len(alphabet))])
	}
	return string(append(b, tail...))
}

// rsRecords returns n rsRecords of size bytes with ids prefix-%07d.
func rsRecords(prefix string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = rsRecord(fmt.Sprintf("%s-%07d", prefix, i), size)
	}
	return out
}

// rsStream is a stream of the suite, delivering to a destination of its
// own; the bucket of its name takes the error output.
type rsStream struct {
	name              string
	sizeMB, intervalS int
	refusing          bool
}

// batchRecords is the most records of recSize bytes one batch can hold: a
// buffer is delivered once it holds size_mb MiB.
func (st rsStream) batchRecords(recSize int) int { return (st.sizeMB<<20 + recSize - 1) / recSize }

// TestRecordSinkConformance runs the same subtests against every record
// sink, the HTTP endpoint (the receiver of ./receiver) and ClickHouse,
// each through a real `hydrant serve` fed by the AWS SDK, counting every
// record it put:
//
//   - delivery: 20,000 records put with PutRecordBatch and PutRecord all
//     arrive, exactly once.
//   - buffering: records below the size hint arrive no sooner than the
//     interval hint, in one delivery (a request, an INSERT); a buffer that
//     reaches the size hint is delivered at once, whole, in one delivery.
//   - outage: the destination down for 4 s under load (the receiver
//     stopped, ClickHouse SIGKILLed), puts go on, and once it is back every
//     acknowledged record arrives.
//   - refused: records the destination refuses for good (a 413, a record
//     that does not fit the table) are in the bucket's error output in
//     Firehose's error JSON, each once, and the others at the destination,
//     each once: the two add up to what was put.
//   - restart: hydrant SIGKILLed twice under load and restarted, every
//     acknowledged record arrives.
//
// A fault (the outage, a kill) may deliver a batch twice to a destination
// that does not drop repeats, ClickHouse: at least once, as the README
// says, and at most one batch of duplicates per fault. The receiver drops
// repeated request ids, so there every record must arrive exactly once.
func TestRecordSinkConformance(t *testing.T) {
	needServer(t)
	bin := buildReceiver(t)
	for _, sink := range []recordSink{webhookSink{bin}, clickhouseSink{}} {
		t.Run(sink.name(), func(t *testing.T) {
			t.Parallel()
			if _, ok := sink.(clickhouseSink); ok {
				clickhouseBin(t) // fails once here rather than in every subtest
			}
			testRecordSink(t, sink)
		})
	}
}

// recordSuite is the suite's state for one sink.
type recordSuite struct{ sink recordSink }

func testRecordSink(t *testing.T, sink recordSink) {
	s := recordSuite{sink}
	t.Run("delivery", s.delivery)
	t.Run("buffering", s.buffering)
	t.Run("outage", s.outage)
	t.Run("refused", s.refused)
	t.Run("restart", s.restart)
}

// start makes a destination for each stream and starts a server
// delivering each stream to its own.
func (s recordSuite) start(t *testing.T, streams ...rsStream) ([]recordDest, *server, *firehose.Client) {
	t.Helper()
	var yaml strings.Builder
	yaml.WriteString("server: {data_dir: \"{{DATA_DIR}}\", http_addr: \"127.0.0.1:0\"}\nstreams:\n")
	dests := make([]recordDest, len(streams))
	for i, st := range streams {
		dests[i] = s.sink.newDest(t, st.name, st.refusing)
		fmt.Fprintf(&yaml, "  - name: %s\n    max_log_bytes: 256MiB\n    destination:\n      bucket: %s\n"+
			"      error_output_prefix: \"errors/!{firehose:error-output-type}/\"\n      buffering: {size_mb: %d, interval_seconds: %d}\n%s",
			st.name, st.name, st.sizeMB, st.intervalS, dests[i].yaml())
	}
	srv := startServer(t, yaml.String())
	return dests, srv, newClient(srv.Endpoint())
}

// checkDelivered checks what a destination holds against the ledger:
// every acknowledged record, nothing refused or never sent, an uncertain
// record at most as often as an acknowledged one. With no fault, or to a
// destination that drops repeats, each record is there once; otherwise
// each fault may add one batch (at most batch records) once more.
func (s recordSuite) checkDelivered(t *testing.T, set objectSet, l *ledger, faults, batch int) {
	t.Helper()
	if faults == 0 || s.sink.dedups() {
		checkExactlyOnce(t, set, l)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, unexpected, tooMany []string
	dups, extra := 0, 0
	for r := range l.acked {
		if set.counts[r] == 0 {
			missing = append(missing, shorten(r))
		}
	}
	for r, n := range set.counts {
		if !l.acked[r] && !l.uncertain[r] {
			what := "never sent"
			if l.refused[r] {
				what = "refused"
			}
			unexpected = append(unexpected, fmt.Sprintf("%q×%d (%s)", shorten(r), n, what))
		}
		if n > 1 {
			dups++
			extra += n - 1
			if n > 1+faults {
				tooMany = append(tooMany, fmt.Sprintf("%q×%d", shorten(r), n))
			}
		}
	}
	t.Logf("at least once: %d acknowledged records (%d uncertain); %d records delivered more than once, %d copies too many, after %d faults",
		len(l.acked), len(l.uncertain), dups, extra, faults)
	if len(missing)+len(unexpected)+len(tooMany) > 0 || extra > faults*batch {
		slices.Sort(missing)
		slices.Sort(unexpected)
		slices.Sort(tooMany)
		t.Errorf("delivery is not at least once within one batch of duplicates per fault (%d faults, batches of at most %d records): "+
			"ledger: %d acknowledged, %d uncertain, %d refused\n  %d acknowledged records missing: %s\n  %d unexpected records: %s\n"+
			"  %d records more than %d times: %s\n  %d copies too many; want at most %d",
			faults, batch, len(l.acked), len(l.uncertain), len(l.refused), len(missing), head(missing, 10), len(unexpected), head(unexpected, 10),
			len(tooMany), 1+faults, head(tooMany, 10), extra, faults*batch)
	}
}

// errorOutput returns the lines of the error output objects of a
// stream's bucket by key, failing t for any object that is not under
// errors/<type>/ (FailedDataOnly: the bucket holds nothing else).
func (s recordSuite) errorOutput(t *testing.T, srv *server, bucket string) map[string][]string {
	t.Helper()
	objs := readBucket(t, srv.dataDir, bucket)
	prefix := "errors/" + s.sink.refusal().errorType + "/"
	lines := map[string][]string{}
	for _, k := range objs.keys {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("bucket %s holds %s; want only error output, under %s", bucket, k, prefix)
			continue
		}
		lines[k] = objs.byKey[k]
	}
	return lines
}

// checkNoErrorOutput fails t if anything went to the stream's error
// output.
func (s recordSuite) checkNoErrorOutput(t *testing.T, srv *server, bucket string) {
	t.Helper()
	n := 0
	for _, ls := range s.errorOutput(t, srv, bucket) {
		n += len(ls)
	}
	if n > 0 {
		t.Errorf("the error output of %s holds %d records; want none: every record was delivered", bucket, n)
	}
}

// delivery puts 20,000 records, 400 of them one by one with PutRecord
// while the rest go in batches, and checks each arrives exactly once.
func (s recordSuite) delivery(t *testing.T) {
	const n, single, recSize = 20000, 400, 200
	st := rsStream{name: "rs-delivery", sizeMB: 1, intervalS: 1}
	dests, srv, c := s.start(t, st)
	recs := rsRecords(st.name, n, recSize)
	l := newLedger()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := n - single + w; i < n; i += 4 {
				if err := putRecord(context.Background(), c, st.name, recs[i], l); err != nil {
					t.Errorf("PutRecord: %v", err)
					return
				}
			}
		})
	}
	putAll(t, c, st.name, recs[:n-single], 500, 4, l)
	wg.Wait()
	put := time.Since(start)
	if l.ackedCount() != n {
		t.Fatalf("%d of %d records acknowledged; ledger: %s", l.ackedCount(), n, l)
	}
	srv.WaitBacklogZero(st.name, 90*time.Second)
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	t.Logf("%d records put in %v, delivered %v later in %v attempts (%v failed)", n, put.Round(time.Millisecond),
		(time.Since(start) - put).Round(time.Millisecond),
		chMetric(ms, "hydrant_delivery_attempts_total", `stream="`+st.name+`"`, `result="success"`),
		chMetric(ms, "hydrant_delivery_attempts_total", `stream="`+st.name+`"`, `result="error"`))
	s.checkDelivered(t, dests[0].read(), l, 0, 0)
	if got, _ := streamMetric(ms, "hydrant_delivery_records_total", st.name); got != n {
		t.Errorf("hydrant_delivery_records_total = %v; want %d", got, n)
	}
	s.checkNoErrorOutput(t, srv, st.name)
}

// buffering checks both buffering hints. Records put well within the
// interval, far below the size hint, arrive no sooner than the interval
// after the first put, in one delivery. A buffer filled to the size hint
// while the interval is a minute is delivered at once, in one delivery of
// exactly the records that filled it; the rest wait.
func (s recordSuite) buffering(t *testing.T) {
	const interval = 3 * time.Second
	byTime := rsStream{name: "rs-interval", sizeMB: 1, intervalS: int(interval / time.Second)}
	bySize := rsStream{name: "rs-size", sizeMB: 1, intervalS: 60}
	dests, srv, c := s.start(t, byTime, bySize)
	ctx := context.Background()

	// waitDelivery polls d until it took a delivery and returns when it saw
	// it, failing t after timeout.
	waitDelivery := func(d recordDest, what string, timeout time.Duration) time.Time {
		t.Helper()
		for deadline := time.Now().Add(timeout); ; {
			if d.deliveries() > 0 {
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: nothing delivered within %v", what, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Under the interval: 250 records of 200 bytes, at once from 12
	// goroutines, two with a PutRecordBatch of 100, ten with five
	// PutRecords each.
	recs := rsRecords(byTime.name, 250, 200)
	l := newLedger()
	var wg sync.WaitGroup
	start := time.Now()
	for _, b := range [][]string{recs[:100], recs[150:]} {
		wg.Go(func() {
			if res := putBatch(ctx, t, c, byTime.name, b, l); res.err != nil || len(res.refused) > 0 {
				t.Errorf("PutRecordBatch: %d records refused, error %v", len(res.refused), res.err)
			}
		})
	}
	for w := range 10 {
		wg.Go(func() {
			for i := 100 + w; i < 150; i += 10 {
				if err := putRecord(ctx, c, byTime.name, recs[i], l); err != nil {
					t.Errorf("PutRecord: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	if t.Failed() {
		t.FailNow()
	}
	// The buffer opens when the first record is read, after start, and
	// takes every record put before it is due: all of them, put before
	// start+interval.
	if end.Sub(start) > interval-time.Second {
		t.Fatalf("putting %d records took %v: too long to be sure they share a buffer of %v", len(recs), end.Sub(start), interval)
	}
	first := waitDelivery(dests[0], byTime.name, interval+20*time.Second)
	srv.WaitBacklogZero(byTime.name, 30*time.Second)
	t.Logf("%d records put in %v were delivered %v after the first put (interval %v)", len(recs),
		end.Sub(start).Round(time.Millisecond), first.Sub(start).Round(time.Millisecond), interval)
	if first.Sub(start) < interval {
		t.Errorf("the first delivery came %v after the first put; want no sooner than the buffering interval, %v", first.Sub(start), interval)
	}
	if n := dests[0].deliveries(); n != 1 {
		t.Errorf("%d records under the size hint came in %d deliveries; want 1", len(recs), n)
	}
	if got := srv.MetricValue("hydrant_delivery_records_total", byTime.name); got != float64(len(recs)) {
		t.Errorf("hydrant_delivery_records_total = %v; want %d", got, len(recs))
	}
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	if got := chMetric(ms, "hydrant_delivery_attempts_total", `stream="`+byTime.name+`"`, `result="success"`); got != 1 {
		t.Errorf(`hydrant_delivery_attempts_total{result="success"} = %v; want 1 attempt for the one buffer`, got)
	}
	s.checkDelivered(t, dests[0].read(), l, 0, 0)

	// Over the size hint: 1.5 MiB of 1 KiB records, in order.
	const recSize = 1 << 10
	full := bySize.sizeMB << 20 / recSize
	recs = rsRecords(bySize.name, full*3/2, recSize)
	l = newLedger()
	start = time.Now()
	putAll(t, c, bySize.name, recs, 500, 1, l)
	end = time.Now()
	first = waitDelivery(dests[1], bySize.name, 20*time.Second)
	time.Sleep(time.Second) // time for a wrong second delivery
	t.Logf("%d records of %d bytes put in %v; the first %d MiB delivered %v after the last put (interval %ds)",
		len(recs), recSize, end.Sub(start).Round(time.Millisecond), bySize.sizeMB, first.Sub(end).Round(time.Millisecond), bySize.intervalS)
	if n := dests[1].deliveries(); n != 1 {
		t.Errorf("%d records, %d over the size hint, came in %d deliveries before the interval; want 1", len(recs), len(recs)-full, n)
	}
	checkCounts(t, "the buffer filled to the size hint", dests[1].read().counts, recs[:full])
	if got := srv.MetricValue("hydrant_backlog_records", bySize.name); got != float64(len(recs)-full) {
		t.Errorf("hydrant_backlog_records = %v; want the %d records after the full buffer, waiting for the interval", got, len(recs)-full)
	}
	s.checkNoErrorOutput(t, srv, byTime.name)
	s.checkNoErrorOutput(t, srv, bySize.name)
}

// outageLengthRS is how long the outage subtest's destination is down.
const outageLengthRS = 4 * time.Second

// outage takes the destination down for outageLengthRS under a steady
// load: puts go on being acknowledged, delivery attempts fail, and once
// the destination is back every acknowledged record arrives.
func (s recordSuite) outage(t *testing.T) {
	const recSize = 200
	st := rsStream{name: "rs-outage", sizeMB: 1, intervalS: 1}
	dests, srv, c := s.start(t, st)
	d := dests[0]
	l := newLedger()
	ld := startProducers(t, srv, c, st.name, "outage", 2, 100, recSize, 100*time.Millisecond, rsRecord, l)

	// Deliveries first, so that the outage interrupts a stream that was
	// delivering.
	for deadline := time.Now().Add(20 * time.Second); srv.MetricValue("hydrant_delivery_records_total", st.name) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("nothing delivered within 20s of the first put; ledger: %s", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	attemptsFailed := func() float64 {
		t.Helper()
		ms, err := srv.Metrics()
		if err != nil {
			t.Fatalf("cannot read /metrics: %v", err)
		}
		return max(0, chMetric(ms, "hydrant_delivery_attempts_total", `stream="`+st.name+`"`, `result="error"`))
	}
	failedBefore := attemptsFailed()
	d.down()
	ackedBefore := l.ackedCount()
	t.Logf("destination down: %d records acknowledged, %v delivered", ackedBefore, srv.MetricValue("hydrant_delivery_records_total", st.name))
	time.Sleep(outageLengthRS)
	ackedDown := l.ackedCount() - ackedBefore
	failedDown := attemptsFailed() - failedBefore
	backlog := srv.MetricValue("hydrant_backlog_records", st.name)
	d.up()
	restarted := time.Now()
	t.Logf("destination back after %v: %d records acknowledged meanwhile, %v delivery attempts failed, backlog %v records",
		outageLengthRS, ackedDown, failedDown, backlog)
	time.Sleep(time.Second)
	ld.stop()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", ld.batches.Load(), ld.failures.Load(), l)
	if ackedDown == 0 {
		t.Errorf("no put was acknowledged while the destination was down; want the log to take them")
	}
	if ld.failures.Load() > 0 {
		t.Errorf("%d puts failed; want every put acknowledged, whether the destination is up or not", ld.failures.Load())
	}
	if failedDown == 0 {
		t.Errorf(`hydrant_delivery_attempts_total{result="error"} did not rise while the destination was down; want the failed attempts counted`)
	}
	if backlog == 0 {
		t.Errorf("hydrant_backlog_records was 0 at the end of the outage; want the records that could not be delivered")
	}
	srv.WaitBacklogZero(st.name, 90*time.Second)
	t.Logf("backlog delivered %v after the destination came back", time.Since(restarted).Round(time.Millisecond))
	s.checkDelivered(t, d.read(), l, 1, st.batchRecords(recSize))
	s.checkNoErrorOutput(t, srv, st.name)
}

// refused puts records some of which the destination refuses for good,
// and checks that each record is either at the destination or in the
// error output, once, never both: refused ones with the sink's code and
// reason in Firehose's error JSON, and the metrics agreeing.
func (s recordSuite) refused(t *testing.T) {
	const n, recSize = 2000, 200
	st := rsStream{name: "rs-refused", sizeMB: 1, intervalS: 1, refusing: true}
	dests, srv, c := s.start(t, st)
	rf := s.sink.refusal()
	recs := rsRecords(st.name, n, recSize)
	var bad []badRecord
	if rf.bad != nil {
		for i := 0; i < n; i += 10 {
			b := rf.bad(fmt.Sprintf("%s-bad-%07d", st.name, i), recSize)
			recs[i] = b.data
			bad = append(bad, b)
		}
	}
	l := newLedger()
	start := time.Now()
	putAll(t, c, st.name, recs, 100, 2, l)
	end := time.Now()
	if l.ackedCount() != n {
		t.Fatalf("%d of %d records acknowledged; ledger: %s", l.ackedCount(), n, l)
	}
	srv.WaitBacklogZero(st.name, 90*time.Second)

	got := dests[0].read()
	var delivered []string
	if rf.bad == nil {
		// The destination chose: whatever it did not take must be in the
		// error output.
		for _, r := range recs {
			if got.counts[r] > 0 {
				delivered = append(delivered, r)
			} else {
				bad = append(bad, badRecord{r, rf.code, rf.msg})
			}
		}
	} else {
		isBad := map[string]bool{}
		for _, b := range bad {
			isBad[b.data] = true
		}
		for _, r := range recs {
			if !isBad[r] {
				delivered = append(delivered, r)
			}
		}
	}
	t.Logf("%d records: %d delivered, %d refused", n, len(delivered), len(bad))
	if len(bad) == 0 || len(delivered) == 0 {
		t.Errorf("%d records delivered and %d refused; want some of each, or the test proves less than it claims", len(delivered), len(bad))
	}
	checkCounts(t, "delivered", got.counts, delivered)
	checkErrorOutput(t, "error output", s.errorOutput(t, srv, st.name), bad, start, end)
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	if v := chMetric(ms, "hydrant_error_output_records_total", `stream="`+st.name+`"`, `type="`+rf.errorType+`"`); v != float64(len(bad)) {
		t.Errorf(`hydrant_error_output_records_total{type=%q} = %v; want %d`, rf.errorType, v, len(bad))
	}
	if v, _ := streamMetric(ms, "hydrant_delivery_records_total", st.name); v != float64(len(delivered)) {
		t.Errorf("hydrant_delivery_records_total = %v; want %d", v, len(delivered))
	}
}

// restart SIGKILLs hydrant twice under a steady load and starts it again
// on the same data dir, the second kill aimed at a delivery: every
// acknowledged record must arrive.
func (s recordSuite) restart(t *testing.T) {
	const recSize, kills = 200, 2
	st := rsStream{name: "rs-restart", sizeMB: 1, intervalS: 1}
	dests, srv, c := s.start(t, st)
	l := newLedger()
	ld := startProducers(t, srv, c, st.name, "restart", 2, 100, recSize, 100*time.Millisecond, rsRecord, l)
	intent := filepath.Join(srv.dataDir, "streams", st.name, "pending")
	for k := 1; k <= kills; k++ {
		how := "at random"
		if k == 1 {
			time.Sleep(time.Second + rand.N(time.Second))
		} else {
			time.Sleep(500 * time.Millisecond)
			how = "at random (no delivery intent seen)"
			if waitForChange(intent, 3*time.Second) {
				how = "just after a delivery intent was recorded"
			}
		}
		srv.Kill()
		t.Logf("kill %d %s: %d records acknowledged so far", k, how, l.ackedCount())
		srv.Start()
	}
	time.Sleep(time.Second)
	ld.stop()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", ld.batches.Load(), ld.failures.Load(), l)
	if l.ackedCount() < 1000 {
		t.Fatalf("only %d records acknowledged; the test exercised too little", l.ackedCount())
	}
	srv.WaitBacklogZero(st.name, 60*time.Second)
	srv.Stop()
	t.Logf("%d restarts redelivered a batch that a kill interrupted", srv.countLog("redelivering the batch a restart interrupted"))
	s.checkDelivered(t, dests[0].read(), l, kills, st.batchRecords(recSize))
	s.checkNoErrorOutput(t, srv, st.name)
}
