package main

import (
	"bufio"
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
	"time"
)

// server is one `hydrant serve` process on its own temp data dir.
type server struct {
	name     string // for messages and the temp dir: "baseline", "gzip", "e2e", …
	dir      string // temp dir holding data/ and the config file
	dataDir  string
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process exited
	exitErr  error         // valid after done

	mu     sync.Mutex
	tail   []string // last lines of stderr
	issues []string // WARN and ERROR lines, benign ones left out

	sampleStop chan struct{}
	sampleDone chan struct{}
	stopOnce   sync.Once
	peakRSS    int64 // bytes, max VmRSS sampled
	maxBacklog backlog
}

// backlog is what the server reports as accepted but not yet delivered.
type backlog struct {
	records float64
	bytes   float64
}

var servingLine = regexp.MustCompile(`msg="hydrant is serving".*\bfirehose_api="?(http://[^\s"]+)`)

// benignLogs are warnings every benchmark run produces on purpose.
var benignLogs = []string{
	"benchmark baseline mode",
	"no access keys configured",
}

const tailLines = 40

// startServer starts `hydrant serve` on a fresh temp data dir with the
// given config file contents and waits until /readyz answers 200.
func startServer(ctx context.Context, bin, name, configYAML string, extra ...string) (*server, error) {
	dir, err := os.MkdirTemp("", "hydrant-bench-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("cannot create temp dir: %w", err)
	}
	s := &server{name: name, dir: dir, dataDir: filepath.Join(dir, "data"), done: make(chan struct{})}
	cfgPath := filepath.Join(dir, "hydrant.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o644); err != nil {
		s.remove()
		return nil, fmt.Errorf("cannot write config file: %w", err)
	}
	args := append([]string{"serve", "--data-dir", s.dataDir, "--http-addr", "127.0.0.1:0", "--config", cfgPath}, extra...)
	s.cmd = exec.Command(bin, args...)
	// If the benchmark dies, so does the server.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		s.remove()
		return nil, err
	}
	s.cmd.Stdout = io.Discard
	if err := s.cmd.Start(); err != nil {
		s.remove()
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	endpoint := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		s.readLog(stderr, endpoint)
	}()
	go func() {
		<-logDone
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()

	fail := func(err error) (*server, error) {
		_ = s.cmd.Process.Kill()
		<-s.done
		err = fmt.Errorf("%s server: %w\n%s", name, err, s.logTail())
		s.remove()
		return nil, err
	}
	select {
	case s.endpoint = <-endpoint:
	case <-s.done:
		return fail(fmt.Errorf("exited before serving (%v)", s.exitErr))
	case <-time.After(30 * time.Second):
		return fail(errors.New(`no "hydrant is serving" log line within 30s`))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.endpoint + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("/readyz not 200 within 30s (last: %v)", err))
		}
		select {
		case <-s.done:
			return fail(fmt.Errorf("exited before ready (%v)", s.exitErr))
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.sampleStop = make(chan struct{})
	s.sampleDone = make(chan struct{})
	go s.sample()
	return s, nil
}

func (s *server) readLog(r io.Reader, endpoint chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if !sent {
			if m := servingLine.FindStringSubmatch(line); m != nil {
				endpoint <- m[1]
				sent = true
			}
		}
		s.mu.Lock()
		s.tail = append(s.tail, line)
		if len(s.tail) > tailLines {
			s.tail = s.tail[len(s.tail)-tailLines:]
		}
		if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && !isBenign(line) && len(s.issues) < 20 {
			s.issues = append(s.issues, line)
		}
		s.mu.Unlock()
	}
}

func isBenign(line string) bool {
	for _, b := range benignLogs {
		if strings.Contains(line, b) {
			return true
		}
	}
	return false
}

func (s *server) logTail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tail) == 0 {
		return "  (no output)"
	}
	return "  | " + strings.Join(s.tail, "\n  | ")
}

func (s *server) logIssues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issues...)
}

// sample records the peak RSS and backlog while the server runs.
func (s *server) sample() {
	defer close(s.sampleDone)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if st, err := s.procStatus(); err == nil {
			s.mu.Lock()
			s.peakRSS = max(s.peakRSS, st.rss)
			s.mu.Unlock()
		}
		if m, err := s.scrape(); err == nil {
			b := backlog{records: m.sum("hydrant_backlog_records"), bytes: m.sum("hydrant_backlog_bytes")}
			s.mu.Lock()
			s.maxBacklog.records = max(s.maxBacklog.records, b.records)
			s.maxBacklog.bytes = max(s.maxBacklog.bytes, b.bytes)
			s.mu.Unlock()
		}
		select {
		case <-s.sampleStop:
			return
		case <-t.C:
		}
	}
}

// resetSamples starts a new peak-backlog measurement.
func (s *server) resetSamples() {
	s.mu.Lock()
	s.maxBacklog = backlog{}
	s.mu.Unlock()
}

