//go:build linux

package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// The sandbox user. With a user namespace, the worker is uid and gid
// sandboxID inside, mapped to hostID (nobody) outside, which owns nothing
// on the host; without one, a root init becomes hostID before it executes
// the worker.
const (
	sandboxID = 1000
	hostID    = 65534
)

// systemPaths are the host paths every worker sees, read-only: enough for
// an interpreter and its libraries, not the host's data.
var systemPaths = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// Capabilities of the init, inside its user namespace only, dropped
// before it executes the worker.
const (
	capSetgid      = 6
	capSetuid      = 7
	capNetAdmin    = 12
	capSetpcap     = 8
	capSysAdmin    = 21
	capSysResource = 24
)

// protocolPipeSize is the size asked for the protocol pipes, so that a
// batch of about a megabyte crosses in few system calls.
const protocolPipeSize = 1 << 20

// sandbox starts a function's workers.
type sandbox struct {
	name    string
	cfg     Config
	dir     string // private: runtime/ (the bootstrap) and root/ (the mount point of each worker's root)
	scratch string // the function's directory under ScratchDir, or ""
	cg      *cgroupSet
	root    bool // hydrant runs as root

	// What the host applies; startProbing drops what it cannot.
	userNS, pidNS, mountNS, netNS, ipcNS, utsNS bool
	fs                                          bool // a root of its own (needs mountNS)
	noSetattr                                   bool

	program   string // the executable, as the host sees it
	bootstrap string // the bootstrap's file name in runtime/, or ""
	userPaths []mountSpec

	// starts runs the process starts on one OS thread kept for the
	// function's life: a worker's parent-death signal (SIGKILL, should
	// hydrant die) fires when the thread that started it ends, so that
	// thread must outlive the workers. starterDone is closed when it ends.
	starts      chan func()
	starterDone chan struct{}
}

// workerSys is what a worker's platform holds.
type workerSys struct {
	pidNS   bool
	exited  <-chan struct{}
	cg      *workerCgroup
	scratch string // the worker's /tmp on disk, or ""
}

func newSandbox(name string, cfg Config) (*sandbox, []string, error) {
	s := &sandbox{
		name:      name,
		cfg:       cfg,
		root:      os.Geteuid() == 0,
		userNS:    cfg.disable&featUserNS == 0,
		pidNS:     true,
		mountNS:   true,
		netNS:     !cfg.Network,
		ipcNS:     true,
		utsNS:     true,
		fs:        cfg.disable&featFS == 0,
		noSetattr: cfg.disable&featMountSetattr != 0,
	}
	var warnings []string
	if !s.userNS {
		warnings = append(warnings, "no user namespace: disabled")
	}
	if !s.root {
		warnings = append(warnings, fmt.Sprintf("hydrant is not root: workers run under its uid %d, and may read what it may among the paths they see", os.Getuid()))
	}
	if !s.fs {
		warnings = append(warnings, "no read-only root file system: disabled")
	}
	if err := s.resolve(); err != nil {
		return nil, nil, err
	}
	removeStaleDirs(os.TempDir(), "hydrant-process-")
	dir, err := os.MkdirTemp("", fmt.Sprintf("hydrant-process-%d-%s-", os.Getpid(), name))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create the function's directory: %w", err)
	}
	s.dir = dir
	// Others may traverse (the sandbox user reaches runtime/ and root/
	// through it) but not list it.
	err = os.Chmod(dir, 0o711)
	for _, sub := range []string{"runtime", "root"} {
		if err == nil {
			err = os.Mkdir(filepath.Join(dir, sub), 0o755)
		}
	}
	if err == nil && cfg.Runtime != "" {
		s.bootstrap, err = writeBootstraps(filepath.Join(dir, "runtime"), cfg.Runtime)
	}
	if err == nil && cfg.ScratchDir != "" {
		removeStaleDirs(cfg.ScratchDir, "hydrant-")
		s.scratch, err = os.MkdirTemp(cfg.ScratchDir, fmt.Sprintf("hydrant-%d-%s-", os.Getpid(), name))
		if err == nil {
			err = os.Chmod(s.scratch, 0o711)
		}
	}
	if err != nil {
		os.RemoveAll(s.dir)
		if s.scratch != "" {
			os.RemoveAll(s.scratch)
		}
		return nil, nil, fmt.Errorf("cannot prepare the function's directory: %w", err)
	}
	s.starts, s.starterDone = make(chan func()), make(chan struct{})
	go s.starter()
	if cfg.disable&featCgroup != 0 {
		warnings = append(warnings, "no memory or pids limit: cgroups disabled")
	} else {
		var more []string
		s.cg, more = newCgroupSet(name)
		warnings = append(warnings, more...)
	}
	if s.cg == nil || s.cg.memory == nil {
		warnings = append(warnings, fmt.Sprintf("memory limited per process with RLIMIT_DATA (%d MB), not for the worker as a whole", cfg.MemoryLimitMB))
	}
	return s, warnings, nil
}

