// The records the transformation function tests send, and the checks of
// what came out of them: see TestTransformFunctions.

package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

// ---- records and what the functions do with them ----

// fate is what must become of one record put.
type fate struct {
	out  string // the line it is delivered as; "" if it must not be delivered
	code string // the errorCode it fails with; "" if it must not fail
	// With neither, the record is dropped: it must be nowhere.
	part string // for out: the key=value the object's key must hold
}

// rewriteRecords are n records for transform/examples/rewrite: JSON
// objects it reshapes and partitions by customer, one in 25 not JSON,
// which it answers ProcessingFailed.
func rewriteRecords(tag string, n int) ([]string, map[string]fate) {
	recs := make([]string, n)
	want := make(map[string]fate, n)
	for i := range n {
		if i%25 == 9 {
			recs[i] = fmt.Sprintf("not json %s %d", tag, i)
			want[recs[i]] = fate{code: codeProcessingFailed}
			continue
		}
		cust := fmt.Sprintf("c%d", i%4)
		recs[i] = fmt.Sprintf(`{"id":"%s-%d","name":"user%d","msg":"hello %d","customer_id":%q}`, tag, i, i, i, cust)
		want[recs[i]] = fate{
			out:  fmt.Sprintf(`{"customer_id":%q,"id":"%s-%d","message":"hello %d","name":"USER%d","transformed":true}`+"\n", cust, tag, i, i, i),
			part: "customer=" + cust,
		}
	}
	return recs, want
}

// lambdaRecords are n records for testdata/transform/*/index: kept,
// dropped (one in 20) and failed (one in 20) by the function fn.
func lambdaRecords(n int, fn, runtime string) ([]string, map[string]fate) {
	recs := make([]string, n)
	want := make(map[string]fate, n)
	for i := range n {
		action := "keep"
		switch i % 20 {
		case 7:
			action = "drop"
		case 13:
			action = "fail"
		}
		recs[i] = fmt.Sprintf(`{"id":%d,"name":"user%d","action":%q}`, i, i, action)
		switch action {
		case "keep":
			want[recs[i]] = fate{out: fmt.Sprintf(`{"by":%q,"id":%d,"name":"USER%d","runtime":%q}`+"\n", fn, i, i, runtime)}
		case "drop":
			want[recs[i]] = fate{}
		default:
			want[recs[i]] = fate{code: codeProcessingFailed}
		}
	}
	return recs, want
}

// httpRecords are n records for fnserver: objects it marks and partitions
// by type, dropped ones, and arrays, which it answers ProcessingFailed.
func httpRecords(n int) ([]string, map[string]fate) {
	recs := make([]string, n)
	want := make(map[string]fate, n)
	for i := range n {
		switch i % 20 {
		case 5:
			recs[i] = fmt.Sprintf(`{"id":%d,"drop":true}`, i)
			want[recs[i]] = fate{}
		case 15:
			recs[i] = fmt.Sprintf(`[%d]`, i)
			want[recs[i]] = fate{code: codeProcessingFailed}
		default:
			typ := fmt.Sprintf("t%d", i%3)
			recs[i] = fmt.Sprintf(`{"id":%d,"type":%q}`, i, typ)
			want[recs[i]] = fate{out: fmt.Sprintf(`{"fnserver":true,"id":%d,"type":%q}`+"\n", i, typ), part: "type=" + typ}
		}
	}
	return recs, want
}

// records returns the hostile function's two rounds: the first sets it off
// with one record among 30 harmless ones, which may fail with it, as they
// may share its invocation; the second, harmless, must be transformed.
func (h hostileFn) records(idx int) (round1, round2 []string, want map[string]fate) {
	want = map[string]fate{}
	rec := func(id, trigger string) (string, string) {
		if h.http {
			if trigger != "" {
				return fmt.Sprintf(`{"id":%q,%s}`, id, trigger), ""
			}
			return fmt.Sprintf(`{"id":%q}`, id), fmt.Sprintf(`{"fnserver":true,"id":%q}`+"\n", id)
		}
		if trigger != "" {
			return id + "-" + trigger + "\n", ""
		}
		return id + "\n", id + "\n"
	}
	for i := range 31 {
		id := fmt.Sprintf("r1-h%02d-%03d", idx, i)
		if i == 15 {
			r, _ := rec(id, h.word)
			round1 = append(round1, r)
			want[r] = fate{code: h.code}
			continue
		}
		r, out := rec(id, "")
		round1 = append(round1, r)
		want[r] = fate{out: out, code: h.code}
	}
	for i := range 30 {
		r, out := rec(fmt.Sprintf("r2-h%02d-%03d", idx, i), "")
		round2 = append(round2, r)
		want[r] = fate{out: out}
	}
	return round1, round2, want
}

