package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hydrantBin is the binary under test, built once by TestMain.
var hydrantBin string

// verbose (HYDRANT_TEST_VERBOSE=1) logs more of what the tests see: start
// times, every failed put of the crash test.
var verbose = os.Getenv("HYDRANT_TEST_VERBOSE") != ""

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	if bin := os.Getenv("HYDRANT_TEST_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return 0, err
		}
		hydrantBin = abs
		return m.Run(), nil
	}
	tmp, err := os.MkdirTemp("", "hydrant-integration-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	hydrantBin = filepath.Join(tmp, "hydrant")
	args := []string{"build", "-o", hydrantBin}
	if raceEnabled {
		// The server runs under the race detector too when the tests do:
		// the races worth finding are in the server, under real load.
		args = append(args, "-race")
	}
	args = append(args, "./cmd/hydrant")
	start := time.Now()
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("cannot build hydrant (go %s in %s): %v\n%s", strings.Join(args, " "), root, err, out)
	}
	fmt.Fprintf(os.Stderr, "integration: built %s (race=%v) in %v\n", hydrantBin, raceEnabled, time.Since(start).Round(time.Millisecond))
	return m.Run(), nil
}

// moduleRoot returns the directory of go.mod: `go env GOMOD` from here,
// falling back to the parent directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root (go env GOMOD failed and ../go.mod is missing): %w", err)
	}
	return root, nil
}

// needServer skips the test in -short mode.
func needServer(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real hydrant processes; skipped with -short")
	}
}
