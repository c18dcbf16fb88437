//go:build linux

package process

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// pidNamespace returns the PID namespace of host process pid.
func pidNamespace(t *testing.T, pid int) string {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		t.Fatalf("cannot read the PID namespace of worker %d: %v", pid, err)
	}
	return ns
}

// processesIn lists the host processes in PID namespace ns.
func processesIn(ns string) []string {
	var in []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if l, err := os.Readlink("/proc/" + e.Name() + "/ns/pid"); err == nil && l == ns {
			in = append(in, e.Name())
		}
	}
	return in
}

// wantGone waits for the retired workers' teardown and checks that no
// process is left in namespace ns.
func wantGone(t *testing.T, f *Function, ns string) {
	t.Helper()
	f.cleanups.Wait()
	if left := processesIn(ns); len(left) > 0 {
		t.Fatalf("processes %v are left in the worker's PID namespace", left)
	}
}

// serves checks that f still answers: hostile.py's handlers do no harm
// when the first record is "ping".
func serves(t *testing.T, f *Function) {
	t.Helper()
	ev := eventOf("ping", "pong")
	res, err := invoke(f, ev, 10*time.Second)
	if err != nil {
		t.Fatalf("the function does not serve after the attack: %v", err)
	}
	checkNoop(t, ev, res)
}

func TestTimeoutKillsEverything(t *testing.T) {
	f, _ := start(t, python(t, "hostile.loop"))
	w := currentWorker(t, f)
	ns := pidNamespace(t, w.pid)
	t0 := time.Now()
	_, err := invoke(f, event(1, 10), 500*time.Millisecond)
	wantCode(t, err, transform.CodeTimedOut, `did not answer within \d+ms`)
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("the timed-out invocation returned after %v; want about 500ms", took)
	}
	wantGone(t, f, ns)
	serves(t, f)
	if g := f.gen.Load(); g != 2 {
		t.Errorf("%d workers started; want 2", g)
	}
}

func TestMemoryBomb(t *testing.T) {
	cfg := python(t, "hostile.memory_bomb")
	cfg.MemoryLimitMB = 64
	f, _ := start(t, cfg)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := invoke(f, event(1, 10), 20*time.Second)
	wantCode(t, err, transform.CodeFunctionError, `was killed by signal 9 \(killed\): it ran out of memory, the limit being 64 MB`)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.Sys) - int64(before.Sys); grew > 32<<20 {
		t.Errorf("the host grew by %d bytes", grew)
	}
	serves(t, f)
}

func TestForkBomb(t *testing.T) {
	cfg := python(t, "hostile.fork_bomb")
	cfg.PidsLimit = 32
	f, _ := start(t, cfg)
	w := currentWorker(t, f)
	ns := pidNamespace(t, w.pid)
	for i := range 2 {
		res := mustInvoke(t, f, event(1, 10))
		var got struct{ Forked, Failed int }
		if err := json.Unmarshal(res[0].Data, &got); err != nil || res[0].Result != transform.ResultProcessingFailed {
			t.Fatalf("invocation %d = %s %q; want ProcessingFailed with the fork counts", i, res[0].Result, res[0].Data)
		}
		if got.Failed == 0 || got.Forked >= cfg.PidsLimit {
			t.Fatalf("invocation %d forked %d processes, failed %d times; want fork to fail below %d", i, got.Forked, got.Failed, cfg.PidsLimit)
		}
		if n := len(processesIn(ns)); n > cfg.PidsLimit {
			t.Fatalf("%d processes in the worker; want at most %d", n, cfg.PidsLimit)
		}
	}
	serves(t, f)
	cg := w.sys.cg
	if err := f.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wantGone(t, f, ns)
	for _, d := range cg.dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s is left after Close (%v)", d, err)
		}
	}
}

// probe runs a probing handler of hostile.py over args and returns, per
// arg, its result and data.
func probe(t *testing.T, cfg Config, args ...string) []transform.Result {
	t.Helper()
	f, _ := start(t, cfg)
	res := mustInvoke(t, f, eventOf(args...))
	for i, r := range res {
		t.Logf("%s(%s) = %s %s", cfg.Handler, args[i], r.Result, r.Data)
	}
	return res
}

func wantProbe(t *testing.T, r transform.Result, arg, result, pattern string) {
	t.Helper()
	if r.Result != result || !strings.Contains(string(r.Data), pattern) {
		t.Errorf("probe %s = %s %q; want %s holding %q", arg, r.Result, r.Data, result, pattern)
	}
}