// forkRecords are the fork bomb's rounds: its invocation succeeds, so every
// harmless record is delivered; the one holding "fork" comes back as its
// report, which checkForkReport reads.
func forkRecords() (round1, round2 []string, want map[string]fate) {
	want = map[string]fate{}
	for i := range 31 {
		r := fmt.Sprintf("r1-fb-%03d\n", i)
		if i == 15 {
			r = "r1-fb-015-fork\n"
		} else {
			want[r] = fate{out: r}
		}
		round1 = append(round1, r)
	}
	for i := range 30 {
		r := fmt.Sprintf("r2-fb-%03d\n", i)
		round2 = append(round2, r)
		want[r] = fate{out: r}
	}
	return round1, round2, want
}

// fnProbe is one attempt of a hostile handler's probe (hostile.py, hostile.js).
type fnProbe struct {
	probe, target string
	ok            string // "true" or "false": what the report must say; "" for either
	absent        string // a host path that must not exist afterwards
}

// probes are the escapes the process sandbox must stop, with a read and a
// write that must work, so that a probe that cannot do anything at all
// does not pass.
func (e *fnEnv) probes(runtime string) []fnProbe {
	code, ext := e.pyDir, "py"
	if runtime == "node" {
		code, ext = e.nodeDir, "js"
	}
	m := e.mark + "-" + runtime
	return []fnProbe{
		{probe: "read", target: "/etc/shadow", ok: "false"},
		{probe: "read", target: "/var/task/hostile." + ext, ok: "true"},
		{probe: "write", target: "/etc/hydrant-escape-" + m, ok: "false", absent: "/etc/hydrant-escape-" + m},
		{probe: "write", target: "/var/task/escape-" + m, ok: "false", absent: filepath.Join(code, "escape-"+m)},
		{probe: "write", target: filepath.Join(e.outside, "escape-"+m), absent: filepath.Join(e.outside, "escape-"+m)},
		// The worker's /tmp is its own: this works, and lands nowhere on the host.
		{probe: "write", target: "/tmp/hydrant-escape-" + m, ok: "true", absent: "/tmp/hydrant-escape-" + m},
		{probe: "connect", target: e.trap.addr, ok: "false"},
	}
}

func probeRecords(ps []fnProbe) []string {
	recs := make([]string, len(ps))
	for i, p := range ps {
		recs[i] = fmt.Sprintf(`{"id":%d,"probe":%q,"target":%q}`, i, p.probe, p.target)
	}
	return recs
}

