package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// testEvent returns an event of n records as the delivery stream sends it.
func testEvent(n int) []byte {
	ev := transform.Event{InvocationID: "inv-1", DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s", Region: "us-east-1"}
	for i := range n {
		ev.Records = append(ev.Records, transform.Record{RecordID: fmt.Sprint("r", i), ApproximateArrivalTimestamp: 1700000000000, Data: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	return transform.AppendEvent(nil, &ev)
}

// okAnswer is an answer that keeps every record of testEvent(n).
func okAnswer(n int) string {
	var b strings.Builder
	b.WriteString(`{"records":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"recordId":"r%d","result":"Ok","data":"e30="}`, i)
	}
	b.WriteString("]}")
	return b.String()
}

// stall blocks a handler until the client gives up on r. The server sees
// a client go only once the request's body was read.
func stall(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func newFunction(t *testing.T, cfg Config) *Function {
	t.Helper()
	f, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// wantError checks that err is a *transform.Error of code whose message
// holds each of parts.
func wantError(t *testing.T, err error, code string, parts ...string) *transform.Error {
	t.Helper()
	var e *transform.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("Invoke = %v; want a *transform.Error of code %s", err, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Fatalf("Invoke = %v; want a message with %q", err, p)
		}
	}
	return e
}

func TestInvoke(t *testing.T) {
	event := testEvent(3)
	var got struct {
		method, uri string
		header      http.Header
		body        []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.uri, got.header = r.Method, r.RequestURI, r.Header
		got.body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okAnswer(3))
	}))
	defer srv.Close()
	f := newFunction(t, Config{
		URL:         srv.URL + "/api/v1/web/guest/default/t.json?blocking=true",
		Headers:     map[string]string{"X-Require-Whisk-Auth": "whisk-secret", "x-api-key": "key-secret"},
		BearerToken: "token-secret",
	})
	answer, err := f.Invoke(context.Background(), event)
	if err != nil || string(answer) != okAnswer(3) {
		t.Fatalf("Invoke = %q, %v; want %q", answer, err, okAnswer(3))
	}
	ev := transform.Event{Records: []transform.Record{{RecordID: "r0"}, {RecordID: "r1"}, {RecordID: "r2"}}}
	if _, err := transform.Decode(answer, &ev); err != nil {
		t.Fatalf("Decode(Invoke) = %v", err)
	}
	for name, want := range map[string]string{
		"Content-Type":         "application/json",
		"Accept":               "application/json",
		"Accept-Encoding":      "gzip",
		"Authorization":        "Bearer token-secret",
		"X-Require-Whisk-Auth": "whisk-secret",
		"X-Api-Key":            "key-secret",
		"Content-Length":       fmt.Sprint(len(event)),
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("request header %s = %q; want %q", name, v, want)
		}
	}
	if got.method != http.MethodPost || got.uri != "/api/v1/web/guest/default/t.json?blocking=true" || !bytes.Equal(got.body, event) {
		t.Errorf("request = %s %s with %q; want POST of the event to the URL's path and query", got.method, got.uri, got.body)
	}
}

// TestInvokeGzip checks that an answer with Content-Encoding: gzip is
// undone by the transport, and bounded after it.
func TestInvokeGzip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 1
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, okAnswer(n))
		zw.Close()
	}))
	defer srv.Close()
	f := newFunction(t, Config{URL: srv.URL + "/?n=2"})
	answer, err := f.Invoke(context.Background(), testEvent(2))
	if err != nil || string(answer) != okAnswer(2) {
		t.Fatalf("Invoke of a gzip answer = %q, %v; want %q", answer, err, okAnswer(2))
	}
	f = newFunction(t, Config{URL: srv.URL + "/?n=1000"})
	f.maxResponse = 1000 // the gzip answer is smaller, its content larger
	_, err = f.Invoke(context.Background(), testEvent(2))
	wantError(t, err, transform.CodeResponseTooLarge, "more than the 1000 bytes allowed")
}