func (s *sandbox) starter() {
	// Never unlocked: the thread ends with the goroutine, after the last
	// worker.
	runtime.LockOSThread()
	defer close(s.starterDone)
	for start := range s.starts {
		start()
	}
}

// startProcess starts cmd on the starter's thread.
func (s *sandbox) startProcess(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	s.starts <- func() { done <- cmd.Start() }
	return <-done
}

// resolve finds the executable and the paths the config names, and
// checks that they exist.
func (s *sandbox) resolve() error {
	c := &s.cfg
	if c.CodeDir != "" {
		fi, err := os.Stat(c.CodeDir)
		if err != nil {
			return fmt.Errorf("CodeDir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("CodeDir %s is not a directory", c.CodeDir)
		}
	}
	switch c.Runtime {
	case RuntimePython:
		s.program = c.PythonPath
	case RuntimeNode:
		s.program = c.NodePath
		if s.program == "" {
			p, err := exec.LookPath("node")
			if err != nil {
				return fmt.Errorf("cannot find node for runtime node: %w (set NodePath)", err)
			}
			s.program = p
		}
	default:
		s.program = c.Command[0]
		switch {
		case filepath.IsAbs(s.program):
		case strings.Contains(s.program, "/"):
			s.program = filepath.Join(c.CodeDir, s.program)
		default:
			p, err := exec.LookPath(s.program)
			if err != nil {
				return fmt.Errorf("cannot find command %q: %w", s.program, err)
			}
			s.program = p
		}
	}
	if !filepath.IsAbs(s.program) {
		abs, err := filepath.Abs(s.program)
		if err != nil {
			return err
		}
		s.program = abs
	}
	fi, err := os.Stat(s.program)
	if err != nil {
		return fmt.Errorf("cannot use %s as the worker's program: %w", s.program, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", s.program)
	}
	for _, p := range c.ReadOnlyPaths {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("ReadOnlyPaths: %w", err)
		}
		if !s.visible(p) {
			s.userPaths = append(s.userPaths, mountSpec{Kind: "bind", Source: p, Target: p, User: true})
		}
	}
	if !s.visible(s.program) && !s.inCodeDir(s.program) {
		real, err := filepath.EvalSymlinks(s.program)
		if err != nil {
			return err
		}
		s.userPaths = append(s.userPaths, mountSpec{Kind: "bind", Source: real, Target: s.program, User: true})
	}
	return nil
}

// visible reports whether the system paths show path.
func (s *sandbox) visible(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	for _, d := range systemPaths {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() && (real == d || strings.HasPrefix(real, d+"/")) {
			return true
		}
	}
	return false
}

func (s *sandbox) inCodeDir(path string) bool {
	return s.cfg.CodeDir != "" && strings.HasPrefix(path, filepath.Clean(s.cfg.CodeDir)+"/")
}

// inside returns the path at which the worker sees the host's path.
func (s *sandbox) inside(path string) string {
	if s.fs && s.inCodeDir(path) {
		return filepath.Join(taskRoot, strings.TrimPrefix(path, filepath.Clean(s.cfg.CodeDir)+"/"))
	}
	return path
}

// spec is the init's spec for worker gen, whose on-disk scratch dir, if
// any, is scratch.
func (s *sandbox) spec(gen int64, scratch string) *initSpec {
	c := &s.cfg
	spec := &initSpec{Hostname: "localhost", Loopback: s.netNS, LimitUserNS: s.userNS, NoMountSetattr: s.noSetattr}
	codeDir, bootDir := c.CodeDir, filepath.Join(s.dir, "runtime")
	if s.fs {
		spec.Root = filepath.Join(s.dir, "root")
		for _, p := range systemPaths {
			fi, err := os.Lstat(p)
			switch {
			case err != nil:
			case fi.Mode()&os.ModeSymlink != 0:
				if link, err := os.Readlink(p); err == nil {
					spec.Mounts = append(spec.Mounts, mountSpec{Kind: "symlink", Source: link, Target: p})
				}
			case fi.IsDir():
				spec.Mounts = append(spec.Mounts, mountSpec{Kind: "bind", Source: p, Target: p})
			}
		}
		// /tmp before the user's paths, which may lie below it.
		spec.Mounts = append(spec.Mounts, mountSpec{Kind: "proc", Target: "/proc"}, mountSpec{Kind: "dev", Target: "/dev"})
		if scratch != "" {
			spec.Mounts = append(spec.Mounts, mountSpec{Kind: "bind", Source: scratch, Target: "/tmp", Writable: true})
		} else {
			spec.Mounts = append(spec.Mounts, mountSpec{Kind: "tmpfs", Source: fmt.Sprintf("mode=1777,size=%dm", c.ScratchMB), Target: "/tmp"})
		}
		spec.Mounts = append(spec.Mounts, s.userPaths...)
		if codeDir != "" {
			spec.Mounts = append(spec.Mounts, mountSpec{Kind: "bind", Source: codeDir, Target: taskRoot, User: true})
			codeDir = taskRoot
		}
		if s.bootstrap != "" {
			spec.Mounts = append(spec.Mounts, mountSpec{Kind: "bind", Source: bootDir, Target: runtimeDir})
			bootDir = runtimeDir
		}
		for _, p := range c.HiddenPaths {
			spec.Mounts = append(spec.Mounts, mountSpec{Kind: "hide", Target: p})
		}
	}
	spec.Dir = codeDir
	spec.Argv = s.argv(bootDir)
	spec.Env = s.env(gen, codeDir, bootDir)
	spec.ProtocolFDs = s.bootstrap != ""
	// The init becomes the sandbox user only now, after the mounts, which
	// it made with the DAC identity of hydrant: a root hydrant's code dir
	// needs no permission for others on its parents.
	spec.SetIDs = s.userNS || s.root
	spec.DropGroups = s.root
	spec.UID, spec.GID = hostID, hostID
	if s.userNS {
		spec.UID, spec.GID, spec.FSIDs = sandboxID, sandboxID, true
	}
	spec.Rlimits = []rlimit{
		{syscall.RLIMIT_CORE, 0},
		{syscall.RLIMIT_NOFILE, uint64(c.MaxOpenFiles)},
		{syscall.RLIMIT_FSIZE, uint64(c.ScratchMB) << 20},
	}
	if s.userNS {
		// Counted per user namespace (Linux 5.14): this worker's only.
		spec.Rlimits = append(spec.Rlimits, rlimit{rlimitNPROC, uint64(c.PidsLimit)})
	}
	if s.cg == nil || s.cg.memory == nil {
		spec.Rlimits = append(spec.Rlimits, rlimit{syscall.RLIMIT_DATA, uint64(c.MemoryLimitMB) << 20})
	}
	return spec
}

func (s *sandbox) argv(bootDir string) []string {
	switch s.cfg.Runtime {
	case RuntimePython:
		return []string{s.program, filepath.Join(bootDir, s.bootstrap)}
	case RuntimeNode:
		// V8 sizes its heap after the host's memory; held under the
		// worker's limit, it throws (a function error) before the cgroup
		// kills the worker.
		heap := s.cfg.MemoryLimitMB * 3 / 4
		return []string{s.program, "--max-old-space-size=" + strconv.Itoa(heap), filepath.Join(bootDir, s.bootstrap)}
	}
	argv := append([]string{s.inside(s.program)}, s.cfg.Command[1:]...)
	return argv
}

// env is the worker's whole environment.
func (s *sandbox) env(gen int64, codeDir, bootDir string) []string {
	c := &s.cfg
	vars := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"HOME":                            "/tmp",
		"LANG":                            "C.UTF-8",
		"TZ":                              ":UTC",
		"AWS_LAMBDA_FUNCTION_NAME":        s.name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(c.MemoryLimitMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + s.name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      "hydrant/" + s.name + "/" + strconv.FormatInt(gen, 10),
	}
	if codeDir != "" {
		vars["LAMBDA_TASK_ROOT"] = codeDir
	}
	if c.Runtime != "" {
		vars["LAMBDA_RUNTIME_DIR"] = bootDir
		vars["_HANDLER"] = c.Handler
	}
	if !s.fs {
		vars["HOME"] = os.TempDir()
	}
	for k, v := range c.Env {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func (s *sandbox) cloneFlags() uintptr {
	var f uintptr
	for _, x := range []struct {
		on   bool
		flag uintptr
	}{{s.userNS, syscall.CLONE_NEWUSER}, {s.pidNS, syscall.CLONE_NEWPID}, {s.mountNS, syscall.CLONE_NEWNS}, {s.netNS, syscall.CLONE_NEWNET}, {s.ipcNS, syscall.CLONE_NEWIPC}, {s.utsNS, syscall.CLONE_NEWUTS}} {
		if x.on {
			f |= x.flag
		}
	}
	return f
}

func (s *sandbox) sysProcAttr(flags uintptr) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: flags,
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
	}
	if flags&syscall.CLONE_NEWUSER != 0 {
		id := os.Getuid()
		gid := os.Getgid()
		if s.root {
			id, gid = hostID, hostID
		}
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: sandboxID, HostID: id, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: sandboxID, HostID: gid, Size: 1}}
		// Only root may allow setgroups, which the init needs to drop
		// hydrant's supplementary groups (an unprivileged hydrant's are
		// its own). The init keeps hydrant's uid (unmapped inside) until
		// it has built the root; it holds these capabilities over its
		// namespaces only.
		attr.GidMappingsEnableSetgroups = s.root
		attr.AmbientCaps = []uintptr{capSysAdmin, capSetpcap, capSysResource, capNetAdmin, capSetuid, capSetgid}
	}
	return attr
}

