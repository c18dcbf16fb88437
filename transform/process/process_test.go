//go:build linux

package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

func TestMain(m *testing.M) {
	RunInitIfRequested()
	if os.Getenv(testWorkerEnv) == "echo" {
		os.Exit(echoWorker(os.Stdin, os.Stdout))
	}
	if dir := os.Getenv(testHostEnv); dir != "" {
		os.Exit(loopingHost(dir))
	}
	os.Exit(m.Run())
}

// testWorkerEnv makes the test binary a raw worker: a small Go program
// answering each event line with every record Ok and unchanged.
const testWorkerEnv = "HYDRANT_PROCESS_TEST_WORKER"

func echoWorker(in io.Reader, out io.Writer) int {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	var answer []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return 0
		}
		var ev struct {
			Records []struct {
				RecordID string          `json:"recordId"`
				Data     json.RawMessage `json:"data"`
			} `json:"records"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			fmt.Fprintln(os.Stderr, "echo worker:", err)
			return 1
		}
		answer = append(answer[:0], `{"records":[`...)
		for i, rec := range ev.Records {
			if i > 0 {
				answer = append(answer, ',')
			}
			answer = append(answer, `{"recordId":`...)
			answer = strconv.AppendQuote(answer, rec.RecordID)
			answer = append(answer, `,"result":"Ok","data":`...)
			answer = append(answer, rec.Data...)
			answer = append(answer, '}')
		}
		answer = append(answer, "]}\n"...)
		w.Write(answer)
		if w.Flush() != nil {
			return 0
		}
	}
}

// logs records a function's log, and shows it when the test fails.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// start starts a function for the test, fails it if New warns (this host
// applies the whole sandbox), and closes it at the end of the test.
func start(t *testing.T, cfg Config) (*Function, *logs) {
	t.Helper()
	f, warnings, l := startWarned(t, cfg)
	if len(warnings) > 0 {
		t.Fatalf("New warned %q; this host applies the whole sandbox", warnings)
	}
	return f, l
}

func startWarned(t *testing.T, cfg Config) (*Function, []string, *logs) {
	t.Helper()
	l := &logs{}
	log := slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	name := unsafeName.ReplaceAllString(t.Name(), "-")
	if len(name) > 48 {
		name = name[len(name)-48:]
	}
	name = strings.TrimLeft(name, "-.")
	f, warnings, err := New(context.Background(), name, cfg, log)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		if t.Failed() {
			t.Logf("function log:\n%s", l)
		}
	})
	return f, warnings, l
}

func testdata(t testing.TB, sub string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", sub))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func python(t testing.TB, handler string) Config {
	return Config{Runtime: RuntimePython, Handler: handler, CodeDir: testdata(t, "python")}
}

func node(t testing.TB, handler string) Config {
	return Config{Runtime: RuntimeNode, Handler: handler, CodeDir: testdata(t, "node")}
}

// event makes an event of n records, each a JSON document of about size
// bytes.
func event(n, size int) *transform.Event {
	ev := &transform.Event{
		InvocationID:      "00540a87-5050-496a-84e4-e7d92bbaf5e2",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/test",
		Region:            "us-east-1",
	}
	for i := range n {
		doc := fmt.Sprintf(`{"i":%d,"customer":"c%d","pad":""}`, i, i%3)
		if pad := size - len(doc); pad > 0 {
			doc = fmt.Sprintf(`{"i":%d,"customer":"c%d","pad":"%s"}`, i, i%3, strings.Repeat("p", pad))
		}
		ev.Records = append(ev.Records, transform.Record{
			RecordID:                    fmt.Sprintf("49546986683135544286507457936321625675700192471156785154%06d", i),
			ApproximateArrivalTimestamp: 1700000000000 + int64(i),
			Data:                        []byte(doc),
		})
	}
	return ev
}

// eventOf makes an event whose records hold the strings given.
func eventOf(data ...string) *transform.Event {
	ev := event(len(data), 0)
	for i, d := range data {
		ev.Records[i].Data = []byte(d)
	}
	return ev
}

// invoke runs ev on f within timeout and checks the answer with Decode.
func invoke(f *Function, ev *transform.Event, timeout time.Duration) ([]transform.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	answer, err := f.Invoke(ctx, transform.AppendEvent(nil, ev))
	if err != nil {
		return nil, err
	}
	return transform.Decode(answer, ev)
}

// mustInvoke is invoke that fails the test on error.
func mustInvoke(t *testing.T, f *Function, ev *transform.Event) []transform.Result {
	t.Helper()
	res, err := invoke(f, ev, 10*time.Second)
	if err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	return res
}

// wantCode checks that err is a *transform.Error with code, its message
// matching pattern.
func wantCode(t *testing.T, err error, code, pattern string) {
	t.Helper()
	var te *transform.Error
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T); want a *transform.Error %s", err, err, code)
	}
	if te.Code != code || !regexp.MustCompile(pattern).MatchString(te.Message) {
		t.Fatalf("error = %v; want code %s, message matching %q", err, code, pattern)
	}
}

// checkNoop checks that every record of ev came back Ok and unchanged.
func checkNoop(t *testing.T, ev *transform.Event, res []transform.Result) {
	t.Helper()
	for i, r := range res {
		if r.Result != transform.ResultOk || !bytes.Equal(r.Data, ev.Records[i].Data) {
			t.Fatalf("record %d = %s %q; want Ok %q", i, r.Result, r.Data, ev.Records[i].Data)
		}
	}
}

func TestPythonNoop(t *testing.T) {
	f, _ := start(t, python(t, "noop.lambda_handler"))
	for _, n := range []int{1, 0, 500} {
		ev := event(n, 1024)
		checkNoop(t, ev, mustInvoke(t, f, ev))
	}
}

func TestPythonRewrite(t *testing.T) {
	f, l := start(t, python(t, "rewrite.lambda_handler"))
	ev := eventOf(`{"customer":"acme","n":1}`, `{"drop":true}`, `{"bad":1}`, `{"n":4}`)
	res := mustInvoke(t, f, ev)
	wantResults := []string{transform.ResultOk, transform.ResultDropped, transform.ResultProcessingFailed, transform.ResultOk}
	for i, r := range res {
		if r.Result != wantResults[i] {
			t.Fatalf("record %d result = %s; want %s", i, r.Result, wantResults[i])
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(res[0].Data, &doc); err != nil {
		t.Fatalf("record 0 data %q: %v", res[0].Data, err)
	}
	if doc["customer"] != "acme" || doc["function"] != f.Name() || doc["memory"] != "128" || doc["arn"] != "arn:aws:lambda:us-east-1:000000000000:function:"+f.Name() {
		t.Errorf("record 0 = %v; want the customer kept and the context's function, memory and arn", doc)
	}
	if rem, _ := doc["remaining"].(float64); rem <= 0 || rem > 10000 {
		t.Errorf("remaining time = %v; want within the 10 s timeout", doc["remaining"])
	}
	if id, _ := doc["request"].(string); len(id) != 36 {
		t.Errorf("aws_request_id = %q; want a UUID", doc["request"])
	}
	if pk := res[0].Metadata; pk == nil || pk.PartitionKeys["customer"] != "acme" {
		t.Errorf("record 0 metadata = %+v; want partition key customer=acme", pk)
	}
	if pk := res[3].Metadata; pk == nil || pk.PartitionKeys["customer"] != "none" {
		t.Errorf("record 3 metadata = %+v; want partition key customer=none", pk)
	}
	// print() goes to the log, with the function's name.
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(l.String(), "Successfully processed 4 records.") {
		if time.Now().After(deadline) {
			t.Fatalf("the handler's print is not in the log:\n%s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(l.String(), "function="+f.Name()) {
		t.Errorf("the log does not name the function:\n%s", l)
	}
}

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// currentWorker returns the worker of an idle one-worker function.
func currentWorker(t testing.TB, f *Function) *worker {
	t.Helper()
	w := <-f.idle
	f.idle <- w
	if w == nil {
		t.Fatal("the function has no worker")
	}
	return w
}

func TestPythonNoDeadline(t *testing.T) {
	f, _ := start(t, python(t, "rewrite.lambda_handler"))
	ev := eventOf(`{"n":1}`)
	answer, err := f.Invoke(context.Background(), transform.AppendEvent(nil, ev))
	if err != nil {
		t.Fatalf("Invoke without a deadline = %v", err)
	}
	res, err := transform.Decode(answer, ev)
	if err != nil {
		t.Fatalf("Decode = %v", err)
	}
	var doc map[string]any
	json.Unmarshal(res[0].Data, &doc)
	if doc["remaining"] != float64(900000) {
		t.Errorf("remaining time without a deadline = %v; want 900000 (Lambda's maximum)", doc["remaining"])
	}
}

func TestPythonHandlerErrors(t *testing.T) {
	f, _ := start(t, python(t, "hostile.raises"))
	for range 3 {
		_, err := invoke(f, event(2, 10), 5*time.Second)
		wantCode(t, err, transform.CodeFunctionError, `^ValueError: bad input in record 49546`)
	}
	if g := f.gen.Load(); g != 1 {
		t.Errorf("%d workers started; want the first to serve on after its handler raised", g)
	}

	f, _ = start(t, python(t, "hostile.not_json"))
	_, err := invoke(f, event(1, 10), 5*time.Second)
	wantCode(t, err, transform.CodeFunctionError, `^Runtime.MarshalError: Unable to marshal response`)
}

func TestPythonLoadErrors(t *testing.T) {
	for _, c := range []struct{ handler, want string }{
		{"broken.lambda_handler", `Runtime.ImportModuleError: Unable to import module 'broken': No module named 'module_that_does_not_exist'`},
		{"absent.lambda_handler", `Runtime.ImportModuleError: Unable to import module 'absent'`},
		{"noop.nope", `Runtime.HandlerNotFound: Handler 'nope' missing on module 'noop'`},
	} {
		_, _, err := New(context.Background(), "load", python(t, c.handler), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(handler %s) = %v; want an error holding %q", c.handler, err, c.want)
		}
	}
}

func TestNodeCallback(t *testing.T) {
	f, l := start(t, node(t, "callback.handler"))
	ev := eventOf("hello", "world")
	res := mustInvoke(t, f, ev)
	for i, want := range []string{"HELLO " + f.Name(), "WORLD " + f.Name()} {
		if res[i].Result != transform.ResultOk || string(res[i].Data) != want {
			t.Errorf("record %d = %s %q; want Ok %q", i, res[i].Result, res[i].Data, want)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(l.String(), "Successful records 2.") {
		if time.Now().After(deadline) {
			t.Fatalf("console.log is not in the log:\n%s", l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNodeAsync(t *testing.T) {
	f, _ := start(t, node(t, "async.handler"))
	ev := eventOf(`{"customer":"acme"}`, `{"customer":"initech"}`)
	res := mustInvoke(t, f, ev)
	for i, customer := range []string{"acme", "initech"} {
		var doc map[string]any
		if err := json.Unmarshal(res[i].Data, &doc); err != nil {
			t.Fatalf("record %d data %q: %v", i, res[i].Data, err)
		}
		if doc["customer"] != customer || doc["function"] != f.Name() || doc["memory"] != "128" {
			t.Errorf("record %d = %v; want customer %s and the context's function and memory", i, doc, customer)
		}
		if rem, _ := doc["remaining"].(float64); rem <= 0 || rem > 10000 {
			t.Errorf("getRemainingTimeInMillis = %v; want within the 10 s timeout", doc["remaining"])
		}
		if id, _ := doc["request"].(string); len(id) != 36 {
			t.Errorf("awsRequestId = %v; want a UUID", doc["request"])
		}
		if md := res[i].Metadata; md == nil || md.PartitionKeys["customer"] != customer {
			t.Errorf("record %d metadata = %+v; want customer %s", i, md, customer)
		}
	}
}

func TestNodeESM(t *testing.T) {
	f, _ := start(t, node(t, "esm.handler"))
	for _, r := range mustInvoke(t, f, event(3, 10)) {
		if r.Result != transform.ResultDropped {
			t.Fatalf("result = %s; want Dropped", r.Result)
		}
	}
}

func TestNodeErrors(t *testing.T) {
	for _, c := range []struct{ handler, code, pattern string }{
		{"hostile.raises", transform.CodeFunctionError, `^TypeError: boom$`},
		{"hostile.callbackError", transform.CodeFunctionError, `^Error: callback boom$`},
		{"hostile.exit", transform.CodeFunctionError, `exited with status 4`},
		{"hostile.loop", transform.CodeTimedOut, `did not answer within`},
	} {
		t.Run(c.handler, func(t *testing.T) {
			f, _ := start(t, node(t, c.handler))
			_, err := invoke(f, event(1, 10), time.Second)
			wantCode(t, err, c.code, c.pattern)
		})
	}
	_, _, err := New(context.Background(), "load", node(t, "absent.handler"), nil)
	if err == nil || !strings.Contains(err.Error(), "Runtime.ImportModuleError: Cannot find module 'absent'") {
		t.Errorf("New(handler absent.handler) = %v; want Runtime.ImportModuleError", err)
	}
}

func raw(t testing.TB, script string) Config {
	return Config{Command: []string{"/bin/sh", script}, CodeDir: testdata(t, "raw")}
}

func TestRawEcho(t *testing.T) {
	for _, cfg := range []Config{
		raw(t, "echo.sh"),
		{Command: []string{"./echo.sh"}, CodeDir: testdata(t, "raw")},
	} {
		f, _ := start(t, cfg)
		ev := event(300, 1024)
		checkNoop(t, ev, mustInvoke(t, f, ev))
		// An event spread over lines is sent as one.
		var indented bytes.Buffer
		json.Indent(&indented, transform.AppendEvent(nil, ev), "", "  ")
		answer, err := f.Invoke(context.Background(), indented.Bytes())
		if err != nil {
			t.Fatalf("Invoke(indented event) = %v", err)
		}
		res, err := transform.Decode(answer, ev)
		if err != nil {
			t.Fatalf("Decode = %v", err)
		}
		checkNoop(t, ev, res)
	}
}

func TestRawGoWorker(t *testing.T) {
	f, _ := start(t, goWorker(t))
	ev := event(100, 1024)
	checkNoop(t, ev, mustInvoke(t, f, ev))
}

// goWorker runs this test binary as a raw worker: a Go program outside
// the system paths, which the sandbox shows read-only at its place.
func goWorker(t testing.TB) Config {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Command: []string{exe}, Env: map[string]string{testWorkerEnv: "echo"}}
}

func TestRawFailures(t *testing.T) {
	f, _ := start(t, raw(t, "garbage.sh"))
	for range 2 {
		_, err := invoke(f, event(2, 10), 5*time.Second)
		wantCode(t, err, transform.CodeInvalidResponse, "not the transformation response JSON")
	}

	f, _ = start(t, raw(t, "exit.sh"))
	for i := range 2 {
		_, err := invoke(f, event(2, 10), 5*time.Second)
		wantCode(t, err, transform.CodeFunctionError, `exited with status 7`)
		if g := f.gen.Load(); g != int64(i+1) {
			t.Errorf("after %d crashes, %d workers started; want each replaced", i+1, g)
		}
	}
}
