package clickhouse

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// benchColumns is the table of the benchmarks: a typical event, flat so
// that clickhouse-client's JSONEachRow (18.16: no paths, no RFC 3339) can
// insert the same records.
var benchColumns = []Column{
	{Name: "id", Type: "UInt64"},
	{Name: "user", Type: "String"},
	{Name: "event", Type: "String"},
	{Name: "ts", Type: "DateTime"},
	{Name: "day", Type: "Date"},
	{Name: "amount", Type: "Float64"},
	{Name: "n", Type: "Int32"},
	{Name: "tags", Type: "Array(String)"},
	{Name: "note", Type: "Nullable(String)"},
}

// benchRecords returns n records of benchColumns, about 190 bytes each.
func benchRecords(n int) []record.Record {
	r := rand.New(rand.NewPCG(1, 2))
	events := []string{"click", "view", "purchase", "scroll"}
	tags := []string{`[]`, `["a"]`, `["mobile","eu"]`, `["a","b","c"]`}
	out := make([]record.Record, n)
	for i := range out {
		ts := 1_700_000_000 + r.IntN(10_000_000)
		note := `null`
		if r.IntN(2) == 0 {
			note = `"note ` + strconv.Itoa(i) + `"`
		}
		out[i].Data = fmt.Appendf(nil, `{"id":%d,"user":"user-%d","event":"%s","ts":%d,"day":"%s","amount":%.2f,"n":%d,"tags":%s,"note":%s,"session":"%016x"}`,
			i, r.IntN(100_000), events[r.IntN(len(events))], ts, time.Unix(int64(ts), 0).UTC().Format("2006-01-02"),
			r.Float64()*1000, r.Int32N(1000)-500, tags[r.IntN(len(tags))], note, r.Uint64())
	}
	return out
}

// benchTable is the table of the benchmarks, as ClickHouse would create
// it from benchColumns.
const benchTable = "(id UInt64, user String, event String, ts DateTime, day Date, amount Float64, n Int32, tags Array(String), note Nullable(String)) ENGINE = MergeTree() ORDER BY tuple()"

// BenchmarkInsert inserts batches of records into a real ClickHouse, and
// has clickhouse-client insert the same records as JSONEachRow, in rows/s.
// Each insert goes into a new, empty table, so that no merge of earlier
// parts competes for the CPU.
func BenchmarkInsert(b *testing.B) {
	srv := startServer(b, serverOptions{})
	const big = 200_000
	recs := benchRecords(big)
	var size int
	for _, r := range recs {
		size += len(r.Data)
	}
	fresh := func(b *testing.B, table string) {
		b.StopTimer()
		srv.Exec("DROP TABLE IF EXISTS " + table)
		srv.Exec("CREATE TABLE " + table + " " + benchTable)
		b.StartTimer()
	}
	for _, batch := range []int{10_000, big} {
		b.Run(fmt.Sprintf("hydrant/batch=%d", batch), func(b *testing.B) {
			table := fmt.Sprintf("bench_%d", batch)
			fresh(b, table)
			s, err := New(context.Background(), srv.Config(table, benchColumns...), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(size / big * batch))
			b.ResetTimer()
			for i := range b.N {
				fresh(b, table)
				from := i * batch % big
				if _, err := s.Insert(context.Background(), recs[from:from+batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	client := filepath.Join(filepath.Dir(serverBin(b)), "clickhouse-client")
	if _, err := os.Stat(client); err != nil {
		b.Logf("no %s: not comparing with clickhouse-client", client)
		return
	}
	// The same records, inserted in turn by the sink and by
	// clickhouse-client, so that both see the same load on the machine.
	b.Run(fmt.Sprintf("vs-clickhouse-client/batch=%d", big), func(b *testing.B) {
		var input bytes.Buffer
		for _, r := range recs {
			input.Write(r.Data)
			input.WriteByte('\n')
		}
		fresh(b, "bench_sink")
		s, err := New(context.Background(), srv.Config("bench_sink", benchColumns...), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		var sink, cli time.Duration
		b.SetBytes(int64(2 * size))
		b.ResetTimer()
		for range b.N {
			fresh(b, "bench_sink")
			began := time.Now()
			if _, err := s.Insert(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
			sink += time.Since(began)

			fresh(b, "bench_client")
			cmd := exec.Command(client, "--host", "127.0.0.1", "--port", port(srv.tcp), "--user", testUser, "--password", testPassword,
				"--input_format_skip_unknown_fields=1", "--query", "INSERT INTO bench_client FORMAT JSONEachRow")
			cmd.Stdin = bytes.NewReader(input.Bytes())
			began = time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("clickhouse-client: %v\n%s", err, out)
			}
			cli += time.Since(began)
		}
		rows := float64(b.N * big)
		b.ReportMetric(rows/sink.Seconds(), "sink-rows/s")
		b.ReportMetric(rows/cli.Seconds(), "client-rows/s")
		b.ReportMetric(cli.Seconds()/sink.Seconds(), "sink/client")
	})
}

// BenchmarkConvert measures converting records into a batch's columns
// alone, without the server: the CPU an Insert spends in this package.
func BenchmarkConvert(b *testing.B) {
	p := testPlan(b, false, benchColumns...)
	recs := benchRecords(10_000)
	var size int
	for _, r := range recs {
		size += len(r.Data)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		buf := p.getBuf()
		for _, r := range recs {
			if err := p.add(buf, r.Data); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range buf.cols {
			c.prepare()
		}
		p.putBuf(buf)
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "rows/s")
}
