package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// newFunction starts cfg's function with the shared compilation cache, and
// closes it at the end of the test.
func newFunction(t testing.TB, cfg Config) *Function {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = cacheDir
	}
	f, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return f
}

// newEvent returns an event of one record per data, with ids r0, r1, …
func newEvent(data ...string) *transform.Event {
	ev := &transform.Event{
		InvocationID:      "00000000-0000-0000-0000-000000000001",
		DeliveryStreamArn: "arn:aws:firehose:eu-west-1:123456789012:deliverystream/test",
		Region:            "eu-west-1",
	}
	for i, d := range data {
		ev.Records = append(ev.Records, transform.Record{RecordID: fmt.Sprintf("r%d", i), ApproximateArrivalTimestamp: 1700000000000 + int64(i), Data: []byte(d)})
	}
	return ev
}

// invoke runs ev through f within timeout and decodes the answer.
func invoke(f transform.Function, ev *transform.Event, timeout time.Duration) ([]transform.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	answer, err := f.Invoke(ctx, transform.AppendEvent(nil, ev))
	if err != nil {
		return nil, err
	}
	return transform.Decode(answer, ev)
}

// checkCode checks that err is a *transform.Error with code and a message
// holding each of parts.
func checkCode(t *testing.T, what string, err error, code string, parts ...string) {
	t.Helper()
	var e *transform.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: error = %v; want a *transform.Error with code %s", what, err, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("%s: error message %q does not mention %q", what, e.Message, p)
		}
	}
}

// checkServes checks that f still answers a plain batch, as noop does.
func checkServes(t *testing.T, f *Function) {
	t.Helper()
	ev := newEvent("still", "serving")
	res, err := invoke(f, ev, 10*time.Second)
	if err != nil {
		t.Fatalf("after the failure, Invoke = %v; want the pool to serve", err)
	}
	for i, r := range res {
		if r.Result != transform.ResultOk || !bytes.Equal(r.Data, ev.Records[i].Data) {
			t.Fatalf("after the failure, record %d = %+v; want Ok and unchanged", i, r)
		}
	}
}

func TestNoop(t *testing.T) {
	f := newFunction(t, Config{Module: examplePath("noop"), Instances: 2})
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000<<10/16) // Firehose's largest record
	for _, data := range [][]string{
		{"one"},
		{"", "a", "ab", "abc", string(all), `{"json":"\"quoted\""}`, "é\u2028\xff"},
		{string(big), "small", string(big)},
		strings.Split(strings.Repeat("record,", 500), ","),
	} {
		ev := newEvent(data...)
		res, err := invoke(f, ev, 10*time.Second)
		if err != nil {
			t.Fatalf("Invoke(%d records) = %v", len(data), err)
		}
		for i, r := range res {
			want := ev.Records[i]
			if r.RecordID != want.RecordID || r.Result != transform.ResultOk || !bytes.Equal(r.Data, want.Data) || r.Metadata != nil {
				t.Fatalf("record %d = %+v; want Ok with the data unchanged (%d bytes)", i, r, len(want.Data))
			}
		}
	}
}

func TestRewrite(t *testing.T) {
	f := newFunction(t, Config{Module: examplePath("rewrite"), Instances: 1})
	ev := newEvent(
		`{"customer_id":"c-7","name":"alice","msg":"hi","n":1.50}`,
		`{"name":"bob"}`,
		`not json`,
		`{"name":42,"customer_id":9}`,
	)
	res, err := invoke(f, ev, 10*time.Second)
	if err != nil {
		t.Fatalf("Invoke = %v", err)
	}
	want := []struct {
		result string
		data   map[string]any
		keys   map[string]string
	}{
		{transform.ResultOk, map[string]any{"customer_id": "c-7", "name": "ALICE", "message": "hi", "n": 1.5, "transformed": true}, map[string]string{"customer": "c-7"}},
		{transform.ResultOk, map[string]any{"name": "BOB", "transformed": true}, nil},
		{transform.ResultProcessingFailed, nil, nil},
		{transform.ResultOk, map[string]any{"name": 42.0, "customer_id": 9.0, "transformed": true}, nil},
	}
	for i, r := range res {
		w := want[i]
		if r.Result != w.result {
			t.Fatalf("record %d: result %s; want %s", i, r.Result, w.result)
		}
		if w.data == nil {
			if !bytes.Equal(r.Data, ev.Records[i].Data) {
				t.Errorf("record %d: data %q; want it unchanged", i, r.Data)
			}
			continue
		}
		var got map[string]any
		if err := json.Unmarshal(r.Data, &got); err != nil || !bytes.HasSuffix(r.Data, []byte("\n")) {
			t.Fatalf("record %d: data %q is not a JSON line: %v", i, r.Data, err)
		}
		if !reflect.DeepEqual(got, w.data) {
			t.Errorf("record %d: data %v; want %v", i, got, w.data)
		}
		var keys map[string]string
		if r.Metadata != nil {
			keys = r.Metadata.PartitionKeys
		}
		if !reflect.DeepEqual(keys, w.keys) {
			t.Errorf("record %d: partition keys %v; want %v", i, keys, w.keys)
		}
	}
}

