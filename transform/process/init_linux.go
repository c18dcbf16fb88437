//go:build linux

package process

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// initArg, as the last of initArgs, makes this program the sandbox init: the host
// starts each worker as a re-execution of itself (/proc/self/exe) in new
// namespaces; the init builds the worker's file system, limits and
// credentials from the inside, then executes the worker in its place.
const initArg = "__hydrant-sandbox-init"

// The init's file descriptors, besides the worker's 0, 1 and 2.
const (
	initSpecFD   = 3 // in: the initSpec, as JSON, then EOF
	initStatusFD = 4 // out: "S" once running, "W <warning>" lines, then "E <stage> <error>" or EOF at exec
)

// Stages of an init error, which tell the host whose fault it is.
const (
	stageFS     = "fs"     // the host cannot build the file system: degrade
	stageConfig = "config" // a path the config named cannot be shown
	stageExec   = "exec"   // the worker program cannot be executed
	stageSetup  = "setup"  // anything else
)

// initSpec is what the init sets up.
type initSpec struct {
	Probe          bool        `json:"probe,omitempty"` // exit at once: the host tests its clone flags
	Root           string      `json:"root,omitempty"`  // empty dir to build the new root on; "" keeps the host's
	Mounts         []mountSpec `json:"mounts,omitempty"`
	NoMountSetattr bool        `json:"noMountSetattr,omitempty"`
	Hostname       string      `json:"hostname,omitempty"`
	Loopback       bool        `json:"loopback,omitempty"`    // bring up lo in the new network namespace
	LimitUserNS    bool        `json:"limitUserNS,omitempty"` // forbid nested user namespaces
	Rlimits        []rlimit    `json:"rlimits,omitempty"`
	SetIDs         bool        `json:"setIDs,omitempty"`     // become UID and GID before executing the worker
	FSIDs          bool        `json:"fsIDs,omitempty"`      // and take them as file system ids to build the root
	DropGroups     bool        `json:"dropGroups,omitempty"` // and drop the supplementary groups
	UID            int         `json:"uid,omitempty"`
	GID            int         `json:"gid,omitempty"`
	ProtocolFDs    bool        `json:"protocolFDs,omitempty"` // protocol on fds 3 and 4, stdout to the log
	Argv           []string    `json:"argv"`
	Env            []string    `json:"env"`
	Dir            string      `json:"dir,omitempty"`
}

// mountSpec is one entry of the new root, in order.
type mountSpec struct {
	Kind     string `json:"kind"`             // bind, symlink, tmpfs, proc, dev or hide
	Source   string `json:"source,omitempty"` // host path (bind), link (symlink), options (tmpfs)
	Target   string `json:"target"`           // path in the new root
	Writable bool   `json:"writable,omitempty"`
	User     bool   `json:"user,omitempty"` // named by the config: a failure is the config's
}

type rlimit struct {
	Resource int    `json:"resource"`
	Max      uint64 `json:"max"`
}

// RunInitIfRequested runs the sandbox init, and never returns, when this
// process was started as one; otherwise it returns at once. Every program
// that starts process functions calls it first thing in main (and a test
// binary in TestMain), because each worker starts as a re-execution of
// the program itself.
func RunInitIfRequested() {
	if len(os.Args) != len(initArgs) || os.Args[len(os.Args)-1] != initArg {
		return
	}
	// Credentials, capabilities and no_new_privs are per thread: every
	// step runs on this one, which then executes the worker.
	runtime.LockOSThread()
	status, err := syscall.Dup(initStatusFD)
	if err != nil {
		os.Exit(112)
	}
	syscall.CloseOnExec(status)
	syscall.Close(initStatusFD)
	syscall.Write(status, []byte("S\n"))
	stage, err := runInit(status)
	fmt.Fprintf(fdWriter(status), "E %s %s\n", stage, strings.ReplaceAll(err.Error(), "\n", " "))
	os.Exit(111)
}

type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) { return syscall.Write(int(w), p) }

