package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// Transformation functions, end to end: one real `hydrant serve` runs a
// function of every runtime (a Go module compiled to WebAssembly, an
// unmodified Python and Node.js Lambda handler in the process sandbox, an
// HTTP function server) over thousands of records put with the AWS SDK,
// and hostile functions (infinite loops, memory and fork bombs, escapes,
// garbage answers, crashes) beside them; the tests count every record in
// the objects and the error output.

// Error codes of transformation failures, as the error output holds them.
const (
	codeProcessingFailed = "Lambda.ProcessingFailed"
	codeFunctionError    = "Lambda.FunctionError"
	codeTimedOut         = "Lambda.FunctionTimedOut"
	codeBadJSON          = "Lambda.JsonProcessingException"
	codeUnknownID        = "Lambda.UnknownRecordId"
)

// wasmExamples are the modules of transform/examples the tests run.
var wasmExamples = []string{"rewrite", "loop", "membomb", "crash", "readfile"}

// forkPidsLimit is pids_limit of the fork bomb's worker.
const forkPidsLimit = 32

// Markers the hostile Python handlers put in the command line of the
// processes they leave behind, before the run's mark (hostile.py).
const (
	markLoopChild = "86401."
	markForkChild = "86402."
)

// fnEnv is what the functions of the test's config need.
type fnEnv struct {
	mark    string            // digits unique to the run, in the workers' env as HYDRANT_TEST_MARK
	modules map[string]string // example name → .wasm path
	cache   string            // the wasm compilation cache
	pyDir   string            // integration/testdata/transform/python
	nodeDir string
	fnURL   string // the HTTP function server
	trap    *tcpTrap
	// For the file system probes: granted read-only, granted read-write,
	// and a sibling of both that is not granted.
	roDir, scratch, outside string
}

// fnStream is a stream of the test's config; its bucket has its name.
type fnStream struct {
	name, fn  string
	arn       string // the Lambda ARN the stream names fn by; "" for the config's
	retries   int
	partition string // the function's partition key the prefix uses; "" for none
	delimit   bool   // append_delimiter
	reports   bool   // the function answers records with reports the test reads
}

func (s fnStream) yaml() string {
	prefix, dp := "data/", ""
	if s.partition != "" {
		prefix = "data/" + s.partition + "=!{partitionKeyFromLambda:" + s.partition + "}/"
		dp = ", dynamic_partitioning: {enabled: true}"
	}
	var proc []string
	if s.fn != "" {
		proc = append(proc, fmt.Sprintf("function: {name: %s, number_of_retries: %d}", s.fn, s.retries))
	}
	if s.delimit {
		proc = append(proc, "append_delimiter: true")
	}
	return fmt.Sprintf("  - name: %s\n    destination: {bucket: %s, prefix: %q, error_output_prefix: \"errors/!{firehose:error-output-type}/\", "+
		"buffering: {size_mb: 1, interval_seconds: 1}, processing: {%s}%s}\n", s.name, s.name, prefix, strings.Join(proc, ", "), dp)
}

// hostileFn is a function that is harmless until a record holds its trigger,
// and the stream "h-<fn>" that runs it.
type hostileFn struct {
	fn      string
	retries int
	word    string // the trigger; for the HTTP function, a member of the record's JSON
	code    string // the error code of the invocation the trigger fails
	http    bool
}

var hostileFns = []hostileFn{
	{fn: "wasm-loop", retries: 1, word: "loop", code: codeTimedOut},
	{fn: "wasm-membomb", word: "bomb", code: codeFunctionError},
	{fn: "wasm-crash", word: "exit", code: codeFunctionError},
	{fn: "py-loop", retries: 1, word: "loop", code: codeTimedOut},
	{fn: "py-membomb", word: "bomb", code: codeFunctionError},
	{fn: "py-garbage", word: "garbage", code: codeBadJSON},
	{fn: "py-extra", word: "extra", code: codeUnknownID},
	{fn: "py-crash", word: "crash", code: codeFunctionError},
	{fn: "http-fail", word: `"fail":true`, code: codeFunctionError, http: true},
	{fn: "http-slow", word: `"sleep_ms":60000`, code: codeTimedOut, http: true},
}

