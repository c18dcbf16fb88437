//go:build linux

package transform_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/examples/handlers"
	httpfn "github.com/hydrantio/hydrant/transform/http"
	"github.com/hydrantio/hydrant/transform/process"
	"github.com/hydrantio/hydrant/transform/wasm"
)

// TestMain lets the process runtime's workers start: each is a
// re-execution of the test binary as the sandbox's init.
func TestMain(m *testing.M) {
	process.RunInitIfRequested()
	os.Exit(m.Run())
}

// A batch is about 1 MiB of data, as a delivery stream's transform sees
// it: 900 JSON records of 1 KiB (about 1.2 MiB of event, in base64).
const (
	benchRecords     = 900
	benchRecordBytes = 1 << 10
)

// BenchmarkRuntimes runs a no-op and a JSON-rewriting transformation in
// every runtime, beside the same transformation as native Go
// (transform.Native) in the same iterations: each iteration invokes the
// runtime's function on one batch and decodes its answer with
// transform.Decode, then does the same with the native twin (the other
// way round every other iteration), each timed on its own. ns/op and the
// allocations are the runtime's alone; the native twin runs with the
// timer stopped. Reported:
//
//   - records/s, native-records/s: records over the summed batch times;
//   - x-native: the first over the second;
//   - p50-ms, p99-ms: the runtime's batch latency; native-p99-ms the
//     twin's, and added-p99-ms the difference, what the runtime adds;
//   - decode-ms: the mean time of transform.Decode on the runtime's
//     answer, part of its batch time, as it is of the twin's: the checks
//     every runtime pays, in the server;
//   - records/cpu-s: records over the CPU time the runtime's batches took
//     in this process and in its worker processes, the records one core
//     would pass per second, which a busy machine blurs less than
//     records/s.
//
// The http runtime's function is the native twin served on loopback by
// this process, so its figures are the runtime's cost over the twin's,
// and its CPU time and allocations include the twin's own.
//
// Setup checks, untimed, that each runtime answers the batch and a few
// edge cases as its native twin does, record by record, so that every
// figure compares like with like.
//
//	go test -run '^$' -bench BenchmarkRuntimes ./transform/
//	taskset -c 1 go test -run '^$' -bench 'BenchmarkRuntimes/process' ./transform/  # one core
func BenchmarkRuntimes(b *testing.B) {
	ev := benchEvent(benchRecords, benchRecordBytes)
	edges := edgeEvent()
	transforms := []benchTransform{
		{name: "noop", native: nativeNoop},
		{name: "rewrite", native: nativeRewrite},
	}
	runtimes := []benchRuntime{
		{name: "wasm", start: startWasm},
		{name: "process-python", start: startPython, workers: true},
		{name: "process-node", start: startNode, workers: true},
		{name: "http", start: startHTTP},
	}
	for _, rt := range runtimes {
		b.Run(rt.name, func(b *testing.B) {
			for _, tr := range transforms {
				b.Run(tr.name, func(b *testing.B) {
					f := rt.start(b, tr)
					twin := transform.Native(tr.native)
					checkTwins(b, f, twin, edges)
					checkTwins(b, f, twin, ev)
					var workers []int
					if rt.workers {
						if workers = descendants(os.Getpid()); len(workers) == 0 {
							b.Fatal("cannot find the function's worker processes in /proc: their CPU time would be missed")
						}
					}
					measure(b, f, twin, ev, workers)
				})
			}
		})
	}
}

// benchTransform is one transformation: its name, which names the code of
// every runtime (examples/<name>, testdata/bench/<name>.{py,js}), and its
// native Go twin.
type benchTransform struct {
	name   string
	native transform.Handler
}

// benchRuntime starts tr in one runtime; the function is closed when the
// benchmark ends. workers says that it runs in child processes, whose CPU
// time counts.
type benchRuntime struct {
	name    string
	start   func(b *testing.B, tr benchTransform) transform.Function
	workers bool
}

