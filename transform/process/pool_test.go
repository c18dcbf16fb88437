//go:build linux

package process

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

func TestConcurrentInvocations(t *testing.T) {
	cfg := python(t, "hostile.whoami")
	cfg.Workers = 3
	f, _ := start(t, cfg)
	var mu sync.Mutex
	workers := map[string]int{}
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			res, err := invoke(f, event(50, 100), 10*time.Second)
			if err != nil {
				t.Errorf("Invoke = %v", err)
				return
			}
			mu.Lock()
			workers[string(res[0].Data)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(workers) != 3 || f.gen.Load() != 3 {
		t.Errorf("invocations ran on workers %v, %d started; want the 3 workers started at New", workers, f.gen.Load())
	}
}

func TestBusy(t *testing.T) {
	f, _ := start(t, python(t, "hostile.loop"))
	done := make(chan error)
	go func() {
		_, err := invoke(f, event(1, 10), 2*time.Second)
		done <- err
	}()
	waitBusy(f)
	_, err := invoke(f, eventOf("ping"), 200*time.Millisecond)
	wantCode(t, err, transform.CodeUnavailable, `all 1 workers stayed busy`)
	wantCode(t, <-done, transform.CodeTimedOut, `did not answer`)
}

// waitBusy waits until every worker of f runs an invocation.
func waitBusy(f *Function) {
	for len(f.idle) > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and is in it
}

func TestClose(t *testing.T) {
	f, _ := start(t, python(t, "hostile.loop"))
	w := currentWorker(t, f)
	done := make(chan error)
	go func() {
		_, err := f.Invoke(context.Background(), transform.AppendEvent(nil, event(1, 10)))
		done <- err
	}()
	waitBusy(f)
	t0 := time.Now()
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("Close took %v with an invocation in flight", took)
	}
	wantCode(t, <-done, transform.CodeUnavailable, `is closed`)
	select {
	case <-w.exited:
	default:
		t.Error("the worker runs on after Close")
	}
	_, err := invoke(f, eventOf("ping"), time.Second)
	wantCode(t, err, transform.CodeUnavailable, `is closed`)
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCancel(t *testing.T) {
	f, _ := start(t, python(t, "hostile.loop"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		waitBusy(f)
		cancel()
	}()
	_, err := f.Invoke(ctx, transform.AppendEvent(nil, event(1, 10)))
	wantCode(t, err, transform.CodeTimedOut, `cancelled after`)
	serves(t, f)
}

func TestValidate(t *testing.T) {
	code := testdata(t, "python")
	for _, c := range []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{Runtime: RuntimePython, Handler: "index.lambda_handler", CodeDir: code}, ""},
		{Config{Runtime: RuntimeNode, Handler: "src/index.handler", CodeDir: code}, ""},
		{Config{Command: []string{"/bin/cat"}}, ""},
		{Config{Command: []string{"./transform"}, CodeDir: code, Workers: 64, MemoryLimitMB: 10240, PidsLimit: 16}, ""},
		{Config{}, "set Command (a raw executable) or Runtime"},
		{Config{Runtime: "ruby", Handler: "a.b", CodeDir: code}, `runtime "ruby" is unknown`},
		{Config{Runtime: RuntimePython, CodeDir: code}, "needs a Handler"},
		{Config{Runtime: RuntimePython, Handler: "index", CodeDir: code}, "is not module.function"},
		{Config{Runtime: RuntimePython, Handler: "../up.handler", CodeDir: code}, "is not module.function"},
		{Config{Runtime: RuntimePython, Handler: "index.handler"}, "needs a CodeDir"},
		{Config{Runtime: RuntimePython, Handler: "index.handler", CodeDir: "code"}, "is relative"},
		{Config{Runtime: RuntimePython, Handler: "index.handler", CodeDir: code, Command: []string{"/bin/cat"}}, "not both"},
		{Config{Command: []string{""}}, "command[0] is empty"},
		{Config{Command: []string{"./x"}}, "relative to CodeDir, which is not set"},
		{Config{Command: []string{"/bin/cat"}, Handler: "a.b"}, "needs a Runtime"},
		{Config{Command: []string{"/bin/cat"}, Workers: 65}, "Workers is 65: use 1 to 64 (0 means 1)"},
		{Config{Command: []string{"/bin/cat"}, Workers: -1}, "Workers is -1"},
		{Config{Command: []string{"/bin/cat"}, MemoryLimitMB: 16}, "MemoryLimitMB is 16: use 32 to 10240"},
		{Config{Command: []string{"/bin/cat"}, PidsLimit: 5000}, "PidsLimit is 5000"},
		{Config{Command: []string{"/bin/cat"}, ScratchMB: 20000}, "ScratchMB is 20000"},
		{Config{Command: []string{"/bin/cat"}, MaxOpenFiles: 10}, "MaxOpenFiles is 10"},
		{Config{Command: []string{"/bin/cat"}, StartTimeout: time.Millisecond}, "StartTimeout is 1ms"},
		{Config{Command: []string{"/bin/cat"}, ScratchDir: "tmp"}, "ScratchDir \"tmp\" is relative"},
		{Config{Runtime: RuntimePython, Handler: "a.b", CodeDir: code, PythonPath: "python3"}, "PythonPath \"python3\" is relative"},
		{Config{Command: []string{"/bin/cat"}, Env: map[string]string{"A-B": "x"}}, `env name "A-B" is not a variable name`},
		{Config{Command: []string{"/bin/cat"}, Env: map[string]string{"_HANDLER": "x"}}, "reserved"},
		{Config{Command: []string{"/bin/cat"}, Env: map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "x"}}, "reserved"},
		{Config{Command: []string{"/bin/cat"}, Env: map[string]string{"A": "x\x00"}}, "NUL"},
		{Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/"}}, "would show the whole host"},
		{Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/opt/../etc"}}, "not a clean absolute path"},
		{Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/proc/sys"}}, "overlaps the sandbox's own /proc"},
		{Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/var"}}, "overlaps the sandbox's own /var/task"},
		{Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/tmp/data"}}, ""},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Validate(%+v) = %v; want %q", c.cfg, err, c.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	code := testdata(t, "python")
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"../x", Config{Command: []string{"/bin/cat"}}, "is not [A-Za-z0-9_.-]"},
		{"ok", Config{Command: []string{"/no/such/program"}}, "no such file"},
		{"ok", Config{Command: []string{"no-such-program-in-path"}}, "cannot find command"},
		{"ok", Config{Command: []string{"./noop.py"}, CodeDir: code}, "not an executable file"},
		{"ok", Config{Runtime: RuntimePython, Handler: "a.b", CodeDir: "/no/such/dir"}, "CodeDir"},
		{"ok", Config{Runtime: RuntimePython, Handler: "a.b", CodeDir: code, PythonPath: "/no/python"}, "no such file"},
		{"ok", Config{Command: []string{"/bin/cat"}, ReadOnlyPaths: []string{"/no/such/path"}}, "ReadOnlyPaths"},
		{"ok", Config{Command: []string{"/bin/sh", "-c", "exit 1"}, StartTimeout: time.Second, Runtime: ""}, ""},
	} {
		f, _, err := New(context.Background(), c.name, c.cfg, nil)
		if c.want == "" {
			if err != nil {
				t.Errorf("New(%s, %+v) = %v", c.name, c.cfg, err)
			} else {
				f.Close()
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%s, %+v) = %v; want an error holding %q", c.name, c.cfg, err, c.want)
			if f != nil {
				f.Close()
			}
		}
	}
}

func TestStartTimeout(t *testing.T) {
	cfg := python(t, "noop.lambda_handler")
	cfg.Env = map[string]string{"PYTHONSTARTUP": ""}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, _, err := New(ctx, "slow", cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot start a worker: the sandbox did not start within") {
		t.Errorf("New with a 1 ms context = %v; want a start timeout", err)
	}

	// A worker started by an invocation counts against its timeout.
	f, _ := start(t, raw(t, "exit.sh"))
	if _, err := invoke(f, event(1, 10), 5*time.Second); err == nil {
		t.Fatal("exit.sh answered")
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	_, err = f.Invoke(ctx, transform.AppendEvent(nil, event(1, 10)))
	wantCode(t, err, transform.CodeTimedOut, "")
}
