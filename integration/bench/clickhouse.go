package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// chServer is a ClickHouse server on loopback ports with its data in a
// temp dir. It is the integration tests' harness
// (integration/clickhouse_test.go) cut down to what the benchmark needs:
// those helpers live in _test files and take a *testing.T, so the
// benchmark cannot call them.
type chServer struct {
	bin     string // clickhouse-server (make clickhouse's wrapper)
	client  string // clickhouse-client beside it
	dir     string
	tcp     string // native protocol, host:port
	cmd     *exec.Cmd
	log     *os.File // the server's stdout and stderr
	done    chan struct{}
	exitErr error // valid after done
	conn    driver.Conn
}

// chClientBin is the clickhouse-client beside the clickhouse-server bin,
// where `make clickhouse` puts it.
func chClientBin(bin string) string { return filepath.Join(filepath.Dir(bin), "clickhouse-client") }

// startClickHouse starts bin on free loopback ports and a new temp dir,
// with a user default without a password, and waits until it answers a
// ping on the native protocol.
func startClickHouse(ctx context.Context, bin string) (*chServer, error) {
	// The server runs in its temp dir, so a relative path would not find it.
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hydrant-bench-clickhouse-")
	if err != nil {
		return nil, fmt.Errorf("cannot create temp dir: %w", err)
	}
	s := &chServer{bin: bin, client: chClientBin(bin), dir: dir, done: make(chan struct{})}
	fail := func(err error) (*chServer, error) {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
			<-s.done
			err = fmt.Errorf("%w\n%s", err, s.logTail())
		}
		if s.conn != nil {
			s.conn.Close()
		}
		s.remove()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	var ports [3]string
	for i := range ports {
		addr, err := freeAddr()
		if err != nil {
			return fail(err)
		}
		ports[i] = addr[strings.LastIndexByte(addr, ':')+1:]
	}
	s.tcp = "127.0.0.1:" + ports[0]
	files := map[string]string{"config.xml": chConfigXML(dir, ports), "users.xml": chUsersXML}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return fail(err)
		}
	}
	if s.log, err = os.Create(filepath.Join(dir, "server.out")); err != nil {
		return fail(err)
	}
	s.cmd = exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// If the benchmark dies, so does ClickHouse.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.cmd = nil
		return fail(fmt.Errorf("cannot start %s: %w", bin, err))
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	s.conn, err = clickhouse.Open(&clickhouse.Options{Addr: []string{s.tcp}, DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Minute})
	if err != nil {
		return fail(fmt.Errorf("cannot create client: %w", err))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.conn.Ping(pctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("not ready on %s within 60s (last: %v)", s.tcp, err))
		}
		select {
		case <-s.done:
			return fail(fmt.Errorf("exited before it was ready (%v)", s.exitErr))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return s, nil
}

// chConfigXML is the server's config: loopback only, the native, HTTP and
// interserver ports, everything under dir, UTC.
func chConfigXML(dir string, ports [3]string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>%[1]s/log/server.log</log><errorlog>%[1]s/log/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]s</tcp_port>
    <http_port>%[3]s</http_port>
    <interserver_http_port>%[4]s</interserver_http_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/data/tmp/</tmp_path>
    <user_files_path>%[1]s/data/user_files/</user_files_path>
    <format_schema_path>%[1]s/data/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
`, dir, ports[0], ports[1], ports[2])
}

const chUsersXML = `<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage><poll_interval>1</poll_interval></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

func (s *chServer) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits for the server to exit; SIGKILL after
// 10 s. Its exit status is not checked: the benchmark is done with it.
func (s *chServer) stop() {
	s.conn.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *chServer) remove() {
	if s.log != nil {
		s.log.Close()
	}
	_ = os.RemoveAll(s.dir)
}

// logTail is the end of the server's error log, else of its output.
func (s *chServer) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "log", "server.err.log"))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(filepath.Join(s.dir, "server.out"))
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return "  clickhouse| " + strings.Join(lines, "\n  clickhouse| ")
}

func (s *chServer) exec(ctx context.Context, q string) error {
	if err := s.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("clickhouse: %s: %w", q, err)
	}
	return nil
}

// queryRow runs q and scans its one row into dest.
func (s *chServer) queryRow(ctx context.Context, q string, dest ...any) error {
	if err := s.conn.QueryRow(ctx, q).Scan(dest...); err != nil {
		return fmt.Errorf("clickhouse: %s: %w", q, err)
	}
	return nil
}

// version is the server's version, "?" if it does not say.
func (s *chServer) version(ctx context.Context) string {
	var v string
	if err := s.queryRow(ctx, "SELECT version()", &v); err != nil {
		return "?"
	}
	return v
}

// insertFile runs clickhouse-client with query (an INSERT … FORMAT …)
// and the file at path on its stdin, and returns the wall time from
// starting the client to its exit and the CPU time the client used.
func (s *chServer) insertFile(ctx context.Context, query, path string, settings ...string) (wall, cpu time.Duration, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	host, port, _ := strings.Cut(s.tcp, ":")
	args := append([]string{"--host", host, "--port", port}, settings...)
	cmd := exec.CommandContext(ctx, s.client, append(args, "--query", query)...)
	cmd.Stdin = f // the file itself: the client reads it, not a pipe from the benchmark
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return wall, cpu, fmt.Errorf("clickhouse-client %s: %w: %s", query, err, msg)
	}
	if ctx.Err() != nil {
		return wall, cpu, ctx.Err()
	}
	return wall, cpu, nil
}
