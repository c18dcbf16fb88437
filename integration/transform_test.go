package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
		filepath.Join(root, "transform", "*.go"), filepath.Join(root, "transform", "wasm", "guest", "*.go"))
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
