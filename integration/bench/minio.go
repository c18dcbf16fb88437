package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	pq "github.com/parquet-go/parquet-go"

	"github.com/hydrantio/hydrant/sinks/s3"
)

// MinIO's root credentials in the benchmark: a throwaway server on
// loopback that lives as long as the run.
const (
	minioUser     = "hydrant-bench"
	minioPassword = "hydrant-bench-secret"
)

// minioServer is a MinIO process on a loopback port with its data in a
// temp dir. It is the integration tests' harness (integration/minio_test.go)
// cut down to what the benchmark needs: those helpers live in _test files
// and take a *testing.T, so the benchmark cannot call them.
type minioServer struct {
	bin     string
	dir     string
	addr    string // S3 API, host:port
	cmd     *exec.Cmd
	log     *os.File // MinIO's stdout and stderr
	done    chan struct{}
	exitErr error // valid after done
	client  *minio.Client
}

// startMinio starts bin on free loopback ports and a new temp dir and
// waits until /minio/health/ready answers 200.
func startMinio(ctx context.Context, bin string) (*minioServer, error) {
	dir, err := os.MkdirTemp("", "hydrant-bench-minio-")
	if err != nil {
		return nil, fmt.Errorf("cannot create temp dir: %w", err)
	}
	m := &minioServer{bin: bin, dir: dir, done: make(chan struct{})}
	fail := func(err error) (*minioServer, error) {
		if m.cmd != nil && m.cmd.Process != nil {
			_ = m.cmd.Process.Kill()
			<-m.done
			err = fmt.Errorf("%w\n%s", err, m.logTail())
		}
		m.remove()
		return nil, fmt.Errorf("minio: %w", err)
	}
	var console string
	if m.addr, err = freeAddr(); err == nil {
		console, err = freeAddr()
	}
	if err != nil {
		return fail(err)
	}
	if m.log, err = os.Create(filepath.Join(dir, "minio.log")); err != nil {
		return fail(err)
	}
	m.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"),
		"--address", m.addr, "--console-address", console, "--quiet")
	m.cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	// If the benchmark dies, so does MinIO.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		m.cmd = nil
		return fail(fmt.Errorf("cannot start %s: %w", bin, err))
	}
	go func() {
		m.exitErr = m.cmd.Wait()
		close(m.done)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := scrapeClient.Get(m.endpoint() + "/minio/health/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("not ready on %s within 30s (last: %v)", m.addr, err))
		}
		select {
		case <-m.done:
			return fail(fmt.Errorf("exited before it was ready (%v)", m.exitErr))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	m.client, err = minio.New(m.addr, &minio.Options{
		Creds:        credentials.NewStaticV4(minioUser, minioPassword, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return fail(fmt.Errorf("cannot create client: %w", err))
	}
	return m, nil
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (m *minioServer) endpoint() string { return "http://" + m.addr }

func (m *minioServer) pid() int { return m.cmd.Process.Pid }

// stop sends SIGTERM and waits for MinIO to exit; SIGKILL after 10 s.
// MinIO's exit status is not checked: the benchmark is done with it.
func (m *minioServer) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

func (m *minioServer) remove() {
	if m.log != nil {
		m.log.Close()
	}
	_ = os.RemoveAll(m.dir)
}

func (m *minioServer) logTail() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "minio.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return "  minio| " + strings.Join(lines, "\n  minio| ")
}

func (m *minioServer) makeBucket(ctx context.Context, bucket string) error {
	if err := m.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("cannot create bucket %q: %w", bucket, err)
	}
	return nil
}

// object is one object of a listing.
type object struct {
	key  string
	size int64
}

// list returns the objects of bucket under prefix, by key.
func (m *minioServer) list(ctx context.Context, bucket, prefix string) ([]object, error) {
	var out []object
	for o := range m.client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("cannot list bucket %q: %w", bucket, o.Err)
		}
		out = append(out, object{key: o.Key, size: o.Size})
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

// putSequential is MinIO's own PUT throughput for objects of the given
// sizes: it copies the largest of objs (from bucket) to a local file, then
// PUTs a prefix of that file of each object's size under prefix, one after
// another, as a stream's delivery worker does, with the options Hydrant's
// S3 store uses (sinks/s3: one PUT up to its default part size, the body
// a section of a file). It returns the time the PUTs took.
func (m *minioServer) putSequential(ctx context.Context, bucket, prefix string, objs []object) (time.Duration, error) {
	if len(objs) == 0 {
		return 0, errors.New("no objects to copy the sizes of")
	}
	largest := slices.MaxFunc(objs, func(a, b object) int { return int(a.size - b.size) })
	src, err := os.CreateTemp(m.dir, "put-source-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(src.Name())
	defer src.Close()
	o, err := m.client.GetObject(ctx, bucket, largest.key, minio.GetObjectOptions{})
	if err != nil {
		return 0, fmt.Errorf("cannot get s3://%s/%s: %w", bucket, largest.key, err)
	}
	_, err = io.Copy(src, o)
	o.Close()
	if err != nil {
		return 0, fmt.Errorf("cannot copy s3://%s/%s: %w", bucket, largest.key, err)
	}
	start := time.Now()
	for i, obj := range objs {
		key := fmt.Sprintf("%s%06d", prefix, i)
		info, err := m.client.PutObject(ctx, bucket, key, io.NewSectionReader(src, 0, obj.size), obj.size, minio.PutObjectOptions{
			PartSize:    s3.DefaultPartSize,
			ContentType: "application/octet-stream",
		})
		if err != nil {
			return 0, fmt.Errorf("cannot put s3://%s/%s: %w", bucket, key, err)
		}
		if info.Size != obj.size {
			return 0, fmt.Errorf("put s3://%s/%s: the server stored %d bytes, not the %d sent", bucket, key, info.Size, obj.size)
		}
	}
	return time.Since(start), nil
}

// countRecords reads objs back from bucket and returns the records they
// hold: for GZIP objects the lines (every record is recordSize bytes and
// ends in a newline; any other length is an error), for Parquet the rows
// in each file's footer.
func (m *minioServer) countRecords(ctx context.Context, bucket string, objs []object, parquet bool, recordSize int) (int64, error) {
	counts := make([]int64, len(objs))
	errs := make([]error, len(objs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := range next {
				if parquet {
					counts[i], errs[i] = m.parquetRows(ctx, bucket, objs[i])
				} else {
					counts[i], errs[i] = m.gzipRecords(ctx, bucket, objs[i], recordSize, buf)
				}
			}
		})
	}
	for i := range objs {
		next <- i
	}
	close(next)
	wg.Wait()
	var total int64
	for i, n := range counts {
		if errs[i] != nil {
			return 0, fmt.Errorf("object s3://%s/%s: %w", bucket, objs[i].key, errs[i])
		}
		total += n
	}
	return total, nil
}

func (m *minioServer) gzipRecords(ctx context.Context, bucket string, obj object, recordSize int, buf []byte) (int64, error) {
	o, err := m.client.GetObject(ctx, bucket, obj.key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer o.Close()
	zr, err := gzip.NewReader(o)
	if err != nil {
		return 0, err
	}
	lines, n, err := countLines(zr, buf)
	if err != nil {
		return 0, err
	}
	if n != lines*int64(recordSize) {
		return 0, fmt.Errorf("%d bytes in %d lines, records are %d bytes", n, lines, recordSize)
	}
	return lines, nil
}

// countLines reads r to its end and returns its newlines and bytes.
func countLines(r io.Reader, buf []byte) (lines, n int64, err error) {
	for {
		k, err := r.Read(buf)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		n += int64(k)
		if err == io.EOF {
			return lines, n, nil
		}
		if err != nil {
			return lines, n, err
		}
	}
}

func (m *minioServer) parquetRows(ctx context.Context, bucket string, obj object) (int64, error) {
	o, err := m.client.GetObject(ctx, bucket, obj.key, minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer o.Close()
	f, err := pq.OpenFile(o, obj.size, pq.SkipPageIndex(true), pq.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("not a Parquet file: %w", err)
	}
	return f.NumRows(), nil
}
