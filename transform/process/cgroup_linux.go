//go:build linux

package process

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A function's cgroups sit under the hydrant process's own cgroup, one
// directory per hierarchy, hydrant-<pid>-<function>-<random>, with one
// child per worker, w<generation>, holding its limits. On cgroup v1 the
// memory and pids controllers each have their hierarchy; on v2 they share
// one, and the hydrant process's cgroup must delegate them (list them in
// its cgroup.subtree_control), which a cgroup holding processes cannot do
// unless it is the root.

// cgroupSet is a function's cgroups.
type cgroupSet struct {
	memory *cgroupDir // nil when no memory controller is usable
	pids   *cgroupDir // nil when no pids controller is usable
}

// cgroupDir is a function's directory in one hierarchy.
type cgroupDir struct {
	path string
	v2   bool
}

// workerCgroup is one worker's cgroups.
type workerCgroup struct {
	memory, pids string // directories; "" when not used (pids may equal memory on v2)
	memoryV2     bool
}

type cgroupMount struct {
	point, root string
	v2          bool
	controllers []string // v1: the controllers of the hierarchy
}

// newCgroupSet makes the function's cgroups and says which limits the
// host cannot enforce.
func newCgroupSet(name string) (*cgroupSet, []string) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, []string{fmt.Sprintf("no memory or pids limit: cannot read the cgroup mounts: %v", err)}
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, []string{fmt.Sprintf("no memory or pids limit: cannot read this process's cgroups: %v", err)}
	}
	var suffix [3]byte
	rand.Read(suffix[:])
	base := fmt.Sprintf("hydrant-%d-%s-%s", os.Getpid(), name, hex.EncodeToString(suffix[:]))
	set := &cgroupSet{}
	var warnings []string
	made := map[string]*cgroupDir{}
	for _, c := range []string{"memory", "pids"} {
		parent, v2, err := controllerParent(c, mounts, own)
		var dir *cgroupDir
		if err == nil {
			removeStaleCgroups(parent)
			path := filepath.Join(parent, base)
			if dir = made[path]; dir == nil {
				dir = &cgroupDir{path: path, v2: v2}
				err = dir.create(parent)
				if err == nil {
					made[path] = dir
				}
			}
			if err == nil && v2 {
				err = enableController(parent, dir.path, c)
			}
		}
		if err != nil {
			what := "memory limit (MemoryLimitMB)"
			if c == "pids" {
				what = "pids limit (PidsLimit)"
			}
			warnings = append(warnings, fmt.Sprintf("no %s: %v", what, err))
			continue
		}
		if c == "memory" {
			set.memory = dir
		} else {
			set.pids = dir
		}
	}
	if set.memory == nil && set.pids == nil {
		return nil, warnings
	}
	return set, warnings
}

// controllerParent finds the cgroup directory of this process in the
// hierarchy holding controller c: v1 if c is mounted as v1, else v2.
func controllerParent(c string, mounts []cgroupMount, own map[string]string) (string, bool, error) {
	for _, m := range mounts {
		if m.v2 || !slices.Contains(m.controllers, c) {
			continue
		}
		p, ok := own[c]
		if !ok {
			return "", false, fmt.Errorf("this process is in no %s cgroup", c)
		}
		dir, err := underMount(m, p)
		return dir, false, err
	}
	for _, m := range mounts {
		if !m.v2 {
			continue
		}
		dir, err := underMount(m, own[""])
		if err != nil {
			return "", true, err
		}
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return "", true, err
		}
		if !slices.Contains(strings.Fields(string(b)), c) {
			return "", true, fmt.Errorf("cgroup v2 at %s does not offer the %s controller", dir, c)
		}
		return dir, true, nil
	}
	return "", false, fmt.Errorf("no cgroup hierarchy has the %s controller", c)
}

func underMount(m cgroupMount, p string) (string, error) {
	if p == "" {
		return "", errors.New("this process's cgroup is unknown")
	}
	rel := p
	if m.root != "/" {
		r, ok := strings.CutPrefix(p, m.root)
		if !ok {
			return "", fmt.Errorf("this process's cgroup %s is outside the mounted %s", p, m.root)
		}
		rel = r
	}
	return filepath.Join(m.point, rel), nil
}

func (d *cgroupDir) create(parent string) error {
	if err := os.Mkdir(d.path, 0o755); err != nil {
		return fmt.Errorf("cannot create a cgroup under %s: %w", parent, err)
	}
	return nil
}

// enableController delegates controller c (v2) from parent to dir, for
// the workers' cgroups below dir.
func enableController(parent, dir, c string) error {
	write := func(d string) error {
		sub := filepath.Join(d, "cgroup.subtree_control")
		b, err := os.ReadFile(sub)
		if err == nil && slices.Contains(strings.Fields(string(b)), c) {
			return nil
		}
		return os.WriteFile(sub, []byte("+"+c), 0)
	}
	if err := write(parent); err != nil {
		return fmt.Errorf("cannot delegate the %s controller from %s (a cgroup v2 holding processes cannot; run hydrant in a leaf cgroup below a delegated one): %w", c, parent, err)
	}
	if err := write(dir); err != nil {
		return fmt.Errorf("cannot delegate the %s controller to %s: %w", c, dir, err)
	}
	return nil
}

