package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is one hydrant data dir and the `hydrant serve` process currently
// running on it, if any. Start, Stop, Kill and Start again restart it on the
// same data dir. Every run's stderr is kept and dumped when the test fails.
type server struct {
	t       *testing.T
	dataDir string
	config  string   // config file, "" for none
	extra   []string // extra serve flags

	mu       sync.Mutex
	proc     *process
	runs     int
	endpoint string
	logs     []*syncBuffer // one per run
}

// process is one run of `hydrant serve`.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed once the process exited
	err    error         // Wait's result, valid after done
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newServer prepares a data dir in t.TempDir() and, if configYAML is not
// empty, a config file; configYAML may use {{DATA_DIR}}. It does not start
// the server. On cleanup, a running server is killed and, if the test
// failed, every run's stderr is logged.
func newServer(t *testing.T, configYAML string, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{t: t, dataDir: filepath.Join(dir, "data"), extra: extra}
	if configYAML != "" {
		s.config = filepath.Join(dir, "hydrant.yaml")
		yaml := strings.ReplaceAll(configYAML, "{{DATA_DIR}}", s.dataDir)
		if err := os.WriteFile(s.config, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
			s.checkLogs(p)
		}
		if t.Failed() {
			s.dumpLogs()
		}
	})
	return s
}

// startServer is newServer followed by Start.
func startServer(t *testing.T, configYAML string, extra ...string) *server {
	t.Helper()
	s := newServer(t, configYAML, extra...)
	s.Start()
	return s
}

func (s *server) args() []string {
	args := []string{"serve", "--data-dir", s.dataDir, "--http-addr", "127.0.0.1:0"}
	if s.config != "" {
		args = append(args, "--config", s.config)
	}
	return append(args, s.extra...)
}

// launch starts a process without waiting for it to serve.
func (s *server) launch() *process {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.t.Fatalf("hydrant serve is already running (run %d)", s.runs)
	}
	s.runs++
	p := &process{stderr: &syncBuffer{}, done: make(chan struct{})}
	s.logs = append(s.logs, p.stderr)
	p.cmd = exec.Command(hydrantBin, s.args()...)
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("cannot start %s: %v", hydrantBin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	s.endpoint = ""
	return p
}

// httpClient is for the harness's own requests (/readyz, /metrics), with a
// timeout so that a hung server fails the test instead of hanging it.
var httpClient = &http.Client{Timeout: 10 * time.Second}

var servingLine = regexp.MustCompile(`msg="hydrant is serving".*\bfirehose_api=(http://[^\s"]+)`)

// Start runs `hydrant serve` and waits until /readyz answers 200.
func (s *server) Start() {
	s.t.Helper()
	began := time.Now()
	p := s.launch()
	deadline := began.Add(60 * time.Second)
	var endpoint string
	for endpoint == "" {
		if m := servingLine.FindStringSubmatch(p.stderr.String()); m != nil {
			endpoint = m[1]
			break
		}
		select {
		case <-p.done:
			s.t.Fatalf("hydrant serve (run %d) exited before serving: %v; stderr:\n%s", s.runs, p.err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("hydrant serve (run %d) did not log `hydrant is serving ... firehose_api=URL` within 60s; stderr:\n%s", s.runs, p.stderr)
		}
	}
	for {
		resp, err := httpClient.Get(endpoint + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-p.done:
			s.t.Fatalf("hydrant serve (run %d) exited before /readyz answered 200: %v", s.runs, p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET %s/readyz did not answer 200 within 60s (last: %v)", endpoint, err)
		}
	}
	s.mu.Lock()
	s.endpoint = endpoint
	s.mu.Unlock()
	if d := time.Since(began); d > 2*time.Second || verbose {
		s.t.Logf("hydrant serve run %d ready after %v", s.runs, d.Round(time.Millisecond))
	}
}

// Endpoint returns the Firehose API URL of the running server.
func (s *server) Endpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.endpoint == "" {
		s.t.Fatal("the server is not running")
	}
	return s.endpoint
}

// CurrentEndpoint is Endpoint, but returns "" instead of failing while the
// server is down; producers use it across restarts.
func (s *server) CurrentEndpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpoint
}

// Stop sends SIGTERM and waits (bounded) for a clean exit with status 0.
func (s *server) Stop() {
	s.t.Helper()
	p := s.detach()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("cannot signal hydrant: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		s.t.Fatalf("hydrant serve (run %d) did not exit within 45s of SIGTERM", s.runs)
	}
	if p.err != nil {
		s.t.Fatalf("hydrant serve (run %d) exited with %v after SIGTERM, want status 0", s.runs, p.err)
	}
	s.checkLogs(p)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *server) Kill() {
	s.t.Helper()
	p := s.detach()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("hydrant serve (run %d) still running 30s after SIGKILL", s.runs)
	}
	s.checkLogs(p)
}