func TestWriteOutsideScratch(t *testing.T) {
	hostDir := t.TempDir()
	code := testdata(t, "python")
	paths := []string{
		"/etc/hydrant-escape",
		"/usr/hydrant-escape",
		"/hydrant-escape",
		"/var/task/hydrant-escape", // the code dir
		filepath.Join(code, "hydrant-escape"),
		filepath.Join(hostDir, "escape"), // lands in the private /tmp
		"/tmp/scratch/ok",
		"/dev/hydrant-escape",
		"/proc/sys/kernel/hostname",
	}
	res := probe(t, python(t, "hostile.write_files"), paths...)
	for i, p := range paths[:5] {
		if strings.HasPrefix(p, "/tmp/") {
			// A checkout under /tmp: the path is in the worker's private
			// /tmp, so the write succeeds there; the host file must still
			// not exist (checked below).
			continue
		}
		wantProbe(t, res[i], p, transform.ResultProcessingFailed, "Read-only file system")
	}
	wantProbe(t, res[5], paths[5], transform.ResultOk, "wrote")
	wantProbe(t, res[6], paths[6], transform.ResultOk, "wrote")
	wantProbe(t, res[7], paths[7], transform.ResultProcessingFailed, "Read-only file system")
	wantProbe(t, res[8], paths[8], transform.ResultProcessingFailed, "Error")
	for _, p := range []string{"/etc/hydrant-escape", "/usr/hydrant-escape", "/hydrant-escape", filepath.Join(code, "hydrant-escape"), filepath.Join(hostDir, "escape")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the worker wrote %s on the host (%v)", p, err)
		}
	}
	if h, _ := os.Hostname(); h == "localhost" {
		t.Errorf("the host's name changed to localhost")
	}
}

func TestReadSecrets(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for name, mode := range map[string]os.FileMode{"owner-only": 0o600, "root-group": 0o640, "public": 0o644} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("secret "+name), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	os.Mkdir(filepath.Join(dir, "hidden-dir"), 0o755)
	for _, name := range []string{"hidden", "hidden-dir/file"} {
		os.WriteFile(filepath.Join(dir, name), []byte("secret "+name), 0o644)
	}
	cfg := python(t, "hostile.read_files")
	cfg.ReadOnlyPaths = []string{dir}
	cfg.HiddenPaths = []string{dir + "/hidden", dir + "/hidden-dir", "/no/such/path"}
	paths := []string{"/etc/shadow", "/etc/gshadow", dir + "/owner-only", dir + "/root-group", dir + "/public", "/etc/passwd", "/root/.bashrc", "/proc/1/cmdline", dir + "/hidden", dir + "/hidden-dir/file"}
	res := probe(t, cfg, paths...)
	for i, p := range paths[:4] {
		wantProbe(t, res[i], p, transform.ResultProcessingFailed, "PermissionError")
	}
	wantProbe(t, res[4], paths[4], transform.ResultOk, "secret public")
	wantProbe(t, res[5], paths[5], transform.ResultOk, "root:x:0:0")
	wantProbe(t, res[6], paths[6], transform.ResultProcessingFailed, "FileNotFoundError")
	wantProbe(t, res[7], paths[7], transform.ResultOk, "python") // its own PID 1
	if res[8].Result != transform.ResultOk || len(res[8].Data) != 0 {
		t.Errorf("hidden file = %s %q; want Ok and empty", res[8].Result, res[8].Data)
	}
	wantProbe(t, res[9], paths[9], transform.ResultProcessingFailed, "FileNotFoundError")
}

func TestNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	addr := ln.Addr().String()

	res := probe(t, python(t, "hostile.connect"), addr, "1.1.1.1:53")
	wantProbe(t, res[0], addr, transform.ResultProcessingFailed, "Connection refused")
	wantProbe(t, res[1], "1.1.1.1:53", transform.ResultProcessingFailed, "unreachable")
	select {
	case <-accepted:
		t.Fatal("the host's listener accepted a connection from a worker without network")
	default:
	}

	// Granted the network, the same handler reaches the host: the test
	// above tests the sandbox, not the listener.
	cfg := python(t, "hostile.connect")
	cfg.Network = true
	res = probe(t, cfg, addr)
	wantProbe(t, res[0], addr, transform.ResultOk, "connected")
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the listener saw no connection from a worker granted the network")
	}
}

