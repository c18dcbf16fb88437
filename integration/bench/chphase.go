package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// chColumn is a column of the table the ClickHouse rows insert into.
type chColumn struct{ name, typ string }

// chColumns is the table of makeRecord's JSON lines: every field, each in
// the ClickHouse type a user would give it. ts carries milliseconds, which
// DateTime drops on both sides.
var chColumns = []chColumn{
	{"ts", "DateTime"},
	{"seq", "UInt64"},
	{"user", "String"},
	{"event", "String"},
	{"country", "String"},
	{"url", "String"},
	{"latency_ms", "UInt32"},
	{"status", "UInt16"},
	{"ua", "String"},
	{"trace", "String"},
	{"note", "String"},
}

// chEngine is the engine of both tables, the ClickHouse sink's default.
const chEngine = "MergeTree() ORDER BY tuple()"

// chClientSettings are clickhouse-client's settings in row A besides its
// defaults: ClickHouse 18.16 reads only "YYYY-MM-DD hh:mm:ss" into a
// DateTime unless told to parse the records' RFC 3339 times, which
// Hydrant's sink parses.
var chClientSettings = []string{"--date_time_input_format=best_effort"}

// chRound is one round of the ClickHouse rows: clickhouse-client (A) and
// hydrant end to end (B) inserting the same records into tables of their
// own.
type chRound struct {
	client      time.Duration // A: start of clickhouse-client to its exit
	clientCores cores         // srv is the client
	clientParts int           // parts A's INSERT wrote (level 0)
	v           *volumeResult // B
	parts       int           // parts B's INSERTs wrote (level 0)
}

func (c *chRound) clientRowsPerSec(rows int64) float64 { return float64(rows) / c.client.Seconds() }

func (c *chRound) hydrantRowsPerSec() float64 { return float64(c.v.records) / c.v.e2e.Seconds() }

// chResult is what the ClickHouse rows measured, every round.
type chResult struct {
	version     string
	rows        int64 // per row
	bufferMB    int
	clientStart time.Duration // clickhouse-client --query "SELECT 1", the fastest of three
	rounds      []chRound
}

// best returns the round with the fastest hydrant and the one with the
// fastest client.
func (c *chResult) best() (hydrant, client *chRound) {
	for i := range c.rounds {
		r := &c.rounds[i]
		if r.v == nil || r.v.e2e == 0 || r.client == 0 {
			continue
		}
		if hydrant == nil || r.hydrantRowsPerSec() > hydrant.hydrantRowsPerSec() {
			hydrant = r
		}
		if client == nil || r.client < client.client {
			client = r
		}
	}
	return hydrant, client
}

// ratio is the figure of the ClickHouse rows: hydrant's best rows/s end to
// end over clickhouse-client's best.
func (c *chResult) ratio() float64 {
	h, a := c.best()
	if h == nil {
		return 0
	}
	return h.hydrantRowsPerSec() / a.clientRowsPerSec(c.rows)
}

// chCreateTable is the CREATE TABLE of row A, the table hydrant's
// create_table makes for row B.
func chCreateTable(table string) string {
	cols := make([]string, len(chColumns))
	for i, c := range chColumns {
		cols[i] = c.name + " " + c.typ
	}
	return fmt.Sprintf("CREATE TABLE %s (%s) ENGINE = %s", table, strings.Join(cols, ", "), chEngine)
}

// chStreamConfig is a hydrant.yaml with one stream inserting into table
// on the ClickHouse at addr, creating it.
func chStreamConfig(stream, addr, table string, sizeMB int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `streams:
  - name: %s
    max_log_bytes: 4GiB
    destination:
      bucket: %s
      buffering: {size_mb: %d, interval_seconds: 60}
      clickhouse:
        addrs: [%q]
        table: %s
        create_table: true
        engine: %q
        columns:
`, stream, stream, sizeMB, addr, table, chEngine)
	for _, c := range chColumns {
		fmt.Fprintf(&b, "          - {name: %s, type: %s}\n", c.name, c.typ)
	}
	return b.String()
}

