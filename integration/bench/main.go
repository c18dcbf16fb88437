// Command bench is Hydrant's end-to-end load benchmark: it starts real
// `hydrant serve` processes, drives them with PutRecordBatch producers over
// HTTP and prints one table of ingest throughput and latency against the
// --discard baseline (ingest only, and with GZIP delivery running),
// end-to-end throughput into GZIP objects, the server's peak memory,
// end-to-end throughput into a real MinIO with GZIP and with Parquet beside
// MinIO's own PUT throughput for objects of the same sizes, Parquet
// conversion on one core, rows per second into a real ClickHouse beside
// clickhouse-client inserting the same rows, and requests per second into
// a webhook that discards them. `make bench` runs it; see README.md for
// what each figure means.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	bin          string
	duration     time.Duration
	warmup       time.Duration
	concurrency  []int
	rounds       int
	e2eBytes     int64
	backlogBytes int64
	producers    int // of the volume phases
	recordSize   int
	batch        int
	payload      string
	quick        bool
	strict       bool
	phases       map[string]bool

	// The MinIO rows and the conversion row.
	minio          string // MinIO binary; "" skips the MinIO rows
	minioBytes     int64
	minioBufferMB  int
	minioRounds    int
	convertRecords int
	convertRounds  int

	// The ClickHouse rows.
	clickhouse string // clickhouse-server binary; "" skips the ClickHouse rows
	chBytes    int64
	chBufferMB int
	chRounds   int

	// The webhook rows.
	webhookBytes    int64
	webhookBufferMB int
	webhookRounds   int
}

// phaseNames are the values of -phases, in the order they run.
var phaseNames = []string{"ingest", "e2e", "backlog", "minio", "convert", "clickhouse", "webhook"}

// Targets the figures are held against.
const (
	targetIngestRatio = 0.8
	targetE2ERatio    = 0.6
	targetPeakRSS     = 512 << 20
	targetS3Ratio     = 0.7
	targetCHRatio     = 1.0
)

