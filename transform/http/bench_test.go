package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkInvoke invokes, from parallel goroutines, a function on
// loopback that reads the event, 500 small records, and answers with a
// prepared answer for them: the runtime's cost without the function's.
// MB/s counts the event's bytes.
//
//	go test -run '^$' -bench Invoke ./transform/http/
func BenchmarkInvoke(b *testing.B) {
	event := testEvent(500)
	answer := []byte(okAnswer(500))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(answer)
	}))
	defer srv.Close()
	f, err := New(Config{URL: srv.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(event)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.Invoke(context.Background(), event); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
