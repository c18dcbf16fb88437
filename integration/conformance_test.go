package integration

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/minio/minio-go/v7"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// objectSink is an object store Hydrant delivers to, as the conformance
// suite sees it: how to point a server at it, and how a reader of the store
// sees what the server wrote. Everything else in the suite is the same for
// every sink, as in Redpanda Connect's one suite that every output passes.
type objectSink interface {
	// name names the sink in subtest names.
	name() string
	// newServer prepares, without starting it, a hydrant server that
	// delivers to the sink; streams is the config's streams list.
	newServer(t *testing.T, streams string) *server
	// list returns the keys of the objects in bucket, sorted, as a reader
	// of the store lists them (a bucket not created yet is empty). The
	// suite requires that every object listed is complete.
	list(ctx context.Context, srv *server, bucket string) ([]string, error)
	// get returns an object's bytes as stored.
	get(ctx context.Context, srv *server, bucket, key string) ([]byte, error)
	// partSize is the object size above which the sink writes an object in
	// parts, 0 if it never does.
	partSize() int64
}

// fileSink is the embedded object store: bucket B is the directory
// <data-dir>/objects/B, a key the path below it.
type fileSink struct{}

// fileTempPrefix starts the names of the file store's objects being
// written (sinks/file's tempPrefix); readers of the store skip them.
const fileTempPrefix = ".hydrant-tmp-"

func (fileSink) name() string { return "file" }

func (fileSink) newServer(t *testing.T, streams string) *server {
	return newServer(t, "server: {data_dir: \"{{DATA_DIR}}\", http_addr: \"127.0.0.1:0\"}\nstreams:\n"+streams)
}

func (fileSink) list(_ context.Context, srv *server, bucket string) ([]string, error) {
	root := filepath.Join(srv.dataDir, "objects", bucket)
	var keys []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), fileTempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(keys)
	return keys, err
}

func (fileSink) get(_ context.Context, srv *server, bucket, key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(srv.dataDir, "objects", bucket, filepath.FromSlash(key)))
}

func (fileSink) partSize() int64 { return 0 }

// s3Sink is a real MinIO, which hydrant reaches through the config's
// object_store.s3 section, with a part size as small as S3 allows, so that
// an 8 MiB buffer goes up as a multipart upload.
type s3Sink struct{ m *minioServer }

const conformancePartSize = 5 << 20

func (s3Sink) name() string { return "s3" }

func (s s3Sink) newServer(t *testing.T, streams string) *server {
	// The secret is in the file: t.Setenv is not allowed in parallel tests.
	store := fmt.Sprintf("    access_key_id: %s\n    secret_access_key: %s\n    create_buckets: true\n    part_size: %dMiB\n",
		minioUser, minioPassword, conformancePartSize>>20)
	return newServer(t, s.m.s3Config(store, streams))
}

func (s s3Sink) list(ctx context.Context, _ *server, bucket string) ([]string, error) {
	var keys []string
	for obj := range s.m.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == minio.NoSuchBucket {
				return nil, nil // hydrant creates it with the first object
			}
			return nil, obj.Err
		}
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys, nil
}