// Alive reports whether the current process is still running.
func (s *server) Alive() bool {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (s *server) detach() *process {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatal("the server is not running")
	}
	p := s.proc
	s.proc, s.endpoint = nil, ""
	return p
}

// RunToExit starts `hydrant serve` and expects it to exit on its own
// (a start that must fail); it returns its stderr and exit error.
func (s *server) RunToExit(timeout time.Duration) (string, error) {
	s.t.Helper()
	p := s.launch()
	select {
	case <-p.done:
	case <-time.After(timeout):
		s.detach()
		_ = p.cmd.Process.Kill()
		<-p.done
		s.t.Fatalf("hydrant serve (run %d) was expected to exit but still ran after %v; stderr:\n%s", s.runs, timeout, p.stderr)
	}
	s.detach()
	return p.stderr.String(), p.err
}

// Log returns the stderr of the current (or last) run.
func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.logs) == 0 {
		return ""
	}
	return s.logs[len(s.logs)-1].String()
}

// countLog counts the lines of every run's stderr that contain substr.
func (s *server) countLog(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.logs {
		for line := range strings.Lines(l.String()) {
			if strings.Contains(line, substr) {
				n++
			}
		}
	}
	return n
}

// checkLogs fails the test if a run's stderr shows a panic or a data race:
// lines that start as the Go runtime starts them. (A log line may quote
// such words: a wasm function's own crash, which the server survives.)
func (s *server) checkLogs(p *process) {
	s.t.Helper()
	out := p.stderr.String()
	for _, bad := range []string{"panic:", "WARNING: DATA RACE", "fatal error:"} {
		if strings.HasPrefix(out, bad) || strings.Contains(out, "\n"+bad) {
			s.t.Errorf("hydrant serve (run %d) stderr contains %q", s.runs, bad)
		}
	}
}

func (s *server) dumpLogs() {
	s.mu.Lock()
	logs := append([]*syncBuffer(nil), s.logs...)
	s.mu.Unlock()
	// The start (configuration, the first error) and the end (what led
	// to the failure) matter most.
	const headMax, tailMax = 16 << 10, 48 << 10
	for i, l := range logs {
		out := l.String()
		if len(out) > headMax+tailMax {
			out = fmt.Sprintf("%s\n[... %d bytes cut ...]\n%s", out[:headMax], len(out)-headMax-tailMax, out[len(out)-tailMax:])
		}
		s.t.Logf("---- hydrant serve run %d stderr ----\n%s", i+1, out)
	}
}

// ---- /metrics ----

// Metrics fetches /metrics and returns every sample as "name{labels}" →
// value, with labels as printed by the server.
func (s *server) Metrics() (map[string]float64, error) {
	ep := s.CurrentEndpoint()
	if ep == "" {
		return nil, errors.New("server is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep+"/metrics", nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(string(body)), nil
}

// parseMetrics parses the Prometheus text format, enough for tests.
func parseMetrics(text string) map[string]float64 {
	out := make(map[string]float64)
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, val := line[:i], line[i+1:]
		// A timestamp may follow the value.
		if j := strings.LastIndexByte(series, ' '); j >= 0 && !strings.Contains(series[j:], "}") {
			series, val = series[:j], series[j+1:]
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		out[series] = v
	}
	return out
}

// streamMetric returns the value of name{stream="stream"}, and whether the
// series exists.
func streamMetric(ms map[string]float64, name, stream string) (float64, bool) {
	v, ok := ms[name+`{stream="`+stream+`"}`]
	return v, ok
}

// MetricValue fetches /metrics and returns name{stream=…}, failing the test
// if it cannot.
func (s *server) MetricValue(name, stream string) float64 {
	s.t.Helper()
	ms, err := s.Metrics()
	if err != nil {
		s.t.Fatalf("cannot read /metrics: %v", err)
	}
	v, ok := streamMetric(ms, name, stream)
	if !ok {
		s.t.Fatalf("/metrics has no series %s{stream=%q}", name, stream)
	}
	return v
}

// WaitBacklogZero waits until hydrant_backlog_records{stream} is 0, i.e.
// every record accepted into the stream has been delivered and committed.
func (s *server) WaitBacklogZero(stream string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ms, err := s.Metrics()
		if err != nil {
			last = err.Error()
		} else if v, ok := streamMetric(ms, "hydrant_backlog_records", stream); !ok {
			last = "no hydrant_backlog_records series"
		} else if v == 0 {
			return
		} else {
			in, _ := streamMetric(ms, "hydrant_incoming_records_total", stream)
			out, _ := streamMetric(ms, "hydrant_delivery_records_total", stream)
			last = fmt.Sprintf("backlog %v records (incoming %v, delivered %v since start)", v, in, out)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("stream %q: hydrant_backlog_records did not reach 0 within %v; last seen: %s", stream, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