// runInit sets the sandbox up and executes the worker; it returns only on
// failure, with the stage that failed.
func runInit(status int) (string, error) {
	specFile := os.NewFile(initSpecFD, "spec")
	raw, err := io.ReadAll(specFile)
	specFile.Close()
	if err != nil {
		return stageSetup, fmt.Errorf("cannot read the sandbox spec: %w", err)
	}
	var spec initSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return stageSetup, fmt.Errorf("cannot decode the sandbox spec: %w", err)
	}
	if spec.Probe {
		os.Exit(0)
	}
	warn := func(format string, args ...any) {
		fmt.Fprintf(fdWriter(status), "W "+format+"\n", args...)
	}
	if spec.ProtocolFDs {
		if err := protocolFDs(); err != nil {
			return stageSetup, err
		}
	}
	if spec.Root != "" {
		if stage, err := buildRoot(&spec); err != nil {
			return stage, err
		}
	}
	if spec.Hostname != "" {
		if err := syscall.Sethostname([]byte(spec.Hostname)); err != nil {
			warn("cannot set the hostname: %v", err)
		}
	}
	if spec.Loopback {
		if err := loopbackUp(); err != nil {
			warn("cannot bring up the loopback interface: %v", err)
		}
	}
	if spec.LimitUserNS {
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0\n"), 0); err != nil {
			warn("cannot forbid nested user namespaces: %v", err)
		}
	}
	for _, l := range spec.Rlimits {
		if err := lowerRlimit(l.Resource, l.Max); err != nil {
			return stageSetup, fmt.Errorf("cannot set rlimit %d to %d: %w", l.Resource, l.Max, err)
		}
	}
	if err := dropPrivileges(&spec); err != nil {
		return stageSetup, err
	}
	if spec.Dir != "" {
		if err := os.Chdir(spec.Dir); err != nil {
			return stageConfig, fmt.Errorf("cannot enter the working directory: %w", err)
		}
	}
	err = syscall.Exec(spec.Argv[0], spec.Argv, spec.Env)
	return stageExec, fmt.Errorf("cannot execute %s: %w", spec.Argv[0], err)
}

// protocolFDs moves the protocol pipes from stdin and stdout to fds 3 and
// 4, and points stdin at /dev/null and stdout at the log (stderr), so
// that nothing the handler prints or reads can touch the protocol.
func protocolFDs() error {
	for _, d := range [][2]int{{0, 3}, {1, 4}} {
		if err := syscall.Dup3(d[0], d[1], 0); err != nil {
			return fmt.Errorf("cannot move fd %d to %d: %w", d[0], d[1], err)
		}
	}
	null, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot open /dev/null: %w", err)
	}
	for _, d := range [][2]int{{null, 0}, {2, 1}} {
		if err := syscall.Dup3(d[0], d[1], 0); err != nil {
			return fmt.Errorf("cannot move fd %d to %d: %w", d[0], d[1], err)
		}
	}
	return syscall.Close(null)
}

