package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hydrantio/hydrant/delivery"
	fnhttp "github.com/hydrantio/hydrant/transform/http"
	"github.com/hydrantio/hydrant/transform/process"
	"github.com/hydrantio/hydrant/transform/wasm"
)

// Function is a transformation function the functions section declares;
// streams run it by name (processing.function.name). Exactly one of Wasm,
// Process and HTTP is used: the one Runtime names.
type Function struct {
	Name    string        // name
	Runtime string        // runtime: RuntimeWasm, RuntimeProcess or RuntimeHTTP
	Timeout time.Duration // timeout
	Wasm    wasm.Config   // wasm
	Process process.Config
	HTTP    fnhttp.Config // http
}

// Function runtimes.
const (
	RuntimeWasm    = "wasm"
	RuntimeProcess = "process"
	RuntimeHTTP    = "http"
)

// MaxFunctionTimeout bounds a function's timeout: Lambda's 15 minutes.
const MaxFunctionTimeout = 15 * time.Minute

var functionNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func newFunction() Function { return Function{Timeout: delivery.DefaultFunctionTimeout} }

var functionSpec = &object{fields: []*field{{
	key: "name",
	doc: "Name streams run the function by (processing.function.name); through the " +
		"API, a Lambda ARN whose function name is this one.",
	required: true,
	example:  "enrich",
	value:    str(func(f *Function) *string { return &f.Name }, matches(functionNamePattern, "a function name", "1 to 64 of a-z A-Z 0-9 _ -")),
}, {
	key: "runtime",
	doc: "How the function runs: wasm, a WebAssembly module under wazero, in the " +
		"server's process and sandboxed by it; process, a pool of sandboxed worker " +
		"processes (any executable, or an unmodified Python or Node.js Lambda handler); " +
		"http, an HTTP endpoint the event is POSTed to. The key of the same name holds " +
		"its settings.",
	required: true,
	example:  RuntimeWasm,
	value:    enum(func(f *Function) *string { return &f.Runtime }, "function runtime", RuntimeWasm, RuntimeProcess, RuntimeHTTP),
}, {
	key: "timeout",
	doc: "Longest one invocation (one processing buffer) may run; the function is then " +
		"stopped and the invocation retried or failed, as Lambda's timeout.",
	rng:   "1ms to " + MaxFunctionTimeout.String(),
	dflt:  "default: " + delivery.DefaultFunctionTimeout.String(),
	value: duration(func(f *Function) *time.Duration { return &f.Timeout }),
}, {
	key:   "wasm",
	doc:   "Settings of the wasm runtime.",
	value: mapping(func(f *Function) *wasm.Config { return &f.Wasm }, wasmSpec),
}, {
	key:   "process",
	doc:   "Settings of the process runtime.",
	value: mapping(func(f *Function) *process.Config { return &f.Process }, processSpec),
}, {
	key:   "http",
	doc:   "Settings of the http runtime.",
	value: mapping(func(f *Function) *fnhttp.Config { return &f.HTTP }, functionHTTPSpec),
}}}

var wasmSpec = &object{fields: []*field{{
	key: "module",
	doc: "Path of the WebAssembly module: a WASI preview 1 reactor with Hydrant's ABI " +
		"(transform/wasm/ABI.md), such as a Go program on package " +
		"transform/wasm/guest built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.",
	required: true,
	example:  "/etc/hydrant/functions/enrich.wasm",
	value:    str(func(c *wasm.Config) *string { return &c.Module }, nil),
}, {
	key:   "memory_limit_mb",
	doc:   "Cap of each instance's linear memory, in MiB; a function that grows past it fails and its instance is replaced.",
	rng:   "1 to 4096",
	dflt:  fmt.Sprintf("default: %d", wasm.DefaultMemoryLimitMB),
	value: integer(func(c *wasm.Config) *int { return &c.MemoryLimitMB }),
}, {
	key:   "instances",
	doc:   "Most instances running at once, each one invocation at a time and kept for the next.",
	rng:   "1 to 1024",
	dflt:  "default: 0 (the number of CPUs)",
	value: integer(func(c *wasm.Config) *int { return &c.Instances }),
}, {
	key:   "cache_dir",
	doc:   "Directory for the compiled module, so that a restart loads it instead of compiling it again.",
	dflt:  `default: "" (compile at every start)`,
	value: str(func(c *wasm.Config) *string { return &c.CacheDir }, nil),
}, {
	key:   "read_only_dirs",
	doc:   "Host directories the function may read, each at its own path. By default it sees no file system at all.",
	value: stringList(func(c *wasm.Config) *[]string { return &c.ReadOnlyDirs }),
}, {
	key:   "scratch_dir",
	doc:   "One host directory the function may read and write, at its own path and as TMPDIR.",
	dflt:  `default: "" (none)`,
	value: str(func(c *wasm.Config) *string { return &c.ScratchDir }, nil),
}}}

