package integration

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// These tests run `hydrant serve` against a real ClickHouse
// (HYDRANT_CLICKHOUSE, Debian's 18.16, which `make clickhouse` unpacks),
// fed through the AWS SDK's PutRecordBatch.

// chServer is a ClickHouse server on loopback ports with its data in a
// temp dir. Kill and Start restart it on the same ports and data.
type chServer struct {
	t   *testing.T
	bin string
	dir string
	tcp string // native protocol, host:port

	mu   sync.Mutex
	proc *process
	runs int
	logs []*syncBuffer
	conn driver.Conn
}

// clickhouseBin returns the clickhouse-server of HYDRANT_CLICKHOUSE. Without
// it the test fails: it must never pass silently inside `make test` by
// skipping. -short skips.
func clickhouseBin(t *testing.T) string {
	t.Helper()
	needServer(t)
	bin := os.Getenv("HYDRANT_CLICKHOUSE")
	if bin == "" {
		t.Fatal("HYDRANT_CLICKHOUSE is not set: run `make test`, which installs ClickHouse into .tools/ and sets it " +
			"(or set HYDRANT_CLICKHOUSE to a clickhouse-server binary; `go test -short` skips the integration tests)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("HYDRANT_CLICKHOUSE=%s: %v; run `make clickhouse` to install it", bin, err)
	}
	return bin
}

// startClickHouse starts ClickHouse on free loopback ports and a new temp
// dir, with a user default without a password. On cleanup it is killed
// and, if the test failed, its output and error log are dumped.
func startClickHouse(t *testing.T) *chServer {
	t.Helper()
	s := &chServer{t: t, bin: clickhouseBin(t), dir: t.TempDir(), tcp: freeAddr(t)}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	configFor := func(tcp string) string {
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
`, s.dir, port(tcp), port(freeAddr(t)), port(freeAddr(t)))
	}
	users := `<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage><poll_interval>1</poll_interval></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config.xml", configFor(s.tcp))
	write("users.xml", users)
	t.Cleanup(func() {
		s.mu.Lock()
		p := s.proc
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			for i, l := range s.logs {
				t.Logf("---- clickhouse run %d output ----\n%s", i+1, l)
			}
			if log, err := os.ReadFile(filepath.Join(s.dir, "log", "server.err.log")); err == nil {
				t.Logf("---- clickhouse error log ----\n%s", lastLines(string(log), 40))
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
		write("config.xml", configFor(s.tcp))
	}
	return s
}

// Start runs the server and waits until it answers a ping.
func (s *chServer) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// start runs the server and waits until it answers a ping, or fails if
// it exits first.
func (s *chServer) start() error {
	s.t.Helper()
	s.mu.Lock()
	if s.proc != nil {
		s.mu.Unlock()
		s.t.Fatal("clickhouse is already running")
	}
	s.runs++
	p := &process{stderr: &syncBuffer{}, done: make(chan struct{})}
	s.logs = append(s.logs, p.stderr)
	p.cmd = exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	p.cmd.Dir = s.dir
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("cannot start %s: %v", s.bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	s.proc = p
	s.mu.Unlock()

	began := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.Conn().Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-p.done:
			return fmt.Errorf("clickhouse (run %d) exited before it was ready: %v; output:\n%s", s.runs, p.err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(began) > 60*time.Second {
			s.t.Fatalf("clickhouse (run %d) not ready on %s within 60s (last: %v)", s.runs, s.tcp, err)
		}
	}
	if d := time.Since(began); d > 3*time.Second || verbose {
		s.t.Logf("clickhouse run %d ready after %v", s.runs, d.Round(time.Millisecond))
	}
	return nil
}

// Kill kills the server with SIGKILL, as a crash would, and waits for it.
func (s *chServer) Kill() {
	s.t.Helper()
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		s.t.Fatal("clickhouse is not running")
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Conn returns a client of the server, the same one each time.
func (s *chServer) Conn() driver.Conn {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.tcp}, DialTimeout: 2 * time.Second, ReadTimeout: time.Minute})
		if err != nil {
			s.t.Fatal(err)
		}
		s.conn = c
	}
	return s.conn
}

// Exec runs a statement.
func (s *chServer) Exec(q string) {
	s.t.Helper()
	if err := s.Conn().Exec(context.Background(), q); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// QueryRow runs a query and scans its one row into dest.
func (s *chServer) QueryRow(q string, dest ...any) {
	s.t.Helper()
	if err := s.Conn().QueryRow(context.Background(), q).Scan(dest...); err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
}

// chEventsConfig is a stream inserting into a table that Hydrant creates,
// with a column of every kind the test checks; user_id comes from a nested
// field. Failed records go to the bucket's errors/clickhouse-failed/.
const chEventsConfig = `
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: ch
    destination:
      bucket: ch-bucket
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 1, interval_seconds: 1}
      clickhouse:
        addrs: [%s]
        table: hydrant_events
        create_table: true
        engine: MergeTree() ORDER BY id
        columns:
          - {name: id, type: UInt64, required: true}
          - {name: name, type: String}
          - {name: user_id, type: UInt64, path: .user.id}
          - {name: n, type: Int32}
          - {name: amount, type: Float64}
          - {name: day, type: Date}
          - {name: ts, type: DateTime}
          - {name: note, type: Nullable(String)}
          - {name: tags, type: Array(String)}
`

// chEventsChecksum is the checksum of the rows chEvents returns: the sum,
// mod 2^64, of the first 8 bytes (little-endian) of each row's MD5. A
// Float64 goes in as its bytes (reinterpretAsString drops trailing zero
// bytes, which toFixedString puts back). Only functions of ClickHouse
// 18.16. It also counts the rows whose id is a bad record's.
const chEventsChecksum = `SELECT count(), sum(reinterpretAsUInt64(MD5(concat(
	toString(id), '|', name, '|', toString(user_id), '|', toString(n), '|', hex(toFixedString(reinterpretAsString(amount), 8)), '|',
	toString(toUInt32(ts)), '|', toString(day), '|', arrayStringConcat(tags, ','), '|', ifNull(note, 'null'))))),
	countIf(id >= %d) FROM hydrant_events`

// chBadIDs is where the ids of the records that do not fit start.
const chBadIDs = 1 << 40

// chEvents makes n records from seed, about 1% of which do not fit the
// table (a string for the UInt64 user.id, a date that does not exist, a
// JSON array instead of an object). It returns every record in the order
// to send them, the rows the others become (as chEventsChecksum
// concatenates them) and the bad ones with the reason they must fail with.
func chEvents(n int, seed uint64) (all, rows []string, bad []badRecord) {
	r := rand.New(rand.NewPCG(seed, 7))
	names := []string{"ana", "zoë", `q"uote`, `back\slash`, "new\nline", "tab\t", "日本語", "", "emoji 😀", "<&>"}
	from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
	plus2 := time.FixedZone("+02:00", 2*3600)
	for i := range n {
		var f []chField
		add := func(k string, v any) { f = append(f, chField{k, v}) }
		id := uint64(i + 1)
		kind := -1
		if r.IntN(100) == 0 {
			kind = r.IntN(3)
			id = chBadIDs + uint64(i)
		}
		add("id", id)
		name := names[r.IntN(len(names))]
		add("name", name)
		uid := r.Uint64()
		switch r.IntN(4) {
		case 0: // no user: user_id 0
			uid = 0
		case 1: // a string holding the number
			add("user", []chField{{"name", names[r.IntN(len(names))]}, {"id", strconv.FormatUint(uid, 10)}})
		default:
			add("user", []chField{{"id", uid}, {"extra", []any{1, "x", nil}}})
		}
		nv := r.Int32() - math.MaxInt32/2
		add("n", nv)
		amount := math.Round(r.NormFloat64()*1e8) / 100
		add("amount", amount)
		dayT := time.Unix(from+r.Int64N(to-from), 0).UTC()
		add("day", dayT.Format(time.DateOnly))
		ts := from + r.Int64N(to-from)
		switch r.IntN(3) {
		case 0:
			add("ts", time.Unix(ts, 0).UTC().Format(time.RFC3339))
		case 1:
			add("ts", time.Unix(ts, 0).In(plus2).Format(time.RFC3339))
		default:
			add("ts", ts)
		}
		note := "null"
		switch r.IntN(3) {
		case 0:
			note = fmt.Sprintf("note %d %s", i, names[r.IntN(len(names))])
			add("note", note)
		case 1:
			add("note", nil)
		}
		tags := make([]string, r.IntN(4))
		for j := range tags {
			tags[j] = names[r.IntN(len(names))]
		}
		if len(tags) > 0 || r.IntN(2) == 0 {
			add("tags", tags)
		}
		if r.IntN(4) == 0 {
			r.Shuffle(len(f), func(a, b int) { f[a], f[b] = f[b], f[a] })
		}
		switch kind {
		case 0:
			add("user", []chField{{"id", "abc"}})
			bad = append(bad, badRecord{string(chAppendObject(nil, f, r)), "ClickHouse.InvalidRecord", "field .user.id: cannot convert a string to UInt64 for column user_id"})
		case 1:
			add("day", "2023-02-30")
			bad = append(bad, badRecord{string(chAppendObject(nil, f, r)), "ClickHouse.InvalidRecord", "field .day: cannot convert a string to Date for column day"})
		case 2:
			bad = append(bad, badRecord{"[" + string(chAppendObject(nil, f, r)) + "]", "ClickHouse.InvalidRecord", "the record is an array, not a JSON object"})
		default:
			all = append(all, string(chAppendObject(nil, f, r)))
			rows = append(rows, strings.Join([]string{
				strconv.FormatUint(id, 10), name, strconv.FormatUint(uid, 10), strconv.Itoa(int(nv)),
				fmt.Sprintf("%016X", binary.LittleEndian.AppendUint64(nil, math.Float64bits(amount))),
				strconv.FormatInt(ts, 10), dayT.Format(time.DateOnly), strings.Join(tags, ","), note,
			}, "|"))
			continue
		}
		all = append(all, bad[len(bad)-1].data)
	}
	return all, rows, bad
}

// field is a key and value of a generated JSON object; a value that is a
// []chField is an object.
type chField struct {
	key string
	val any
}

// chAppendObject writes fields as a JSON object, with spaces here and
// there. It encodes by hand: encoding/json costs seconds for 100,000
// records under the race detector.
func chAppendObject(dst []byte, fields []chField, r *rand.Rand) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if r.IntN(8) == 0 {
			dst = append(dst, " \n"[r.IntN(2)])
		}
		dst = append(chAppendString(dst, f.key), ':')
		if sub, ok := f.val.([]chField); ok {
			dst = chAppendObject(dst, sub, r)
			continue
		}
		dst = chAppendValue(dst, f.val)
	}
	return append(dst, '}')
}

func chAppendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return chAppendString(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case float64:
		return strconv.AppendFloat(dst, v, 'g', -1, 64) // 1e+21 is valid JSON
	case []string:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = chAppendString(dst, e)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = chAppendValue(dst, e)
		}
		return append(dst, ']')
	}
	panic(fmt.Sprintf("chAppendValue: %T", v))
}