// writeRecordsFile writes the records that a volume phase of payload p
// sends in requests requests, one JSON line each, to path: the same rows
// the producers put, for clickhouse-client. The order differs (the
// producers interleave), the rows do not.
func writeRecordsFile(path string, p *payload, requests int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	decode := func(recs []string) ([]byte, error) {
		var out []byte
		for _, r := range recs {
			d, err := base64.StdEncoding.DecodeString(r)
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		}
		return out, nil
	}
	bodies := make([][]byte, len(p.data))
	for i, recs := range p.data {
		if bodies[i], err = decode(recs); err != nil {
			return 0, err
		}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	for k := range requests {
		b := bodies[k%len(bodies)]
		if k == requests-1 && p.tail != nil {
			if b, err = decode(p.tailData); err != nil {
				return 0, err
			}
		}
		if _, err := w.Write(b); err != nil {
			return 0, err
		}
		n += int64(len(b))
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, f.Close()
}

// chTableSum is what the benchmark reads back from a table: its rows, a
// checksum over every column of every row, and the parts its inserts
// wrote.
type chTableSum struct {
	rows  uint64
	sum   uint64
	parts uint64
}

func (s *chServer) tableSum(ctx context.Context, table string) (chTableSum, error) {
	var t chTableSum
	names := make([]string, len(chColumns))
	for i, c := range chColumns {
		names[i] = c.name
	}
	q := fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s", strings.Join(names, ", "), table)
	if err := s.queryRow(ctx, q, &t.rows, &t.sum); err != nil {
		return t, err
	}
	// Parts the inserts wrote: level 0, active or already merged away.
	q = fmt.Sprintf("SELECT count() FROM system.parts WHERE database = 'default' AND table = '%s' AND level = 0", table)
	return t, s.queryRow(ctx, q, &t.parts)
}

// clickhousePhase starts ClickHouse and runs o.chRounds rounds; in each,
// clickhouse-client inserts the records from a file as JSONEachRow (row
// A), and a fresh hydrant server takes the same records from o.producers
// producers and inserts them into a table it creates (row B); the order
// of A and B alternates from round to round. Each table must hold every
// row sent, with the same checksum in both, and is dropped once counted.
func clickhousePhase(ctx context.Context, o *options, r *results) error {
	progress("starting ClickHouse (%s)", o.clickhouse)
	ch, err := startClickHouse(ctx, o.clickhouse)
	if err != nil {
		return err
	}
	defer ch.remove()
	defer ch.stop()

	const stream = "clickhouse"
	records := max(o.chBytes/int64(o.recordSize), 1)
	requests := int((records + int64(o.batch) - 1) / int64(o.batch))
	p := newPayload(stream, nBodies, o.batch, o.recordSize, false) // volumePhase's payload: the same records
	p.withTail(int(records % int64(o.batch)))
	file := filepath.Join(ch.dir, "records.json")
	progress("writing %s of records for clickhouse-client to %s", fmtBytes(records*int64(o.recordSize)), file)
	if _, err := writeRecordsFile(file, p, requests); err != nil {
		return fmt.Errorf("cannot write the records file: %w", err)
	}
	res := &chResult{version: ch.version(ctx), rows: records, bufferMB: o.chBufferMB}
	r.ch = res
	// Row A's time includes starting the client and connecting; this is
	// how long that takes alone.
	for range 3 {
		d, _, err := ch.insertFile(ctx, "SELECT 1", os.DevNull)
		if err != nil {
			return err
		}
		if res.clientStart == 0 || d < res.clientStart {
			res.clientStart = d
		}
	}

	var mem phaseMem
	mem.phase = fmt.Sprintf("into ClickHouse (%d MiB buffers)", o.chBufferMB)
	defer func() {
		if mem.hwm > 0 {
			r.mem = append(r.mem, mem)
		}
	}()
	var want *chTableSum // of the first table counted; every other must match
	check := func(who string, t chTableSum) error {
		if t.rows != uint64(records) {
			return fmt.Errorf("%s: the table holds %d rows, %d were sent", who, t.rows, records)
		}
		if want == nil {
			want = &t
		} else if t.sum != want.sum {
			return fmt.Errorf("%s: the rows differ from the other tables' (checksum %d, want %d)", who, t.sum, want.sum)
		}
		return nil
	}

	for round := 1; round <= o.chRounds; round++ {
		var cr chRound
		clientRow := func() error {
			table := fmt.Sprintf("client_%d", round)
			if err := ch.exec(ctx, chCreateTable(table)); err != nil {
				return err
			}
			progress("round %d/%d, clickhouse-client INSERT … FORMAT JSONEachRow of %d rows", round, o.chRounds, records)
			meter := startCPUWith(nil, ch.pid())
			wall, cpu, err := ch.insertFile(ctx, "INSERT INTO "+table+" FORMAT JSONEachRow", file, chClientSettings...)
			cr.clientCores = meter.stop()
			if err != nil {
				return fmt.Errorf("%w\n%s", err, ch.logTail())
			}
			cr.client = wall
			cr.clientCores.srv = cpu.Seconds() / wall.Seconds()
			cr.clientCores.other = max(0, cr.clientCores.other-cr.clientCores.srv)
			t, err := ch.tableSum(ctx, table)
			if err != nil {
				return err
			}
			cr.clientParts = int(t.parts)
			if err := check("clickhouse-client", t); err != nil {
				return err
			}
			return ch.exec(ctx, "DROP TABLE "+table)
		}
		hydrantRow := func() error {
			table := fmt.Sprintf("hydrant_%d", round)
			progress("round %d/%d, hydrant into ClickHouse", round, o.chRounds)
			v, m, err := volumePhase(ctx, o, volumeSpec{
				stream: stream, sizeMB: o.chBufferMB, intervalS: 60, volume: o.chBytes,
				config: chStreamConfig(stream, ch.tcp, table, o.chBufferMB), destPID: ch.pid(),
				verify: func(ctx context.Context, _ *server, _ *volumeResult) (int64, error) {
					t, err := ch.tableSum(ctx, table)
					if err != nil {
						return 0, err
					}
					cr.parts = int(t.parts)
					if t.rows == uint64(records) {
						if err := check("hydrant", t); err != nil {
							return 0, err
						}
					}
					return int64(t.rows), nil
				},
			})
			cr.v = v
			r.serverLogs = append(r.serverLogs, prefixed(stream, v.logs)...)
			if m != nil {
				mem.accepted = max(mem.accepted, m.accepted)
				mem.backlog.records = max(mem.backlog.records, m.backlog.records)
				mem.backlog.bytes = max(mem.backlog.bytes, m.backlog.bytes)
				mem.hwm = max(mem.hwm, m.hwm)
			}
			if err != nil {
				return fmt.Errorf("%w\n%s", err, ch.logTail())
			}
			return ch.exec(ctx, "DROP TABLE "+table)
		}
		rows := []func() error{clientRow, hydrantRow}
		if round%2 == 0 {
			rows[0], rows[1] = rows[1], rows[0]
		}
		for _, row := range rows {
			if err := row(); err != nil {
				if cr.client > 0 && cr.v != nil && cr.v.e2e > 0 {
					res.rounds = append(res.rounds, cr)
				}
				return err
			}
		}
		res.rounds = append(res.rounds, cr)
	}
	return nil
}