func TestInvokeFailedAnswers(t *testing.T) {
	long := strings.Repeat("é", 300) // 600 bytes, cut on a character
	for _, tt := range []struct {
		name   string
		status int
		header map[string]string
		body   string
		code   string
		parts  []string
	}{
		{name: "Lambda function error", status: 502,
			header: map[string]string{"Content-Type": "application/json", "X-Amz-Function-Error": "Unhandled"},
			body:   `{"errorMessage":"division by zero","errorType":"ZeroDivisionError","stackTrace":["  File \"/var/task/h.py\""]}`,
			code:   transform.CodeFunctionError,
			parts:  []string{"HTTP 502 Bad Gateway with X-Amz-Function-Error Unhandled: ZeroDivisionError: \"division by zero\""}},
		{name: "Lambda error without its header", status: 502, body: `{"errorMessage":"Task timed out after 3.00 seconds"}`,
			code: transform.CodeFunctionError, parts: []string{"HTTP 502", `: "Task timed out after 3.00 seconds"`}},
		{name: "function error on 200", status: 200,
			header: map[string]string{"X-Amz-Function-Error": "Handled"},
			body:   `{"errorMessage":"bad input","errorType":"ValueError"}`,
			code:   transform.CodeFunctionError, parts: []string{"HTTP 200 OK with X-Amz-Function-Error Handled: ValueError: \"bad input\""}},
		{name: "odd error type", status: 502, body: `{"errorType":"a b\n","errorMessage":""}`,
			code: transform.CodeFunctionError, parts: []string{`: "a b\n": ""`}},
		{name: "server error", status: 500, body: "Traceback:\n\tboom\x00",
			code: transform.CodeFunctionError, parts: []string{"HTTP 500 Internal Server Error", `"Traceback:\n\tboom\x00"`}},
		{name: "long body", status: 500, body: long + "END",
			code: transform.CodeFunctionError, parts: []string{`"` + long[:200] + `"…`}},
		{name: "not found", status: 404, code: transform.CodeFunctionError, parts: []string{"HTTP 404 Not Found, with an empty body"}},
		{name: "unauthorized", status: 401, body: "unauthorized\n", code: transform.CodeFunctionError, parts: []string{"HTTP 401"}},
		{name: "redirect", status: 302, header: map[string]string{"Location": "/elsewhere"},
			code: transform.CodeFunctionError, parts: []string{"HTTP 302 Found", "not followed"}},
		{name: "throttled", status: 429, body: `{"message":"Rate Exceeded."}`,
			code: transform.CodeUnavailable, parts: []string{"HTTP 429 Too Many Requests", "Rate Exceeded"}},
		{name: "unavailable", status: 503, code: transform.CodeUnavailable, parts: []string{"HTTP 503"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			f := newFunction(t, Config{URL: srv.URL})
			answer, err := f.Invoke(context.Background(), testEvent(1))
			e := wantError(t, err, tt.code, tt.parts...)
			if answer != nil {
				t.Errorf("Invoke = %q with error %v; want no answer", answer, err)
			}
			if strings.Contains(e.Message, "END") {
				t.Errorf("Invoke = %v: the message quotes more than %d bytes of the body", err, quoteBytes)
			}
		})
	}
}

// TestInvokeTimeout stalls the function before its answer and in the
// middle of it: Invoke must return soon after ctx's deadline.
func TestInvokeTimeout(t *testing.T) {
	for _, midBody := range []bool{false, true} {
		t.Run(fmt.Sprint("mid-body=", midBody), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if midBody {
					w.Header().Set("Content-Length", "1000")
					io.WriteString(w, `{"records":[`)
					w.(http.Flusher).Flush()
				}
				stall(r) // until the client gives up
			}))
			defer srv.Close()
			f := newFunction(t, Config{URL: srv.URL})
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := f.Invoke(ctx, testEvent(1))
			took := time.Since(start)
			wantError(t, err, transform.CodeTimedOut, "did not answer within the invocation timeout")
			if took > 2*time.Second {
				t.Errorf("Invoke returned %v after a deadline of 200ms", took)
			}
		})
	}
}

func TestInvokeCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stall(r) }))
	defer srv.Close()
	f := newFunction(t, Config{URL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := f.Invoke(ctx, testEvent(1))
	wantError(t, err, transform.CodeUnavailable, "cancelled")
}

func TestInvokeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	t.Run("connection refused", func(t *testing.T) {
		f := newFunction(t, Config{URL: refused + "?key=query-secret"})
		_, err := f.Invoke(context.Background(), testEvent(1))
		e := wantError(t, err, transform.CodeUnavailable, "cannot reach the http function at "+refused+"?…", "refused")
		if strings.Contains(e.Message, "query-secret") {
			t.Errorf("Invoke = %v: the message holds the URL's query", err)
		}
	})
	t.Run("no such host", func(t *testing.T) {
		f := newFunction(t, Config{URL: "https://nosuch.invalid/"})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := f.Invoke(ctx, testEvent(1))
		if ctx.Err() != nil {
			t.Skip("the resolver did not answer in 10 s")
		}
		wantError(t, err, transform.CodeUnavailable, "nosuch.invalid")
	})
	t.Run("connection reset", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			conn.Close()
		}))
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		_, err := f.Invoke(context.Background(), testEvent(1))
		wantError(t, err, transform.CodeUnavailable, "cannot reach the http function")
	})
	t.Run("answer cut short", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, `{"records":[`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}))
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		_, err := f.Invoke(context.Background(), testEvent(1))
		wantError(t, err, transform.CodeUnavailable, "cannot read the answer of the http function")
	})
}

func TestInvokeTooLarge(t *testing.T) {
	t.Run("declared", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(transform.MaxResponseBytes+1))
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			stall(r) // never sends it: Invoke must not wait
		}))
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := f.Invoke(ctx, testEvent(1))
		wantError(t, err, transform.CodeResponseTooLarge, fmt.Sprintf("is %d bytes, more than the %d allowed", transform.MaxResponseBytes+1, transform.MaxResponseBytes))
	})
	streamed := func(n int64) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for n > 0 {
				k := min(n, int64(len(chunk)))
				if _, err := w.Write(chunk[:k]); err != nil {
					return
				}
				n -= k
			}
		}))
	}
	t.Run("streamed", func(t *testing.T) {
		srv := streamed(10 << 20)
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		f.maxResponse = 1 << 20
		_, err := f.Invoke(context.Background(), testEvent(1))
		wantError(t, err, transform.CodeResponseTooLarge, "more than the 1048576 bytes allowed")
	})
	t.Run("streamed at the limit", func(t *testing.T) {
		srv := streamed(1 << 20)
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		f.maxResponse = 1 << 20
		answer, err := f.Invoke(context.Background(), testEvent(1))
		if err != nil || len(answer) != 1<<20 {
			t.Fatalf("Invoke of an answer of exactly the limit = %d bytes, %v", len(answer), err)
		}
	})
	t.Run("streamed past MaxResponseBytes", func(t *testing.T) {
		if testing.Short() {
			t.Skip("streams 64 MiB")
		}
		srv := streamed(transform.MaxResponseBytes + 1)
		defer srv.Close()
		f := newFunction(t, Config{URL: srv.URL})
		_, err := f.Invoke(context.Background(), testEvent(1))
		wantError(t, err, transform.CodeResponseTooLarge)
	})
}

// newTLSServer starts a TLS test server that does not log the handshakes
// that clients refuse.
func newTLSServer(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	return srv
}

// writeCA writes the certificate of srv, a TLS test server, to a PEM file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestInvokeTLS(t *testing.T) {
	srv := newTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, okAnswer(1))
	}))
	defer srv.Close()
	ca := writeCA(t, srv)
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"trusted by the CA file", Config{URL: srv.URL, CAFile: ca}, true},
		{"not verified", Config{URL: srv.URL, InsecureSkipVerify: true}, true},
		{"not trusted", Config{URL: srv.URL}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFunction(t, tt.cfg)
			answer, err := f.Invoke(context.Background(), testEvent(1))
			if tt.ok {
				if err != nil || string(answer) != okAnswer(1) {
					t.Fatalf("Invoke = %q, %v; want %q", answer, err, okAnswer(1))
				}
				return
			}
			wantError(t, err, transform.CodeUnavailable, "TLS certificate", "not trusted", "CA file")
		})
	}
}