// chAppendString writes s as a JSON string, escaping <, > and & as
// encoding/json does, so that the sink's \u escapes are exercised too.
func chAppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// chRowsChecksum is chEventsChecksum computed in Go.
func chRowsChecksum(rows []string) uint64 {
	var sum uint64
	for _, row := range rows {
		h := md5.Sum([]byte(row))
		sum += binary.LittleEndian.Uint64(h[:8])
	}
	return sum
}

// TestClickHouseDelivery puts 100,000 JSON records from four producers into
// a stream whose destination is a ClickHouse table Hydrant creates, in
// buffers of 1 MiB (about forty INSERTs), and checks that every row that
// fits the table is in it once, with every column's value (a checksum over
// all of them, computed by ClickHouse and in Go), and that exactly the
// records that do not fit are in the bucket's error output as Firehose
// error records of type clickhouse-failed, saying why, and not in the
// table.
func TestClickHouseDelivery(t *testing.T) {
	ch := startClickHouse(t)
	srv := startServer(t, fmt.Sprintf(chEventsConfig, ch.tcp))
	c := newClient(srv.Endpoint())
	all, rows, bad := chEvents(100_000, 1)
	l := newLedger()
	start := time.Now()
	putAll(t, c, "ch", all, 500, 4, l)
	end := time.Now()
	if l.ackedCount() != len(all) {
		t.Fatalf("%d of %d records acknowledged; ledger: %s", l.ackedCount(), len(all), l)
	}
	srv.WaitBacklogZero("ch", 90*time.Second)
	ms, err := srv.Metrics()
	if err != nil {
		t.Fatalf("cannot read /metrics: %v", err)
	}
	t.Logf("%d records (%d that do not fit) put in %v, delivered %v later in %v INSERTs",
		len(all), len(bad), end.Sub(start).Round(time.Millisecond), time.Since(end).Round(time.Millisecond),
		chMetric(ms, "hydrant_delivery_attempts_total", `stream="ch"`, `result="success"`))
	if got := chMetric(ms, "hydrant_error_output_records_total", `stream="ch"`, `type="clickhouse-failed"`); got != float64(len(bad)) {
		t.Errorf("hydrant_error_output_records_total{type=clickhouse-failed} = %v; want %d", got, len(bad))
	}

	var count, sum, badRows uint64
	ch.QueryRow(fmt.Sprintf(chEventsChecksum, chBadIDs), &count, &sum, &badRows)
	if count != uint64(len(rows)) {
		t.Errorf("SELECT count() = %d; want %d, the records sent that fit the table", count, len(rows))
	}
	if want := chRowsChecksum(rows); sum != want {
		t.Errorf("checksum over every column = %d; want %d (computed from the records sent)", sum, want)
	}
	if badRows != 0 {
		t.Errorf("%d rows hold the id of a record that does not fit; want none", badRows)
	}
	if got := srv.MetricValue("hydrant_delivery_records_total", "ch"); got != float64(len(rows)) {
		t.Errorf("hydrant_delivery_records_total = %v; want %d", got, len(rows))
	}

	objs := readBucket(t, srv.dataDir, "ch-bucket")
	lines := map[string][]string{}
	for _, k := range objs.keys {
		if !strings.HasPrefix(k, "errors/clickhouse-failed/") {
			t.Errorf("bucket holds %s; want only error output, under errors/clickhouse-failed/", k)
			continue
		}
		lines[k] = objs.byKey[k]
	}
	checkErrorOutput(t, "clickhouse-failed", lines, bad, start, end)
}