var processSpec = &object{fields: []*field{{
	key: "language",
	doc: "python or node runs the unmodified Lambda handler named by handler with " +
		"Hydrant's bootstrap; empty runs command.",
	rng:   `"", ` + process.RuntimePython + " or " + process.RuntimeNode,
	dflt:  `default: "" (command)`,
	value: str(func(c *process.Config) *string { return &c.Runtime }, nil),
}, {
	key:      "handler",
	doc:      "The handler, as Lambda names it: module.function for Python, file.export for Node.js.",
	example:  "index.lambda_handler",
	disabled: true,
	value:    str(func(c *process.Config) *string { return &c.Handler }, nil),
}, {
	key:      "code_dir",
	doc:      "Host directory of the function's code, seen read-only at /var/task, the worker's working directory.",
	example:  "/etc/hydrant/functions/enrich",
	disabled: true,
	value:    str(func(c *process.Config) *string { return &c.CodeDir }, nil),
}, {
	key: "command",
	doc: "Argv of a raw executable speaking the contract on stdin and stdout, one event " +
		"JSON per line in and one answer JSON per line out. Exclusive with language.",
	value: stringList(func(c *process.Config) *[]string { return &c.Command }),
}, {
	key:   "workers",
	doc:   "Worker processes, each running one invocation at a time.",
	rng:   fmt.Sprintf("1 to %d", process.MaxWorkers),
	dflt:  fmt.Sprintf("default: %d", process.DefaultWorkers),
	value: integer(func(c *process.Config) *int { return &c.Workers }),
}, {
	key:   "memory_limit_mb",
	doc:   "Memory cap of each worker with its children and its /tmp (a memory cgroup); a worker over it is killed.",
	rng:   fmt.Sprintf("%d to %d", process.MinMemoryLimitMB, process.MaxMemoryLimitMB),
	dflt:  fmt.Sprintf("default: %d", process.DefaultMemoryLimitMB),
	value: integer(func(c *process.Config) *int { return &c.MemoryLimitMB }),
}, {
	key:   "pids_limit",
	doc:   "Cap of each worker's processes and threads (a pids cgroup).",
	rng:   fmt.Sprintf("%d to %d", process.MinPidsLimit, process.MaxPidsLimit),
	dflt:  fmt.Sprintf("default: %d", process.DefaultPidsLimit),
	value: integer(func(c *process.Config) *int { return &c.PidsLimit }),
}, {
	key:   "scratch_mb",
	doc:   "Size of the worker's writable /tmp, and the largest file it may write.",
	rng:   fmt.Sprintf("1 to %d", process.MaxScratchMB),
	dflt:  fmt.Sprintf("default: %d", process.DefaultScratchMB),
	value: integer(func(c *process.Config) *int { return &c.ScratchMB }),
}, {
	key:   "scratch_dir",
	doc:   "Host directory under which each worker gets its own /tmp on disk; by default /tmp is a tmpfs counted against memory_limit_mb.",
	value: str(func(c *process.Config) *string { return &c.ScratchDir }, nil),
}, {
	key:   "max_open_files",
	doc:   "Cap of each process's file descriptors.",
	rng:   fmt.Sprintf("%d to %d", process.MinMaxOpenFiles, process.MaxMaxOpenFiles),
	dflt:  fmt.Sprintf("default: %d", process.DefaultMaxOpenFiles),
	value: integer(func(c *process.Config) *int { return &c.MaxOpenFiles }),
}, {
	key:   "network",
	doc:   "Grants the host's network. By default a worker has a network namespace of its own with only a loopback interface.",
	value: boolean(func(c *process.Config) *bool { return &c.Network }),
}, {
	key:   "env",
	doc:   "Environment variables added to the worker's otherwise clean environment.",
	value: stringMap(func(c *process.Config) *map[string]string { return &c.Env }),
}, {
	key:   "read_only_paths",
	doc:   "Host paths, besides /usr, /bin, /sbin, /lib*, /etc and code_dir, the worker sees read-only at the same place.",
	value: stringList(func(c *process.Config) *[]string { return &c.ReadOnlyPaths }),
}, {
	key: "hidden_paths",
	doc: "Host paths inside those the worker sees that it must not see: a directory " +
		"shows empty, a file as /dev/null. hydrant serve always hides its own config " +
		"file and master key file.",
	value: stringList(func(c *process.Config) *[]string { return &c.HiddenPaths }),
}, {
	key:   "python_path",
	doc:   "Python 3 interpreter of language: python.",
	dflt:  "default: " + process.DefaultPythonPath,
	value: str(func(c *process.Config) *string { return &c.PythonPath }, nil),
}, {
	key:   "node_path",
	doc:   "Node.js of language: node.",
	dflt:  `default: "" (node, looked up in PATH)`,
	value: str(func(c *process.Config) *string { return &c.NodePath }, nil),
}, {
	key:   "start_timeout",
	doc:   "Longest a worker may take to start and load its handler.",
	dflt:  "default: " + process.DefaultStartTimeout.String(),
	value: duration(func(c *process.Config) *time.Duration { return &c.StartTimeout }),
}, {
	key: "require_isolation",
	doc: "Refuses to start the function when the host cannot apply a part of the " +
		"sandbox (a namespace, a cgroup limit), instead of running it with less isolation " +
		"and a warning in the log.",
	value: boolean(func(c *process.Config) *bool { return &c.RequireIsolation }),
}}}