// measure runs the batch through f and twin in each iteration and reports
// the figures BenchmarkRuntimes describes.
func measure(b *testing.B, f, twin transform.Function, ev *transform.Event, workers []int) {
	event := transform.AppendEvent(nil, ev)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// run returns the batch's time, the part of it Decode took, and the
	// CPU time this process used meanwhile.
	run := func(fn transform.Function) (took, decode, cpu time.Duration) {
		cpu0, t0 := selfCPU(), time.Now()
		answer, err := fn.Invoke(ctx, event)
		t1 := time.Now()
		if err == nil {
			_, err = transform.Decode(answer, ev)
		}
		took, decode, cpu = time.Since(t0), time.Since(t1), selfCPU()-cpu0
		if err != nil {
			b.Fatal(err)
		}
		return took, decode, cpu
	}
	var (
		lat, twinLat    []time.Duration
		decode, hostCPU time.Duration
	)
	runTwin := func() {
		b.StopTimer()
		took, _, _ := run(twin)
		twinLat = append(twinLat, took)
		b.StartTimer()
	}
	worker0 := tasksCPU(workers)
	for i := 0; b.Loop(); i++ {
		// Alternating the order spreads the collection of each one's
		// garbage over both.
		if i%2 == 1 {
			runTwin()
		}
		took, dec, cpu := run(f)
		lat, decode, hostCPU = append(lat, took), decode+dec, hostCPU+cpu
		if i%2 == 0 {
			runTwin()
		}
	}
	workerCPU := tasksCPU(workers) - worker0

	records := float64(len(ev.Records) * len(lat))
	perSecond := func(lat []time.Duration) float64 {
		var total time.Duration
		for _, d := range lat {
			total += d
		}
		return records / total.Seconds()
	}
	ms := func(lat []time.Duration, q float64) float64 {
		lat = slices.Clone(lat)
		slices.Sort(lat)
		return float64(lat[int(q*float64(len(lat)-1))]) / 1e6
	}
	rate, twinRate := perSecond(lat), perSecond(twinLat)
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(twinRate, "native-records/s")
	b.ReportMetric(rate/twinRate, "x-native")
	b.ReportMetric(ms(lat, 0.50), "p50-ms")
	b.ReportMetric(ms(lat, 0.99), "p99-ms")
	b.ReportMetric(ms(twinLat, 0.99), "native-p99-ms")
	b.ReportMetric(ms(lat, 0.99)-ms(twinLat, 0.99), "added-p99-ms")
	b.ReportMetric(decode.Seconds()*1e3/float64(len(lat)), "decode-ms")
	b.ReportMetric(records/(hostCPU+workerCPU).Seconds(), "records/cpu-s")
}

// checkTwins fails the benchmark unless f answers ev as twin does, record
// by record.
func checkTwins(b *testing.B, f, twin transform.Function, ev *transform.Event) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	answer := func(fn transform.Function) []transform.Result {
		raw, err := fn.Invoke(ctx, transform.AppendEvent(nil, ev))
		if err != nil {
			b.Fatalf("Invoke = %v", err)
		}
		res, err := transform.Decode(raw, ev)
		if err != nil {
			b.Fatalf("Decode = %v", err)
		}
		return res
	}
	got, want := answer(f), answer(twin)
	for i := range want {
		g, w := &got[i], &want[i]
		if g.Result != w.Result || !reflect.DeepEqual(g.Metadata, w.Metadata) || !sameData(g.Data, w.Data) {
			b.Fatalf("record %d (%q) = %s %+v %q; the native twin answers %s %+v %q",
				i, ev.Records[i].Data, g.Result, g.Metadata, g.Data, w.Result, w.Metadata, w.Data)
		}
	}
}

// sameData reports whether a record's data is the same as its twin's:
// the same bytes, or, as runtimes serialise JSON each their own way (key
// order, escapes, number forms), the same JSON document with the same
// trailing newline.
func sameData(got, want []byte) bool {
	if bytes.Equal(got, want) {
		return true
	}
	if bytes.HasSuffix(got, []byte("\n")) != bytes.HasSuffix(want, []byte("\n")) {
		return false
	}
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		return false
	}
	return reflect.DeepEqual(g, w)
}