func main() {
	var o options
	var conc, e2e, backlog, minioBytes, chBytes, webhookBytes, phases string
	var serveReceiver bool
	flag.StringVar(&o.bin, "hydrant", "bin/hydrant", "the hydrant binary to benchmark (make build writes bin/hydrant)")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "measured time of each ingest row")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of ingest rows; the best round of each row is shown")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before each ingest row, not measured")
	flag.StringVar(&conc, "concurrency", "1,8", "producer counts of the ingest rows")
	flag.StringVar(&e2e, "e2e-bytes", "500MiB", "record data put in the end-to-end phase; a multiple of the 5 MiB buffer avoids waiting for the interval on the last object")
	flag.StringVar(&backlog, "backlog-bytes", "1GiB", "record data put in the backlog phase (128 MiB buffers)")
	flag.IntVar(&o.producers, "producers", 8, "producers of the end-to-end and backlog phases")
	flag.IntVar(&o.recordSize, "record-size", 1024, "bytes per record")
	flag.IntVar(&o.batch, "batch", 500, "records per PutRecordBatch request (Firehose allows 500)")
	flag.StringVar(&o.payload, "payload", "json", "record contents: json (JSON lines, ~0.28 after gzip) or random (incompressible)")
	flag.BoolVar(&o.quick, "quick", false, "tiny run for a smoke test (1s rows, 20 MiB end-to-end, 128 MiB backlog, 64 MiB into MinIO, 32 MiB into ClickHouse, 50 MiB into the webhook, one round each)")
	flag.BoolVar(&o.strict, "strict", false, "exit non-zero when a target is missed, not only on errors")
	flag.StringVar(&o.minio, "minio", os.Getenv("HYDRANT_MINIO"), "MinIO binary of the MinIO rows (make bench builds it and sets HYDRANT_MINIO); empty skips them")
	flag.StringVar(&minioBytes, "minio-bytes", "512MiB", "record data put in each MinIO row; a multiple of the buffer avoids waiting for the interval on the last object")
	flag.IntVar(&o.minioBufferMB, "minio-buffer-mb", 16, "buffer size of the MinIO rows' streams, MiB of records (1..128)")
	flag.IntVar(&o.minioRounds, "minio-rounds", 3, "rounds of the MinIO rows; the best round of each row is shown")
	flag.IntVar(&o.convertRecords, "convert-records", 200000, "records converted in each round of the Parquet conversion row")
	flag.IntVar(&o.convertRounds, "convert-rounds", 3, "rounds of the Parquet conversion row; the fastest is shown")
	flag.StringVar(&o.clickhouse, "clickhouse", os.Getenv("HYDRANT_CLICKHOUSE"), "clickhouse-server of the ClickHouse rows, clickhouse-client beside it (make bench installs them and sets HYDRANT_CLICKHOUSE); empty skips them")
	flag.StringVar(&chBytes, "clickhouse-bytes", "256MiB", "record data put in each ClickHouse row; a multiple of the buffer avoids waiting for the interval on the last insert")
	flag.IntVar(&o.chBufferMB, "clickhouse-buffer-mb", 16, "buffer size of the ClickHouse stream, MiB of records (1..128): the records of one INSERT")
	flag.IntVar(&o.chRounds, "clickhouse-rounds", 3, "rounds of the ClickHouse rows; the best round of each row is shown")
	flag.StringVar(&webhookBytes, "webhook-bytes", "250MiB", "record data put in each webhook row; a multiple of the buffer avoids waiting for the interval on the last request")
	flag.IntVar(&o.webhookBufferMB, "webhook-buffer-mb", 5, "buffer size of the webhook streams, MiB of records (1..128); 5 is Firehose's default for HTTP endpoints")
	flag.IntVar(&o.webhookRounds, "webhook-rounds", 3, "rounds of the webhook rows; the best round of each row is shown")
	flag.BoolVar(&serveReceiver, "serve-discard-receiver", false, "internal: run as the webhook rows' discard receiver (the bench starts itself with it)")
	flag.StringVar(&phases, "phases", strings.Join(phaseNames, ","), "phases to run, of "+strings.Join(phaseNames, ","))
	flag.Parse()

	if serveReceiver {
		if err := serveDiscardReceiver(); err != nil {
			fmt.Fprintln(os.Stderr, "bench receiver:", err)
			os.Exit(1)
		}
		return
	}
	var err error
	if o.concurrency, err = parseInts(conc); err != nil {
		fatalf("-concurrency: %v", err)
	}
	if o.e2eBytes, err = parseSize(e2e); err != nil {
		fatalf("-e2e-bytes: %v", err)
	}
	if o.backlogBytes, err = parseSize(backlog); err != nil {
		fatalf("-backlog-bytes: %v", err)
	}
	if o.minioBytes, err = parseSize(minioBytes); err != nil {
		fatalf("-minio-bytes: %v", err)
	}
	if o.chBytes, err = parseSize(chBytes); err != nil {
		fatalf("-clickhouse-bytes: %v", err)
	}
	if o.webhookBytes, err = parseSize(webhookBytes); err != nil {
		fatalf("-webhook-bytes: %v", err)
	}
	if o.phases, err = parsePhases(phases); err != nil {
		fatalf("-phases: %v", err)
	}
	if o.quick {
		o.duration, o.warmup, o.rounds = time.Second, 200*time.Millisecond, 1
		o.e2eBytes, o.backlogBytes = 20<<20, 128<<20
		o.minioBytes, o.minioRounds = 64<<20, 1
		o.convertRecords, o.convertRounds = 20000, 1
		o.chBytes, o.chRounds = 32<<20, 1
		o.webhookBytes, o.webhookRounds = 50<<20, 1
	}
	if o.rounds < 1 || o.minioRounds < 1 || o.convertRounds < 1 || o.convertRecords < 1 || o.chRounds < 1 || o.webhookRounds < 1 {
		fatalf("-rounds, -minio-rounds, -convert-rounds, -convert-records, -clickhouse-rounds and -webhook-rounds must be at least 1")
	}
	if o.minioBufferMB < 1 || o.minioBufferMB > 128 || o.chBufferMB < 1 || o.chBufferMB > 128 || o.webhookBufferMB < 1 || o.webhookBufferMB > 128 {
		fatalf("-minio-buffer-mb, -clickhouse-buffer-mb and -webhook-buffer-mb must be 1..128")
	}
	if o.clickhouse != "" && o.phases["clickhouse"] {
		if _, err := os.Stat(o.clickhouse); err != nil {
			fatalf("ClickHouse binary: %v (run `make clickhouse`, or pass -clickhouse PATH, or -clickhouse '' to skip the ClickHouse rows)", err)
		}
		if _, err := os.Stat(chClientBin(o.clickhouse)); err != nil {
			fatalf("clickhouse-client beside %s: %v (run `make clickhouse`)", o.clickhouse, err)
		}
	}
	if o.minio != "" && o.phases["minio"] {
		if _, err := os.Stat(o.minio); err != nil {
			fatalf("MinIO binary: %v (run `make minio`, or pass -minio PATH, or -minio '' to skip the MinIO rows)", err)
		}
	}
	if o.batch < 1 || o.batch > 500 || o.recordSize < 512 || o.recordSize > 1000<<10 {
		fatalf("-batch must be 1..500 and -record-size 512..1024000")
	}
	if o.batch*o.recordSize > 4<<20 {
		fatalf("-batch × -record-size is over PutRecordBatch's 4 MiB limit")
	}
	if o.payload != "json" && o.payload != "random" {
		fatalf("-payload must be json or random")
	}
	if _, err := os.Stat(o.bin); err != nil {
		fatalf("hydrant binary: %v (run `make build`, or pass -hydrant PATH)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, &o)
	if r != nil {
		r.print(os.Stdout, &o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nbench: FAILED: %v\n", err)
		os.Exit(1)
	}
	if o.strict && !r.targetsMet() {
		fmt.Fprintln(os.Stderr, "\nbench: a target was missed (-strict)")
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// ingestRow is one row of the ingest table.
type ingestRow struct {
	server     string // name of an ingestServers entry
	producers  int
	recordSize int
	stats      *producerStats
	dur        time.Duration
	cpu        cores         // used over the row, warm-up included
	appendMean time.Duration // mean time of a put in the stream's log.Append (hydrant servers only)
	rounds     []float64     // records/s of every round; the row shown is the best
	backlog    backlog
}

func (r *ingestRow) recordsPerSec() float64 { return float64(r.stats.records) / r.dur.Seconds() }

// volumeResult is one fixed-volume run: put everything, wait until all of
// it is in objects, verify the objects.
type volumeResult struct {
	stream     string
	producers  int
	recordSize int
	bufferMB   int
	intervalS  int
	stats      *producerStats
	records    int64
	bytes      int64
	ingest     time.Duration // first put to last acknowledgement
	e2e        time.Duration // first put to every record delivered
	maxBacklog backlog
	objects    int
	objBytes   int64
	puts       int           // object writes (attempts) by the delivery worker
	putTime    time.Duration // time the delivery worker spent in them
	cpu        cores
	logs       []string // the server's warnings and errors
}

func (v *volumeResult) e2eMiBs() float64    { return mib(v.bytes) / v.e2e.Seconds() }
func (v *volumeResult) ingestMiBs() float64 { return mib(v.bytes) / v.ingest.Seconds() }

// phaseMem is the memory of one hydrant process.
type phaseMem struct {
	phase    string
	accepted int64 // record bytes acknowledged
	backlog  backlog
	hwm      int64
}

type results struct {
	started    time.Time
	elapsed    time.Duration
	env        env
	ingest     []ingestRow
	e2e        *volumeResult
	backlog    *volumeResult
	mem        []phaseMem
	bodyBytes  int
	serverLogs []string

	s3           []*s3Result // one per s3Formats entry
	minioVersion string
	minioSkipped bool // no MinIO binary was given
	convert      *convertResult

	ch        *chResult
	chSkipped bool             // no ClickHouse binary was given
	webhook   []*webhookResult // one per webhookEncodings entry
}

type env struct {
	nproc, gomaxprocs  int
	goVersion          string
	srvGoVersion       string
	srvGOMAXPROCS      string
	osArch, hydrantBin string
	loadAvg            string
}

func run(ctx context.Context, o *options) (*results, error) {
	r := &results{started: time.Now()}
	defer func() { r.elapsed = time.Since(r.started) }()
	r.env = env{nproc: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0), goVersion: runtime.Version(),
		osArch: runtime.GOOS + "/" + runtime.GOARCH, hydrantBin: o.bin, loadAvg: loadAvg()}

	progress("encoding payload: %d bodies of %d records × %d B", nBodies, o.batch, o.recordSize)
	bench := newPayload("bench", nBodies, o.batch, o.recordSize, o.payload == "random")
	r.bodyBytes = len(bench.bodies[0])

	// 1. Ingest: the baseline, hydrant ingest-only and hydrant with GZIP
	// run side by side and the rows alternate between them, so that a
	// neighbour's load hits all three alike.
	if o.phases["ingest"] {
		if err := ingestPhase(ctx, o, r, bench); err != nil {
			return r, err
		}
	}

	// 2. End-to-end, 5 MiB buffers.
	random := o.payload == "random"
	if o.phases["e2e"] {
		v, mem, err := volumePhase(ctx, o, volumeSpec{stream: "e2e", sizeMB: 5, intervalS: 1, volume: o.e2eBytes, random: random})
		r.e2e = v
		r.serverLogs = append(r.serverLogs, prefixed("e2e", v.logs)...)
		if mem != nil {
			mem.phase = "end-to-end (5 MiB buffers)"
			r.mem = append(r.mem, *mem)
		}
		if err != nil {
			return r, err
		}
	}

	// 3. Backlog: 128 MiB buffers, at least 1 GiB accepted.
	if o.phases["backlog"] {
		v, mem, err := volumePhase(ctx, o, volumeSpec{stream: "backlog", sizeMB: 128, intervalS: 5, volume: o.backlogBytes, random: random})
		r.backlog = v
		r.serverLogs = append(r.serverLogs, prefixed("backlog", v.logs)...)
		if mem != nil {
			mem.phase = "backlog (128 MiB buffers)"
			r.mem = append(r.mem, *mem)
		}
		if err != nil {
			return r, err
		}
	}

	// 4. Into MinIO: hydrant end to end with GZIP and with Parquet, each
	// beside MinIO's own PUTs of objects of the same sizes.
	if o.phases["minio"] {
		if o.minio == "" {
			r.minioSkipped = true
		} else if err := minioPhase(ctx, o, r); err != nil {
			return r, err
		}
	}

	// 5. Parquet conversion on one core.
	if o.phases["convert"] {
		c, err := convertPhase(o)
		r.convert = c
		if err != nil {
			return r, err
		}
	}

	// 6. Into ClickHouse: hydrant end to end beside clickhouse-client
	// inserting the same rows.
	if o.phases["clickhouse"] {
		if o.clickhouse == "" {
			r.chSkipped = true
		} else if err := clickhousePhase(ctx, o, r); err != nil {
			return r, err
		}
	}

	// 7. Into a webhook that discards what it gets, without and with GZIP.
	if o.phases["webhook"] {
		if err := webhookPhase(ctx, o, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

const nBodies = 8

func streamConfig(name string, sizeMB, intervalS int, compression string) string {
	return fmt.Sprintf(`streams:
  - name: %s
    max_log_bytes: 4GiB
    destination: {bucket: %s, buffering: {size_mb: %d, interval_seconds: %d}, compression: %s}
`, name, name, sizeMB, intervalS, compression)
}

func (e *env) fill(srv *server) {
	m, err := srv.scrape()
	if err != nil {
		return
	}
	e.srvGoVersion = m.label("go_info", "version")
	if v := m.series("go_sched_gomaxprocs_threads"); len(v) > 0 {
		e.srvGOMAXPROCS = strconv.Itoa(int(v[0]))
	}
}

func prefixed(p string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = p + ": " + l
	}
	return out
}

// ingestServer is one of the servers the ingest rows compare.
type ingestServer struct {
	name        string // key of its rows, its temp dir and progress lines
	label       string // in the report
	compression string // of its stream "bench"
	extra       []string
}

// ingestServers are the servers of the ingest rows, all run side by side:
//   - baseline: --discard decodes and validates the requests, then drops
//     the records (its stream config is ignored); the ceiling for ingest.
//   - ingest-only: the ingest path alone. Its stream is UNCOMPRESSED, so
//     that its delivery only copies log to objects and does not compete
//     with ingest for the cores.
//   - gzip: the same with GZIP, compressing its deliveries on the same
//     cores while it ingests.
var ingestServers = []ingestServer{
	{name: baselineKey, label: "baseline (--discard)", compression: "UNCOMPRESSED", extra: []string{"--discard"}},
	{name: ingestOnlyKey, label: "hydrant, ingest only", compression: "UNCOMPRESSED"},
	{name: gzipKey, label: "hydrant, GZIP delivery running", compression: "GZIP"},
}

// Keys of the rows the ingest ratios compare.
const (
	baselineKey   = "baseline"
	ingestOnlyKey = "ingest-only"
	gzipKey       = "gzip"
)

func serverLabel(name string) string {
	for _, k := range ingestServers {
		if k.name == name {
			return k.label
		}
	}
	return name
}

// ingestPhase starts the servers of ingestServers and runs o.rounds
// rounds of rows; in each round, every concurrency runs against each
// server in turn, and the order of the servers rotates from one round to
// the next, so that none always runs first or always follows the same
// neighbour. Before each row, every server's delivery must have caught
// up, so that no row shares the cores with the previous row's delivery.
// r.ingest gets the best row of each (server, concurrency), r.mem each
// server's memory.
func ingestPhase(ctx context.Context, o *options, r *results, p *payload) error {
	var servers []*server
	defer func() {
		for _, srv := range servers {
			srv.kill()
			srv.remove()
		}
	}()
	for _, k := range ingestServers {
		progress("starting %s server (%s)", k.name, k.label)
		srv, err := startServer(ctx, o.bin, k.name, streamConfig(p.stream, 5, 60, k.compression), k.extra...)
		if err != nil {
			return err
		}
		servers = append(servers, srv)
	}
	r.env.fill(servers[1])

	best := map[string]*ingestRow{}
	accepted := make([]int64, len(servers))
	backlogs := make([]backlog, len(servers))
	for round := 1; round <= o.rounds; round++ {
		for _, n := range o.concurrency {
			for j := range servers {
				i := (j + round - 1) % len(servers)
				srv := servers[i]
				for _, s := range servers {
					if err := waitCaughtUp(ctx, s, p.stream, 5<<20/o.recordSize); err != nil {
						return fmt.Errorf("%s: %w\n%s", s.name, err, s.logTail())
					}
				}
				progress("round %d/%d, %s: %d producer(s), %v warm-up + %v", round, o.rounds, srv.name, n, o.warmup, o.duration)
				row, err := ingestRowRun(ctx, o, srv, p, n)
				if row != nil {
					accepted[i] += row.stats.all * int64(o.recordSize)
					backlogs[i].records = max(backlogs[i].records, row.backlog.records)
					backlogs[i].bytes = max(backlogs[i].bytes, row.backlog.bytes)
					key := fmt.Sprint(srv.name, n)
					if b := best[key]; b == nil || row.recordsPerSec() > b.recordsPerSec() {
						if b != nil {
							row.rounds = b.rounds
						}
						best[key] = row
					}
					best[key].rounds = append(best[key].rounds, row.recordsPerSec())
				}
				if err != nil {
					return fmt.Errorf("%s ingest: %w\n%s", srv.name, err, srv.logTail())
				}
			}
		}
	}
	for _, k := range ingestServers {
		for _, n := range o.concurrency {
			r.ingest = append(r.ingest, *best[fmt.Sprint(k.name, n)])
		}
	}
	var errs []error
	for i, srv := range servers {
		hwm, err := srv.stop()
		errs = append(errs, err)
		r.serverLogs = append(r.serverLogs, prefixed(srv.name, srv.logIssues())...)
		m := phaseMem{phase: "ingest rows, " + ingestServers[i].label, accepted: accepted[i], hwm: hwm}
		if srv.name != baselineKey {
			m.backlog = backlogs[i]
		}
		r.mem = append(r.mem, m)
	}
	return errors.Join(errs...)
}

// ingestRowRun runs one ingest row of n producers against srv.
func ingestRowRun(ctx context.Context, o *options, srv *server, p *payload, n int) (*ingestRow, error) {
	c := newClient(srv.endpoint, n)
	defer c.close()
	srv.resetSamples()
	m0, _ := srv.scrape()
	meter := startCPU(srv)
	st, d, err := runFor(ctx, c, p, n, o.warmup, o.duration)
	cpu := meter.stop()
	m1, _ := srv.scrape()
	_, bl := srv.samples()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	row := &ingestRow{server: srv.name, producers: n, recordSize: o.recordSize, stats: st, dur: d,
		cpu: cpu, backlog: bl, appendMean: meanDelta(m0, m1, "hydrant_log_append_duration_seconds", p.stream)}
	switch {
	case err != nil:
		return row, err
	case st.lost > 0:
		return row, fmt.Errorf("%d records failed for good", st.lost)
	case st.records == 0:
		return row, errors.New("no request completed inside the measured window")
	}
	return row, nil
}

// waitCaughtUp waits until the stream's delivery has caught up: fewer
// than one buffer of records undelivered (the buffer being filled waits
// for its interval). The baseline reports no backlog and passes at once.
func waitCaughtUp(ctx context.Context, srv *server, stream string, bufferRecords int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := srv.scrape()
		if err != nil {
			return fmt.Errorf("cannot scrape /metrics: %w", err)
		}
		if m.sum("hydrant_backlog_records", streamLabel(stream)) < float64(bufferRecords) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("delivery did not catch up within 60s between rows")
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// volumeSpec is one fixed-volume run.
type volumeSpec struct {
	stream    string
	sizeMB    int
	intervalS int
	volume    int64  // record bytes put
	random    bool   // incompressible records instead of JSON lines
	config    string // hydrant.yaml; "" is streamConfig's GZIP stream into the embedded store
	destPID   int    // of the process the server delivers to (MinIO, ClickHouse, the receiver), counted apart in the cores; 0 if none
	// verify counts the records in the objects the stopped server wrote
	// and sets v.objects and v.objBytes; nil reads the embedded store.
	verify func(ctx context.Context, srv *server, v *volumeResult) (records int64, err error)
}

// volumePhase starts a server with the stream of spec, puts spec.volume
// bytes of records with o.producers producers, waits until every
// acknowledged record is delivered, stops the server and counts the
// records in the objects it wrote.
func volumePhase(ctx context.Context, o *options, spec volumeSpec) (*volumeResult, *phaseMem, error) {
	stream, sizeMB, intervalS := spec.stream, spec.sizeMB, spec.intervalS
	records := max(spec.volume/int64(o.recordSize), 1)
	requests := int((records + int64(o.batch) - 1) / int64(o.batch))
	p := newPayload(stream, nBodies, o.batch, o.recordSize, spec.random)
	p.withTail(int(records % int64(o.batch)))
	v := &volumeResult{stream: stream, producers: o.producers, recordSize: o.recordSize, bufferMB: sizeMB, intervalS: intervalS}
	config := spec.config
	if config == "" {
		config = streamConfig(stream, sizeMB, intervalS, "GZIP")
	}
	verify := spec.verify
	if verify == nil {
		verify = func(_ context.Context, srv *server, v *volumeResult) (n int64, err error) {
			n, v.objects, v.objBytes, err = countObjects(srv.dataDir, stream, o.recordSize)
			return n, err
		}
	}

	progress("starting hydrant server for %s: %s in %d requests, %d producers", stream, fmtBytes(records*int64(o.recordSize)), requests, o.producers)
	srv, err := startServer(ctx, o.bin, stream, config)
	if err != nil {
		return v, nil, err
	}
	defer srv.remove()
	defer func() { v.logs = srv.logIssues() }()
	fail := func(err error) (*volumeResult, *phaseMem, error) {
		srv.kill()
		return v, nil, fmt.Errorf("%s phase: %w\n%s", stream, err, srv.logTail())
	}

	c := newClient(srv.endpoint, o.producers)
	defer c.close()
	var acked atomic.Int64
	meter := startCPUWith(srv, spec.destPID)
	start := time.Now()
	st, err := runVolume(ctx, c, p, o.producers, requests, &acked)
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	v.stats = st
	v.records = st.records
	v.bytes = st.records * int64(o.recordSize)
	if err != nil {
		return fail(err)
	}
	if st.lost > 0 {
		return fail(fmt.Errorf("%d records failed for good", st.lost))
	}
	if st.records != records {
		return fail(fmt.Errorf("%d records acknowledged, %d put", st.records, records))
	}
	v.ingest = st.lastAck.Sub(start)
	progress("%s: %d records acknowledged in %.1fs; waiting for delivery", stream, st.records, v.ingest.Seconds())

	// Wait until the delivery counter reaches the acknowledged count.
	lastProgress, lastDelivered := time.Now(), -1.0
	for {
		m, err := srv.scrape()
		if err != nil {
			return fail(fmt.Errorf("cannot scrape /metrics: %w", err))
		}
		delivered := m.sum("hydrant_delivery_records_total", streamLabel(stream))
		now := time.Now()
		if failed := m.sum("hydrant_error_output_records_total", streamLabel(stream)); failed > 0 {
			return fail(fmt.Errorf("%.0f records went to the error output", failed))
		}
		if delivered == float64(st.records) {
			l := streamLabel(stream)
			v.puts = int(m.sum("hydrant_delivery_duration_seconds_count", l))
			v.putTime = time.Duration(m.sum("hydrant_delivery_duration_seconds_sum", l) * float64(time.Second))
		}
		if delivered > float64(st.records) {
			return fail(fmt.Errorf("%.0f records delivered, only %d acknowledged", delivered, st.records))
		}
		if delivered == float64(st.records) {
			v.e2e = now.Sub(start)
			break
		}
		if delivered != lastDelivered {
			lastProgress, lastDelivered = now, delivered
		}
		if now.Sub(lastProgress) > 60*time.Second {
			return fail(fmt.Errorf("delivery stalled: %.0f of %d acknowledged records delivered, no progress for 60s", delivered, st.records))
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return fail(ctx.Err())
		}
	}
	v.cpu = meter.stop()
	_, v.maxBacklog = srv.samples()
	progress("%s: all delivered after %.1fs; stopping the server and verifying what it delivered", stream, v.e2e.Seconds())

	hwm, stopErr := srv.stop()
	mem := &phaseMem{accepted: v.bytes, backlog: v.maxBacklog, hwm: hwm}
	if stopErr != nil {
		return v, mem, stopErr
	}
	n, err := verify(ctx, srv, v)
	if err != nil {
		return v, mem, fmt.Errorf("%s phase: %w", stream, err)
	}
	if n != st.records {
		return v, mem, fmt.Errorf("%s phase: the objects hold %d records, %d were acknowledged", stream, n, st.records)
	}
	return v, mem, nil
}

// meanDelta is the mean of a histogram's observations between two scrapes.
func meanDelta(m0, m1 metrics, histogram, stream string) time.Duration {
	l := streamLabel(stream)
	n := m1.sum(histogram+"_count", l) - m0.sum(histogram+"_count", l)
	if n <= 0 {
		return 0
	}
	sum := m1.sum(histogram+"_sum", l) - m0.sum(histogram+"_sum", l)
	return time.Duration(sum / n * float64(time.Second))
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// selfCPU is the CPU time the benchmark process used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// parsePhases parses a comma-separated list of phaseNames.
func parsePhases(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(phaseNames, f) {
			return nil, fmt.Errorf("unknown phase %q; want a comma-separated list of %s", f, strings.Join(phaseNames, ", "))
		}
		out[f] = true
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a list of positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSize parses 512MiB, 1GiB, 100MB, 4096 (bytes).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 512MiB, 1GiB)", s)
	}
	return int64(f * float64(mult)), nil
}