var functionHTTPSpec = &object{fields: []*field{{
	key: "url",
	doc: "Where the event is POSTed: a Lambda function URL, an OpenWhisk web action, a " +
		"Knative service, any HTTP function. https:// unless the host is a loopback " +
		"address or allow_insecure_http is set.",
	example:  "https://abc123.lambda-url.us-east-1.on.aws/",
	disabled: true,
	value:    str(func(c *fnhttp.Config) *string { return &c.URL }, nil),
}, {
	key:   "allow_insecure_http",
	doc:   "Accepts an http:// URL to a host that is not a loopback address; events then cross the network in the clear.",
	value: boolean(func(c *fnhttp.Config) *bool { return &c.AllowInsecureHTTP }),
}, {
	key:   "headers",
	doc:   "Headers sent with every request, such as an API key; their values are secrets, never logged.",
	value: stringMap(func(c *fnhttp.Config) *map[string]string { return &c.Headers }),
}, {
	key:      "bearer_token_env",
	doc:      "Name of an environment variable holding a token sent as Authorization: Bearer <token>.",
	example:  "FUNCTION_TOKEN",
	disabled: true,
	value:    envSecret(func(c *fnhttp.Config) *string { return &c.BearerToken }),
}, {
	key:   "ca_file",
	doc:   "PEM file of CA certificates trusted besides the system's.",
	value: str(func(c *fnhttp.Config) *string { return &c.CAFile }, nil),
}, {
	key:   "insecure_skip_verify",
	doc:   "Accepts any certificate from the function. For tests only; use ca_file for a private CA.",
	value: boolean(func(c *fnhttp.Config) *bool { return &c.InsecureSkipVerify }),
}, {
	key:   "max_connections",
	doc:   "Most connections open to the function at once.",
	dflt:  fmt.Sprintf("default: 0 (%d)", fnhttp.DefaultMaxConnections),
	value: integer(func(c *fnhttp.Config) *int { return &c.MaxConnections }),
}}}

// checkFunctions validates each function against its runtime and reports
// a name declared twice.
func (d *decoder) checkFunctions(fns []Function) {
	first := make(map[string]int)
	for i := range fns {
		f := &fns[i]
		p := fmt.Sprintf("functions[%d]", i)
		if j, dup := first[f.Name]; dup {
			d.errorf(d.node(p+".name"), p+".name", "duplicate function name %q (first at line %d)", f.Name, d.node(fmt.Sprintf("functions[%d].name", j)).Line)
			continue
		}
		first[f.Name] = i
		if f.Timeout <= 0 || f.Timeout > MaxFunctionTimeout {
			d.errorf(d.node(p+".timeout"), p+".timeout", "%v is out of range: use 1ms to %v", f.Timeout, MaxFunctionTimeout)
		}
		// A block of another runtime is a mistake: say so rather than
		// ignore it. (Its defaults alone, as the reference shows, are not.)
		for _, b := range []struct {
			rt  string
			set bool
		}{
			{RuntimeWasm, f.Wasm.Module != ""},
			{RuntimeProcess, f.Process.Runtime != "" || f.Process.Handler != "" || len(f.Process.Command) > 0},
			{RuntimeHTTP, f.HTTP.URL != ""},
		} {
			if rt := b.rt; b.set && rt != f.Runtime {
				d.errorf(d.node(p+"."+rt), p+"."+rt, "is for runtime %s, and this function's runtime is %s: remove it or change runtime", rt, f.Runtime)
			}
		}
		var err error
		switch f.Runtime {
		case RuntimeWasm:
			err = f.Wasm.Validate()
		case RuntimeProcess:
			err = f.Process.Validate()
		case RuntimeHTTP:
			err = f.HTTP.Validate()
		}
		if err != nil {
			d.errorf(d.node(p+"."+f.Runtime), p+"."+f.Runtime, "%v", err)
		}
	}
}

// checkStreamFunctions reports streams that run a function the file does
// not declare.
func (d *decoder) checkStreamFunctions(streams []delivery.StreamConfig, fns []Function) {
	names := make([]string, len(fns))
	for i, f := range fns {
		names[i] = f.Name
	}
	for i, s := range streams {
		name := s.Destination.Processing.Function.Name
		if name == "" || contains(names, name) {
			continue
		}
		p := fmt.Sprintf("streams[%d].destination.processing.function.name", i)
		declared := "none are"
		if len(names) > 0 {
			declared = strings.Join(names, ", ")
		}
		d.errorf(d.node(p), p, "no function %q is declared under functions: (declared: %s)", name, declared)
	}
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