// fsProbes are the records of transform/examples/readfile, run with a
// read-only dir and a scratch dir granted, and what must become of them;
// it also returns the files its writes must have made, and those they
// must not have.
func (e *fnEnv) fsProbes(t *testing.T) (recs []string, want map[string]fate, mustExist, mustNotExist []string) {
	t.Helper()
	want = map[string]fate{}
	add := func(rec string, f fate) {
		recs = append(recs, rec)
		want[rec] = f
	}
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	failed := fate{code: codeProcessingFailed}
	mustNotExist = []string{filepath.Join(e.outside, "escape-wasm"), "/tmp/hydrant-escape-wasm-" + e.mark, filepath.Join(e.roDir, "escape-wasm")}
	add(`{"id":1,"read":"/etc/shadow"}`, failed)
	for i, p := range mustNotExist {
		add(fmt.Sprintf(`{"id":%d,"write":%q}`, 2+i, p), failed)
	}
	add(fmt.Sprintf(`{"id":5,"read":%q}`, filepath.Join(e.scratch, "..", "outside", "secret.txt")), failed)
	add(`{"id":6,"read":"/proc/self/environ"}`, failed)
	write(filepath.Join(e.outside, "secret.txt"), "outside secret "+e.mark+"\n")
	for i := range 3 {
		granted := filepath.Join(e.roDir, fmt.Sprintf("granted-%d.txt", i))
		write(granted, fmt.Sprintf("granted %d %s\n", i, e.mark))
		add(fmt.Sprintf(`{"id":%d,"read":%q}`, 10+i, granted), fate{out: fmt.Sprintf("granted %d %s\n", i, e.mark)})
		in, out := filepath.Join(e.scratch, fmt.Sprintf("in-%d.txt", i)), filepath.Join(e.scratch, fmt.Sprintf("out-%d.txt", i))
		write(in, fmt.Sprintf("scratch %d %s\n", i, e.mark))
		add(fmt.Sprintf(`{"id":%d,"read":%q,"write":%q}`, 20+i, in, out), fate{out: fmt.Sprintf("scratch %d %s\n", i, e.mark)})
		mustExist = append(mustExist, out)
	}
	return recs, want, mustExist, mustNotExist
}

// secrets are contents that no object may hold: /etc/shadow's lines (when
// the test can read it) and the file beside the wasm function's scratch dir.
func (e *fnEnv) secrets(t *testing.T) []string {
	s := []string{"outside secret " + e.mark}
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Logf("cannot read /etc/shadow (%v): the objects are checked for the other secret only", err)
		return s
	}
	for line := range strings.Lines(string(shadow)) {
		if line = strings.TrimSpace(line); len(line) >= 8 {
			s = append(s, line)
		}
	}
	return s
}

// ---- checks ----

// fnErrorRecord is one line of the error output.
type fnErrorRecord struct {
	errorLine
	LambdaARN string `json:"lambdaArn"`
}

// fateCheck checks the objects of streams that run functions.
type fateCheck struct {
	dataDir    string
	start, end time.Time // when the records were put, from the first put to delivery
	secrets    []string  // kept out of the failure messages
}