// removeStaleCgroups removes the empty cgroups of hydrant processes that
// are gone (killed before their Close).
func removeStaleCgroups(parent string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "hydrant-")
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		subs, _ := os.ReadDir(dir)
		for _, s := range subs {
			if s.IsDir() {
				syscall.Rmdir(filepath.Join(dir, s.Name()))
			}
		}
		syscall.Rmdir(dir)
	}
}

// worker makes the cgroups of worker gen, with its limits.
func (s *cgroupSet) worker(gen int64, memoryBytes, pids int64) (*workerCgroup, error) {
	name := "w" + strconv.FormatInt(gen, 10)
	wc := &workerCgroup{}
	if s.memory != nil {
		wc.memory, wc.memoryV2 = filepath.Join(s.memory.path, name), s.memory.v2
		if err := os.Mkdir(wc.memory, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the worker's cgroup: %w", err)
		}
		limits := [][2]string{{"memory.limit_in_bytes", strconv.FormatInt(memoryBytes, 10)}, {"memory.memsw.limit_in_bytes", strconv.FormatInt(memoryBytes, 10)}}
		if wc.memoryV2 {
			limits = [][2]string{{"memory.max", strconv.FormatInt(memoryBytes, 10)}, {"memory.swap.max", "0"}}
		}
		for i, l := range limits {
			err := os.WriteFile(filepath.Join(wc.memory, l[0]), []byte(l[1]), 0)
			if err != nil && (i == 0 || !errors.Is(err, os.ErrNotExist)) { // swap accounting may be off
				wc.remove()
				return nil, fmt.Errorf("cannot set %s: %w", l[0], err)
			}
		}
	}
	if s.pids != nil {
		wc.pids = filepath.Join(s.pids.path, name)
		if wc.pids != wc.memory {
			if err := os.Mkdir(wc.pids, 0o755); err != nil {
				wc.remove()
				return nil, fmt.Errorf("cannot create the worker's cgroup: %w", err)
			}
		}
		if err := os.WriteFile(filepath.Join(wc.pids, "pids.max"), []byte(strconv.FormatInt(pids, 10)), 0); err != nil {
			wc.remove()
			return nil, fmt.Errorf("cannot set pids.max: %w", err)
		}
	}
	return wc, nil
}

func (wc *workerCgroup) dirs() []string {
	var ds []string
	for _, d := range []string{wc.memory, wc.pids} {
		if d != "" && !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	return ds
}

// add moves process pid, which has not started the worker yet, into the
// worker's cgroups.
func (wc *workerCgroup) add(pid int) error {
	for _, d := range wc.dirs() {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("cannot move the worker into cgroup %s: %w", d, err)
		}
	}
	return nil
}

// oomKilled reports whether the kernel killed a process of the worker for
// reaching its memory limit.
func (wc *workerCgroup) oomKilled() bool {
	if wc == nil || wc.memory == "" {
		return false
	}
	file := "memory.oom_control"
	if wc.memoryV2 {
		file = "memory.events"
	}
	f, err := os.Open(filepath.Join(wc.memory, file))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			return strings.TrimSpace(n) != "0"
		}
	}
	return false
}

// procs lists the processes left in the worker's cgroups.
func (wc *workerCgroup) procs() []int {
	var pids []int
	for _, d := range wc.dirs() {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// remove kills whatever is left in the worker's cgroups and removes them.
func (wc *workerCgroup) remove() error {
	var err error
	for try := 0; try < 500; try++ {
		err = nil
		for _, pid := range wc.procs() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, d := range wc.dirs() {
			if e := syscall.Rmdir(d); e != nil && e != syscall.ENOENT {
				err = fmt.Errorf("cannot remove cgroup %s: %w", d, e)
			}
		}
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

// close removes the function's cgroups, once its workers' are gone.
func (s *cgroupSet) close() error {
	var errs []error
	for _, d := range []*cgroupDir{s.memory, s.pids} {
		if d == nil || (d == s.pids && s.memory != nil && d.path == s.memory.path) {
			continue
		}
		if err := syscall.Rmdir(d.path); err != nil && err != syscall.ENOENT {
			errs = append(errs, fmt.Errorf("cannot remove cgroup %s: %w", d.path, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupMounts lists the mounted cgroup hierarchies.
func cgroupMounts() ([]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root point options [optional…] - type source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		m := cgroupMount{root: unescapeMountPath(a[3]), point: unescapeMountPath(a[4])}
		switch b[0] {
		case "cgroup2":
			m.v2 = true
		case "cgroup":
			m.controllers = strings.Split(b[2], ",")
		default:
			continue
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// ownCgroups maps each v1 controller to this process's cgroup path in its
// hierarchy, and "" to its v2 path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			own[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	return own, nil
}
