package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/minio/minio-go/v7"

	"github.com/hydrantio/hydrant/sinks/s3"
)

const s3StreamConfig = `
streams:
  - name: s3-events
    max_log_bytes: 256MiB
    destination: {bucket: s3-events, prefix: "e/", buffering: {size_mb: 1, interval_seconds: 1}, compression: GZIP}
`

// TestS3ExactlyOnce sends ~20,000 records through the AWS SDK into a GZIP
// stream delivering to a real MinIO, SIGKILLs Hydrant under load, stops
// MinIO for a few seconds under load (killing Hydrant again while it is
// down), and then reads every object back from MinIO: every acknowledged
// record must be there exactly once.
//
// Hydrant gets the endpoint from --s3-endpoint and the credentials from
// the AWS environment variables only, so this also proves that path.
func TestS3ExactlyOnce(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("s3-events")
	t.Setenv("AWS_ACCESS_KEY_ID", minioUser)
	t.Setenv("AWS_SECRET_ACCESS_KEY", minioPassword)
	t.Setenv("AWS_REGION", "us-east-1")
	srv := startServer(t, s3StreamConfig, "--s3-endpoint", m.Endpoint())
	if !strings.Contains(srv.Log(), `msg="object store: S3" endpoint=`+m.Endpoint()) {
		t.Errorf("the startup log does not say the S3 store is in use:\n%s", srv.Log())
	}
	c := newClient(srv.Endpoint())
	l := newLedger()

	const target = 20000
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var batches, failures atomic.Int64
	for p := range 4 {
		wg.Go(func() { s3Producer(ctx, t, srv, c, p, l, target, &batches, &failures) })
	}
	waitAcked := func(n int) {
		for deadline := time.Now().Add(30 * time.Second); l.ackedCount() < n; {
			if time.Now().After(deadline) {
				t.Fatalf("only %d records acknowledged after 30s; want %d", l.ackedCount(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// A crash of Hydrant under load.
	waitAcked(target / 5)
	srv.Kill()
	t.Logf("hydrant killed: %d records acknowledged", l.ackedCount())
	srv.Start()

	// An outage of MinIO under load; Hydrant is killed during it and must
	// start without the store, keep accepting records and deliver them
	// once MinIO is back.
	waitAcked(2 * target / 5)
	delivered := srv.MetricValue("hydrant_delivery_records_total", "s3-events")
	m.Stop()
	outage := time.Now()
	t.Logf("minio stopped: %d records acknowledged, %v delivered by this run", l.ackedCount(), delivered)
	time.Sleep(1500 * time.Millisecond)
	srv.Kill()
	t.Logf("hydrant killed while minio is down: %d records acknowledged", l.ackedCount())
	srv.Start()
	time.Sleep(2500 * time.Millisecond)
	if n := srv.countLog("cannot write object; retrying"); n == 0 {
		t.Errorf("no failed object write was logged while minio was down")
	}
	m.Start()
	t.Logf("minio restarted after %v: %d records acknowledged", time.Since(outage).Round(time.Millisecond), l.ackedCount())

	waitAcked(target)
	stop()
	wg.Wait()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", batches.Load(), failures.Load(), l)

	srv.WaitBacklogZero("s3-events", 60*time.Second)
	srv.Stop()
	t.Logf("%d failed object writes logged, %d redeliveries of an interrupted batch",
		srv.countLog("cannot write object; retrying"), srv.countLog("redelivering the batch a restart interrupted"))
	objs := m.ReadBucket("s3-events")
	for _, k := range objs.keys {
		if !strings.HasPrefix(k, "e/") || !strings.HasSuffix(k, ".gz") {
			t.Errorf("object key %q; want e/….gz", k)
		}
	}
	checkExactlyOnce(t, objs, l)
	if ups := m.IncompleteUploads("s3-events"); len(ups) > 0 {
		t.Errorf("multipart uploads left behind: %q", ups)
	}
}

// s3Producer sends 50-record batches of 500-byte records (up to 500
// records/s, so that four producers keep the load on for the whole test) until ctx is done or the ledger holds target acknowledged
// records, through restarts: a refused record is sent again, an uncertain
// one never is.
func s3Producer(ctx context.Context, t *testing.T, srv *server, c *firehose.Client, p int, l *ledger, target int, batches, failures *atomic.Int64) {
	next := 0
	var retry []string
	for ctx.Err() == nil && l.ackedCount() < target {
		ep := srv.CurrentEndpoint()
		if ep == "" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		recs := retry
		for len(recs) < 50 {
			recs = append(recs, makeRecord(fmt.Sprintf("s3-p%d-%07d-", p, next), 500))
			next++
		}
		start := time.Now()
		res := putBatch(context.Background(), t, c, "s3-events", recs, l, at(ep))
		batches.Add(1)
		retry = res.refused
		if res.err != nil {
			failures.Add(1)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if d := 100*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}

// TestS3MissingBucket checks that a stream whose bucket does not exist
// logs an error naming the bucket and saying to create it, keeps its
// records, and delivers them once the bucket exists; and that
// create_buckets creates it instead. The credentials come from the config
// file here.
func TestS3MissingBucket(t *testing.T) {
	m := startMinio(t)
	t.Setenv("HYDRANT_TEST_S3_SECRET", minioPassword)
	creds := "    access_key_id: " + minioUser + "\n    secret_access_key_env: HYDRANT_TEST_S3_SECRET\n"
	const streams = `  - name: late
    destination: {bucket: late-bucket, buffering: {size_mb: 1, interval_seconds: 0}}
`
	srv := startServer(t, m.s3Config(creds, streams))
	c := newClient(srv.Endpoint())
	l := newLedger()
	putAll(t, c, "late", genRecords("late", 500, 100), 100, 2, l)

	want := `bucket \"late-bucket\" does not exist at ` + m.Endpoint() + `: create it, or set object_store.s3.create_buckets: true`
	for deadline := time.Now().Add(20 * time.Second); srv.countLog(want) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no log line says %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.MakeBucket("late-bucket")
	srv.WaitBacklogZero("late", 60*time.Second)
	srv.Stop()
	checkExactlyOnce(t, m.ReadBucket("late-bucket"), l)

	// The same with create_buckets: no error, the bucket appears.
	srv = startServer(t, m.s3Config(creds+"    create_buckets: true\n", `  - name: auto
    destination: {bucket: auto-bucket, buffering: {size_mb: 1, interval_seconds: 0}, compression: ZSTD}
`))
	c = newClient(srv.Endpoint())
	l = newLedger()
	putAll(t, c, "auto", genRecords("auto", 500, 100), 100, 2, l)
	srv.WaitBacklogZero("auto", 60*time.Second)
	srv.Stop()
	if n := srv.countLog("cannot write object"); n > 0 {
		t.Errorf("%d failed object writes logged with create_buckets: true; want none", n)
	}
	if n := srv.countLog(`msg="created bucket" object_store=s3 bucket=auto-bucket`); n != 1 {
		t.Errorf("%d log lines say the bucket was created; want 1", n)
	}
	checkExactlyOnce(t, m.ReadBucket("auto-bucket"), l)
}

// TestS3Store checks sinks/s3 directly against MinIO: multipart uploads
// with bounded memory, overwriting a key, and aborted multipart uploads
// cleaned up when the body fails or the context is cancelled mid-upload.
func TestS3Store(t *testing.T) {
	m := startMinio(t)
	m.MakeBucket("parts")
	st, err := s3.New(s3.Config{
		Endpoint:        m.Endpoint(),
		AccessKeyID:     minioUser,
		SecretAccessKey: minioPassword,
		ForcePathStyle:  true,
		PartSize:        s3.MinPartSize,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func(key string) []byte {
		t.Helper()
		o, err := m.Client().GetObject(ctx, "parts", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		data, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("cannot read s3://parts/%s: %v", key, err)
		}
		return data
	}

	// An upload of the key that a killed process left behind; the next
	// successful multipart put of the key aborts it.
	stale, err := minio.Core{Client: m.Client()}.NewMultipartUpload(ctx, "parts", "big/object", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ups := m.IncompleteUploads("parts"); len(ups) != 1 {
		t.Fatalf("incomplete uploads = %q; want the stale one, %s", ups, stale)
	}

	// 48 MiB in 5 MiB parts: the memory allocated stays near one part.
	big := make([]byte, 48<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := st.PutObject(ctx, "parts", "big/object", bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatalf("PutObject(48 MiB) = %v", err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("PutObject of 48 MiB in 5 MiB parts allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 24<<20 {
		t.Errorf("PutObject of 48 MiB allocated %d MiB; want memory bounded by the part size, not the object's", alloc>>20)
	}
	if got := get("big/object"); !bytes.Equal(got, big) {
		t.Errorf("s3://parts/big/object holds %d bytes that differ from the %d put", len(got), len(big))
	}
	if ups := m.IncompleteUploads("parts"); len(ups) > 0 {
		t.Errorf("after a successful multipart put, incomplete uploads = %q; want the stale one aborted", ups)
	}

	// The same key again replaces the object.
	small := []byte("replaced\n")
	if err := st.PutObject(ctx, "parts", "big/object", bytes.NewReader(small), int64(len(small))); err != nil {
		t.Fatal(err)
	}
	if got := get("big/object"); !bytes.Equal(got, small) {
		t.Errorf("after a second put, s3://parts/big/object = %q; want %q", got, small)
	}

	// A body failing in the third part, and a context cancelled there:
	// the upload is aborted, nothing is left behind, and the object is
	// the previous one.
	boom := errors.New("disk on fire")
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		body io.Reader
		want error
	}{
		{"failing body", ctx, io.MultiReader(bytes.NewReader(big[:12<<20]), errReader{boom}), boom},
		{"cancelled context", cctx, io.MultiReader(bytes.NewReader(big[:12<<20]), cancelReader{cancel}, bytes.NewReader(big[12<<20:])), context.Canceled},
	} {
		err := st.PutObject(tc.ctx, "parts", "big/object", tc.body, int64(len(big)))
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "cannot put s3://parts/big/object: ") {
			t.Errorf("%s: PutObject = %v; want cannot put s3://parts/big/object: …%v", tc.name, err, tc.want)
		}
		if ups := m.IncompleteUploads("parts"); len(ups) > 0 {
			t.Errorf("%s: multipart uploads left behind: %q", tc.name, ups)
		}
		if got := get("big/object"); !bytes.Equal(got, small) {
			t.Errorf("%s: s3://parts/big/object holds %d bytes; want the previous object", tc.name, len(got))
		}
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// cancelReader cancels a context when read, and reads as empty.
type cancelReader struct{ cancel context.CancelFunc }

func (r cancelReader) Read([]byte) (int, error) {
	r.cancel()
	return 0, io.EOF
}