func startWasm(b *testing.B, tr benchTransform) transform.Function {
	module, cache := exampleModule(b, tr.name)
	f, err := wasm.New(context.Background(), wasm.Config{Module: module, CacheDir: cache}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

func startPython(b *testing.B, tr benchTransform) transform.Function {
	if _, err := os.Stat(process.DefaultPythonPath); err != nil {
		b.Fatalf("the process-python benchmarks need Python 3 at %s (the process runtime's default): %v", process.DefaultPythonPath, err)
	}
	return startProcess(b, tr, process.Config{Runtime: process.RuntimePython, Handler: tr.name + ".lambda_handler"})
}

func startNode(b *testing.B, tr benchTransform) transform.Function {
	if _, err := exec.LookPath("node"); err != nil {
		b.Fatalf("the process-node benchmarks need Node.js as node in PATH: %v", err)
	}
	return startProcess(b, tr, process.Config{Runtime: process.RuntimeNode, Handler: tr.name + ".handler"})
}

// startProcess starts cfg's handler from testdata/bench with one worker,
// the process runtime's default.
func startProcess(b *testing.B, tr benchTransform, cfg process.Config) transform.Function {
	dir, err := filepath.Abs(filepath.Join("testdata", "bench"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.CodeDir = dir
	f, warnings, err := process.New(context.Background(), "bench-"+tr.name, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	for _, w := range warnings {
		b.Logf("the sandbox is incomplete here: %s", w)
	}
	return f
}

// startHTTP serves the native twin on loopback, so that the http
// runtime's figures are its own cost over the twin's.
func startHTTP(b *testing.B, tr benchTransform) transform.Function {
	twin := transform.Native(tr.native)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		event, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		answer, err := twin.Invoke(r.Context(), event)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	f, err := httpfn.New(httpfn.Config{URL: srv.URL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// The native twins of the example modules: the same handlers, run in the
// benchmark's process.
var (
	nativeNoop    = handlers.Noop
	nativeRewrite = handlers.Rewrite
)

// benchEvent returns an event of n records, each a JSON order event of
// size bytes: nested objects and arrays, integers and decimals, non-ASCII
// names, an ampersand that Go escapes and Python and Node do not, and a
// "msg" padded to size.
func benchEvent(n, size int) *transform.Event {
	names := []string{"alice martin", "bob okafor", "chloé dubois", "dmitri ivanov", "zoë van dijk", "jürgen müller", "ana maría lópez", "łukasz nowak"}
	types := []string{"order_placed", "order_paid", "order_shipped"}
	const lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. "
	ev := &transform.Event{
		InvocationID:      "6a1f3c2e-9d4b-4e7a-8f15-2b9c0d3e4f5a",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/bench",
		Region:            "us-east-1",
	}
	for i := range n {
		name := names[i%len(names)]
		head := fmt.Sprintf(`{"event_id":"%08x-%04x-4%03x-a%03x-%012x","event_type":"%s","ts":"2024-11-22T12:%02d:%02d.%03dZ",`+
			`"customer_id":"c-%d","name":"%s %d","email":"customer.%d@example.com","amount":%d.%02d,"currency":"EUR",`+
			`"items":[{"sku":"SKU-%05d","qty":%d,"price":%d.%02d},{"sku":"SKU-%05d","qty":1,"price":%d.99}],`+
			`"shipping":{"country":"FR","city":"Lyon","zip":"69003","express":%t},"device":{"os":"iOS 17.1","app":"shop/4.12.0"},`+
			`"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",`+
			`"ip":"203.0.113.%d","tags":["promo","mobile"],"session":{"id":"s-%x","page_views":%d,"referrer":"https://www.example.com/search?q=shoes&page=%d"},"msg":"`,
			i*2654435761, i%65536, i%4096, (i*7)%4096, i*40503, types[i%len(types)], i/60%60, i%60, i%1000,
			i%17, name, i, i, 10+i%490, i%100,
			i%99991, 1+i%3, 5+i%95, (i*13)%100, (i*31)%99991, 3+i%40,
			i%2 == 0,
			1+i%254, i*48271, 1+i%20, 1+i%5)
		pad := size - len(head) - len(`"}`)
		msg := strings.Repeat(lorem, pad/len(lorem)+1)[:max(0, pad)]
		ev.Records = append(ev.Records, transform.Record{
			RecordID:                    fmt.Sprintf("49590338271490256608559692538361571095921575989136588898%06d", i),
			ApproximateArrivalTimestamp: 1700000000000 + int64(i),
			Data:                        []byte(head + msg + `"}`),
		})
	}
	return ev
}

// edgeEvent returns records on which a rewrite could go wrong: not JSON,
// JSON but not an object, fields of the wrong type or missing, an empty
// partition key, a "message" that "msg" replaces.
func edgeEvent() *transform.Event {
	data := []string{
		`not json`,
		`[1,2,3]`,
		`"a string"`,
		`{}`,
		`{"name":42,"customer_id":7,"msg":"m"}`,
		`{"name":"zoë <b>&</b>","customer_id":"","other":{"b":1.50,"a":[true,null,-0.25e2]}}`,
		`{"msg":"x","message":"y","customer_id":"c-1"}`,
	}
	ev := &transform.Event{InvocationID: "edges", DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/bench", Region: "us-east-1"}
	for i, d := range data {
		ev.Records = append(ev.Records, transform.Record{RecordID: strconv.Itoa(i), ApproximateArrivalTimestamp: 1700000000000, Data: []byte(d)})
	}
	return ev
}

// exampleModule returns examples/bin/<name>.wasm, built by `make
// transform-examples`, with the compilation cache the wasm tests share;
// when it is missing or older than its sources, it builds the module into
// a temporary directory instead, with no cache.
func exampleModule(b *testing.B, name string) (module, cacheDir string) {
	module = filepath.Join("examples", "bin", name+".wasm")
	src, err := newest(filepath.Join("..", "go.mod"), filepath.Join("..", "go.sum"), "*.go",
		filepath.Join("wasm", "guest", "*.go"), filepath.Join("examples", name, "*.go"))
	if err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(module); err == nil && fi.ModTime().After(src) {
		version, err := wazeroVersion()
		if err != nil {
			b.Fatal(err)
		}
		return module, filepath.Join("examples", "bin", "cache", "wazero-"+version)
	}
	b.Logf("%s is missing or stale (make transform-examples builds it): building it for this run", module)
	module = filepath.Join(b.TempDir(), name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", module, "./"+name)
	cmd.Dir = "examples"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return module, ""
}

// newest returns the latest modification time of the non-test files
// matching patterns.
func newest(patterns ...string) (time.Time, error) {
	var t time.Time
	for _, p := range patterns {
		paths, err := filepath.Glob(p)
		if err != nil {
			return t, err
		}
		if len(paths) == 0 {
			return t, fmt.Errorf("no file matches %s", p)
		}
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			fi, err := os.Stat(path)
			if err != nil {
				return t, err
			}
			if fi.ModTime().After(t) {
				t = fi.ModTime()
			}
		}
	}
	return t, nil
}

// wazeroVersion reads wazero's version from go.mod, which names the
// shared compilation cache (see transform/wasm/main_test.go).
func wazeroVersion() (string, error) {
	f, err := os.Open(filepath.Join("..", "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "github.com/tetratelabs/wazero" {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("go.mod does not require github.com/tetratelabs/wazero")
}

// selfCPU returns the CPU time this process has used, all its threads.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tasksCPU returns the CPU time processes pids have used, all their
// threads, from the scheduler's statistics: nanoseconds, where
// /proc/<pid>/stat counts clock ticks.
func tasksCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			if fields := strings.Fields(string(b)); len(fields) > 0 {
				ns, _ := strconv.ParseInt(fields[0], 10, 64)
				total += time.Duration(ns)
			}
		}
	}
	return total
}

// descendants returns the live processes below pid, its children and
// theirs: a function's workers and anything they started.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], p)
	}
	out := slices.Clone(children[pid])
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