// TestNativeTwins checks that the native twins of the benchmarks answer
// what the example modules answer.
func TestNativeTwins(t *testing.T) {
	ev := jsonEvent(50, 300)
	ev.Records[3].Data = []byte("not json")
	for _, c := range []struct {
		example string
		native  transform.Handler
	}{{"noop", nativeNoop}, {"rewrite", nativeRewrite}} {
		got, err := invoke(newFunction(t, Config{Module: examplePath(c.example), Instances: 1}), ev, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want, err := invoke(transform.Native(c.native), ev, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the module answers %+v; its native twin %+v", c.example, got, want)
		}
	}
}

// TestHostile runs the hostile examples: each failure is contained in a
// clear *transform.Error, and the function serves the next batch.
func TestHostile(t *testing.T) {
	for _, c := range []struct {
		module  string
		cfg     Config
		data    []string
		timeout time.Duration
		code    string // of Invoke, or of Decode when the invocation succeeds
		parts   []string
		within  time.Duration // the failure comes this soon, if set
	}{
		{module: "loop", data: []string{"a", "loop", "c"}, timeout: 300 * time.Millisecond,
			code: transform.CodeTimedOut, parts: []string{"timeout", "stopped"}, within: 3 * time.Second},
		{module: "membomb", cfg: Config{MemoryLimitMB: 32}, data: []string{"a", "bomb"}, timeout: 20 * time.Second,
			code: transform.CodeFunctionError, parts: []string{"out of memory", "32 MiB"}},
		{module: "trap", data: []string{"a", "boom", "c"}, timeout: 10 * time.Second,
			code: transform.CodeFunctionError, parts: []string{"trapped", "panic: boom at record r1"}},
		{module: "trap", data: []string{"a", "fail"}, timeout: 10 * time.Second,
			code: transform.CodeFunctionError, parts: []string{"cannot transform record r1"}},
		{module: "crash", data: []string{"a", "exit"}, timeout: 10 * time.Second,
			code: transform.CodeFunctionError, parts: []string{"exited with status 3"}},
		{module: "garbage", data: []string{"a"}, timeout: 10 * time.Second,
			code: transform.CodeInvalidResponse},
		{module: "extra", data: []string{"a", "b"}, timeout: 10 * time.Second,
			code: transform.CodeUnknownRecordID, parts: []string{"extra-record"}},
	} {
		t.Run(c.module+"/"+c.code, func(t *testing.T) {
			c.cfg.Module, c.cfg.Instances = examplePath(c.module), 1
			f := newFunction(t, c.cfg)
			began := time.Now()
			_, err := invoke(f, newEvent(c.data...), c.timeout)
			took := time.Since(began)
			t.Logf("%s: %v", c.module, err)
			checkCode(t, c.module, err, c.code, c.parts...)
			if c.within > 0 && took > c.within {
				t.Errorf("%s: failed after %v; want within %v", c.module, took, c.within)
			}
			if c.module != "garbage" && c.module != "extra" {
				checkServes(t, f)
			}
		})
	}
}

// TestInstanceReuse checks that an instance serves one invocation after
// another, survives its handler's error, and is replaced after a panic.
func TestInstanceReuse(t *testing.T) {
	f := newFunction(t, Config{Module: examplePath("trap"), Instances: 1})
	calls := func() string {
		t.Helper()
		res, err := invoke(f, newEvent("calls"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return string(res[0].Data)
	}
	// New ran no invocation; each call counts itself.
	for _, step := range []struct {
		data  string // a batch to run first, if set
		calls string
	}{
		{"", "1"},
		{"", "2"},
		{"fail", "4"}, // the handler's error keeps the instance
		{"boom", "1"}, // a panic replaces it
		{"", "2"},
	} {
		if step.data != "" {
			if _, err := invoke(f, newEvent(step.data), 10*time.Second); err == nil {
				t.Fatalf("Invoke(%q) succeeded; want an error", step.data)
			}
		}
		if got := calls(); got != step.calls {
			t.Fatalf("after %q, the instance counts %s calls; want %s", step.data, got, step.calls)
		}
	}
	// An invocation out of time before it starts spoils no instance.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Invoke(ctx, transform.AppendEvent(nil, newEvent("calls")))
	checkCode(t, "cancelled", err, transform.CodeTimedOut, "before it started")
	if got := calls(); got != "3" {
		t.Fatalf("after a cancelled invocation, the instance counts %s calls; want 3", got)
	}
}

// TestFiles checks that a function sees only the directories granted,
// read-only or for scratch, and that the grants hold.
func TestFiles(t *testing.T) {
	secretDir, readDir, scratchDir, outside := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte("TOP-SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(readDir, "public"), []byte("public"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := func(read, write string) string {
		b, _ := json.Marshal(map[string]string{"read": read, "write": write})
		return string(b)
	}
	none := newFunction(t, Config{Module: examplePath("readfile"), Instances: 1})
	granted := newFunction(t, Config{Module: examplePath("readfile"), Instances: 1, ReadOnlyDirs: []string{readDir}, ScratchDir: scratchDir})
	for _, c := range []struct {
		name   string
		f      *Function
		data   string
		result string
		out    string // in the answer's data
	}{
		{"default probe", none, "not json: probe /etc/shadow", transform.ResultProcessingFailed, "/etc/shadow"},
		{"no grant", none, probe(secret, ""), transform.ResultProcessingFailed, secret},
		{"write without grant", none, probe("", filepath.Join(outside, "escape")), transform.ResultProcessingFailed, "escape"},
		{"read granted", granted, probe(filepath.Join(readDir, "public"), ""), transform.ResultOk, "public"},
		{"read beside the grants", granted, probe(secret, ""), transform.ResultProcessingFailed, secret},
		{"read out of a grant", granted, probe(filepath.Join(readDir, "..", filepath.Base(secretDir), "secret"), ""), transform.ResultProcessingFailed, "secret"},
		{"write read-only", granted, probe("", filepath.Join(readDir, "new")), transform.ResultProcessingFailed, "new"},
		{"write scratch", granted, probe("", filepath.Join(scratchDir, "new")), transform.ResultOk, ""},
		{"write out of scratch", granted, probe("", filepath.Join(scratchDir, "..", filepath.Base(outside), "escape")), transform.ResultProcessingFailed, "escape"},
		{"write beside the grants", granted, probe("", filepath.Join(outside, "escape")), transform.ResultProcessingFailed, "escape"},
	} {
		res, err := invoke(c.f, newEvent(c.data), 10*time.Second)
		if err != nil {
			t.Fatalf("%s: Invoke = %v", c.name, err)
		}
		t.Logf("%s: %s %q", c.name, res[0].Result, res[0].Data)
		if r := res[0]; r.Result != c.result || !strings.Contains(string(r.Data), c.out) || strings.Contains(string(r.Data), "TOP-SECRET") {
			t.Errorf("%s: probe %s = %s %q; want %s mentioning %q", c.name, c.data, r.Result, r.Data, c.result, c.out)
		}
	}
	for _, path := range []string{filepath.Join(outside, "escape"), filepath.Join(readDir, "new"), "/tmp/hydrant-wasm-escape"} {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("the function wrote %s, outside its grants", path)
		}
	}
	if b, err := os.ReadFile(filepath.Join(scratchDir, "new")); err != nil || !strings.Contains(string(b), "readfile") {
		t.Errorf("the scratch file holds %q, %v; want what the function wrote", b, err)
	}
}

// TestConcurrent runs many invocations at once over few instances, some
// of them failing, under -race.
func TestConcurrent(t *testing.T) {
	f := newFunction(t, Config{Module: examplePath("trap"), Instances: 3})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				data := []string{fmt.Sprintf("g%d-i%d-a", g, i), fmt.Sprintf("g%d-i%d-b", g, i)}
				fail := (g+i)%5 == 0
				if fail {
					data[1] = "boom"
				}
				ev := newEvent(data...)
				res, err := invoke(f, ev, 30*time.Second)
				switch {
				case fail && err == nil:
					t.Errorf("Invoke(%q) succeeded; want a panic", data)
				case fail:
					checkCode(t, "boom", err, transform.CodeFunctionError)
				case err != nil:
					t.Errorf("Invoke(%q) = %v", data, err)
				default:
					for j, r := range res {
						if string(r.Data) != data[j] {
							t.Errorf("Invoke(%q): record %d = %q; want it unchanged", data, j, r.Data)
						}
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestBusy checks that an invocation waiting for an instance gives up at
// its timeout.
func TestBusy(t *testing.T) {
	f := newFunction(t, Config{Module: examplePath("loop"), Instances: 1})
	done := make(chan error, 1)
	go func() {
		_, err := invoke(f, newEvent("loop"), time.Second)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let it take the instance
	_, err := invoke(f, newEvent("a"), 200*time.Millisecond)
	checkCode(t, "waiting", err, transform.CodeTimedOut, "busy")
	checkCode(t, "loop", <-done, transform.CodeTimedOut)
	checkServes(t, f)
}

// TestClose checks that Close stops an invocation in flight, and that
// Invoke fails after it.
func TestClose(t *testing.T) {
	f, err := New(context.Background(), Config{Module: examplePath("loop"), Instances: 1, CacheDir: cacheDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := invoke(f, newEvent("loop"), time.Minute)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	began := time.Now()
	if err := f.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Close took %v with a runaway invocation", took)
	}
	checkCode(t, "in flight", <-done, transform.CodeUnavailable, "closed")
	_, err = invoke(f, newEvent("a"), time.Second)
	checkCode(t, "after Close", err, transform.CodeUnavailable, "closed")
	if err := f.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// TestABI runs hand-made modules that break the ABI, or trap in ways a Go
// guest does not.
func TestABI(t *testing.T) {
	alloc := i32Const(1024)
	for _, c := range []struct {
		name  string
		mod   module
		code  string
		parts []string
		kept  bool // the instance survives
	}{
		{"answer", abiModule(alloc, i64Const(answer(0, 14, false)), `{"records":[]}`), "", nil, true},
		{"error", abiModule(alloc, i64Const(answer(0, 4, true)), "oops"), transform.CodeFunctionError, []string{"oops"}, true},
		{"too large", abiModule(alloc, i64Const(answer(0, transform.MaxResponseBytes+1, false)), ""), transform.CodeResponseTooLarge, nil, false},
		{"answer outside memory", abiModule(alloc, i64Const(answer(65000, 1000, false)), ""), transform.CodeFunctionError, []string{"outside"}, false},
		{"alloc outside memory", abiModule(i32Const(65530), i64Const(0), ""), transform.CodeFunctionError, []string{"hydrant_alloc returned"}, false},
		{"unreachable", abiModule(alloc, []byte{opUnreachable}, ""), transform.CodeFunctionError, []string{"trapped in hydrant_transform", "unreachable"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFunction(t, Config{Module: writeModule(t, c.mod), Instances: 1, CacheDir: t.TempDir()})
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := f.Invoke(ctx, []byte(`{"records":[]}`))
				cancel()
				if c.code == "" {
					if err != nil {
						t.Fatalf("Invoke = %v", err)
					}
				} else {
					checkCode(t, c.name, err, c.code, c.parts...)
				}
			}
			f.mu.RLock()
			defer f.mu.RUnlock()
			inst := <-f.pool
			if (inst != nil) != c.kept {
				t.Errorf("after the invocations, the pool holds %v; want an instance kept: %v", inst, c.kept)
			}
			f.pool <- inst
		})
	}
}

func TestNewRejects(t *testing.T) {
	good := abiModule(i32Const(0), i64Const(0), "")
	noTransform := good
	noTransform.funcs = good.funcs[:1]
	badSignature := good
	badSignature.funcs = []modFunc{good.funcs[0], {export: exportTransform, params: []valType{i32}, results: []valType{i32}, body: i32Const(0)}}
	noMemory := good
	noMemory.memory = false
	imports := good
	imports.imports = []string{"env.steal"}
	initTraps := good
	initTraps.funcs = append([]modFunc{{export: exportInitialize, body: []byte{opUnreachable}}}, good.funcs...)
	for _, c := range []struct {
		name string
		mod  module
		want string
	}{
		{"no transform", noTransform, "does not export the function hydrant_transform"},
		{"bad signature", badSignature, "has the signature (i32) -> (i32), not (i32, i32) -> (i64)"},
		{"no memory", noMemory, `does not export its memory as "memory"`},
		{"foreign import", imports, "imports env.steal"},
		{"init traps", initTraps, "cannot start the module"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(context.Background(), Config{Module: writeModule(t, c.mod)}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New = %v; want an error saying %q", err, c.want)
			}
		})
	}
	garbage := filepath.Join(t.TempDir(), "garbage.wasm")
	if err := os.WriteFile(garbage, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Config{Module: garbage}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "cannot compile") {
		t.Errorf("New(not wasm) = %v; want cannot compile", err)
	}
	if _, err := New(context.Background(), Config{Module: examplePath("noop"), MemoryLimitMB: 1, CacheDir: cacheDir}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "more memory than the limit of 1 MiB") {
		t.Errorf("New(1 MiB) = %v; want an error naming the memory limit", err)
	}
}

// TestCache checks that New stores the compiled module in the cache
// directory and that a second New, as after a restart, loads it.
func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made-by-new")
	mod := writeModule(t, abiModule(i32Const(0), i64Const(answer(0, 14, false)), `{"records":[]}`))
	for i := range 2 {
		f := newFunction(t, Config{Module: mod, CacheDir: dir})
		if _, err := f.Invoke(context.Background(), []byte("{}")); err != nil {
			t.Fatalf("New #%d: Invoke = %v", i+1, err)
		}
		var files int
		filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files++
			}
			return nil
		})
		if files == 0 {
			t.Fatalf("after New #%d, the cache directory has no file", i+1)
		}
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(mod, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{Module: mod}, ""},
		{Config{Module: mod, MemoryLimitMB: 4096, Instances: 1024, ReadOnlyDirs: []string{dir, "/"}, ScratchDir: t.TempDir()}, ""},
		{Config{}, "the module is not set"},
		{Config{Module: filepath.Join(dir, "missing.wasm")}, "cannot read the module"},
		{Config{Module: dir}, "is a directory"},
		{Config{Module: mod, MemoryLimitMB: -1}, "use 1 to 4096"},
		{Config{Module: mod, MemoryLimitMB: 4097}, "use 1 to 4096"},
		{Config{Module: mod, Instances: -2}, "use 1 to 1024"},
		{Config{Module: mod, ReadOnlyDirs: []string{"relative"}}, "not an absolute path"},
		{Config{Module: mod, ReadOnlyDirs: []string{filepath.Join(dir, "nope")}}, "cannot grant the read-only directory"},
		{Config{Module: mod, ReadOnlyDirs: []string{mod}}, "is not a directory"},
		{Config{Module: mod, ReadOnlyDirs: []string{dir}, ScratchDir: dir + "/"}, "granted twice"},
	} {
		// Validate checks without the file system, New with it.
		err := c.cfg.Validate()
		if err == nil {
			err = c.cfg.checkFiles()
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate+checkFiles(%+v) = %v; want nil", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Validate+checkFiles(%+v) = %v; want an error saying %q", c.cfg, err, c.want)
		}
	}
}

func writeModule(t *testing.T, m module) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "module.wasm")
	if err := os.WriteFile(path, m.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExamplesStart compiles and starts every example, two at a time;
// `make transform-examples` runs it without -race to fill the cache.
func TestExamplesStart(t *testing.T) {
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			newFunction(t, Config{Module: examplePath(name), Instances: 1})
		})
	}
}