func (e *fnEnv) config(streams []fnStream) string {
	var b strings.Builder
	b.WriteString("functions:\n")
	wasm := func(name, module, timeout, extra string) {
		fmt.Fprintf(&b, "  - {name: %s, runtime: wasm, timeout: %s, wasm: {module: %q, cache_dir: %q%s}}\n", name, timeout, e.modules[module], e.cache, extra)
	}
	proc := func(name, lang, handler, timeout, extra string) {
		dir := e.pyDir
		if lang == "node" {
			dir = e.nodeDir
		}
		fmt.Fprintf(&b, "  - {name: %s, runtime: process, timeout: %s, process: {language: %s, handler: %s, code_dir: %q, env: {HYDRANT_TEST_MARK: %q}%s}}\n",
			name, timeout, lang, handler, dir, e.mark, extra)
	}
	httpFn := func(name, timeout string) {
		fmt.Fprintf(&b, "  - {name: %s, runtime: http, timeout: %s, http: {url: %q}}\n", name, timeout, e.fnURL)
	}
	// The good functions' timeouts leave room for a slow machine: the
	// hostile loops keep two CPUs busy for seconds.
	wasm("wasm-rewrite", "rewrite", "30s", "")
	proc("py-rewrite", "python", "index.lambda_handler", "30s", "")
	proc("node-rewrite", "node", "index.handler", "30s", "")
	httpFn("http-fn", "30s")

	wasm("wasm-loop", "loop", "3s", "")
	wasm("wasm-membomb", "membomb", "30s", ", memory_limit_mb: 16")
	wasm("wasm-crash", "crash", "10s", "")
	wasm("wasm-fs", "readfile", "10s", fmt.Sprintf(", read_only_dirs: [%q], scratch_dir: %q", e.roDir, e.scratch))
	// The sandbox is what these tests check: a host that cannot apply it
	// fails them (the server refuses to start) rather than running a fork
	// bomb unconfined.
	isolated := ", require_isolation: true"
	proc("py-loop", "python", "hostile.loop", "3s", isolated)
	proc("py-membomb", "python", "hostile.memory_bomb", "10s", ", memory_limit_mb: 64"+isolated)
	proc("py-forkbomb", "python", "hostile.fork_bomb", "10s", fmt.Sprintf(", pids_limit: %d%s", forkPidsLimit, isolated))
	proc("py-garbage", "python", "hostile.garbage", "10s", "")
	proc("py-extra", "python", "hostile.extra", "10s", "")
	proc("py-crash", "python", "hostile.crash", "10s", "")
	proc("py-probe", "python", "hostile.probe", "10s", isolated)
	proc("node-probe", "node", "hostile.probe", "10s", isolated)
	httpFn("http-fail", "10s")
	httpFn("http-slow", "2s")

	b.WriteString("streams:\n")
	for _, s := range streams {
		b.WriteString(s.yaml())
	}
	return b.String()
}