func (s s3Sink) get(ctx context.Context, _ *server, bucket, key string) ([]byte, error) {
	o, err := s.m.Client().GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

func (s3Sink) partSize() int64 { return conformancePartSize }

// confStream is a stream of the suite; its bucket has its name.
type confStream struct {
	name        string
	compression string
	prefix      string
	errorPrefix string
	sizeMB      int
	intervalS   int
	// wantPrefix is the evaluated prefix Firehose gives an object whose
	// key holds the (UTC) time t.
	wantPrefix func(t time.Time) string
}

// yaml returns the stream as an item of the config's streams list.
func (st confStream) yaml() string {
	return fmt.Sprintf("  - name: %s\n    max_log_bytes: 256MiB\n    destination: {bucket: %s, prefix: %q, error_output_prefix: %q, "+
		"buffering: {size_mb: %d, interval_seconds: %d}, compression: %s}\n",
		st.name, st.name, st.prefix, st.errorPrefix, st.sizeMB, st.intervalS, st.compression)
}

// withDefaultTime evaluates a prefix p without !{timestamp:…} as
// Firehose does: YYYY/MM/dd/HH/ is appended, with no separator added.
func withDefaultTime(p string) func(time.Time) string {
	return func(t time.Time) string { return p + t.Format("2006/01/02/15/") }
}

// formatStreams deliver in each compression format, listed here rather
// than taken from package compress, so that a format dropped from Hydrant
// fails the suite.
var formatStreams = func() []confStream {
	var out []confStream
	for _, f := range []string{compress.Uncompressed, compress.GZIP, compress.ZIP, compress.Snappy, compress.HadoopSnappy, compress.ZSTD} {
		out = append(out, confStream{
			name:        "c-" + strings.ReplaceAll(strings.ToLower(f), "_", "-"),
			compression: f,
			prefix:      "fmt/",
			sizeMB:      1,
			intervalS:   1,
			wantPrefix:  withDefaultTime("fmt/"),
		})
	}
	return out
}()

// prefixStreams cover Firehose's prefix rules.
var prefixStreams = []confStream{{
	name: "c-default-prefix", compression: compress.GZIP,
	sizeMB: 1, intervalS: 1, wantPrefix: withDefaultTime(""),
}, {
	name: "c-literal-prefix", compression: compress.GZIP, prefix: "raw",
	sizeMB: 1, intervalS: 1, wantPrefix: withDefaultTime("raw"),
}, {
	name: "c-timestamp-prefix", compression: compress.GZIP,
	prefix: "logs/!{timestamp:yyyy/MM/dd}/", errorPrefix: "errors/!{firehose:error-output-type}/",
	sizeMB: 1, intervalS: 1,
	wantPrefix: func(t time.Time) string { return "logs/" + t.Format("2006/01/02") + "/" },
}, {
	name: "c-hive-prefix", compression: compress.Uncompressed,
	prefix:      "hive/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
	errorPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
	sizeMB:      1, intervalS: 1,
	wantPrefix: func(t time.Time) string {
		return "hive/year=" + t.Format("2006") + "/month=" + t.Format("01") + "/day=" + t.Format("02") + "/hour=" + t.Format("15") + "/"
	},
}}

// largeStream delivers when 8 MiB are buffered, and not before a minute:
// 8 MiB put at once arrive as one object, in S3 a multipart upload of a
// 5 MiB part and a smaller last one. (8, not 16: with the server and the
// tests both built with -race, two cores ingest about 2 MB/s.)
var largeStream = confStream{
	name: "c-large", compression: compress.Uncompressed, prefix: "big/",
	sizeMB: 8, intervalS: 60, wantPrefix: withDefaultTime("big/"),
}

// atomicStream takes a continuous load, so that objects are being written
// while the suite lists them.
var atomicStream = confStream{
	name: "c-atomic", compression: compress.GZIP, prefix: "a/",
	sizeMB: 1, intervalS: 1, wantPrefix: withDefaultTime("a/"),
}

// crashStream takes a continuous load through SIGKILLs.
var crashStream = confStream{
	name: "c-crash", compression: compress.GZIP, prefix: "k/",
	sizeMB: 1, intervalS: 1, wantPrefix: withDefaultTime("k/"),
}

// TestObjectSinkConformance runs the same subtests against every object
// sink Hydrant delivers to, the embedded file store and S3 (a real MinIO),
// each counting every record it put: every compression format round-trips
// records exactly once; default and custom prefixes give Firehose's keys,
// checked key by key; a buffer larger than the S3 part size arrives
// whole; a SIGKILL and restart neither lose nor duplicate a record; and no
// object is ever listed before it is complete.
func TestObjectSinkConformance(t *testing.T) {
	m := startMinio(t)
	for _, sink := range []objectSink{fileSink{}, s3Sink{m}} {
		t.Run(sink.name(), func(t *testing.T) {
			t.Parallel()
			testObjectSink(t, sink)
		})
	}
}

// sinkSuite is the suite's state for one sink.
type sinkSuite struct {
	sink objectSink
	srv  *server
	c    *firehose.Client
}

func testObjectSink(t *testing.T, sink objectSink) {
	var yaml strings.Builder
	for _, st := range slices.Concat(formatStreams, prefixStreams, []confStream{largeStream, atomicStream}) {
		yaml.WriteString(st.yaml())
	}
	s := &sinkSuite{sink: sink, srv: sink.newServer(t, yaml.String())}
	s.srv.Start()
	s.c = newClient(s.srv.Endpoint())

	t.Run("compression", func(t *testing.T) {
		var jobs []putJob
		for _, st := range formatStreams {
			jobs = append(jobs, putJob{st, genJSONRecords(st.name, 1500, 300)})
		}
		s.deliver(t, jobs...)
	})
	t.Run("prefix", func(t *testing.T) {
		var jobs []putJob
		for _, st := range prefixStreams {
			jobs = append(jobs, putJob{st, genJSONRecords(st.name, 400, 200)})
		}
		s.deliver(t, jobs...)
	})
	t.Run("large-object", func(t *testing.T) {
		// Exactly the buffer size, so that the buffer is full with the
		// last record and goes out as one object at once.
		const recSize = 1 << 10
		n := largeStream.sizeMB << 20 / recSize
		objs := s.deliver(t, putJob{largeStream, genRecords(largeStream.name, n, recSize)})
		if len(objs) != 1 {
			t.Fatalf("%d records of %d bytes in a %d MiB buffer were delivered as %d objects; want 1", n, recSize, largeStream.sizeMB, len(objs))
		}
		if got, want := objs[0].size, int64(n*recSize); got != want {
			t.Errorf("object %s holds %d bytes; want %d", objs[0].key, got, want)
		}
		if ps := sink.partSize(); ps > 0 && objs[0].size <= ps {
			t.Errorf("object %s holds %d bytes, not more than the part size %d: the test exercised no multipart upload", objs[0].key, objs[0].size, ps)
		}
		if ss, ok := sink.(s3Sink); ok {
			if ups := ss.m.IncompleteUploads(largeStream.name); len(ups) > 0 {
				t.Errorf("multipart uploads left behind: %q", ups)
			}
		}
	})
	t.Run("atomic", func(t *testing.T) {
		// Producers put for a few seconds while the watcher lists the
		// bucket and reads every object as soon as it is listed.
		l := newLedger()
		stopWatch := s.watch(t, s.srv, atomicStream)
		start := time.Now()
		ld := startProducers(t, s.srv, s.c, atomicStream.name, "atomic", 2, 200, 1000, 0, jsonRecord, l)
		time.Sleep(3 * time.Second)
		ld.stop()
		s.srv.WaitBacklogZero(atomicStream.name, 60*time.Second)
		seen := stopWatch()
		if ld.failures.Load() > 0 {
			t.Errorf("%d puts failed against a server that stayed up", ld.failures.Load())
		}
		objs := s.check(t, s.srv, atomicStream, l, start, time.Now())
		largest := int64(0)
		for _, o := range objs {
			largest = max(largest, o.size)
		}
		t.Logf("%d objects (the largest %.1f MiB) delivered; the watcher read %d as soon as they were listed", len(objs), float64(largest)/(1<<20), seen)
		if seen == 0 {
			t.Errorf("the watcher listed no object during the load; the test checked nothing")
		}
	})
	s.srv.Stop()

	t.Run("crash", func(t *testing.T) { s.crash(t) })
}

// putJob is records to put into a stream.
type putJob struct {
	st   confStream
	recs []string
}

// deliver puts each job's records, one stream after the other while the
// earlier ones deliver, with a watcher checking every object as soon as
// it is listed; it waits until every stream has delivered everything,
// checks every stream's objects, and returns the first stream's.
func (s *sinkSuite) deliver(t *testing.T, jobs ...putJob) []streamObject {
	t.Helper()
	streams := make([]confStream, len(jobs))
	for i, j := range jobs {
		streams[i] = j.st
	}
	stopWatch := s.watch(t, s.srv, streams...)
	start := time.Now()
	ledgers := make([]*ledger, len(jobs))
	for i, j := range jobs {
		ledgers[i] = newLedger()
		putAll(t, s.c, j.st.name, j.recs, 100, 2, ledgers[i])
	}
	for _, j := range jobs {
		s.srv.WaitBacklogZero(j.st.name, 60*time.Second)
	}
	stopWatch()
	end := time.Now()
	var first []streamObject
	for i, j := range jobs {
		objs := s.check(t, s.srv, j.st, ledgers[i], start, end)
		if i == 0 {
			first = objs
		}
	}
	return first
}

// crash puts records under a continuous load into a stream of its own
// server, SIGKILLs the server three times and restarts it, and checks that
// every acknowledged record is delivered exactly once: the objects' keys
// are a function of the records they hold, so a batch redelivered after
// the restart replaces its object instead of adding a second.
func (s *sinkSuite) crash(t *testing.T) {
	srv := s.sink.newServer(t, crashStream.yaml())
	srv.Start()
	c := newClient(srv.Endpoint())
	l := newLedger()
	stopWatch := s.watch(t, srv, crashStream)
	start := time.Now()
	ld := startProducers(t, srv, c, crashStream.name, "crash", 2, 100, 500, 100*time.Millisecond, makeRecord, l)
	// The first kill at a random moment, the others aimed at an object
	// write: Hydrant records its delivery intent just before writing an
	// object, and commits the log once the object is written.
	intent := filepath.Join(srv.dataDir, "streams", crashStream.name, "pending")
	for k := 1; k <= 3; k++ {
		how := "at random"
		if k == 1 {
			time.Sleep(time.Second + rand.N(time.Second))
		} else {
			time.Sleep(200 * time.Millisecond)
			if waitForChange(intent, 2*time.Second) {
				how = "just after a delivery intent was recorded"
			} else {
				how = "at random (no delivery intent seen)"
			}
		}
		srv.Kill()
		t.Logf("kill %d %s: %d records acknowledged so far", k, how, l.ackedCount())
		srv.Start()
	}
	time.Sleep(time.Second)
	ld.stop()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", ld.batches.Load(), ld.failures.Load(), l)
	srv.WaitBacklogZero(crashStream.name, 60*time.Second)
	srv.Stop()
	stopWatch()
	t.Logf("%d restarts redelivered a batch that a kill interrupted", srv.countLog("redelivering the batch a restart interrupted"))
	if l.ackedCount() < 1000 {
		t.Errorf("only %d records acknowledged; the test exercised too little", l.ackedCount())
	}
	s.check(t, srv, crashStream, l, start, time.Now())
	if ss, ok := s.sink.(s3Sink); ok {
		if ups := ss.m.IncompleteUploads(crashStream.name); len(ups) > 0 {
			t.Errorf("multipart uploads left behind: %q", ups)
		}
	}
}

// waitForChange polls the file at path for up to timeout and reports
// whether its content changed.
func waitForChange(path string, timeout time.Duration) bool {
	before, _ := os.ReadFile(path)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if now, err := os.ReadFile(path); err == nil && !bytes.Equal(now, before) {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// streamObject is one object of a stream, read back and checked against
// its key.
type streamObject struct {
	key     string
	name    objectName
	size    int64    // as stored
	records []string // decompressed, each with its '\n'
}

// objectName is what a key says: Firehose's
// <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<suffix>, where
// Hydrant's suffix is <first offset>-<last offset>-<stream id hash>.
type objectName struct {
	prefix      string
	version     int
	time        time.Time
	first, last uint64
	id          string
}

// parseObjectKey parses a key of stream st and checks the prefix against the
// time in the key.
func parseObjectKey(st confStream, key string) (objectName, error) {
	re := regexp.MustCompile(`^(.*)` + regexp.QuoteMeta(st.name) +
		`-([0-9]+)-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-([0-9]{20})-([0-9]{20})-([0-9a-f]{8})` +
		regexp.QuoteMeta(compress.Extension(st.compression)) + `$`)
	m := re.FindStringSubmatch(key)
	if m == nil {
		return objectName{}, fmt.Errorf("key %q does not read <prefix>%s-<version>-<yyyy-MM-dd-HH-mm-ss>-<first>-<last>-<id>%s",
			key, st.name, compress.Extension(st.compression))
	}
	var n objectName
	n.prefix, n.id = m[1], m[6]
	n.version, _ = strconv.Atoi(m[2])
	var err error
	if n.time, err = time.Parse("2006-01-02-15-04-05", m[3]); err != nil {
		return n, fmt.Errorf("key %q: %v", key, err)
	}
	n.first, _ = strconv.ParseUint(m[4], 10, 64)
	n.last, _ = strconv.ParseUint(m[5], 10, 64)
	if want := st.wantPrefix(n.time); n.prefix != want {
		return n, fmt.Errorf("key %q has the prefix %q; want %q for prefix %q and the key's time %s", key, n.prefix, want, st.prefix, n.time.Format(time.DateTime))
	}
	if n.last < n.first {
		return n, fmt.Errorf("key %q names the offsets %d to %d", key, n.first, n.last)
	}
	return n, nil
}

// readObject reads one object of st and checks it against its key: it
// decompresses fully in the stream's format, and holds exactly the number
// of whole records the key's offsets name.
func (s *sinkSuite) readObject(ctx context.Context, srv *server, st confStream, key string) (streamObject, error) {
	o := streamObject{key: key}
	var err error
	if o.name, err = parseObjectKey(st, key); err != nil {
		return o, err
	}
	raw, err := s.sink.get(ctx, srv, st.name, key)
	if err != nil {
		return o, fmt.Errorf("cannot read object %s/%s: %w", st.name, key, err)
	}
	o.size = int64(len(raw))
	data, err := decodeObject(raw, st.compression)
	if err != nil {
		return o, fmt.Errorf("object %s/%s (%d bytes): %w", st.name, key, len(raw), err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return o, fmt.Errorf("object %s/%s ends in the middle of a record", st.name, key)
	}
	o.records = splitRecords(data)
	if want := o.name.last - o.name.first + 1; uint64(len(o.records)) != want {
		return o, fmt.Errorf("object %s/%s holds %d records; its key names offsets %d to %d, %d records",
			st.name, key, len(o.records), o.name.first, o.name.last, want)
	}
	return o, nil
}

// decodeObject decompresses an object's bytes as stored in the given
// format; a truncated object is an error.
func decodeObject(raw []byte, format string) ([]byte, error) {
	r, err := compress.NewReader(format, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("cannot decompress %s: %w", format, err)
	}
	return data, nil
}

// check reads every object of st back and checks, besides what readObject
// checks of each: every acknowledged record is there exactly once; the
// objects' offsets cover the log from 0 without gap or overlap; every key
// has version 1, the same stream id and a time between start and end.
func (s *sinkSuite) check(t *testing.T, srv *server, st confStream, l *ledger, start, end time.Time) []streamObject {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keys, err := s.sink.list(ctx, srv, st.name)
	if err != nil {
		t.Fatalf("cannot list bucket %q: %v", st.name, err)
	}
	set := objectSet{keys: keys, counts: map[string]int{}, byKey: map[string][]string{}}
	var objs []streamObject
	for _, k := range keys {
		o, err := s.readObject(ctx, srv, st, k)
		if err != nil {
			t.Errorf("stream %s: %v", st.name, err)
			continue
		}
		objs = append(objs, o)
		set.byKey[k] = o.records
		for _, r := range o.records {
			set.counts[r]++
		}
	}
	checkExactlyOnce(t, set, l)

	byOffset := slices.SortedFunc(slices.Values(objs), func(a, b streamObject) int { return cmp.Compare(a.name.first, b.name.first) })
	next := uint64(0)
	for _, o := range byOffset {
		n := o.name
		if n.first != next {
			t.Errorf("stream %s: object %s starts at offset %d; want %d, where the previous object ended (a gap or an overlap)", st.name, o.key, n.first, next)
		}
		next = n.last + 1
		if n.version != 1 {
			t.Errorf("stream %s: object %s has version %d; want 1", st.name, o.key, n.version)
		}
		if n.id != byOffset[0].name.id {
			t.Errorf("stream %s: object %s has the stream id %s, object %s has %s; want one id", st.name, o.key, n.id, byOffset[0].key, byOffset[0].name.id)
		}
		if n.time.Before(start.UTC().Truncate(time.Second)) || n.time.After(end.UTC()) {
			t.Errorf("stream %s: object %s has the time %s; want the arrival of its first record, between %s and %s",
				st.name, o.key, n.time.Format(time.DateTime), start.UTC().Format(time.DateTime), end.UTC().Format(time.DateTime))
		}
	}
	return objs
}

// watch lists the buckets of streams over and over while Hydrant delivers
// into them, and reads each object as soon as it is listed: an object that
// is listed must be complete (readObject). The function it returns stops
// it, reports what it found wrong, and returns how many objects it read.
func (s *sinkSuite) watch(t *testing.T, srv *server, streams ...confStream) (stop func() int) {
	ctx, cancel := context.WithCancel(context.Background())
	seen := map[string]bool{}
	var problems []string
	polls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			polls++
			for _, st := range streams {
				keys, err := s.sink.list(ctx, srv, st.name)
				if err != nil {
					if ctx.Err() == nil {
						problems = append(problems, fmt.Sprintf("cannot list bucket %q: %v", st.name, err))
					}
					continue
				}
				for _, k := range keys {
					if seen[st.name+"/"+k] {
						continue
					}
					seen[st.name+"/"+k] = true
					if _, err := s.readObject(ctx, srv, st, k); err != nil && ctx.Err() == nil {
						problems = append(problems, "as soon as it was listed: "+err.Error())
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	// Stopped on cleanup too, should the test end early.
	halt := func() {
		cancel()
		<-done
	}
	t.Cleanup(halt)
	return func() int {
		halt()
		for _, p := range problems {
			t.Errorf("watcher: %s", p)
		}
		if verbose {
			t.Logf("watcher: %d objects read as soon as they were listed, in %d polls", len(seen), polls)
		}
		return len(seen)
	}
}

// producers put records into one stream until stopped, through restarts
// of the server: a refused record is put again, an uncertain one (the call
// failed without saying whether it stored anything) never is, since
// putting it again could legitimately store it twice.
type producers struct {
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	batches, failures atomic.Int64
}

// startProducers starts n producers putting batches of batchSize records of
// recSize bytes made by mk, at most one batch per period each (0: as fast
// as the server answers).
func startProducers(t *testing.T, srv *server, c *firehose.Client, stream, id string, n, batchSize, recSize int, period time.Duration,
	mk func(id string, size int) string, l *ledger) *producers {
	ctx, cancel := context.WithCancel(context.Background())
	ld := &producers{cancel: cancel}
	t.Cleanup(ld.stop) // should the test end early
	for p := range n {
		ld.wg.Go(func() {
			next := 0
			var retry []string
			for ctx.Err() == nil {
				ep := srv.CurrentEndpoint()
				if ep == "" {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				recs := retry
				for len(recs) < batchSize {
					recs = append(recs, mk(fmt.Sprintf("%s-p%d-%07d-", id, p, next), recSize))
					next++
				}
				began := time.Now()
				// Not ctx: a put in flight when the producers stop must
				// finish, or its records would count as uncertain.
				res := putBatch(context.Background(), t, c, stream, recs, l, at(ep))
				ld.batches.Add(1)
				retry = res.refused
				if res.err != nil {
					if verbose {
						t.Logf("%s producer %d: %d records: %v", stream, p, len(recs), res.err)
					}
					ld.failures.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if d := period - time.Since(began); d > 0 {
					time.Sleep(d)
				}
			}
		})
	}
	return ld
}

// stop stops the producers and waits for their puts in flight; it may be
// called again.
func (ld *producers) stop() {
	ld.cancel()
	ld.wg.Wait()
}

// jsonRecord returns a unique JSON line of exactly size bytes: id, a few
// fields that repeat across records and random text, so that every
// format has both matches and literals to encode.
func jsonRecord(id string, size int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	events := []string{"click", "view", "purchase", "signup", "logout"}
	head := fmt.Sprintf(`{"id":"%s","user":"u%03d","event":"%s","data":"`, id, rand.N(1000), events[rand.N(len(events))])
	const tail = "\"}\n"
	if size < len(head)+len(tail) {
		panic("record too small")
	}
	b := make([]byte, 0, size)
	b = append(b, head...)
	for len(b) < size-len(tail) {
		// Ten characters of 6 bits from each random number.
		for v, i := rand.Uint64(), 0; i < 10 && len(b) < size-len(tail); v, i = v>>6, i+1 {
			b = append(b, alphabet[v&63])
		}
	}
	return string(append(b, tail...))
}

// genJSONRecords returns n jsonRecords of size bytes with ids prefix-%07d.
func genJSONRecords(prefix string, n, size int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = jsonRecord(fmt.Sprintf("%s-%07d", prefix, i), size)
	}
	return out
}