// TestSecretsStayOut makes invocations fail in every way while the
// function echoes what it received: no header value nor token may show
// in an error, the config's String or the log.
func TestSecretsStayOut(t *testing.T) {
	secrets := []string{"hdr-secret-1", "whisk-secret-2", "token-secret-3"}
	echo := func(w http.ResponseWriter, r *http.Request) string {
		return fmt.Sprintf("%v %s", r.Header, r.Header.Get("Authorization"))
	}
	handlers := map[string]http.HandlerFunc{
		"500 echo": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, echo(w, r))
		},
		"Lambda echo": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(HeaderFunctionError, "Unhandled "+r.Header.Get("X-Api-Key"))
			w.WriteHeader(502)
			fmt.Fprintf(w, `{"errorType":%q,"errorMessage":%q}`, r.Header.Get("X-Whisk"), echo(w, r))
		},
		"stall": func(w http.ResponseWriter, r *http.Request) { stall(r) },
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfgFor := func(url string) Config {
		return Config{URL: url, Headers: map[string]string{"X-Api-Key": secrets[0], "X-Whisk": secrets[1]}, BearerToken: secrets[2]}
	}
	var errs []error
	for name, h := range handlers {
		srv := httptest.NewServer(h)
		f, err := New(cfgFor(srv.URL), log)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err = f.Invoke(ctx, testEvent(1))
		cancel()
		f.Close()
		srv.Close()
		if err == nil {
			t.Fatalf("%s: Invoke succeeded", name)
		}
		errs = append(errs, err)
	}
	tlsSrv := newTLSServer(handlers["500 echo"])
	defer tlsSrv.Close()
	for _, cfg := range []Config{cfgFor(tlsSrv.URL), cfgFor("http://127.0.0.1:1/")} {
		f, err := New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Invoke(context.Background(), testEvent(1))
		f.Close()
		errs = append(errs, err)
	}
	insecure := cfgFor(tlsSrv.URL)
	insecure.InsecureSkipVerify = true
	if f, err := New(insecure, log); err == nil { // logs a warning
		f.Close()
	}
	for _, s := range secrets {
		for _, err := range errs {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q holds the secret %q", err, s)
			}
		}
		if strings.Contains(insecure.String(), s) || strings.Contains(logs.String(), s) {
			t.Errorf("the config's String (%s) or the log (%s) holds the secret %q", insecure, logs.String(), s)
		}
	}
	if !strings.Contains(errs[0].Error()+errs[1].Error(), "<secret>") {
		t.Errorf("errors %v: want the echoed secrets blanked out as <secret>", errs)
	}
}

func TestClose(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		stall(r)
	}))
	defer srv.Close()
	f, err := New(Config{URL: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := f.Invoke(context.Background(), testEvent(1))
		done <- err
	}()
	<-arrived
	f.Close()
	select {
	case err := <-done:
		wantError(t, err, transform.CodeUnavailable, "closed during the invocation")
	case <-time.After(5 * time.Second):
		t.Fatal("Invoke under way did not return after Close")
	}
	_, err = f.Invoke(context.Background(), testEvent(1))
	wantError(t, err, transform.CodeUnavailable, "is closed")
	if err := f.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// TestMaxConnections runs invocations 4 times as many as MaxConnections
// at once, in waves: the function must see at most MaxConnections
// connections, kept and reused across the waves.
func TestMaxConnections(t *testing.T) {
	const maxConns = 8
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		io.WriteString(w, okAnswer(1))
	}))
	defer srv.Close()
	f := newFunction(t, Config{URL: srv.URL, MaxConnections: maxConns})
	for range 5 {
		var wg sync.WaitGroup
		for range 4 * maxConns {
			wg.Go(func() {
				if _, err := f.Invoke(context.Background(), testEvent(1)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > maxConns {
		t.Errorf("the function saw %d connections; want at most %d", len(conns), maxConns)
	}
}

// TestInvokeKeepsNoEvent has the function answer before it reads a large
// event, then overwrites the event as soon as Invoke returns: the
// transport, which may go on sending a body after the answer came, must
// not read it any more (the race detector watches).
func TestInvokeKeepsNoEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answer at once, then read the event slowly, so that the
		// client goes on sending it after it has the answer.
		http.NewResponseController(w).EnableFullDuplex()
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnauthorized)
		w.(http.Flusher).Flush()
		buf := make([]byte, 64<<10)
		for {
			time.Sleep(time.Millisecond)
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	f := newFunction(t, Config{URL: srv.URL})
	event := bytes.Repeat([]byte("x"), 16<<20)
	for range 3 {
		_, err := f.Invoke(context.Background(), event)
		wantError(t, err, transform.CodeFunctionError, "HTTP 401")
		for i := range event {
			event[i] = 'y'
		}
	}
}
