package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliResult is one run of the hydrant CLI.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs `hydrant args… --endpoint endpoint` as a first-time user
// would: no AWS configuration or credentials anywhere (HOME is empty).
func runCLI(t *testing.T, endpoint, stdin string, args ...string) cliResult {
	t.Helper()
	return runHydrant(t, stdin, append(args, "--endpoint", endpoint)...)
}

// runHydrant runs `hydrant args…` with stdin, bounded to 90 s.
func runHydrant(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hydrantBin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("hydrant %s did not finish within 90s", strings.Join(args, " "))
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("cannot run hydrant %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("hydrant %s crashed:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// TestCLI drives a real server with `hydrant streams …` and `hydrant put`.
func TestCLI(t *testing.T) {
	needServer(t)
	srv := startServer(t, "")
	ep := srv.Endpoint()
	cli := func(stdin string, args ...string) cliResult { t.Helper(); return runCLI(t, ep, stdin, args...) }
	ok := func(r cliResult, what string) {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: %v; want exit 0", what, r)
		}
	}
	fails := func(r cliResult, what, wantErr string) {
		t.Helper()
		if r.code == 0 {
			t.Errorf("%s: exit 0; want non-zero\n%v", what, r)
		} else if !strings.Contains(r.stderr, wantErr) {
			t.Errorf("%s: stderr does not mention %s:\n%v", what, wantErr, r)
		}
	}

	r := cli("", "streams", "list")
	ok(r, "streams list")
	base := strings.Fields(r.stdout) // the embedded defaults may declare streams

	r = cli("", "streams", "create", "cli-gz", "--bucket", "cli-bucket", "--prefix", "cli/",
		"--buffer-interval", "1", "--buffer-size", "1", "--compression", "GZIP")
	ok(r, "streams create")
	if !strings.Contains(r.stdout, "cli-gz") {
		t.Errorf("streams create printed %q; want the stream named", r.stdout)
	}
	fails(cli("", "streams", "create", "cli-gz", "--bucket", "cli-bucket"), "streams create of an existing stream", "ResourceInUseException")

	r = cli("", "streams", "list")
	ok(r, "streams list")
	checkEq(t, "streams list", fmt.Sprint(strings.Fields(r.stdout)), fmt.Sprint(slices.Sorted(slices.Values(append(base, "cli-gz")))))

	r = cli("", "streams", "describe", "cli-gz")
	ok(r, "streams describe")
	for _, want := range []string{"cli-gz", "ACTIVE", "cli-bucket", "cli/", "GZIP"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("streams describe does not show %q:\n%s", want, r.stdout)
		}
	}
	r = cli("", "streams", "describe", "cli-gz", "-o", "json")
	ok(r, "streams describe -o json")
	var desc struct {
		DeliveryStreamDescription struct {
			DeliveryStreamName   string
			DeliveryStreamStatus string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &desc); err != nil {
		t.Errorf("streams describe -o json: %v\n%s", err, r.stdout)
	}
	checkEq(t, "describe -o json DeliveryStreamName", desc.DeliveryStreamDescription.DeliveryStreamName, "cli-gz")
	checkEq(t, "describe -o json DeliveryStreamStatus", desc.DeliveryStreamDescription.DeliveryStreamStatus, "ACTIVE")
	fails(cli("", "streams", "describe", "cli-nope"), "streams describe of an unknown stream", "ResourceNotFoundException")

	// 10,000 lines from a file; each line, newline included, is a record.
	l := newLedger()
	lines := genRecords("cli-line", 10_000, 80)
	file := filepath.Join(t.TempDir(), "records.txt")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = cli("", "put", "--stream", "cli-gz", file)
	ok(r, "put --stream cli-gz FILE")
	l.ack(lines...)
	summary := regexp.MustCompile(`sent (\d+) records?.*; (\d+) failed`)
	if m := summary.FindStringSubmatch(r.stdout + r.stderr); m == nil {
		t.Errorf("put printed no summary `sent N records …; M failed`:\n%v", r)
	} else if m[1] != "10000" || m[2] != "0" {
		t.Errorf("put summary %q; want 10000 sent, 0 failed", m[0])
	}

	// Standard input; a last line without a newline gets one.
	r = cli("cli-stdin-1\ncli-stdin-2\ncli-stdin-3", "put", "--stream", "cli-gz")
	ok(r, "put --stream cli-gz < stdin")
	l.ack("cli-stdin-1\n", "cli-stdin-2\n", "cli-stdin-3\n")

	fails(cli("x\n", "put", "--stream", "cli-nope"), "put to an unknown stream", "ResourceNotFoundException")

	srv.WaitBacklogZero("cli-gz", 60*time.Second)
	objs := readBucket(t, srv.dataDir, "cli-bucket")
	checkExactlyOnce(t, objs, l)
	for _, k := range objs.keys {
		if !strings.HasPrefix(k, "cli/") || !strings.HasSuffix(k, ".gz") {
			t.Errorf("object %q: want prefix cli/ and extension .gz", k)
		}
	}

	ok(cli("", "streams", "delete", "cli-gz"), "streams delete")
	for deadline := time.Now().Add(30 * time.Second); ; {
		r = cli("", "streams", "describe", "cli-gz")
		if r.code != 0 && strings.Contains(r.stderr, "ResourceNotFoundException") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream cli-gz still there 30s after `streams delete`:\n%v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	r = cli("", "streams", "list")
	ok(r, "streams list after delete")
	if slices.Contains(strings.Fields(r.stdout), "cli-gz") {
		t.Errorf("streams list after delete still shows cli-gz:\n%s", r.stdout)
	}

	// ZSTD is a compression format the server accepts (Hydrant's
	// extension to Firehose's list); the CLI must let users choose it.
	r = cli("", "streams", "create", "cli-zstd", "--bucket", "cli-zstd", "--compression", "ZSTD")
	if r.code != 0 {
		t.Errorf("streams create --compression ZSTD: %v; want exit 0 (the server supports ZSTD)", r)
	} else {
		r = cli("", "streams", "describe", "cli-zstd")
		if !strings.Contains(r.stdout, "ZSTD") {
			t.Errorf("streams describe cli-zstd does not show ZSTD:\n%s", r.stdout)
		}
	}
}
