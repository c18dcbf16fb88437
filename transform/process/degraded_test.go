//go:build linux

package process

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/transform"
)

// wantWarnings checks that New reported each of want.
func wantWarnings(t *testing.T, warnings []string, want ...string) {
	t.Helper()
	all := strings.Join(warnings, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("New warned %q; want a warning holding %q", warnings, w)
		}
	}
}

// The host applies the whole sandbox, so these tests switch parts off as
// an unable host would, and check that New says so and the rest holds.

func TestNoUserNamespaceNoCgroups(t *testing.T) {
	cfg := python(t, "hostile.inspect")
	cfg.disable = featUserNS | featCgroup
	f, warnings, _ := startWarned(t, cfg)
	wantWarnings(t, warnings, "no user namespace", "no memory or pids limit", "memory limited per process with RLIMIT_DATA (128 MB)")
	res := mustInvoke(t, f, eventOf("x"))
	var got struct {
		UID, GID int
		Groups   []int
		Pids     []int
		Status   map[string]string
		Limits   map[string]string
	}
	if err := json.Unmarshal(res[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.UID != hostID || got.GID != hostID || len(got.Groups) != 0 {
		t.Errorf("uid %d gid %d groups %v; want %d, %d, none", got.UID, got.GID, got.Groups, hostID, hostID)
	}
	if got.Status["CapEff"] != "0000000000000000" || got.Status["CapBnd"] != "0000000000000000" || len(got.Pids) != 1 {
		t.Errorf("status %v, processes %v; want no capabilities and a PID namespace", got.Status, got.Pids)
	}
	if got.Limits["Max data size"] != "134217728" {
		t.Errorf("RLIMIT_DATA = %s; want 134217728", got.Limits["Max data size"])
	}

	cfg = python(t, "hostile.read_files")
	cfg.disable = featUserNS | featCgroup
	f, _, _ = startWarned(t, cfg)
	res = mustInvoke(t, f, eventOf("/etc/shadow"))
	wantProbe(t, res[0], "/etc/shadow", transform.ResultProcessingFailed, "PermissionError")

	cfg = python(t, "hostile.memory_bomb")
	cfg.disable = featUserNS | featCgroup
	f, _, _ = startWarned(t, cfg)
	_, err := invoke(f, eventOf("boom"), 10e9)
	wantCode(t, err, transform.CodeFunctionError, `^MemoryError`)
	serves(t, f)

	cfg.RequireIsolation = true
	if _, _, err := New(context.Background(), "strict", cfg, nil); err == nil || !strings.Contains(err.Error(), "RequireIsolation is set: no user namespace") {
		t.Errorf("New with RequireIsolation = %v; want it to fail naming what is missing", err)
	}
}

func TestNoFileSystemIsolation(t *testing.T) {
	cfg := python(t, "hostile.read_files")
	cfg.disable = featFS
	f, warnings, _ := startWarned(t, cfg)
	wantWarnings(t, warnings, "no read-only root file system")
	res := mustInvoke(t, f, eventOf("/etc/shadow", "/proc/self/cwd/noop.py"))
	wantProbe(t, res[0], "/etc/shadow", transform.ResultProcessingFailed, "PermissionError")
	wantProbe(t, res[1], "noop.py", transform.ResultOk, "no-op")
}

func TestRemountFallback(t *testing.T) {
	cfg := python(t, "hostile.write_files")
	cfg.disable = featMountSetattr
	res := probe(t, cfg, "/usr/hydrant-escape", "/etc/hydrant-escape", "/tmp/ok")
	wantProbe(t, res[0], "/usr", transform.ResultProcessingFailed, "Read-only file system")
	wantProbe(t, res[1], "/etc", transform.ResultProcessingFailed, "Read-only file system")
	wantProbe(t, res[2], "/tmp/ok", transform.ResultOk, "wrote")
}
