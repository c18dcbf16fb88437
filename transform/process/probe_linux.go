//go:build linux

package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// A host may refuse some namespaces (no unprivileged user namespaces, a
// container without CAP_SYS_ADMIN) or the new root (a kernel without
// mount_setattr and a locked mount it cannot remount). The first worker
// of a function finds out: what fails is dropped, with a warning, and
// every later worker starts as the first did.

// startProbing starts a worker as start does, first dropping, with a
// warning each, the namespaces the host refuses and the file system
// isolation it cannot build.
func (s *sandbox) startProbing(ctx context.Context, gen int64, logs *stderrLimiter) (*worker, []string, error) {
	var warnings []string
	for attempt := 0; ; attempt++ {
		w, more, err := s.start(ctx, gen, logs)
		warnings = append(warnings, more...)
		var se *startError
		if err == nil || attempt == 2 || !errors.As(err, &se) {
			return w, warnings, err
		}
		switch se.stage {
		case "clone":
			more := s.probeNamespaces()
			if len(more) == 0 {
				return nil, nil, err
			}
			warnings = append(warnings, more...)
		case stageFS:
			if !s.fs {
				return nil, nil, err
			}
			s.fs = false
			warnings = append(warnings, fmt.Sprintf("no read-only root file system: %v", se.err))
		default:
			return nil, nil, err
		}
	}
}

// probeNamespaces drops the namespaces the host refuses to create, and
// says so.
func (s *sandbox) probeNamespaces() []string {
	var warnings []string
	if s.userNS {
		if err := s.probe(syscall.CLONE_NEWUSER); err != nil {
			s.userNS = false
			who := "uid 65534, set by the root init"
			if !s.root {
				who = "hydrant's own user, which is not root"
			}
			warnings = append(warnings, fmt.Sprintf("no user namespace (%v): workers run as %s", err, who))
		}
	}
	for _, ns := range []struct {
		on   *bool
		flag uintptr
		name string
	}{{&s.pidNS, syscall.CLONE_NEWPID, "PID"}, {&s.mountNS, syscall.CLONE_NEWNS, "mount"}, {&s.netNS, syscall.CLONE_NEWNET, "network"}, {&s.ipcNS, syscall.CLONE_NEWIPC, "IPC"}, {&s.utsNS, syscall.CLONE_NEWUTS, "UTS"}} {
		if !*ns.on {
			continue
		}
		flags := ns.flag
		if s.userNS {
			flags |= syscall.CLONE_NEWUSER
		}
		if err := s.probe(flags); err != nil {
			*ns.on = false
			warnings = append(warnings, fmt.Sprintf("no %s namespace: %v", ns.name, err))
		}
	}
	if !s.mountNS && s.fs {
		s.fs = false
		warnings = append(warnings, "no read-only root file system: it needs a mount namespace")
	}
	if !s.userNS && !s.root && s.fs {
		s.fs = false
	}
	return warnings
}

// probe starts an init with flags that exits at once.
func (s *sandbox) probe(flags uintptr) error {
	specR, specW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer specW.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        initArgs,
		Env:         []string{},
		ExtraFiles:  []*os.File{specR, null},
		SysProcAttr: s.sysProcAttr(flags),
	}
	err = s.startProcess(cmd)
	specR.Close()
	if err != nil {
		return err
	}
	specW.WriteString(`{"probe":true}`)
	specW.Close()
	return cmd.Wait()
}
