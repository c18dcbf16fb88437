package firehoseapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/record"
)

// nopStreams accepts every put at once, so that a benchmark measures the
// API alone.
type nopStreams struct{ info delivery.StreamInfo }

func (n *nopStreams) Create(context.Context, delivery.StreamConfig) (delivery.StreamInfo, error) {
	return n.info, nil
}
func (n *nopStreams) Describe(string) (delivery.StreamInfo, error) { return n.info, nil }
func (n *nopStreams) List() []delivery.StreamInfo                  { return nil }
func (n *nopStreams) Delete(context.Context, string, bool) error   { return nil }
func (n *nopStreams) UpdateDestination(context.Context, string, int, delivery.Destination) error {
	return nil
}
func (n *nopStreams) SetLogEncryption(context.Context, string, delivery.LogEncryption) error {
	return nil
}
func (n *nopStreams) Put(_ context.Context, _ string, recs []record.Record) (uint64, error) {
	return 42, nil
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// batchBody returns a PutRecordBatch body of n records of size bytes.
func batchBody(n, size int) []byte {
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size])
	var b bytes.Buffer
	b.WriteString(`{"DeliveryStreamName":"bench","Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"Data":"` + data + `"}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func runBatchBenchmark(b *testing.B, h http.Handler, body []byte, sign func(*http.Request)) {
	req := httptest.NewRequest(http.MethodPost, "http://localhost:4573/", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecordBatch")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.ContentLength = int64(len(body))
	if sign != nil {
		sign(req)
	}
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = rc
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkPutRecordBatch measures the hot path, 500 records of 1 KiB,
// through the whole handler with a Streams that stores nothing. MB/s counts
// request body bytes.
func BenchmarkPutRecordBatch(b *testing.B) {
	body := batchBody(MaxBatchRecords, 1024)
	info := delivery.StreamInfo{Config: delivery.StreamConfig{Name: "bench"}, ID: "0123456789abcdef", Status: delivery.StatusActive}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.Run("api", func(b *testing.B) {
		api := New(&nopStreams{info: info}, Options{Logger: logger})
		runBatchBenchmark(b, api, body, nil)
	})
	b.Run("api-sigv4", func(b *testing.B) {
		signedAt := time.Now()
		api := New(&nopStreams{info: info}, Options{Logger: logger, AccessKeys: map[string]string{"AKID": "secret"},
			Now: func() time.Time { return signedAt }})
		runBatchBenchmark(b, api, body, func(r *http.Request) {
			sum := sha256.Sum256(body)
			err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
				r, hex.EncodeToString(sum[:]), "firehose", "us-east-1", signedAt)
			if err != nil {
				b.Fatal(err)
			}
		})
	})
	// The yardstick: a server that only reads the body (into a pooled
	// buffer), decodes it into the same typed structs and discards it.
	b.Run("decode-and-discard", func(b *testing.B) {
		runBatchBenchmark(b, decodeAndDiscard(), body, nil)
	})
}

func decodeAndDiscard() http.Handler {
	pool := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := pool.Get().(*bytes.Buffer)
		defer pool.Put(buf)
		buf.Reset()
		if _, err := buf.ReadFrom(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var in struct {
			DeliveryStreamName *string
			Records            []recordInput
		}
		if err := json.Unmarshal(buf.Bytes(), &in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{}`))
	})
}