// buildRoot builds the worker's file system on spec.Root, a tmpfs, and
// makes it the root: the host's mounts private, the mounts of the spec,
// pivot_root, the old root detached, the new one read-only.
func buildRoot(spec *initSpec) (string, error) {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return stageFS, fmt.Errorf("cannot make the mounts private: %w", err)
	}
	// Open the bind sources first, with hydrant's file system identity:
	// the sandbox user needs no permission on their parents.
	sources := make([]int, len(spec.Mounts))
	defer func() {
		for _, fd := range sources {
			if fd > 0 {
				syscall.Close(fd)
			}
		}
	}()
	for i, m := range spec.Mounts {
		if m.Kind != "bind" {
			continue
		}
		fd, err := syscall.Open(m.Source, oPath|syscall.O_CLOEXEC, 0)
		if err != nil {
			err = fmt.Errorf("cannot show %s in the sandbox: %w", m.Source, err)
			if m.User {
				return stageConfig, err
			}
			return stageFS, err
		}
		sources[i] = fd
	}
	// Files made in the new root's tmpfs, mounted in the user namespace,
	// need an owner mapped there.
	if spec.SetIDs && spec.FSIDs {
		syscall.Setfsgid(spec.GID)
		syscall.Setfsuid(spec.UID)
	}
	root := spec.Root
	if err := syscall.Mount("tmpfs", root, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return stageFS, fmt.Errorf("cannot mount the root tmpfs: %w", err)
	}
	for i, m := range spec.Mounts {
		if err := mount(root, m, sources[i], spec.NoMountSetattr); err != nil {
			if m.User {
				return stageConfig, err
			}
			return stageFS, err
		}
	}
	if err := os.Chdir(root); err != nil {
		return stageFS, err
	}
	// pivot_root(".", ".") stacks the old root on the new one; unmounting
	// "." then detaches the old root, and nothing of it stays reachable.
	if err := syscall.PivotRoot(".", "."); err != nil {
		return stageFS, fmt.Errorf("cannot pivot_root: %w", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return stageFS, fmt.Errorf("cannot detach the host's root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return stageFS, err
	}
	if err := syscall.Mount("", "/", "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, ""); err != nil {
		return stageFS, fmt.Errorf("cannot make the root read-only: %w", err)
	}
	return "", nil
}

// oPath is O_PATH, which the syscall package lacks: a descriptor that
// only names a file.
const oPath = 0x200000

// mount adds m to the new root; a bind mounts source, an O_PATH
// descriptor of m.Source.
func mount(root string, m mountSpec, source int, noSetattr bool) error {
	target := filepath.Join(root, m.Target)
	switch m.Kind {
	case "symlink":
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.Symlink(m.Source, target)
	case "bind":
		var st syscall.Stat_t
		if err := syscall.Fstat(source, &st); err != nil {
			return fmt.Errorf("cannot show %s in the sandbox: %w", m.Source, err)
		}
		if err := mountPoint(target, st.Mode&syscall.S_IFMT == syscall.S_IFDIR); err != nil {
			return err
		}
		if err := syscall.Mount("/proc/self/fd/"+strconv.Itoa(source), target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("cannot show %s in the sandbox: %w", m.Source, err)
		}
		if err := setMountAttrs(target, !m.Writable, noSetattr); err != nil {
			return fmt.Errorf("cannot make %s read-only in the sandbox: %w", m.Source, err)
		}
		return nil
	case "tmpfs":
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount("tmpfs", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, m.Source); err != nil {
			return fmt.Errorf("cannot mount a tmpfs on %s: %w", m.Target, err)
		}
		return nil
	case "proc":
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount("proc", target, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("cannot mount /proc: %w", err)
		}
		return nil
	case "dev":
		return buildDev(target)
	case "hide":
		return hide(target)
	}
	return fmt.Errorf("unknown mount kind %q", m.Kind)
}

// hide covers target, if the sandbox user can reach it: a directory with
// an empty read-only tmpfs, anything else with /dev/null.
func hide(target string) error {
	fi, err := os.Lstat(target)
	if err != nil {
		return nil // absent, or out of the worker's reach
	}
	if fi.IsDir() {
		err = syscall.Mount("tmpfs", target, "tmpfs", syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "mode=0555,size=4k")
	} else {
		err = syscall.Mount("/dev/null", target, "", syscall.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("cannot hide %s: %w", target, err)
	}
	return nil
}

// buildDev makes a minimal /dev: the harmless devices, bound from the
// host's, and the fd links; no /dev/shm, as in Lambda.
func buildDev(target string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", target, "tmpfs", syscall.MS_NOSUID|syscall.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("cannot mount a tmpfs on /dev: %w", err)
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom"} {
		p := filepath.Join(target, name)
		if err := mountPoint(p, false); err != nil {
			return err
		}
		if err := syscall.Mount("/dev/"+name, p, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("cannot show /dev/%s in the sandbox: %w", name, err)
		}
	}
	for name, to := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(to, filepath.Join(target, name)); err != nil {
			return err
		}
	}
	if err := syscall.Mount("", target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("cannot make /dev read-only: %w", err)
	}
	return nil
}

