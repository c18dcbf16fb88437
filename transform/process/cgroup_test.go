//go:build linux

package process

import (
	"os"
	"path/filepath"
	"testing"
)

func TestControllerParent(t *testing.T) {
	v2 := t.TempDir()
	os.MkdirAll(filepath.Join(v2, "system.slice", "hydrant.service"), 0o755)
	os.WriteFile(filepath.Join(v2, "system.slice", "hydrant.service", "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
	mounts := []cgroupMount{
		{point: "/sys/fs/cgroup/memory", root: "/", controllers: []string{"rw", "memory"}},
		{point: "/sys/fs/cgroup/cpu,cpuacct", root: "/docker/abc", controllers: []string{"rw", "cpu", "cpuacct"}},
		{point: v2, root: "/", v2: true},
	}
	own := map[string]string{"memory": "/process_api/x", "cpu": "/docker/abc/inner", "": "/system.slice/hydrant.service"}
	for _, c := range []struct {
		controller, dir string
		v2              bool
	}{
		{"memory", "/sys/fs/cgroup/memory/process_api/x", false},
		{"cpu", "/sys/fs/cgroup/cpu,cpuacct/inner", false},
		{"pids", filepath.Join(v2, "system.slice", "hydrant.service"), true},
	} {
		dir, isV2, err := controllerParent(c.controller, mounts, own)
		if err != nil || dir != c.dir || isV2 != c.v2 {
			t.Errorf("controllerParent(%s) = %q, v2 %v, %v; want %q, v2 %v", c.controller, dir, isV2, err, c.dir, c.v2)
		}
	}
	if _, _, err := controllerParent("hugetlb", mounts, own); err == nil {
		t.Error("controllerParent(hugetlb) found a controller the v2 cgroup does not offer")
	}
	own["cpu"] = "/elsewhere"
	if _, _, err := controllerParent("cpu", mounts, own); err == nil {
		t.Error("controllerParent(cpu) accepted a cgroup outside the mounted root")
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/tab\011x\134`: "/tab\tx\\", `/short\04`: `/short\04`} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q; want %q", in, got, want)
		}
	}
}
