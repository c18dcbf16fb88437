package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// discardReceiver is the endpoint of the webhook rows: it answers
// Firehose's HTTP endpoint delivery protocol as a healthy endpoint does
// and keeps nothing. It reads each request's whole body, gunzips it when
// it is gzipped (any real endpoint must), checks that it opens with the
// X-Amz-Firehose-Request-Id of its header, counts its records, drops it
// and answers 200 with {"requestId": that id, "timestamp": now}. It does
// not decode the JSON or the base64 records: integration/receiver, the
// webhook tests' receiver, checks every header and record, and costs
// several times the CPU of the sender it measures.
type discardReceiver struct {
	requests  atomic.Int64
	invalid   atomic.Int64
	wireBytes atomic.Int64 // request bodies as sent
	bodyBytes atomic.Int64 // the same, gunzipped
	records   atomic.Int64
	bufs      sync.Pool // *receiveBuf
}

type receiveBuf struct {
	wire, body bytes.Buffer
	zr         *gzip.Reader
}

// receiverStats is what GET /stats of a discard receiver answers.
type receiverStats struct {
	Requests  int64 `json:"requests"`
	Invalid   int64 `json:"invalid"`
	WireBytes int64 `json:"wire_bytes"`
	BodyBytes int64 `json:"body_bytes"`
	Records   int64 `json:"records"`
}

func (a receiverStats) sub(b receiverStats) receiverStats {
	return receiverStats{Requests: a.Requests - b.Requests, Invalid: a.Invalid - b.Invalid,
		WireBytes: a.WireBytes - b.WireBytes, BodyBytes: a.BodyBytes - b.BodyBytes, Records: a.Records - b.Records}
}

var recordOpen = []byte(`{"data":"`)

func (d *discardReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		b, _ := json.Marshal(receiverStats{Requests: d.requests.Load(), Invalid: d.invalid.Load(),
			WireBytes: d.wireBytes.Load(), BodyBytes: d.bodyBytes.Load(), Records: d.records.Load()})
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	d.requests.Add(1)
	id := r.Header.Get("X-Amz-Firehose-Request-Id")
	bad := func(msg string) {
		d.invalid.Add(1)
		discardAnswer(w, http.StatusBadRequest, id, msg)
	}
	if r.Method != http.MethodPost || id == "" {
		bad("want a POST with X-Amz-Firehose-Request-Id")
		return
	}
	buf, _ := d.bufs.Get().(*receiveBuf)
	if buf == nil {
		buf = new(receiveBuf)
	}
	defer d.bufs.Put(buf)
	buf.wire.Reset()
	if _, err := buf.wire.ReadFrom(r.Body); err != nil {
		bad("cannot read the body: " + err.Error())
		return
	}
	d.wireBytes.Add(int64(buf.wire.Len()))
	body := buf.wire.Bytes()
	if r.Header.Get("Content-Encoding") == "gzip" {
		var err error
		if buf.zr == nil {
			buf.zr, err = gzip.NewReader(&buf.wire)
		} else {
			err = buf.zr.Reset(&buf.wire)
		}
		buf.body.Reset()
		if err == nil {
			_, err = buf.body.ReadFrom(buf.zr)
		}
		if err != nil {
			bad("the body does not gunzip: " + err.Error())
			return
		}
		body = buf.body.Bytes()
	}
	d.bodyBytes.Add(int64(len(body)))
	if !bytes.HasPrefix(body, []byte(`{"requestId":"`+id+`"`)) {
		bad("the body does not open with the header's requestId")
		return
	}
	d.records.Add(int64(bytes.Count(body, recordOpen)))
	discardAnswer(w, http.StatusOK, id, "")
}

func discardAnswer(w http.ResponseWriter, status int, id, msg string) {
	b := fmt.Appendf(nil, `{"requestId":%q,"timestamp":%d`, id, time.Now().UnixMilli())
	if msg != "" {
		b = fmt.Appendf(b, `,"errorMessage":%q`, msg)
	}
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// serveDiscardReceiver is the benchmark binary run as the discard
// receiver (-serve-discard-receiver): it listens on a free loopback port,
// prints "listening on http://ADDR" and serves until SIGTERM.
func serveDiscardReceiver() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &discardReceiver{}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// receiverProc is a discard receiver running as a process of its own, so
// that its CPU is counted apart from the producers'.
type receiverProc struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	err  error // valid after done
	out  *strings.Builder
}

// startReceiver starts this benchmark binary again with
// -serve-discard-receiver and waits for its URL.
func startReceiver(ctx context.Context) (*receiverProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find the benchmark binary to start the receiver: %w", err)
	}
	p := &receiverProc{cmd: exec.Command(self, "-serve-discard-receiver"), done: make(chan struct{}), out: &strings.Builder{}}
	p.cmd.Stderr = &lockedWriter{w: p.out}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start the receiver: %w", err)
	}
	url := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case url <- u:
				default:
				}
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.url = <-url:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the receiver exited before listening (%v): %s", p.err, p.out)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil, errors.New("the receiver did not listen within 30s")
}

