package webhook

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// BenchmarkSend sends batches to a discard endpoint on loopback, which
// reads each body and answers 200: one request per Send, of n records of
// size bytes. It reports requests/s, records' MB/s (the -benchmem MB/s),
// and the MB/s of bodies on the wire.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"requestId":%q,"timestamp":%d}`, r.Header.Get(HeaderRequestID), time.Now().UnixMilli())
	}))
	defer srv.Close()
	for _, tt := range []struct{ n, size int }{{500, 1024}, {5000, 1024}, {10000, 100}} {
		for _, enc := range []string{EncodingNone, EncodingGzip} {
			b.Run(fmt.Sprintf("%dx%dB/%s", tt.n, tt.size, enc), func(b *testing.B) {
				s, err := New(Config{URL: srv.URL, ContentEncoding: enc}, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				recs := logLines(tt.n, tt.size)
				raw := 0
				for _, r := range recs {
					raw += len(r.Data)
				}
				var enc encoder
				wire := len(enc.encode(requestID("x", 0, 0, len(recs)), 0, recs, s.gzip))
				// Warm up: the sink keeps its body buffer between batches.
				if err := s.Send(context.Background(), "warm-up", recs); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(raw))
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if err := s.Send(context.Background(), fmt.Sprint("bench/", i), recs); err != nil {
						b.Fatal(err)
					}
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)/sec, "req/s")
				b.ReportMetric(float64(wire)*float64(b.N)/sec/1e6, "wire-MB/s")
			})
		}
	}
}

// logLines returns n records of size bytes that look like JSON log lines,
// so that gzip has realistic work.
func logLines(n, size int) []record.Record {
	rng := rand.New(rand.NewPCG(1, 1))
	levels := []string{"info", "warn", "error", "debug"}
	recs := make([]record.Record, n)
	for i := range recs {
		d := fmt.Appendf(nil, `{"ts":"2026-03-01T12:%02d:%02d.%03dZ","level":%q,"user":"u%05d","msg":"`,
			rng.IntN(60), rng.IntN(60), rng.IntN(1000), levels[rng.IntN(4)], rng.IntN(100000))
		for len(d) < size-2 {
			d = append(d, "abcdefghijklmnopqrstuvwxyz       "[rng.IntN(33)])
		}
		recs[i] = record.Record{Data: append(d, `"}`...)[:max(size, 0)]}
	}
	return recs
}