// chRestartConfig is a stream into a table of an id, a producer and
// padding, delivered in one or two INSERTs a second under the test's load.
const chRestartConfig = `
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: chr
    destination:
      bucket: chr-bucket
      buffering: {size_mb: 1, interval_seconds: 1}
      clickhouse:
        addrs: [%s]
        table: restart_events
        create_table: true
        columns:
          - {name: id, type: UInt64, required: true}
          - {name: p, type: UInt8}
          - {name: pad, type: String}
`

// TestClickHouseRestart kills ClickHouse (SIGKILL) while Hydrant inserts
// into it, aimed at an INSERT in flight, keeps producing through the
// outage, starts ClickHouse again on the same ports and data, and checks
// that every acknowledged record is in the table.
//
// Duplicates are reported, and not failed on, beyond a bound: delivery is
// at least once. The worker retries a failed Deliver with the same records
// (delivery/recordsink.go), and the sink sends a batch as one INSERT of one
// block, which ClickHouse commits whole or not at all; but an INSERT whose
// connection breaks after the server committed the block, before its
// acknowledgement arrived, fails at Hydrant and is inserted again by the
// retry, and ClickHouse 18.16's plain MergeTree has no insert
// deduplication (sinks/clickhouse's package doc says so). Since one worker
// delivers a stream's batches one at a time, one kill can leave at most one
// INSERT in that state: every duplicate must appear exactly twice, and
// there can be at most one batch of them.
func TestClickHouseRestart(t *testing.T) {
	ch := startClickHouse(t)
	srv := startServer(t, fmt.Sprintf(chRestartConfig, ch.tcp))
	c := newClient(srv.Endpoint())

	var (
		mu                sync.Mutex
		acked             = map[uint64]bool{}
		uncertain         = map[uint64]bool{}
		down              atomic.Bool
		ackedDown, failed atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	const recSize = 200
	for p := range 3 {
		wg.Go(func() {
			next := uint64(0)
			var retry []string
			for ctx.Err() == nil {
				recs := retry
				for len(recs) < 250 {
					id := uint64(p)<<32 | next
					next++
					rec := fmt.Sprintf(`{"id":%d,"p":%d,"pad":"`, id, p)
					recs = append(recs, rec+strings.Repeat("x", recSize-len(rec)-2)+`"}`)
				}
				began := time.Now()
				res := putBatch(context.Background(), t, c, "chr", recs, nil)
				retry = res.refused
				ids := func(recs []string) []uint64 {
					out := make([]uint64, len(recs))
					for i, r := range recs {
						var v struct{ ID uint64 }
						if err := json.Unmarshal([]byte(r), &v); err != nil {
							panic(err)
						}
						out[i] = v.ID
					}
					return out
				}
				mu.Lock()
				if res.err != nil && !definitelyNotStored(res.err) {
					for _, id := range ids(recs) {
						uncertain[id] = true
					}
					retry = nil
				}
				for _, id := range ids(res.acked) {
					acked[id] = true
				}
				mu.Unlock()
				if down.Load() {
					ackedDown.Add(int64(len(res.acked)))
				}
				if res.err != nil || len(res.refused) > 0 {
					failed.Add(1)
					t.Logf("producer %d: %d records: %d refused, error %v", p, len(recs), len(res.refused), res.err)
				}
				if d := 100*time.Millisecond - time.Since(began); d > 0 {
					time.Sleep(d)
				}
			}
		})
	}
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}

	// Aim the kill at an INSERT in flight: wait for the first INSERT
	// to be done, then for the next one to show in system.processes.
	time.Sleep(1500 * time.Millisecond)
	how := "at random (no INSERT in flight seen within 5s)"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		var n uint64
		ch.QueryRow("SELECT count() FROM system.processes WHERE query LIKE 'INSERT INTO%restart_events%'", &n)
		if n > 0 {
			how = "while an INSERT was in flight"
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	down.Store(true)
	ch.Kill()
	t.Logf("clickhouse killed %s; %d records acknowledged so far", how, ackedCount())
	time.Sleep(3 * time.Second)
	down.Store(false)
	ch.Start()
	t.Logf("clickhouse restarted: %d records acknowledged while it was down, %d so far", ackedDown.Load(), ackedCount())
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	if ackedDown.Load() == 0 {
		t.Errorf("no record was acknowledged while ClickHouse was down; want puts to go on into the log")
	}
	if failed.Load() > 0 {
		t.Errorf("%d PutRecordBatch calls failed or refused records; want none: the puts do not depend on ClickHouse", failed.Load())
	}
	if srv.countLog("cannot deliver to clickhouse; retrying") == 0 {
		t.Errorf("hydrant did not log a failed delivery; want the outage to be retried")
	}
	srv.WaitBacklogZero("chr", 60*time.Second)

	rows, err := ch.Conn().Query(context.Background(), "SELECT id, count() FROM restart_events GROUP BY id")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[uint64]uint64{}
	for rows.Next() {
		var id, n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var lost, unexpected []uint64
	dups, rowsTotal := 0, uint64(0)
	for id := range acked {
		if counts[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range counts {
		rowsTotal += n
		if !acked[id] && !uncertain[id] {
			unexpected = append(unexpected, id)
		}
		if n > 1 {
			dups++
			if n > 2 {
				t.Errorf("id %d is in the table %d times; want at most twice after one kill", id, n)
			}
		}
	}
	t.Logf("%d records acknowledged (%d uncertain); %d failed deliveries retried; table: %d rows, %d ids, %d ids twice",
		len(acked), len(uncertain), srv.countLog("cannot deliver to clickhouse; retrying"), rowsTotal, len(counts), dups)
	if len(lost) > 0 {
		t.Errorf("%d acknowledged records are not in the table (ids %v…); want none lost", len(lost), lost[:min(5, len(lost))])
	}
	if len(unexpected) > 0 {
		t.Errorf("%d ids in the table were never put (ids %v…)", len(unexpected), unexpected[:min(5, len(unexpected))])
	}
	// A buffer holds a little over 1 MiB: about 5,300 records of 200 bytes.
	if maxBatch := 2 * (1 << 20) / recSize; dups > maxBatch {
		t.Errorf("%d ids are in the table twice; want at most one batch (%d) of duplicates, from the one INSERT the kill may have interrupted after its commit", dups, maxBatch)
	}
}

// TestClickHouseBadType checks a column type the sink cannot convert into:
// declared in the config, it stops `hydrant serve` at load, naming the file
// and line; only known from the table (no type in the config), it is found
// at the first delivery, which is retried with the error logged, and the
// records wait in the log, neither inserted nor sent to the error output.
func TestClickHouseBadType(t *testing.T) {
	ch := startClickHouse(t)

	t.Run("config", func(t *testing.T) {
		for _, typ := range []string{"Strnig", "Decimal(9, 2)"} {
			yaml := fmt.Sprintf(`
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: chbad
    destination:
      bucket: chbad-bucket
      clickhouse:
        addrs: [%s]
        table: bad_events
        create_table: true
        columns:
          - name: id
            type: UInt64
          - name: price
            type: %s
`, ch.tcp, typ)
			s := newServer(t, yaml)
			out, err := s.RunToExit(30 * time.Second)
			if err == nil {
				t.Errorf("type %q: hydrant serve exited with status 0; want non-zero", typ)
				continue
			}
			// The error must point into the file, inside the clickhouse
			// block that holds the type. (Hydrant names the line where the
			// block's mapping starts, its first key: clickhouse.Config's
			// Validate returns a plain error, so the config loader cannot
			// point at columns[1].type; see the log line below.)
			var blockLine, typeLine int
			for i, l := range strings.Split(yaml, "\n") {
				switch {
				case strings.Contains(l, "clickhouse:"):
					blockLine = i + 1
				case strings.Contains(l, "type: "+typ):
					typeLine = i + 1
				}
			}
			m := regexp.MustCompile(regexp.QuoteMeta(s.config) + `:(\d+):`).FindStringSubmatch(out)
			line := 0
			if m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			if line < blockLine || line > typeLine {
				t.Errorf("type %q: hydrant serve's error does not name %s:N with N from %d (the clickhouse block) to %d (the type):\n%s", typ, s.config, blockLine, typeLine, out)
				continue
			}
			if !strings.Contains(out, `column "price"`) || !strings.Contains(out, strings.Fields(strings.NewReplacer("(", " ").Replace(typ))[0]) {
				t.Errorf("type %q: hydrant serve's error does not name the column and the type:\n%s", typ, out)
			}
			t.Logf("type %q: %v; the error names line %d (the type is on line %d, clickhouse: on line %d): %s",
				typ, err, line, typeLine, blockLine, chFirstLine(out, s.config))
		}
	})

	t.Run("table", func(t *testing.T) {
		ch.Exec("CREATE TABLE enum_events (id UInt64, kind Enum8('a' = 1, 'b' = 2)) ENGINE = MergeTree() ORDER BY id")
		srv := startServer(t, fmt.Sprintf(`
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: chenum
    destination:
      bucket: chenum-bucket
      buffering: {size_mb: 1, interval_seconds: 1}
      clickhouse: {addrs: [%s], table: enum_events}
`, ch.tcp))
		c := newClient(srv.Endpoint())
		l := newLedger()
		var recs []string
		for i := range 10 {
			recs = append(recs, fmt.Sprintf(`{"id":%d,"kind":"a"}`, i))
		}
		putAll(t, c, "chenum", recs, 10, 1, l)
		deadline := time.Now().Add(20 * time.Second)
		for srv.countLog("Enum8") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no delivery error naming Enum8 logged within 20s; want the table's unsupported column reported")
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second) // a retry or two more
		if !srv.Alive() {
			t.Fatalf("hydrant serve exited")
		}
		var logged string
		for line := range strings.Lines(srv.Log()) {
			if strings.Contains(line, "Enum8") {
				logged = strings.TrimSpace(line)
				break
			}
		}
		if !strings.Contains(logged, "kind") || !strings.Contains(logged, "cannot deliver to clickhouse") {
			t.Errorf("logged %q; want the delivery error to name the column kind", logged)
		}
		if backlog := srv.MetricValue("hydrant_backlog_records", "chenum"); backlog != float64(len(recs)) {
			t.Errorf("hydrant_backlog_records = %v; want the %d records put, waiting in the log", backlog, len(recs))
		}
		var n uint64
		ch.QueryRow("SELECT count() FROM enum_events", &n)
		if n != 0 {
			t.Errorf("enum_events holds %d rows; want none", n)
		}
		if objs := readBucket(t, srv.dataDir, "chenum-bucket"); len(objs.keys) > 0 {
			t.Errorf("bucket holds %v; want nothing in the error output while the error is retried", objs.keys)
		}
		t.Logf("%d delivery attempts failed with: %s", srv.countLog("Enum8"), logged)
	})
}

// chMetric returns the sample of the series name whose labels include
// every one of labels (as k="v"), or -1 if there is none.
func chMetric(ms map[string]float64, name string, labels ...string) float64 {
next:
	for series, v := range ms {
		if !strings.HasPrefix(series, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(series, l) {
				continue next
			}
		}
		return v
	}
	return -1
}

// chFirstLine returns the first line of out that mentions substr.
func chFirstLine(out, substr string) string {
	for line := range strings.Lines(out) {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
