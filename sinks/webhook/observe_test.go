package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// TestAttemptObserver checks that every attempt, retries included, is
// reported with its outcome.
func TestAttemptObserver(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var body struct{ RequestID string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"requestId": body.RequestID, "timestamp": time.Now().UnixMilli()})
	}))
	defer srv.Close()
	var mu sync.Mutex
	var got []bool
	s, err := New(Config{URL: srv.URL}, nil,
		WithClock(time.Now, func(context.Context, time.Duration) error { return nil }),
		WithAttemptObserver(func(ok bool, _ time.Duration) { mu.Lock(); got = append(got, ok); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), "batch", []record.Record{{Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] || got[1] || !got[2] {
		t.Errorf("observed attempts %v; want [false false true]", got)
	}
}