// mountPoint makes an empty directory or file to mount on.
func mountPoint(path string, dir bool) error {
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// Flags of mount_setattr(2).
const (
	atRecursive      = 0x8000
	mountAttrRdonly  = 0x1
	mountAttrNosuid  = 0x2
	mountAttrNodev   = 0x4
	mountAttrNoexec  = 0x8
	mountAttrVersion = 32           // sizeof(struct mount_attr), version 0
	atFDCWD          = ^uintptr(99) // AT_FDCWD, -100
)

// setMountAttrs makes the mount at target, and every mount below it,
// nosuid and nodev, and read-only when ro: with mount_setattr(2), else
// (before Linux 5.12, or when noSetattr) by remounting them one by one.
func setMountAttrs(target string, ro, noSetattr bool) error {
	if !noSetattr && haveMountSetattrN {
		attr := struct{ set, clr, propagation, userns uint64 }{set: mountAttrNosuid | mountAttrNodev}
		if ro {
			attr.set |= mountAttrRdonly
		}
		p, err := syscall.BytePtrFromString(target)
		if err != nil {
			return err
		}
		_, _, errno := syscall.Syscall6(sysMountSetattr, atFDCWD, uintptr(unsafe.Pointer(p)), atRecursive, uintptr(unsafe.Pointer(&attr)), mountAttrVersion, 0)
		runtime.KeepAlive(p)
		if errno == 0 {
			return nil
		}
		if errno != syscall.ENOSYS {
			return errno
		}
	}
	mounts, err := mountsUnder(target)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_NOSUID | syscall.MS_NODEV)
		if ro {
			flags |= syscall.MS_RDONLY
		}
		// Keep what a less privileged mount namespace may not clear.
		for _, o := range strings.Split(m.options, ",") {
			switch o {
			case "noexec":
				flags |= syscall.MS_NOEXEC
			case "noatime":
				flags |= syscall.MS_NOATIME
			case "nodiratime":
				flags |= syscall.MS_NODIRATIME
			case "relatime":
				flags |= syscall.MS_RELATIME
			case "strictatime":
				flags |= syscall.MS_STRICTATIME
			}
		}
		if err := syscall.Mount("", m.point, "", flags, ""); err != nil {
			return fmt.Errorf("cannot remount %s: %w", m.point, err)
		}
	}
	return nil
}

type mountInfo struct{ point, options string }

// mountsUnder lists the mounts at or below dir, parents first.
func mountsUnder(dir string) ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		point := unescapeMountPath(fields[4])
		if point == dir || strings.HasPrefix(point, dir+"/") {
			out = append(out, mountInfo{point: point, options: fields[5]})
		}
	}
	return out, sc.Err()
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// loopbackUp brings up lo, the only interface of a new network namespace.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return errno
	}
	ifr.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return errno
	}
	return nil
}

// lowerRlimit sets both limits of resource to max, or to the current hard
// limit when that is lower: the worker cannot raise them back.
func lowerRlimit(resource int, max uint64) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(resource, &cur); err != nil {
		return err
	}
	v := min(max, cur.Max)
	return syscall.Setrlimit(resource, &syscall.Rlimit{Cur: v, Max: v})
}

// Capabilities and prctl options the syscall package lacks.
const (
	prSetNoNewPrivs      = 38
	prCapAmbient         = 47
	prCapAmbientClearAll = 4
	linuxCapabilityV3    = 0x20080522
)

// dropPrivileges empties the capability bounding set, takes the sandbox
// user's ids, clears every capability, sets no_new_privs (no setuid bit or file capability can
// give any back) and asks for SIGKILL should the host die.
func dropPrivileges(spec *initSpec) error {
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_CAPBSET_DROP, uintptr(c), 0); errno != 0 && errno != syscall.EINVAL {
			return fmt.Errorf("cannot drop capability %d from the bounding set: %w", c, errno)
		}
	}
	if spec.DropGroups {
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("cannot drop the supplementary groups: %w", err)
		}
	}
	if spec.SetIDs {
		if err := syscall.Setresgid(spec.GID, spec.GID, spec.GID); err != nil {
			return fmt.Errorf("cannot set the group id to %d: %w", spec.GID, err)
		}
		if err := syscall.Setresuid(spec.UID, spec.UID, spec.UID); err != nil {
			return fmt.Errorf("cannot set the user id to %d: %w", spec.UID, err)
		}
	}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prCapAmbient, prCapAmbientClearAll, 0, 0, 0, 0); errno != 0 && errno != syscall.EINVAL {
		return fmt.Errorf("cannot clear the ambient capabilities: %w", errno)
	}
	hdr := struct {
		version uint32
		pid     int32
	}{version: linuxCapabilityV3}
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); errno != 0 {
		return fmt.Errorf("cannot clear the capabilities: %w", errno)
	}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0, 0, 0, 0); errno != 0 {
		return fmt.Errorf("cannot set no_new_privs: %w", errno)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return fmt.Errorf("cannot set the parent-death signal: %w", errno)
	}
	return nil
}