// check reads the stream's bucket, whose data objects are under data/ and
// error output under errors/processing-failed/, and checks that every
// record of want met its fate exactly once: delivered as its out line,
// under its partition, or in the error output with its code (Firehose's
// error record: rawData the record as put, lambdaArn the function's ARN,
// attemptsMade 1 for a ProcessingFailed answer and 1+retries for a failed
// invocation), or, dropped, nowhere. It returns the delivered lines that
// are no record's out when the stream's function answers with reports;
// otherwise such lines fail the test.
func (c fateCheck) check(t *testing.T, s fnStream, want map[string]fate) []string {
	t.Helper()
	stream, fn, arn, retries, start, end := s.name, s.fn, s.arn, s.retries, c.start, c.end
	if arn == "" {
		arn = "arn:aws:lambda:us-east-1:000000000000:function:" + fn
	}
	byOut := make(map[string]string, len(want))
	for rec, f := range want {
		if f.out != "" {
			byOut[f.out] = rec
		}
	}
	delivered, failed := map[string]int{}, map[string]int{}
	var unmatched, problems []string
	objs := readBucket(t, c.dataDir, stream)
	for _, key := range objs.keys {
		switch {
		case strings.HasPrefix(key, "data/"):
			for _, line := range objs.byKey[key] {
				rec, ok := byOut[line]
				if !ok {
					unmatched = append(unmatched, line)
					continue
				}
				delivered[rec]++
				if p := want[rec].part; p != "" && !strings.Contains(key, "/"+p+"/") {
					problems = append(problems, fmt.Sprintf("%s holds %q, of partition %s", key, shorten(line), p))
				}
			}
		case strings.HasPrefix(key, "errors/processing-failed/"):
			for _, line := range objs.byKey[key] {
				var e fnErrorRecord
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					problems = append(problems, fmt.Sprintf("%s: error record %q is not JSON: %v", key, shorten(line), err))
					continue
				}
				raw, err := base64.StdEncoding.DecodeString(e.RawData)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%s: rawData is not base64: %v", key, err))
					continue
				}
				rec := string(raw)
				f, ok := want[rec]
				if !ok || f.code == "" {
					problems = append(problems, fmt.Sprintf("%q failed (%s: %s); it must not", shorten(rec), e.ErrorCode, e.ErrorMessage))
					continue
				}
				failed[rec]++
				attempts := 1
				if e.ErrorCode != codeProcessingFailed {
					attempts += retries
				}
				switch at := time.UnixMilli(e.ArrivalTimestamp); {
				case e.ErrorCode != f.code:
					problems = append(problems, fmt.Sprintf("%q failed with %s (%s); want %s", shorten(rec), e.ErrorCode, e.ErrorMessage, f.code))
				case e.LambdaARN != arn:
					problems = append(problems, fmt.Sprintf("the error record of %q has lambdaArn %q; want %q", shorten(rec), e.LambdaARN, arn))
				case e.AttemptsMade != attempts:
					problems = append(problems, fmt.Sprintf("the error record of %q has attemptsMade %d; want %d", shorten(rec), e.AttemptsMade, attempts))
				case !strings.Contains(e.ErrorMessage, "function "+fn):
					problems = append(problems, fmt.Sprintf("the error record of %q says %q; want it to name function %s", shorten(rec), e.ErrorMessage, fn))
				case at.Before(start.Truncate(time.Millisecond)) || at.After(end):
					problems = append(problems, fmt.Sprintf("the error record of %q has arrivalTimestamp %v; want within %v to %v", shorten(rec), at, start, end))
				}
			}
		default:
			problems = append(problems, fmt.Sprintf("unexpected object %s", key))
		}
	}
	var nOut, nFailed, nDropped int
	for rec, f := range want {
		d, e := delivered[rec], failed[rec]
		nOut += d
		nFailed += e
		switch {
		case f.out == "" && f.code == "":
			nDropped++
			if d+e > 0 {
				problems = append(problems, fmt.Sprintf("%q was dropped but delivered %d times, failed %d", shorten(rec), d, e))
			}
		case d+e != 1:
			problems = append(problems, fmt.Sprintf("%q delivered %d times, failed %d; want exactly once", shorten(rec), d, e))
		}
	}
	if len(unmatched) > 0 && !s.reports {
		shown := make([]string, min(len(unmatched), 5))
		for i := range shown {
			shown[i] = c.redact(unmatched[i])
		}
		problems = append(problems, fmt.Sprintf("%d lines delivered that no record transforms into: %s", len(unmatched), head(shown, 5)))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Errorf("%s (function %s): %d problems in %d objects:\n  %s", stream, fn, len(problems), len(objs.keys), strings.Join(problems[:min(len(problems), 15)], "\n  "))
		return unmatched
	}
	t.Logf("%s: %d records delivered, %d failed, %d dropped, %d reports, in %d objects", stream, nOut, nFailed, nDropped, len(unmatched), len(objs.keys))
	return unmatched
}

// redact returns line, or its length if it holds a secret or the start of
// one (a function may have read part of a file).
func (c fateCheck) redact(line string) string {
	for _, s := range c.secrets {
		if strings.Contains(line, s[:min(len(s), 16)]) {
			return fmt.Sprintf("<%d bytes holding a secret>", len(line))
		}
	}
	return line
}

// checkProcessedMetrics checks that no invocation of a good function
// failed, and hydrant_processed_records_total against what the function
// answered: each record once.
func checkProcessedMetrics(t *testing.T, srv *server, stream string, want map[string]fate) {
	t.Helper()
	n := map[string]float64{}
	for _, f := range want {
		switch {
		case f.out != "":
			n["Ok"]++
		case f.code != "":
			n["ProcessingFailed"]++
		default:
			n["Dropped"]++
		}
	}
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	if s := fmt.Sprintf(`hydrant_execute_processing_total{result="success",stream=%q}`, stream); ms[s] < 1 {
		t.Errorf("%s = %v; want 1 at least", s, ms[s])
	}
	if s := fmt.Sprintf(`hydrant_execute_processing_total{result="error",stream=%q}`, stream); ms[s] != 0 {
		t.Errorf("%s = %v; want 0: a good function failed (see the server's log)", s, ms[s])
	}
	for _, result := range []string{"Ok", "Dropped", "ProcessingFailed"} {
		series := fmt.Sprintf(`hydrant_processed_records_total{result=%q,stream=%q}`, result, stream)
		if got := ms[series]; got != n[result] {
			t.Errorf("%s = %v; want %v", series, got, n[result])
		}
	}
}