func TestAnswerViolations(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		f, _ := start(t, python(t, "hostile.garbage"))
		_, err := invoke(f, event(1, 10), 5*time.Second)
		wantCode(t, err, transform.CodeInvalidResponse, `wrote "this is not an answer" where an answer header belongs`)
		_, err = invoke(f, event(1, 10), 5*time.Second)
		wantCode(t, err, transform.CodeInvalidResponse, `where an answer header belongs`)
		serves(t, f)
		if g := f.gen.Load(); g != 3 {
			t.Errorf("%d workers started; want each garbling one replaced", g)
		}
	})
	t.Run("too many records", func(t *testing.T) {
		f, _ := start(t, python(t, "hostile.too_many"))
		_, err := invoke(f, event(3, 10), 5*time.Second)
		wantCode(t, err, transform.CodeUnknownRecordID, `4 records for the 3 given`)
	})
	t.Run("crash mid-batch", func(t *testing.T) {
		f, _ := start(t, python(t, "hostile.crash"))
		for i := range 2 {
			_, err := invoke(f, event(10, 10), 5*time.Second)
			wantCode(t, err, transform.CodeFunctionError, `exited with status 3`)
			if g := f.gen.Load(); g != int64(i+1) {
				t.Errorf("%d workers started after %d crashes", g, i+1)
			}
		}
		serves(t, f)
	})
	t.Run("python too large", func(t *testing.T) {
		cfg := python(t, "hostile.huge")
		cfg.MemoryLimitMB = 1024
		f, _ := start(t, cfg)
		_, err := invoke(f, event(1, 10), 20*time.Second)
		wantCode(t, err, transform.CodeResponseTooLarge, `longer than 67108864 bytes`)
		serves(t, f)
	})
	t.Run("raw endless line", func(t *testing.T) {
		f, _ := start(t, raw(t, "huge.sh"))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := invoke(f, event(1, 10), 20*time.Second)
		runtime.ReadMemStats(&after)
		wantCode(t, err, transform.CodeResponseTooLarge, `longer than 67108864 bytes`)
		// The line buffer doubles up to 64 MiB: about 128 MiB in all.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 160<<20 {
			t.Errorf("reading the endless line allocated %d bytes; want it bounded near 128 MiB", alloc)
		}
	})
}

func TestIdentityAndEnvironment(t *testing.T) {
	cfg := python(t, "hostile.inspect")
	cfg.Env = map[string]string{"GREETING": "hello", "LANG": "en_US.UTF-8"}
	f, l := start(t, cfg)
	res := mustInvoke(t, f, eventOf("x"))
	var got struct {
		Env         map[string]string
		UID, GID    int
		Groups      []int
		Hostname    string
		Cwd         string
		Pids        []int
		Root        []string
		Status      map[string]string
		Limits      map[string]string
		StdoutIsLog bool `json:"stdout_is_log"`
		Context     map[string]any
		Unshare     map[string]string
	}
	if err := json.Unmarshal(res[0].Data, &got); err != nil {
		t.Fatalf("inspect = %q: %v", res[0].Data, err)
	}
	wantEnv := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "en_US.UTF-8", "TZ": ":UTC", "GREETING": "hello",
		"LAMBDA_TASK_ROOT": "/var/task", "LAMBDA_RUNTIME_DIR": "/var/runtime", "_HANDLER": "hostile.inspect",
		"AWS_LAMBDA_FUNCTION_NAME": f.Name(), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + f.Name(), "AWS_LAMBDA_LOG_STREAM_NAME": "hydrant/" + f.Name() + "/1",
	}
	for k, v := range got.Env {
		if wantEnv[k] != v && k != "LC_CTYPE" { // Python sets LC_CTYPE itself
			t.Errorf("env %s=%q; want %q", k, v, wantEnv[k])
		}
	}
	for k := range wantEnv {
		if _, ok := got.Env[k]; !ok {
			t.Errorf("env %s is missing", k)
		}
	}
	if got.UID != sandboxID || got.GID != sandboxID || len(got.Groups) != 0 {
		t.Errorf("uid %d, gid %d, groups %v; want %d, %d and none", got.UID, got.GID, got.Groups, sandboxID, sandboxID)
	}
	if got.Hostname != "localhost" || got.Cwd != "/var/task" {
		t.Errorf("hostname %q, cwd %q; want localhost, /var/task", got.Hostname, got.Cwd)
	}
	if len(got.Pids) != 1 || got.Pids[0] != 1 {
		t.Errorf("the worker sees processes %v; want only itself, 1", got.Pids)
	}
	if root := strings.Join(got.Root, " "); root != "bin dev etc lib lib64 proc sbin tmp usr var" {
		t.Errorf("the worker's / holds %s", root)
	}
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
		if got.Status[k] != "0000000000000000" {
			t.Errorf("%s = %s; want none", k, got.Status[k])
		}
	}
	if got.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %s; want 1", got.Status["NoNewPrivs"])
	}
	for k, v := range map[string]string{"Max core file size": "0", "Max open files": "1024", "Max file size": "67108864", "Max processes": "128"} {
		if got.Limits[k] != v {
			t.Errorf("rlimit %q = %s; want %s", k, got.Limits[k], v)
		}
	}
	for ns, res := range got.Unshare {
		if res == "allowed" {
			t.Errorf("the worker may create a %s namespace", ns)
		}
	}
	if len(got.Unshare) != 3 {
		t.Errorf("unshare probes = %v", got.Unshare)
	}
	t.Logf("unshare: %v", got.Unshare)
	if !got.StdoutIsLog {
		t.Error("the worker's stdout is not its log")
	}
	if got.Context["log_group_name"] != "/aws/lambda/"+f.Name() || got.Context["function_name"] != f.Name() {
		t.Errorf("context = %v", got.Context)
	}
	if !strings.Contains(l.String(), "line=inspected") {
		t.Errorf("the handler's print is not logged:\n%s", l)
	}
}