// TestTransformFunctions runs every runtime and every hostile function in
// one server, at once, and checks record by record what each delivered:
// see the comments of the phases below.
func TestTransformFunctions(t *testing.T) {
	needServer(t)
	began := time.Now()
	env := newFnEnv(t)
	plain := fnStream{name: "plain"}
	runtimes := []fnStream{
		{name: "rt-wasm", fn: "wasm-rewrite", retries: 1, partition: "customer"},
		{name: "rt-python", fn: "py-rewrite", retries: 1},
		{name: "rt-node", fn: "node-rewrite", retries: 1},
		{name: "rt-http", fn: "http-fn", retries: 1, partition: "type", delimit: true},
	}
	streams := append([]fnStream{plain}, runtimes...)
	for _, h := range hostileFns {
		streams = append(streams, fnStream{name: "h-" + h.fn, fn: h.fn, retries: h.retries, delimit: h.http})
	}
	specials := []fnStream{{name: "h-py-forkbomb", fn: "py-forkbomb", reports: true}, {name: "h-py-probe", fn: "py-probe", reports: true},
		{name: "h-node-probe", fn: "node-probe", reports: true}, {name: "h-wasm-fs", fn: "wasm-fs"}}
	streams = append(streams, specials...)
	srv := startServer(t, env.config(streams))
	t.Logf("server with %d streams ready %v after the test began", len(streams), time.Since(began).Round(time.Millisecond))
	c := newClient(srv.Endpoint())
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = s.name
	}

	// Phase 1: 2,000 records into each runtime's stream, the hostile
	// functions' first rounds (each with one record that sets it off),
	// and the probes, all at once; a watcher keeps putting into the plain
	// stream, asking /healthz and sampling every stream's data freshness.
	start := time.Now()
	w := startFnWatch(t, srv, c, names, env.mark)
	want := map[string]map[string]fate{}
	put := func(stream string, recs []string) {
		putAll(t, c, stream, recs, 500, 2, newLedger())
	}
	rtRecs := map[string][]string{}
	rtRecs["rt-wasm"], want["rt-wasm"] = rewriteRecords("rt", 2000)
	rtRecs["rt-python"], want["rt-python"] = lambdaRecords(2000, "py-rewrite", "python")
	rtRecs["rt-node"], want["rt-node"] = lambdaRecords(2000, "node-rewrite", "node")
	rtRecs["rt-http"], want["rt-http"] = httpRecords(2000)
	for _, s := range runtimes {
		put(s.name, rtRecs[s.name])
	}
	round2 := map[string][]string{}
	for i, h := range hostileFns {
		var r1 []string
		r1, round2["h-"+h.fn], want["h-"+h.fn] = h.records(i)
		put("h-"+h.fn, r1)
	}
	forkR1, forkR2, forkWant := forkRecords()
	want["h-py-forkbomb"], round2["h-py-forkbomb"] = forkWant, forkR2
	put("h-py-forkbomb", forkR1)
	pyProbes, nodeProbes := env.probes("python"), env.probes("node")
	put("h-py-probe", probeRecords(pyProbes))
	put("h-node-probe", probeRecords(nodeProbes))
	fsRecs, fsWant, fsMustExist, fsMustNotExist := env.fsProbes(t)
	want["h-wasm-fs"] = fsWant
	put("h-wasm-fs", fsRecs)
	t.Logf("phase 1: %d streams fed in %v", len(streams)-1, time.Since(start).Round(time.Millisecond))

	// Phase 2: once each hostile stream has dealt with its first round,
	// a second round of harmless records, which its function (a fresh
	// instance or worker where the old one was killed) must transform.
	for _, s := range streams[1+len(runtimes):] {
		srv.WaitBacklogZero(s.name, 90*time.Second)
	}
	loopChildGone := waitNoProcesses(markLoopChild+env.mark, 15*time.Second)
	for stream, recs := range round2 {
		put(stream, recs)
	}
	for _, s := range streams[1:] {
		srv.WaitBacklogZero(s.name, 90*time.Second)
	}
	w.stop()
	srv.WaitBacklogZero(plain.name, 30*time.Second)
	end := time.Now()
	t.Logf("phases 1 and 2 delivered in %v", end.Sub(start).Round(time.Millisecond))

	fc := fateCheck{dataDir: srv.dataDir, start: start, end: end, secrets: env.secrets(t)}
	for _, s := range streams[1:] {
		t.Run(s.name, func(t *testing.T) {
			reports := fc.check(t, s, want[s.name])
			switch s.name {
			case "rt-wasm", "rt-python", "rt-node", "rt-http":
				checkProcessedMetrics(t, srv, s.name, want[s.name])
			case "h-py-loop":
				if w.most(markLoopChild+env.mark) == 0 {
					t.Errorf("its child process was never seen; cannot tell whether the timeout killed it")
				}
				if !loopChildGone {
					t.Errorf("its child process (sleep %s%s) outlived the timed-out invocation by 15s", markLoopChild, env.mark)
				}
			case "h-wasm-fs":
				for _, p := range fsMustExist {
					if _, err := os.Stat(p); err != nil {
						t.Errorf("the write into its scratch dir did not land at %s: %v", p, err)
					}
				}
				for _, p := range fsMustNotExist {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("the host has %s (%v); only the scratch dir is writable", p, err)
					}
				}
			case "h-py-forkbomb":
				checkForkReport(t, reports, w.most(markForkChild+env.mark))
			case "h-py-probe":
				checkProbes(t, reports, pyProbes)
			case "h-node-probe":
				checkProbes(t, reports, nodeProbes)
			}
		})
	}
	t.Run("contained", func(t *testing.T) {
		if n := env.trap.n.Load(); n != 0 {
			t.Errorf("the test's listener on %s got %d connections from sandboxed functions; want none", env.trap.addr, n)
		}
		checkNoLeak(t, srv.dataDir, fc.secrets)
	})
	t.Run("bystanders", func(t *testing.T) { w.check(t, plain.name) })
	t.Run("api", func(t *testing.T) { testTransformAPI(t, srv, c) })
	t.Run("cli", func(t *testing.T) { testTransformCLI(t, srv.config) })

	// Last, the server stops cleanly, and takes every process of its
	// functions with it, the fork bomb's included.
	srv.Stop()
	if !waitNoProcesses(markForkChild+env.mark, 15*time.Second) {
		t.Errorf("py-forkbomb: its processes (sleep %s%s) outlived the server by 15s", markForkChild, env.mark)
	}
	if left := processesWith("environ", "HYDRANT_TEST_MARK="+env.mark); len(left) > 0 {
		t.Errorf("processes %v of the server's functions outlived it", left)
	}
	t.Logf("TestTransformFunctions took %v", time.Since(began).Round(time.Millisecond))
}