// checkForkReport checks the fork bomb's report: fork failed before the
// worker had pids_limit processes, and no more were ever seen at once.
func checkForkReport(t *testing.T, reports []string, mostSeen int) {
	t.Helper()
	if len(reports) != 1 {
		t.Errorf("%d reports delivered (%s); want 1", len(reports), head(reports, 3))
		return
	}
	var r struct {
		Record         string
		Forked, Failed int
	}
	if err := json.Unmarshal([]byte(reports[0]), &r); err != nil || r.Record != "r1-fb-015-fork\n" {
		t.Errorf("report %q (%v); want the counts for record r1-fb-015-fork", reports[0], err)
		return
	}
	if r.Failed == 0 || r.Forked >= forkPidsLimit {
		t.Errorf("forked %d processes and failed %d times; want fork to fail below pids_limit %d", r.Forked, r.Failed, forkPidsLimit)
	}
	if mostSeen == 0 || mostSeen > forkPidsLimit {
		t.Errorf("at most %d of its processes were seen at once; want 1 to %d", mostSeen, forkPidsLimit)
	}
	t.Logf("forked %d, failed %d times; at most %d of its processes at once", r.Forked, r.Failed, mostSeen)
}

// checkProbes checks the reports of a probing handler against ps.
func checkProbes(t *testing.T, reports []string, ps []fnProbe) {
	t.Helper()
	seen := map[int]int{}
	for _, line := range reports {
		var r struct {
			ID            int
			OK            bool
			Probe, Target string
			Detail        string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.ID < 0 || r.ID >= len(ps) {
			t.Errorf("report %q (%v) is not one of the probes'", shorten(line), err)
			continue
		}
		seen[r.ID]++
		p := ps[r.ID]
		if p.ok != "" && strconv.FormatBool(r.OK) != p.ok {
			detail := r.Detail // the error
			if r.OK {
				detail = fmt.Sprintf("%d bytes", len(r.Detail)) // what it read: not for the log
			}
			t.Errorf("%s %s: ok=%v (%s); want ok=%s", p.probe, p.target, r.OK, detail, p.ok)
		}
	}
	for i, p := range ps {
		if seen[i] != 1 {
			t.Errorf("%s %s reported %d times; want once", p.probe, p.target, seen[i])
		}
		if p.absent == "" {
			continue
		}
		if _, err := os.Stat(p.absent); !os.IsNotExist(err) {
			// Left in place for whoever looks into the failure: a test
			// never removes files outside its own directories.
			t.Errorf("%s %s: the host has %s (%v); the sandbox must keep it from landing there", p.probe, p.target, p.absent, err)
		}
	}
}

// checkNoLeak fails the test if any object of any bucket holds one of the
// secrets (never logged: they are secrets).
func checkNoLeak(t *testing.T, dataDir string, secrets []string) {
	t.Helper()
	root := filepath.Join(dataDir, "objects")
	n, leaks := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for i, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				leaks++
				t.Errorf("%s holds secret %d of %d (%d bytes): a function read what it must not", path, i+1, len(secrets), len(s))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("cannot read the objects: %v", err)
	}
	if leaks == 0 {
		t.Logf("none of %d secrets in %d objects", len(secrets), n)
	}
}

// ---- the watcher ----

// fnWatch keeps putting records into the plain stream while the functions
// run, asks /healthz, samples every stream's data freshness and counts the
// marked processes.
type fnWatch struct {
	srv     *server
	c       *firehose.Client
	streams []string
	mark    string
	l       *ledger
	quit    chan struct{}
	done    chan struct{}

	mu       sync.Mutex
	fresh    map[string]float64 // stream → largest data freshness seen, in seconds
	procs    map[string]int     // marker → most processes seen at once
	problems []string
	ticks    int
}