func TestScratchDir(t *testing.T) {
	cfg := python(t, "hostile.write_files")
	cfg.ScratchDir = t.TempDir()
	f, _ := start(t, cfg)
	res := mustInvoke(t, f, eventOf("/tmp/sub/file"))
	wantProbe(t, res[0], "/tmp/sub/file", transform.ResultOk, "wrote")
	found, _ := filepath.Glob(filepath.Join(cfg.ScratchDir, "hydrant-*", "w1", "sub", "file"))
	if len(found) != 1 {
		t.Fatalf("the worker's /tmp/sub/file is not under ScratchDir: %v", found)
	}
	if fi, err := os.Stat(found[0]); err != nil || fi.Sys().(*syscall.Stat_t).Uid != hostID {
		t.Errorf("the scratch file %s: %v; want it owned by %d", found[0], err, hostID)
	}
	f.Close()
	if left, _ := os.ReadDir(cfg.ScratchDir); len(left) != 0 {
		t.Errorf("ScratchDir holds %v after Close", left)
	}
}

func TestStderrLimits(t *testing.T) {
	f, l := start(t, python(t, "hostile.chatty"))
	mustInvoke(t, f, event(1, 10))
	f.Close()
	log := l.String()
	if n := strings.Count(log, `msg="function log"`); n < 50 || n > 1000 {
		t.Errorf("%d lines logged of 3001 written at once; want about %d a second", n, stderrLinesPerSecond)
	}
	if !strings.Contains(log, `msg="function log lines dropped"`) {
		t.Errorf("the dropped lines are not reported:\n%s", log)
	}
}

// testHostEnv makes the test binary a host whose worker loops, for a
// test to kill: its value is the code dir.
const testHostEnv = "HYDRANT_PROCESS_TEST_HOST"

// loopingHost starts a looping function, prints its worker's pid, and
// invokes it until killed.
func loopingHost(code string) int {
	f, _, err := New(context.Background(), "looping", Config{Runtime: RuntimePython, Handler: "hostile.loop", CodeDir: code}, nil)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	w := <-f.idle
	f.idle <- w
	fmt.Println(w.pid)
	go f.Invoke(context.Background(), transform.AppendEvent(nil, event(1, 10)))
	select {}
}

func TestHostDeathKillsWorkers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe)
	host.Env = append(os.Environ(), testHostEnv+"="+testdata(t, "python"))
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatalf("the host did not tell its worker's pid: %v", err)
	}
	ns := pidNamespace(t, pid)
	time.Sleep(200 * time.Millisecond) // the worker loops, with its children
	host.Process.Kill()
	host.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(processesIn(ns)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("processes %v of the killed host's worker live on", processesIn(ns))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The dead host's cgroups go at the next New.
	stale := fmt.Sprintf("hydrant-%d-", host.Process.Pid)
	start(t, python(t, "noop.lambda_handler"))
	for _, root := range []string{"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), stale) {
				t.Errorf("the killed host's cgroup %s is left", p)
			}
			return nil
		})
	}
}