// newFnEnv prepares what the functions need: the example modules compiled
// into a cache, the HTTP function server, the listener the sandboxed
// functions must not reach, and the directories the wasm probes use.
func newFnEnv(t *testing.T) *fnEnv {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Fatalf("the process runtime's Python handlers need /usr/bin/python3: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("the process runtime's Node.js handlers need node in PATH: %v", err)
	}
	e := &fnEnv{
		mark:    strconv.FormatInt(time.Now().UnixNano(), 10),
		cache:   filepath.Join(t.TempDir(), "wasm-cache"),
		pyDir:   filepath.Join(root, "integration", "testdata", "transform", "python"),
		nodeDir: filepath.Join(root, "integration", "testdata", "transform", "node"),
		trap:    trapConnections(t),
	}
	e.modules = exampleModules(t, root)
	warmWasmCache(t, e.cache, e.modules)
	e.fnURL = startFnServer(t)

	dir := t.TempDir()
	e.roDir, e.scratch, e.outside = filepath.Join(dir, "ro"), filepath.Join(dir, "scratch"), filepath.Join(dir, "outside")
	for _, d := range []string{e.roDir, e.scratch, e.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// exampleModules copies the wasm examples as `make transform-examples`
// built them into a directory of the test's, so that a rebuild while the
// test runs cannot change them under it. It fails the test if one is
// missing or older than a source it is built from.
func exampleModules(t *testing.T, root string) map[string]string {
	t.Helper()
	shared := newestFile(t, filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum"),
		filepath.Join(root, "transform", "*.go"), filepath.Join(root, "transform", "wasm", "guest", "*.go"),
		filepath.Join(root, "transform", "examples", "handlers", "*.go"))
	dir := t.TempDir()
	modules := map[string]string{}
	for _, name := range wasmExamples {
		built := filepath.Join(root, "transform", "examples", "bin", name+".wasm")
		fi, err := os.Stat(built)
		if err != nil {
			t.Fatalf("the wasm example %s is not built (%v): run `make transform-examples`", name, err)
		}
		if src := newestFile(t, filepath.Join(root, "transform", "examples", name, "*.go")); fi.ModTime().Before(src) || fi.ModTime().Before(shared) {
			t.Fatalf("%s is older than its sources: run `make transform-examples`", built)
		}
		code, err := os.ReadFile(built)
		if err != nil {
			t.Fatal(err)
		}
		modules[name] = filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(modules[name], code, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return modules
}

// newestFile returns the latest modification time of the files, not tests,
// matching the patterns.
func newestFile(t *testing.T, patterns ...string) time.Time {
	t.Helper()
	var newest time.Time
	for _, p := range patterns {
		paths, _ := filepath.Glob(p)
		if len(paths) == 0 {
			t.Fatalf("no file matches %s", p)
		}
		for _, path := range paths {
			if fi, err := os.Stat(path); err == nil && !strings.HasSuffix(path, "_test.go") && fi.ModTime().After(newest) {
				newest = fi.ModTime()
			}
		}
	}
	return newest
}

// warmWasmCache compiles the modules into the compilation cache with a
// hydrant built without the race detector, two at a time. Under -race,
// wazero's compiler takes some 25 s of CPU per 3.5 MB Go module instead of
// 4; the machine code it caches does not depend on how hydrant was built
// (the cache is keyed by the module, wazero's version and the CPU), and
// the server under test, built with -race, loads it from there.
func warmWasmCache(t *testing.T, cacheDir string, modules map[string]string) {
	t.Helper()
	began := time.Now()
	bin := hydrantBin
	if raceEnabled {
		root, err := moduleRoot()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(t.TempDir(), "hydrant-norace")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/hydrant")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cannot build hydrant without -race (go build -o %s ./cmd/hydrant in %s): %v\n%s", bin, root, err, out)
		}
	}
	var cfg strings.Builder
	cfg.WriteString("functions:\n")
	for name, path := range modules {
		fmt.Fprintf(&cfg, "  - {name: %s, runtime: wasm, wasm: {module: %q, cache_dir: %q}}\n", name, path, cacheDir)
	}
	cfgFile := filepath.Join(t.TempDir(), "warm.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(modules))
	for name := range modules {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out, err := exec.Command(bin, "transform", "test", "--config", cfgFile, "--function", name, "--input", os.DevNull).CombinedOutput()
			if err != nil {
				errs <- fmt.Errorf("cannot compile the wasm example %s: %v\n%s", name, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d wasm examples compiled into the cache in %v", len(modules), time.Since(began).Round(time.Millisecond))
}

// startFnServer builds and starts transform/http/testdata/fnserver (without
// -race: it is the yardstick, not what is under test) and returns its URL.
func startFnServer(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fnserver")
	build := exec.Command("go", "build", "-o", bin, "./transform/http/testdata/fnserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build the HTTP function server (go build -o %s ./transform/http/testdata/fnserver in %s): %v\n%s", bin, root, err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("---- fnserver stderr ----\n%s", stderr)
		}
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(l)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-line:
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("fnserver printed %q; want its URL; stderr:\n%s", u, stderr)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("fnserver did not print its URL within 30s; stderr:\n%s", stderr)
	}
	return ""
}

// tcpTrap is a listener on 127.0.0.1 that counts the connections it gets.
type tcpTrap struct {
	addr string
	n    atomic.Int64
}

func trapConnections(t *testing.T) *tcpTrap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &tcpTrap{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tr.n.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return tr
}

// ---- the API and the CLI ----

// testTransformAPI creates a stream through the Firehose API whose Lambda
// processor names the config's wasm-rewrite by its ARN, and checks that it
// transforms; one naming a function the config does not declare is refused.
func testTransformAPI(t *testing.T, srv *server, c *firehose.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const arn = "arn:aws:lambda:us-east-1:123456789012:function:wasm-rewrite"
	create := func(name, arn string) error {
		_, err := c.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{
			DeliveryStreamName: aws.String(name),
			DeliveryStreamType: types.DeliveryStreamTypeDirectPut,
			ExtendedS3DestinationConfiguration: &types.ExtendedS3DestinationConfiguration{
				BucketARN:         aws.String("arn:aws:s3:::" + name),
				RoleARN:           aws.String("arn:aws:iam::123456789012:role/firehose-test"),
				Prefix:            aws.String("data/"),
				ErrorOutputPrefix: aws.String("errors/!{firehose:error-output-type}/"),
				BufferingHints:    &types.BufferingHints{SizeInMBs: aws.Int32(1), IntervalInSeconds: aws.Int32(1)},
				ProcessingConfiguration: &types.ProcessingConfiguration{
					Enabled: aws.Bool(true),
					Processors: []types.Processor{{
						Type: types.ProcessorTypeLambda,
						Parameters: []types.ProcessorParameter{
							{ParameterName: types.ProcessorParameterNameLambdaArn, ParameterValue: aws.String(arn)},
							{ParameterName: types.ProcessorParameterNameLambdaNumberOfRetries, ParameterValue: aws.String("2")},
							{ParameterName: types.ProcessorParameterNameBufferSizeInMb, ParameterValue: aws.String("1")},
							{ParameterName: types.ProcessorParameterNameBufferIntervalInSeconds, ParameterValue: aws.String("60")},
						},
					}},
				},
			},
		})
		return err
	}
	if err := create("api-rewrite", arn); err != nil {
		t.Fatalf("CreateDeliveryStream with a Lambda processor naming wasm-rewrite: %v", err)
	}
	waitStatus(t, c, "api-rewrite", types.DeliveryStreamStatusActive, 30*time.Second)
	var params map[types.ProcessorParameterName]string
	if d := describe(t, c, "api-rewrite"); len(d.Destinations) == 1 && d.Destinations[0].ExtendedS3DestinationDescription != nil {
		ext := d.Destinations[0].ExtendedS3DestinationDescription
		if ext.ProcessingConfiguration == nil || len(ext.ProcessingConfiguration.Processors) != 1 {
			t.Fatalf("DescribeDeliveryStream reports the processing configuration %+v; want one Lambda processor", ext.ProcessingConfiguration)
		}
		p := ext.ProcessingConfiguration.Processors[0]
		params = map[types.ProcessorParameterName]string{"Type": string(p.Type)}
		for _, prm := range p.Parameters {
			params[prm.ParameterName] = aws.ToString(prm.ParameterValue)
		}
	}
	if params["Type"] != "Lambda" || params[types.ProcessorParameterNameLambdaArn] != arn || params[types.ProcessorParameterNameLambdaNumberOfRetries] != "2" {
		t.Errorf("DescribeDeliveryStream reports the processor %v; want Lambda %s with 2 retries", params, arn)
	}

	start := time.Now()
	recs, want := rewriteRecords("api", 300)
	putAll(t, c, "api-rewrite", recs, 100, 1, newLedger())
	srv.WaitBacklogZero("api-rewrite", 60*time.Second)
	// The error records name the function by the ARN the stream was
	// created with.
	fc := fateCheck{dataDir: srv.dataDir, start: start, end: time.Now()}
	fc.check(t, fnStream{name: "api-rewrite", fn: "wasm-rewrite", arn: arn, retries: 2}, stripParts(want))

	err := create("api-undeclared", "arn:aws:lambda:us-east-1:123456789012:function:no-such-function")
	wantCode(t, "CreateDeliveryStream naming an undeclared function", err, "InvalidArgumentException")
	if err != nil && !strings.Contains(err.Error(), "no-such-function") {
		t.Errorf("CreateDeliveryStream naming an undeclared function: %v; want the message to name it", err)
	}
	_, err = c.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("api-undeclared")})
	wantCode(t, "DescribeDeliveryStream of the refused stream", err, "ResourceNotFoundException")
}

// stripParts returns want without partitions, for a stream that does not
// partition.
func stripParts(want map[string]fate) map[string]fate {
	out := maps.Clone(want)
	for k, f := range out {
		f.part = ""
		out[k] = f
	}
	return out
}

// testTransformCLI runs `hydrant transform test` over records of the
// rewrite example and checks each line against what it does; then over a
// record that sets off the loop, which must fail with the timeout's code.
func testTransformCLI(t *testing.T, config string) {
	recs, want := rewriteRecords("cli", 40)
	input := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(input, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runHydrant(t, "", "transform", "test", "--config", config, "--function", "wasm-rewrite", "--input", input)
	if r.code != 0 {
		t.Fatalf("hydrant transform test: %s", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("hydrant transform test printed %d lines for %d records:\n%s", len(lines), len(recs), r)
	}
	okN, failedN := 0, 0
	for i, line := range lines {
		var got struct {
			RecordID      string            `json:"recordId"`
			Result        string            `json:"result"`
			Data          *string           `json:"data"`
			PartitionKeys map[string]string `json:"partitionKeys"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Errorf("line %d: %v: %q", i+1, err, line)
			continue
		}
		f := want[recs[i]]
		wantLine := fmt.Sprintf(`recordId %q, ProcessingFailed, no data`, strconv.Itoa(i))
		ok := got.RecordID == strconv.Itoa(i) && got.Result == "ProcessingFailed" && got.Data == nil
		if f.out != "" {
			okN++
			wantLine = fmt.Sprintf(`recordId %q, Ok, %q, partition %s`, strconv.Itoa(i), f.out, f.part)
			ok = got.RecordID == strconv.Itoa(i) && got.Result == "Ok" && got.Data != nil && *got.Data == f.out &&
				len(got.PartitionKeys) == 1 && "customer="+got.PartitionKeys["customer"] == f.part
		} else {
			failedN++
		}
		if !ok {
			t.Errorf("line %d = %s; want %s", i+1, line, wantLine)
		}
	}
	summary := fmt.Sprintf("%d records in 1 invocations", len(recs))
	counts := fmt.Sprintf("%d Ok, 0 Dropped, %d ProcessingFailed", okN, failedN)
	if !strings.Contains(r.stderr, summary) || !strings.Contains(r.stderr, counts) {
		t.Errorf("hydrant transform test's summary = %q; want %q and %q", r.stderr, summary, counts)
	}

	r = runHydrant(t, "before\nloop\n", "transform", "test", "--config", config, "--function", "wasm-loop")
	if r.code == 0 || !strings.Contains(r.stderr, codeTimedOut) {
		t.Errorf("hydrant transform test over a record that sets off wasm-loop: %s; want a non-zero exit and %s", r, codeTimedOut)
	}
}
