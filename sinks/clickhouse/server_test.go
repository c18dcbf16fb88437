package clickhouse

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The user the tests' servers know besides default, with a password.
const (
	testUser     = "hydrant"
	testPassword = "hydrant-test-secret"
)

// server is a real ClickHouse server on loopback ports with its data in a
// temp dir. Stop and Start restart it on the same ports and data.
type server struct {
	t    testing.TB
	bin  string
	dir  string
	tcp  string // native protocol, host:port
	tls  string // native protocol over TLS, host:port; "" without TLS
	opts serverOptions

	outMu sync.Mutex // guards out's contents

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer // of the current run
	runs int
	conn driver.Conn
}

type serverOptions struct {
	// certFile and keyFile, when set, make the server serve TLS on
	// s.tls too.
	certFile, keyFile string
}

// serverBin returns the clickhouse-server that `make test` installs and
// names in HYDRANT_CLICKHOUSE. Without it the test fails: it must never
// pass silently inside `make test` by skipping. -short skips.
func serverBin(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("a real ClickHouse server: not with -short")
	}
	bin := os.Getenv("HYDRANT_CLICKHOUSE")
	if bin == "" {
		tb.Fatal("HYDRANT_CLICKHOUSE is not set: run `make test`, which installs ClickHouse into .tools/ and sets it " +
			"(or set HYDRANT_CLICKHOUSE to a clickhouse-server binary; `go test -short` skips the integration tests)")
	}
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("HYDRANT_CLICKHOUSE=%s: %v; run `make clickhouse` to install it", bin, err)
	}
	return bin
}

// startServer starts ClickHouse on free loopback ports and a new temp dir.
// On cleanup it is killed and, if the test failed, its output is dumped.
func startServer(t testing.TB, opts serverOptions) *server {
	t.Helper()
	s := &server{t: t, bin: serverBin(t), dir: t.TempDir(), tcp: freeAddr(t), opts: opts}
	if opts.certFile != "" {
		s.tls = freeAddr(t)
	}
	s.writeConfig()
	t.Cleanup(func() {
		s.mu.Lock()
		p, done := s.proc, s.done
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		if p != nil {
			_ = p.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("---- clickhouse run %d output ----\n%s", s.runs, s.output())
			if log, err := os.ReadFile(filepath.Join(s.dir, "log", "server.err.log")); err == nil {
				t.Logf("---- clickhouse error log ----\n%s", log)
			}
		}
	})
	// freeAddr's ports are free when chosen, not when ClickHouse binds
	// them: another test's server may take one in between. A first start
	// that finds a port taken tries new ones.
	for attempt := 1; ; attempt++ {
		err := s.start()
		if err == nil {
			break
		}
		log, _ := os.ReadFile(filepath.Join(s.dir, "log", "server.err.log"))
		if attempt == 3 || !strings.Contains(string(log), "Address already in use") {
			t.Fatal(err)
		}
		t.Logf("clickhouse: a port was taken (%v); trying new ports", err)
		s.mu.Lock()
		s.proc = nil
		if s.conn != nil { // a client of the old address
			s.conn.Close()
			s.conn = nil
		}
		s.mu.Unlock()
		_ = os.Remove(filepath.Join(s.dir, "log", "server.err.log"))
		s.tcp = freeAddr(t)
		if opts.certFile != "" {
			s.tls = freeAddr(t)
		}
		s.writeConfig()
	}
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// writeConfig writes a config.xml and users.xml with every path inside
// s.dir and every port free: a copy of Debian's, cut down.
func (s *server) writeConfig() {
	http, inter := freeAddr(s.t), freeAddr(s.t)
	secure := ""
	if s.tls != "" {
		secure = fmt.Sprintf(`
    <tcp_port_secure>%s</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>%s</certificateFile>
            <privateKeyFile>%s</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>`, port(s.tls), s.opts.certFile, s.opts.keyFile)
	}
	d := s.dir
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/log/server.log</log>
        <errorlog>%[1]s/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]s</tcp_port>
    <http_port>%[3]s</http_port>
    <interserver_http_port>%[4]s</interserver_http_port>%[5]s
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
`, d, port(s.tcp), port(http), port(inter), secure)
	users := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <profiles>
        <!-- poll_interval: an idle connection notices a shutdown within a
             second, not ten, so that Stop is quick. -->
        <default><max_memory_usage>4000000000</max_memory_usage><poll_interval>1</poll_interval></default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <%[1]s>
            <password>%[2]s</password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </%[1]s>
    </users>
    <quotas>
        <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default>
    </quotas>
</yandex>
`, testUser, testPassword)
	for name, data := range map[string]string{"config.xml": config, "users.xml": users} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *server) output() string {
	s.mu.Lock()
	out := s.out
	s.mu.Unlock()
	if out == nil {
		return ""
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return out.String()
}

// Start runs the server and waits until it answers a query.
func (s *server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// start runs the server and waits until it answers a query, or fails if
// it exits first.
func (s *server) start() error {
	s.t.Helper()
	s.mu.Lock()
	if s.proc != nil {
		s.mu.Unlock()
		s.t.Fatal("clickhouse is already running")
	}
	s.runs++
	out := &bytes.Buffer{}
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &s.outMu, w: out}, &lockedWriter{mu: &s.outMu, w: out}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("cannot start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.proc, s.done, s.out = cmd, done, out
	s.mu.Unlock()

	began := time.Now()
	conn := s.Conn()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := conn.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("clickhouse (run %d) exited before it was ready: %v; output:\n%s", s.runs, cmd.ProcessState, s.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(began) > 60*time.Second {
			s.t.Fatalf("clickhouse (run %d) not ready on %s within 60s (last: %v); output:\n%s", s.runs, s.tcp, err, s.output())
		}
	}
	if d := time.Since(began); d > 3*time.Second || testing.Verbose() {
		s.t.Logf("clickhouse run %d ready after %v", s.runs, d.Round(time.Millisecond))
	}
	return nil
}

// Stop sends SIGTERM and waits for the server to exit; SIGKILL after 20 s.
func (s *server) Stop() {
	s.t.Helper()
	s.stop(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL, as a crash would.
func (s *server) Kill() {
	s.t.Helper()
	s.stop(syscall.SIGKILL)
}

func (s *server) stop(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	p, done := s.proc, s.done
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		s.t.Fatal("clickhouse is not running")
	}
	began := time.Now()
	_ = p.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.Process.Kill()
		<-done
	}
	if d := time.Since(began); d > 5*time.Second || testing.Verbose() {
		s.t.Logf("clickhouse run %d stopped (%v) after %v", s.runs, sig, d.Round(time.Millisecond))
	}
}

// Conn returns a client of the server as default, the same one each time.
func (s *server) Conn() driver.Conn {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn
	}
	c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.tcp}, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Minute})
	if err != nil {
		s.t.Fatal(err)
	}
	s.conn = c
	return c
}

// Exec runs a statement as default.
func (s *server) Exec(q string) {
	s.t.Helper()
	if err := s.Conn().Exec(context.Background(), q); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// QueryRow runs a query as default and scans its one row into dest.
func (s *server) QueryRow(q string, dest ...any) {
	s.t.Helper()
	if err := s.Conn().QueryRow(context.Background(), q).Scan(dest...); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// Config is a sink config for the server's table, as the test user.
func (s *server) Config(table string, cols ...Column) Config {
	return Config{Addrs: []string{s.tcp}, Table: table, User: testUser, Password: testPassword, Columns: cols, DialTimeout: 2 * time.Second}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
