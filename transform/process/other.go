//go:build !linux

package process

import (
	"context"
	"errors"
	"os"
	"runtime"
)

// RunInitIfRequested returns at once: the sandbox init exists on Linux
// only.
func RunInitIfRequested() {}

var errNotLinux = errors.New("process functions need Linux (namespaces and cgroups); this is " + runtime.GOOS)

type sandbox struct{}

type workerSys struct{}

func newSandbox(string, Config) (*sandbox, []string, error) { return nil, nil, errNotLinux }

func (*sandbox) start(context.Context, int64, *stderrLimiter) (*worker, []string, error) {
	return nil, nil, errNotLinux
}

func (*sandbox) startProbing(context.Context, int64, *stderrLimiter) (*worker, []string, error) {
	return nil, nil, errNotLinux
}

func (*sandbox) close() error { return nil }

func (*workerSys) kill(p *os.Process) { p.Kill() }
func (*workerSys) cleanup()           {}
func (*workerSys) oomKilled() bool    { return false }

func pendingBytes(*os.File) int { return 0 }
