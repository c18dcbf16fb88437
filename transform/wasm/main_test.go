package wasm

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run the example modules of ../examples, built as
// `make transform-examples` builds them: TestMain rebuilds any that is
// missing or older than its sources, so that `go test ./transform/...`
// works alone. Compiled code is cached in ../examples/bin/cache, per
// wazero version, across runs: wazero compiles a 3 MB Go module in a few
// seconds, but in half a minute under -race, so a cold cache under -race
// is slow once; `make transform-examples` warms it without -race.

var (
	examplesDir = filepath.Join("..", "examples")
	binDir      = filepath.Join(examplesDir, "bin")
	// cacheDir is the compilation cache the tests share; set by TestMain.
	cacheDir string
)

// examples are the example modules, each in ../examples/<name>.
var examples = []string{"noop", "rewrite", "loop", "membomb", "garbage", "extra", "trap", "readfile", "crash"}

func TestMain(m *testing.M) {
	if err := buildExamples(); err != nil {
		fmt.Fprintf(os.Stderr, "cannot build the example modules (run make transform-examples to see why): %v\n", err)
		os.Exit(1)
	}
	version, err := wazeroVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = filepath.Join(binDir, "cache", "wazero-"+version)
	os.Exit(m.Run())
}

func examplePath(name string) string {
	return filepath.Join(binDir, name+".wasm")
}

// buildExamples builds each example module that is missing or older than
// a source it depends on, two at a time.
func buildExamples() error {
	shared, err := newest(filepath.Join("..", "..", "go.mod"), filepath.Join("..", "..", "go.sum"),
		filepath.Join("..", "*.go"), filepath.Join("guest", "*.go"), filepath.Join(examplesDir, "handlers", "*.go"))
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 2)
	)
	for _, name := range examples {
		src, err := newest(filepath.Join(examplesDir, name, "*.go"))
		if err != nil {
			return err
		}
		if fi, err := os.Stat(examplePath(name)); err == nil && fi.ModTime().After(src) && fi.ModTime().After(shared) {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := buildExample(name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// buildExample builds one example module the way the Makefile does, into
// a temporary file renamed into place, so that a concurrent build never
// leaves half a module.
func buildExample(name string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	tmp := examplePath(name) + ".tmp-" + fmt.Sprint(os.Getpid())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", tmp, "./"+name)
	cmd.Dir = examplesDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build %s: %v\n%s", name, err, out)
	}
	return os.Rename(tmp, examplePath(name))
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

// wazeroVersion reads wazero's version from go.mod: a test binary does not
// know it, so wazero keys its cache with "dev", and the cache's directory
// must tell versions apart instead.
func wazeroVersion() (string, error) {
	f, err := os.Open(filepath.Join("..", "..", "go.mod"))
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