func (p *receiverProc) pid() int { return p.cmd.Process.Pid }

func (p *receiverProc) stats() (receiverStats, error) {
	var s receiverStats
	resp, err := scrapeClient.Get(p.url + "/stats")
	if err != nil {
		return s, fmt.Errorf("receiver: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return s, fmt.Errorf("receiver: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("receiver /stats: %w", err)
	}
	return s, nil
}

func (p *receiverProc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("the receiver did not stop within 10s of SIGTERM; killed")
	}
	if p.err != nil {
		return fmt.Errorf("the receiver exited with %v: %s", p.err, p.out)
	}
	return nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// webhookEncoding is one content_encoding of the webhook rows.
type webhookEncoding struct {
	name  string // stream name
	label string // content_encoding, in the report
}

var webhookEncodings = []webhookEncoding{
	{name: "webhook-none", label: "NONE"},
	{name: "webhook-gzip", label: "GZIP"},
}

// webhookRound is one round of one encoding.
type webhookRound struct {
	v    *volumeResult
	recv receiverStats // what the receiver got in the row
}

func (w *webhookRound) requestsPerSec() float64 { return float64(w.recv.Requests) / w.v.e2e.Seconds() }
func (w *webhookRound) wireMiBs() float64       { return mib(w.recv.WireBytes) / w.v.e2e.Seconds() }

// webhookResult is what the webhook rows measured for one encoding.
type webhookResult struct {
	enc    webhookEncoding
	rounds []webhookRound
}

// best returns the round with the most records per second end to end.
func (w *webhookResult) best() *webhookRound {
	var b *webhookRound
	for i := range w.rounds {
		if r := &w.rounds[i]; b == nil || r.v.e2eMiBs() > b.v.e2eMiBs() {
			b = r
		}
	}
	return b
}

// webhookStreamConfig is a hydrant.yaml with one stream POSTing to url.
func webhookStreamConfig(e webhookEncoding, url string, sizeMB int) string {
	return fmt.Sprintf(`streams:
  - name: %s
    max_log_bytes: 4GiB
    destination:
      bucket: %s
      buffering: {size_mb: %d, interval_seconds: 60}
      http:
        url: %s
        content_encoding: %s
`, e.name, e.name, sizeMB, url, e.label)
}

// webhookPhase starts a discard receiver and runs o.webhookRounds rounds;
// in each, every encoding of webhookEncodings runs in turn: a fresh
// hydrant server whose stream POSTs to the receiver takes o.webhookBytes
// from o.producers producers until every record is delivered. The
// receiver must have got every record, in requests that all followed the
// protocol. r.webhook gets every round, r.mem each encoding's peak.
func webhookPhase(ctx context.Context, o *options, r *results) error {
	progress("starting the discard webhook receiver")
	recv, err := startReceiver(ctx)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = recv.stop()
		}
	}()

	r.webhook = make([]*webhookResult, len(webhookEncodings))
	mems := make([]phaseMem, len(webhookEncodings))
	for i, e := range webhookEncodings {
		r.webhook[i] = &webhookResult{enc: e}
		mems[i].phase = fmt.Sprintf("into a webhook, %s (%d MiB buffers)", e.label, o.webhookBufferMB)
	}
	defer func() {
		for _, mem := range mems {
			if mem.hwm > 0 {
				r.mem = append(r.mem, mem)
			}
		}
	}()
	for round := 1; round <= o.webhookRounds; round++ {
		for i, e := range webhookEncodings {
			progress("round %d/%d, hydrant into the webhook, %s", round, o.webhookRounds, e.label)
			before, err := recv.stats()
			if err != nil {
				return err
			}
			var got receiverStats
			v, mem, err := volumePhase(ctx, o, volumeSpec{
				stream: e.name, sizeMB: o.webhookBufferMB, intervalS: 60, volume: o.webhookBytes, random: o.payload == "random",
				config: webhookStreamConfig(e, recv.url, o.webhookBufferMB), destPID: recv.pid(),
				verify: func(context.Context, *server, *volumeResult) (int64, error) {
					after, err := recv.stats()
					if err != nil {
						return 0, err
					}
					got = after.sub(before)
					if got.Invalid > 0 {
						return 0, fmt.Errorf("the receiver answered %d of %d requests 400 (see its checks)", got.Invalid, got.Requests)
					}
					return got.Records, nil
				},
			})
			r.serverLogs = append(r.serverLogs, prefixed(e.name, v.logs)...)
			if mem != nil {
				mems[i].accepted = max(mems[i].accepted, mem.accepted)
				mems[i].backlog.records = max(mems[i].backlog.records, mem.backlog.records)
				mems[i].backlog.bytes = max(mems[i].backlog.bytes, mem.backlog.bytes)
				mems[i].hwm = max(mems[i].hwm, mem.hwm)
			}
			if err != nil {
				return err
			}
			r.webhook[i].rounds = append(r.webhook[i].rounds, webhookRound{v: v, recv: got})
		}
	}
	stopped = true
	return recv.stop()
}
