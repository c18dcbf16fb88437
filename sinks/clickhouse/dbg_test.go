package clickhouse

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func cpuSelf() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestDbgCPU(t *testing.T) {
	srv := startServer(t, serverOptions{})
	recs := benchRecords(200_000)
	var input bytes.Buffer
	for _, r := range recs {
		input.Write(r.Data)
		input.WriteByte('\n')
	}
	srv.Exec("CREATE TABLE bench_sink " + benchTable)
	s, err := New(context.Background(), srv.Config("bench_sink", benchColumns...), nil)
	if err != nil {
		t.Fatal(err)
	}
	client := filepath.Join(filepath.Dir(serverBin(t)), "clickhouse-client")
	for i := 0; i < 4; i++ {
		srv.Exec("DROP TABLE IF EXISTS bench_sink")
		srv.Exec("CREATE TABLE bench_sink " + benchTable)
		c0, w0 := cpuSelf(), time.Now()
		if _, err := s.Insert(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		t.Logf("sink:   wall %v cpu %v", time.Since(w0).Round(time.Millisecond), (cpuSelf() - c0).Round(time.Millisecond))
		srv.Exec("DROP TABLE IF EXISTS bench_client")
		srv.Exec("CREATE TABLE bench_client " + benchTable)
		cmd := exec.Command(client, "--host", "127.0.0.1", "--port", port(srv.tcp), "--user", testUser, "--password", testPassword,
			"--input_format_skip_unknown_fields=1", "--query", "INSERT INTO bench_client FORMAT JSONEachRow")
		cmd.Stdin = bytes.NewReader(input.Bytes())
		w0 = time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
		ps := cmd.ProcessState
		t.Logf("client: wall %v cpu %v", time.Since(w0).Round(time.Millisecond), (ps.UserTime() + ps.SystemTime()).Round(time.Millisecond))
	}
}