// initArgs is the init's argv. Should the program not call
// RunInitIfRequested, it runs as itself with these arguments, in the
// worker's namespaces and cgroups but with hydrant's file system rights:
// hydrant's command line refuses the flag, and a test binary runs no test
// (flags come before the first argument that is not one). Either exits at
// once, and the start fails saying why.
var initArgs = []string{"hydrant-sandbox-init", "-test.run=^$", initArg}

// startError is a worker start that failed, at stage.
type startError struct {
	stage string // "clone", or an init stage
	err   error
}

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// start starts worker gen: the init in new namespaces, moved into the
// worker's cgroups before it is told what to set up; then, for a
// bootstrap, the handler loaded. It returns the init's warnings.
func (s *sandbox) start(ctx context.Context, gen int64, logs *stderrLimiter) (_ *worker, warnings []string, err error) {
	t0 := time.Now()
	deadline := t0.Add(s.cfg.StartTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	sys := &workerSys{pidNS: s.pidNS}
	if s.scratch != "" && s.fs {
		sys.scratch = filepath.Join(s.scratch, "w"+strconv.FormatInt(gen, 10))
		if err := os.Mkdir(sys.scratch, 0o700); err != nil {
			return nil, nil, fmt.Errorf("cannot create the worker's scratch dir: %w", err)
		}
		if s.root {
			if err := os.Chown(sys.scratch, hostID, hostID); err != nil {
				os.Remove(sys.scratch)
				return nil, nil, fmt.Errorf("cannot give the scratch dir to the sandbox user: %w", err)
			}
		}
	}
	var files []*os.File
	pipe := func() (*os.File, *os.File) {
		r, w, e := os.Pipe()
		if e != nil && err == nil {
			err = e
		}
		files = append(files, r, w)
		return r, w
	}
	inR, inW := pipe()
	outR, outW := pipe()
	errR, errW := pipe()
	specR, specW := pipe()
	statR, statW := pipe()
	closeAll := func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}
	if err != nil {
		closeAll()
		os.RemoveAll(sys.scratch)
		return nil, nil, err
	}
	setPipeSize(inW, protocolPipeSize)
	setPipeSize(outR, protocolPipeSize)
	spec := s.spec(gen, sys.scratch)
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        initArgs,
		Env:         []string{},
		Stdin:       inR,
		Stdout:      outW,
		Stderr:      errW,
		ExtraFiles:  []*os.File{specR, statW},
		SysProcAttr: s.sysProcAttr(s.cloneFlags()),
	}
	if err := s.startProcess(cmd); err != nil {
		closeAll()
		os.RemoveAll(sys.scratch)
		return nil, nil, &startError{"clone", fmt.Errorf("cannot start the sandbox: %w", err)}
	}
	for _, f := range []*os.File{inR, outW, errW, specR, statW} {
		f.Close()
	}
	exited := make(chan struct{})
	sys.exited = exited
	w := &worker{
		gen:        gen,
		pid:        cmd.Process.Pid,
		bootstrap:  s.bootstrap != "",
		memoryMB:   s.cfg.MemoryLimitMB,
		in:         inW,
		out:        outR,
		proc:       cmd.Process,
		sys:        sys,
		exited:     exited,
		stderr:     errR,
		stderrDone: make(chan struct{}),
		wrote:      make(chan error, 1),
	}
	go func() {
		w.state, _ = cmd.Process.Wait()
		close(exited)
	}()
	go logs.pump(errR, gen, w.stderrDone)
	fail := func(e error) (*worker, []string, error) {
		specW.Close()
		statR.Close()
		w.kill()
		w.cleanup()
		return nil, nil, e
	}

	if s.cg != nil {
		if sys.cg, err = s.cg.worker(gen, int64(s.cfg.MemoryLimitMB)<<20, int64(s.cfg.PidsLimit)); err == nil {
			err = sys.cg.add(w.pid)
		}
		if err != nil {
			select {
			case <-exited: // the init waits for its spec: this is not the init
				return fail(errNoInit(w))
			case <-time.After(100 * time.Millisecond):
			}
			return fail(err)
		}
	}
	specJSON, err := json.Marshal(spec)
	if err == nil {
		_, err = specW.Write(specJSON)
	}
	specW.Close()
	if err != nil {
		return fail(fmt.Errorf("cannot send the sandbox its spec: %w", err))
	}
	statR.SetReadDeadline(deadline)
	status, err := io.ReadAll(statR)
	statR.Close()
	if err != nil {
		return fail(fmt.Errorf("the sandbox did not start within %v: %w", deadline.Sub(t0).Round(time.Millisecond), err))
	}
	lines := strings.Split(strings.TrimSpace(string(status)), "\n")
	if lines[0] != "S" {
		return fail(errNoInit(w))
	}
	for _, line := range lines[1:] {
		if msg, ok := strings.CutPrefix(line, "W "); ok {
			warnings = append(warnings, msg)
		} else if msg, ok := strings.CutPrefix(line, "E "); ok {
			stage, text, _ := strings.Cut(msg, " ")
			return fail(&startError{stage, errors.New(text)})
		}
	}
	if w.bootstrap {
		if err := w.readReady(deadline); err != nil {
			var fe *functionError
			if errors.As(err, &fe) {
				return fail(fmt.Errorf("cannot load handler %s: %w", s.cfg.Handler, fe))
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fail(fmt.Errorf("the %s bootstrap did not load handler %s within %v", s.cfg.Runtime, s.cfg.Handler, deadline.Sub(t0).Round(time.Millisecond)))
			}
			if errors.Is(err, io.EOF) {
				return fail(fmt.Errorf("the %s bootstrap %s before it loaded handler %s", s.cfg.Runtime, w.exitReason(), s.cfg.Handler))
			}
			return fail(err)
		}
	}
	w.r, w.w = 0, 0
	w.started = time.Since(t0)
	return w, warnings, nil
}

