package process

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Runtimes of Config.Runtime: Hydrant's bootstraps, which run an
// unmodified AWS Lambda handler.
const (
	RuntimePython = "python"
	RuntimeNode   = "node"
)

// Defaults and ranges of Config's fields. A zero field means its default.
const (
	DefaultWorkers = 1
	MaxWorkers     = 64

	DefaultMemoryLimitMB = 128 // Lambda's default memory size
	MinMemoryLimitMB     = 32
	MaxMemoryLimitMB     = 10240 // Lambda's largest

	DefaultPidsLimit = 128
	MinPidsLimit     = 16
	MaxPidsLimit     = 4096

	DefaultScratchMB = 64
	MaxScratchMB     = 10240

	DefaultMaxOpenFiles = 1024
	MinMaxOpenFiles     = 64
	MaxMaxOpenFiles     = 65536

	DefaultStartTimeout = 10 * time.Second
	MinStartTimeout     = 100 * time.Millisecond
	MaxStartTimeout     = 5 * time.Minute

	// DefaultPythonPath is the real interpreter, not a version manager's
	// shim on PATH, which costs a worker start 150 ms or more and lives
	// in a home directory the sandbox does not show.
	DefaultPythonPath = "/usr/bin/python3"
)

// Config declares a process function: a raw executable (Command) or a
// Lambda handler run by one of Hydrant's bootstraps (Runtime, Handler,
// CodeDir), and the limits of its sandbox. See SANDBOX.md.
type Config struct {
	// Runtime is RuntimePython or RuntimeNode to run the Lambda handler
	// named by Handler, or empty to run Command.
	Runtime string
	// Handler names the handler as Lambda does: "module.function" for
	// Python (index.lambda_handler; the module may sit in a folder:
	// pkg/mod.handler) and "file.export" for Node (index.handler, loading
	// index.js, index.mjs or index.cjs). Required with Runtime.
	Handler string
	// CodeDir is the host directory holding the function's code. The
	// worker sees it read-only at /var/task (Lambda's LAMBDA_TASK_ROOT),
	// its working directory. Required with Runtime, optional with Command.
	// The sandbox user (uid 65534) must be able to read it.
	CodeDir string
	// Command is the argv of a raw executable speaking the contract on
	// stdin and stdout: one event JSON per line in, one answer JSON per
	// line out; it logs on stderr. Command[0] is an absolute path, a path
	// relative to CodeDir when it holds a slash (./transform), or a name
	// looked up in PATH at New. Exclusive with Runtime.
	Command []string

	// Workers is the number of worker processes, each running one
	// invocation at a time. Default 1, range 1 to 64.
	Workers int
	// MemoryLimitMB caps each worker's memory, with its children, its
	// scratch tmpfs and no swap (a memory cgroup); a worker that exceeds
	// it is killed. Default 128, range 32 to 10240.
	MemoryLimitMB int
	// PidsLimit caps each worker's processes and threads together (a pids
	// cgroup). Default 128, range 16 to 4096.
	PidsLimit int
	// ScratchMB sizes the worker's writable /tmp, and bounds any file it
	// writes (RLIMIT_FSIZE). Default 64, range 1 to 10240.
	ScratchMB int
	// ScratchDir, when set, is the host directory under which each worker
	// gets its own /tmp, on disk, removed when the worker goes; by default
	// /tmp is a tmpfs, counted against MemoryLimitMB.
	ScratchDir string
	// MaxOpenFiles caps each process's file descriptors (RLIMIT_NOFILE).
	// Default 1024, range 64 to 65536.
	MaxOpenFiles int
	// Network grants the host's network. By default a worker has its own
	// network namespace with only a loopback interface.
	Network bool
	// Env is added to the worker's environment, which is otherwise only
	// PATH, HOME, LANG, TZ and Lambda's variables (LAMBDA_TASK_ROOT,
	// AWS_LAMBDA_FUNCTION_NAME, …). Names as in the shell; _HANDLER,
	// LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR and AWS_LAMBDA_* are reserved.
	Env map[string]string
	// ReadOnlyPaths are host paths, besides /usr, /bin, /sbin, /lib*,
	// /etc and CodeDir, that the worker sees read-only at the same place:
	// an interpreter installed elsewhere, shared data.
	ReadOnlyPaths []string
	// HiddenPaths are host paths below those the worker sees that it must
	// not see, such as hydrant's own config file under /etc: a directory
	// shows empty, a file as /dev/null.
	HiddenPaths []string

	// PythonPath is the Python 3 interpreter of RuntimePython. Default
	// /usr/bin/python3.
	PythonPath string
	// NodePath is the Node.js of RuntimeNode. Default: node, looked up in
	// PATH at New.
	NodePath string
	// StartTimeout bounds a worker's start, until its handler is loaded.
	// Default 10s, range 100ms to 5m.
	StartTimeout time.Duration

	// RequireIsolation makes New fail when the host cannot apply a part of
	// the sandbox (a namespace, a cgroup limit), instead of running the
	// function with less isolation and returning a warning.
	RequireIsolation bool

	// disable switches isolation features off, as an unable host would:
	// for tests of the degraded paths.
	disable feature
}

// feature is a part of the sandbox that a host may lack.
type feature uint

const (
	featUserNS       feature = 1 << iota // user namespace (workers' uids mapped)
	featFS                               // mount namespace with a read-only root
	featCgroup                           // memory and pids cgroups
	featMountSetattr                     // mount_setattr(2), else remount one by one
)

