package wasm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Config configures one wasm transformation function. The zero value of
// every field but Module means its default.
type Config struct {
	// Module is the path of the WebAssembly module: a WASI preview 1
	// reactor that exports the ABI of ABI.md, such as a Go program built
	// with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared on package guest.
	// Required.
	Module string
	// MemoryLimitMB caps the linear memory of each instance, in MiB: a
	// function that grows past it fails (Lambda.FunctionError) and its
	// instance is replaced. 1 to MaxMemoryLimitMB, and at least the
	// module's own minimum (2 MiB for Go); 0 means DefaultMemoryLimitMB.
	// A Go guest keeps about 4 times its live heap plus a batch or two.
	MemoryLimitMB int
	// Instances is the most instances of the module that run at once; each
	// runs one invocation at a time and is kept for the next, so it is
	// also the most invocations in flight. An invocation that finds them
	// all busy waits for one within its timeout. 1 to MaxInstances; 0
	// means runtime.GOMAXPROCS(0).
	Instances int
	// CacheDir is a directory for the compiled module, so that a restart
	// loads it (~0.3 s) instead of compiling it again (~1.5 s for Go's
	// 3 MB modules). Created if missing. Default "": compile at every
	// start.
	CacheDir string
	// ReadOnlyDirs are host directories the function may read, each seen
	// by the function at its own absolute path. Default none: the function
	// sees no file system at all.
	ReadOnlyDirs []string
	// ScratchDir is one host directory the function may read and write,
	// seen at its own absolute path and named by TMPDIR, so that Go's
	// os.TempDir and os.CreateTemp use it. Default "": none.
	ScratchDir string
}

// Defaults and limits of Config.
const (
	// DefaultMemoryLimitMB is Config.MemoryLimitMB's default.
	DefaultMemoryLimitMB = 64
	// MaxMemoryLimitMB is the largest Config.MemoryLimitMB: all a wasm32
	// memory can address.
	MaxMemoryLimitMB = 4096
	// MaxInstances is the largest Config.Instances.
	MaxInstances = 1024
)

// withDefaults returns c with its defaults applied.
func (c Config) withDefaults() Config {
	if c.MemoryLimitMB == 0 {
		c.MemoryLimitMB = DefaultMemoryLimitMB
	}
	if c.Instances == 0 {
		c.Instances = runtime.GOMAXPROCS(0)
	}
	return c
}

// Validate checks c against its ranges, without the file system, so that
// a config file can be checked on another machine; New checks the files
// (checkFiles).
func (c *Config) Validate() error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, errors.New("the module is not set: give the path of a .wasm file"))
	}
	if c.MemoryLimitMB < 0 || c.MemoryLimitMB > MaxMemoryLimitMB {
		errs = append(errs, fmt.Errorf("the memory limit is %d MiB: use 1 to %d, or 0 for the default %d", c.MemoryLimitMB, MaxMemoryLimitMB, DefaultMemoryLimitMB))
	}
	if c.Instances < 0 || c.Instances > MaxInstances {
		errs = append(errs, fmt.Errorf("the number of instances is %d: use 1 to %d, or 0 for one per CPU", c.Instances, MaxInstances))
	}
	seen := make(map[string]bool)
	dir := func(what, path string) {
		switch {
		case !filepath.IsAbs(path):
			errs = append(errs, fmt.Errorf("the %s %q is not an absolute path", what, path))
		case seen[filepath.Clean(path)]:
			errs = append(errs, fmt.Errorf("the %s %q is granted twice", what, path))
		}
		seen[filepath.Clean(path)] = true
	}
	for _, d := range c.ReadOnlyDirs {
		dir("read-only directory", d)
	}
	if c.ScratchDir != "" {
		dir("scratch directory", c.ScratchDir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid wasm transformation: %w", err)
	}
	return nil
}

// checkFiles checks what Validate does not: the module is a readable file,
// and every directory granted exists.
func (c *Config) checkFiles() error {
	var errs []error
	switch fi, err := os.Stat(c.Module); {
	case err != nil:
		errs = append(errs, fmt.Errorf("cannot read the module: %w", err))
	case fi.IsDir():
		errs = append(errs, fmt.Errorf("the module %q is a directory: give the path of a .wasm file", c.Module))
	}
	dir := func(what, path string) {
		switch fi, err := os.Stat(path); {
		case err != nil:
			errs = append(errs, fmt.Errorf("cannot grant the %s: %w", what, err))
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("the %s %q is not a directory", what, path))
		}
	}
	for _, d := range c.ReadOnlyDirs {
		dir("read-only directory", d)
	}
	if c.ScratchDir != "" {
		dir("scratch directory", c.ScratchDir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid wasm transformation: %w", err)
	}
	return nil
}