// removeStaleDirs removes the directories <prefix><pid>-… in dir whose
// hydrant process is gone: killed, it could not remove them.
func removeStaleDirs(dir, prefix string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		if pid, err := strconv.Atoi(pidText); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// errNoInit is the error of a worker whose init did not run.
func errNoInit(w *worker) error {
	return fmt.Errorf("the sandbox init did not run (the process %s): the program must call process.RunInitIfRequested first thing in main", w.exitReason())
}

// close removes the function's cgroups and directories, once its workers
// are gone.
func (s *sandbox) close() error {
	close(s.starts)
	<-s.starterDone
	var errs []error
	if s.cg != nil {
		errs = append(errs, s.cg.close())
	}
	if s.scratch != "" {
		errs = append(errs, os.RemoveAll(s.scratch))
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// kill kills the worker's processes: the init of its PID namespace takes
// every other process with it; without one, its process group.
func (ws *workerSys) kill(p *os.Process) {
	if !ws.pidNS {
		select {
		case <-ws.exited:
		default:
			syscall.Kill(-p.Pid, syscall.SIGKILL)
		}
	}
	p.Kill()
}

// cleanup removes the worker's cgroups, killing what is left in them
// (only a worker without a PID namespace can leave anything), and its
// scratch dir.
func (ws *workerSys) cleanup() {
	if ws.cg != nil {
		ws.cg.remove()
	}
	if ws.scratch != "" {
		os.RemoveAll(ws.scratch)
	}
}

func (ws *workerSys) oomKilled() bool { return ws.cg.oomKilled() }

// pendingBytes returns the number of bytes waiting in pipe f.
func pendingBytes(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var n int32
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return int(n)
}

func setPipeSize(f *os.File, n int) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, uintptr(n))
		})
	}
}