var (
	handlerPattern = regexp.MustCompile(`^[A-Za-z0-9_.\-/]*[A-Za-z0-9_\-]\.[A-Za-z_$][A-Za-z0-9_$.]*$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	namePattern    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$`)
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Workers, DefaultWorkers)
	def(&c.MemoryLimitMB, DefaultMemoryLimitMB)
	def(&c.PidsLimit, DefaultPidsLimit)
	def(&c.ScratchMB, DefaultScratchMB)
	def(&c.MaxOpenFiles, DefaultMaxOpenFiles)
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.PythonPath == "" {
		c.PythonPath = DefaultPythonPath
	}
	return c
}

// Validate checks c, zero fields standing for their defaults, and names
// the first problem and its fix. It does not look at the file system:
// New does, and fails when a path is missing.
func (c *Config) Validate() error {
	d := c.withDefaults()
	switch d.Runtime {
	case RuntimePython, RuntimeNode:
		if len(d.Command) > 0 {
			return fmt.Errorf("set Command or Runtime %q, not both: Command runs a raw executable, Runtime a Lambda handler", d.Runtime)
		}
		if d.Handler == "" {
			return fmt.Errorf("runtime %q needs a Handler, as Lambda names it (index.handler)", d.Runtime)
		}
		if !handlerPattern.MatchString(d.Handler) || strings.Contains(d.Handler, "..") || strings.HasPrefix(d.Handler, "/") {
			return fmt.Errorf("handler %q is not module.function: name a module under CodeDir and its function, as index.handler", d.Handler)
		}
		if d.CodeDir == "" {
			return fmt.Errorf("runtime %q needs a CodeDir, the directory holding the handler's code", d.Runtime)
		}
	case "":
		if len(d.Command) == 0 {
			return errors.New("set Command (a raw executable) or Runtime (python or node, with Handler and CodeDir)")
		}
		if d.Command[0] == "" {
			return errors.New("command[0] is empty: name the executable")
		}
		if d.Handler != "" {
			return fmt.Errorf("handler %q needs a Runtime (python or node); a Command reads events on stdin", d.Handler)
		}
		if !filepath.IsAbs(d.Command[0]) && strings.Contains(d.Command[0], "/") && d.CodeDir == "" {
			return fmt.Errorf("command %q is relative to CodeDir, which is not set: set CodeDir or give an absolute path", d.Command[0])
		}
	default:
		return fmt.Errorf("runtime %q is unknown: use %q, %q, or none with Command", d.Runtime, RuntimePython, RuntimeNode)
	}
	for _, a := range d.Command {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("command argument %q holds a NUL byte", a)
		}
	}
	if d.CodeDir != "" && !filepath.IsAbs(d.CodeDir) {
		return fmt.Errorf("CodeDir %q is relative: give an absolute path", d.CodeDir)
	}
	ranges := []struct {
		name          string
		v, lo, hi, dv int
	}{
		{"Workers", d.Workers, 1, MaxWorkers, DefaultWorkers},
		{"MemoryLimitMB", d.MemoryLimitMB, MinMemoryLimitMB, MaxMemoryLimitMB, DefaultMemoryLimitMB},
		{"PidsLimit", d.PidsLimit, MinPidsLimit, MaxPidsLimit, DefaultPidsLimit},
		{"ScratchMB", d.ScratchMB, 1, MaxScratchMB, DefaultScratchMB},
		{"MaxOpenFiles", d.MaxOpenFiles, MinMaxOpenFiles, MaxMaxOpenFiles, DefaultMaxOpenFiles},
	}
	for _, r := range ranges {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("%s is %d: use %d to %d (0 means %d)", r.name, r.v, r.lo, r.hi, r.dv)
		}
	}
	if d.StartTimeout < MinStartTimeout || d.StartTimeout > MaxStartTimeout {
		return fmt.Errorf("StartTimeout is %v: use %v to %v (0 means %v)", d.StartTimeout, MinStartTimeout, MaxStartTimeout, DefaultStartTimeout)
	}
	if d.ScratchDir != "" && !filepath.IsAbs(d.ScratchDir) {
		return fmt.Errorf("ScratchDir %q is relative: give an absolute path", d.ScratchDir)
	}
	if d.Runtime == RuntimePython && !filepath.IsAbs(d.PythonPath) {
		return fmt.Errorf("PythonPath %q is relative: give the interpreter's absolute path, as %s", d.PythonPath, DefaultPythonPath)
	}
	for k, v := range d.Env {
		if !envNamePattern.MatchString(k) {
			return fmt.Errorf("env name %q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", k)
		}
		if reservedEnv(k) {
			return fmt.Errorf("env name %q is reserved for the runtime, as in Lambda: choose another name", k)
		}
		if strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("env %s holds a NUL byte", k)
		}
	}
	for _, p := range d.ReadOnlyPaths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("ReadOnlyPaths entry %q is not a clean absolute path", p)
		}
		if p == "/" {
			return errors.New("ReadOnlyPaths holds /, which would show the whole host, the data dir included: list the directories the function needs")
		}
		for _, own := range []string{"/proc", "/dev", "/tmp", taskRoot, runtimeDir} {
			under := strings.HasPrefix(p, own+"/") && own != "/tmp" // a path below /tmp shows in it
			if p == own || under || strings.HasPrefix(own, p+"/") {
				return fmt.Errorf("ReadOnlyPaths entry %q overlaps the sandbox's own %s", p, own)
			}
		}
	}
	for _, p := range d.HiddenPaths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
			return fmt.Errorf("HiddenPaths entry %q is not a clean absolute path below /", p)
		}
	}
	return nil
}

// reservedEnv reports whether the runtime sets the variable name itself.
func reservedEnv(name string) bool {
	switch name {
	case "_HANDLER", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR":
		return true
	}
	return strings.HasPrefix(name, "AWS_LAMBDA_")
}