func (s *server) samples() (peakRSS int64, b backlog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peakRSS, s.maxBacklog
}

// procStatus is what /proc/PID/status and /proc/PID/stat say about the
// server process.
type procStatus struct {
	hwm, rss int64         // bytes
	cpu      time.Duration // user + system
}

func (s *server) procStatus() (procStatus, error) { return readProcStatus(s.cmd.Process.Pid) }

func readProcStatus(pid int) (procStatus, error) {
	var st procStatus
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			st.hwm = kb << 10
		case "VmRSS:":
			st.rss = kb << 10
		}
	}
	if b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		return st, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		st.cpu = time.Duration(ut+stt) * time.Second / clockTicks
	}
	return st, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// stop sends SIGTERM and waits for a clean exit. It returns the peak RSS
// (VmHWM) of the process's whole life, read just before the signal.
func (s *server) stop() (hwm int64, err error) {
	s.stopSampling()
	if st, perr := s.procStatus(); perr == nil {
		hwm = st.hwm
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(45 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return hwm, fmt.Errorf("%s server did not stop within 45s of SIGTERM; killed\n%s", s.name, s.logTail())
	}
	if s.exitErr != nil {
		return hwm, fmt.Errorf("%s server exited with %v after SIGTERM\n%s", s.name, s.exitErr, s.logTail())
	}
	return hwm, nil
}

// kill is the cleanup of a server whose run failed.
func (s *server) kill() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.stopSampling()
}

func (s *server) stopSampling() {
	if s.sampleStop == nil {
		return
	}
	s.stopOnce.Do(func() { close(s.sampleStop) })
	<-s.sampleDone
}

func (s *server) remove() { _ = os.RemoveAll(s.dir) }

// metrics is one scrape of /metrics in the Prometheus text format.
type metrics []string

var scrapeClient = &http.Client{Timeout: 10 * time.Second}

func (s *server) scrape() (metrics, error) {
	resp, err := scrapeClient.Get(s.endpoint + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	var m metrics
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			m = append(m, line)
		}
	}
	return m, nil
}

// series returns the value of every series of the metric name whose
// labels contain all of labels (each `key="value"`).
func (m metrics) series(name string, labels ...string) []float64 {
	var out []float64
	for _, line := range m {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		match := true
		for _, l := range labels {
			if !strings.Contains(rest[:i], l) {
				match = false
			}
		}
		if !match {
			continue
		}
		if v, err := strconv.ParseFloat(rest[i+1:], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (m metrics) sum(name string, labels ...string) float64 {
	var t float64
	for _, v := range m.series(name, labels...) {
		t += v
	}
	return t
}

// label returns the value of label key on the first series of name.
func (m metrics) label(name, key string) string {
	for _, line := range m {
		if rest, ok := strings.CutPrefix(line, name+"{"); ok {
			if _, v, ok := strings.Cut(rest, key+`="`); ok {
				v, _, _ = strings.Cut(v, `"`)
				return v
			}
		}
	}
	return ""
}

func streamLabel(stream string) string { return `stream="` + stream + `"` }

// machineBusy is the CPU time all cores spent busy (or stolen) so far,
// from /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal: all but idle and iowait.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// cpuMeter measures the cores used by the server, the process it
// delivers to (MinIO, ClickHouse, a webhook receiver), the benchmark and
// everything else on the machine over an interval.
type cpuMeter struct {
	srv            *server // nil when no hydrant runs
	destPID        int     // 0 when no destination process runs
	t0             time.Time
	s0, d0, b0, m0 time.Duration
}

func startCPU(srv *server) cpuMeter { return startCPUWith(srv, 0) }

// startCPUWith is startCPU that also counts the process destPID apart;
// srv may be nil.
func startCPUWith(srv *server, destPID int) cpuMeter {
	c := cpuMeter{srv: srv, destPID: destPID, t0: time.Now()}
	c.s0, c.d0 = c.procs()
	c.b0, c.m0 = selfCPU(), machineBusy()
	return c
}

func (c cpuMeter) procs() (srv, dest time.Duration) {
	if c.srv != nil {
		st, _ := c.srv.procStatus()
		srv = st.cpu
	}
	if c.destPID != 0 {
		st, _ := readProcStatus(c.destPID)
		dest = st.cpu
	}
	return srv, dest
}

// cores used over the interval: the server, the destination process, the
// benchmark, all other processes.
type cores struct{ srv, dest, bench, other float64 }

func (c cpuMeter) stop() cores {
	s1, d1 := c.procs()
	wall := time.Since(c.t0).Seconds()
	srv := (s1 - c.s0).Seconds() / wall
	dest := (d1 - c.d0).Seconds() / wall
	bench := (selfCPU() - c.b0).Seconds() / wall
	all := (machineBusy() - c.m0).Seconds() / wall
	return cores{srv: srv, dest: dest, bench: bench, other: max(0, all-srv-dest-bench)}
}