func startFnWatch(t *testing.T, srv *server, c *firehose.Client, streams []string, mark string) *fnWatch {
	w := &fnWatch{srv: srv, c: c, streams: streams, mark: mark, l: newLedger(), quit: make(chan struct{}), done: make(chan struct{}),
		fresh: map[string]float64{}, procs: map[string]int{}}
	go w.run(t)
	t.Cleanup(w.stop)
	return w
}

func (w *fnWatch) stop() {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
}

func (w *fnWatch) run(t *testing.T) {
	defer close(w.done)
	ctx := context.Background()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-w.quit:
			return
		case <-tick.C:
		}
		var problems []string
		ms, err := w.srv.Metrics()
		if err != nil {
			problems = append(problems, "GET /metrics: "+err.Error())
		}
		if resp, err := httpClient.Get(w.srv.CurrentEndpoint() + "/healthz"); err != nil {
			problems = append(problems, "GET /healthz: "+err.Error())
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				problems = append(problems, fmt.Sprintf("GET /healthz: %s %q", resp.Status, body))
			}
		}
		if err := putRecord(ctx, w.c, "plain", fmt.Sprintf("plain-single-%05d\n", i), w.l); err != nil {
			problems = append(problems, "PutRecord: "+err.Error())
		}
		batch := make([]string, 10)
		for j := range batch {
			batch[j] = fmt.Sprintf("plain-batch-%05d-%02d\n", i, j)
		}
		if res := putBatch(ctx, t, w.c, "plain", batch, w.l); res.err != nil || len(res.refused) > 0 {
			problems = append(problems, fmt.Sprintf("PutRecordBatch: %v, %d refused", res.err, len(res.refused)))
		}
		procs := map[string]int{}
		for _, m := range []string{markLoopChild, markForkChild} {
			procs[m+w.mark] = len(processesWith("cmdline", m+w.mark))
		}
		w.mu.Lock()
		w.ticks++
		for _, s := range w.streams {
			if v, ok := streamMetric(ms, "hydrant_delivery_data_freshness_seconds", s); ok {
				w.fresh[s] = max(w.fresh[s], v)
			}
		}
		for m, n := range procs {
			w.procs[m] = max(w.procs[m], n)
		}
		w.problems = append(w.problems, problems...)
		w.mu.Unlock()
	}
}

func (w *fnWatch) most(marker string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.procs[marker]
}

// The plain stream buffers for 1 s: its data freshness stays below
// plainFreshMax unless something holds its delivery back. The hostile
// loops stall their own streams for twice their 3 s timeout, over
// hostileStall, which shows that the watcher sees a stall.
const (
	plainFreshMax = 5.0
	hostileStall  = 5.5
)

// check checks that the service served throughout, and that the plain
// stream delivered on time while the hostile functions stalled their own.
// (The good functions' streams share the CPUs with the spinning loops;
// checkProcessedMetrics checks that none of their invocations failed.)
func (w *fnWatch) check(t *testing.T, plain string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ticks < 10 {
		t.Errorf("the watcher ran %d times; want 10 at least", w.ticks)
	}
	if len(w.problems) > 0 {
		t.Errorf("%d of %d checks failed while the functions ran: %s", len(w.problems), w.ticks, head(w.problems, 10))
	}
	checkExactlyOnce(t, readBucket(t, w.srv.dataDir, plain), w.l)
	if f := w.fresh[plain]; f > plainFreshMax {
		t.Errorf("%s: data freshness reached %.1fs while the hostile functions ran; want at most %vs", plain, f, plainFreshMax)
	}
	for _, s := range []string{"h-wasm-loop", "h-py-loop"} {
		if f := w.fresh[s]; f < hostileStall {
			t.Errorf("%s: data freshness peaked at %.1fs; its loop should have stalled it for %vs at least", s, f, hostileStall)
		}
	}
	t.Logf("%d rounds of PutRecord, PutRecordBatch and /healthz; largest data freshness: %v", w.ticks, w.fresh)
}

// processesWith returns the host's processes whose /proc/PID/<file>
// (cmdline, environ) holds s.
func processesWith(file, s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), file)); err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// waitNoProcesses waits until no process's command line holds s.
func waitNoProcesses(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for len(processesWith("cmdline", s)) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
