package parquet

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// benchSchema is a typical event table: ten columns, one of them nested.
func benchSchema() *Schema {
	return &Schema{Columns: []Column{
		{Name: "id", Type: "bigint"},
		{Name: "ts", Type: "timestamp"},
		{Name: "user_id", Type: "string"},
		{Name: "event", Type: "string"},
		{Name: "amount", Type: "double", Optional: true},
		{Name: "count", Type: "int", Optional: true},
		{Name: "ok", Type: "boolean", Optional: true},
		{Name: "tags", Type: "array", Optional: true, Element: &Column{Type: "string", Optional: true}},
		{Name: "ctx", Type: "struct", Optional: true, Fields: []Column{
			{Name: "ip", Type: "string", Optional: true},
			{Name: "user_agent", Type: "string", Optional: true},
		}},
		{Name: "message", Type: "string", Optional: true},
	}}
}

// benchRecords returns n records of about 1 KiB for benchSchema, with a
// field no column reads.
func benchRecords(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	events := []string{"click", "view", "purchase", "signup", "logout"}
	words := strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	records := make([][]byte, n)
	for i := range records {
		var msg strings.Builder
		for msg.Len() < 560 {
			msg.WriteString(words[r.IntN(len(words))])
			msg.WriteByte(' ')
		}
		rec := map[string]any{
			"id":      r.Int64(),
			"ts":      t0.Add(time.Duration(i) * 37 * time.Millisecond).Format(time.RFC3339Nano),
			"user_id": fmt.Sprintf("user-%08d", r.IntN(100000)),
			"event":   events[r.IntN(len(events))],
			"amount":  float64(r.IntN(1000000)) / 100,
			"count":   r.IntN(1000),
			"ok":      r.IntN(2) == 0,
			"tags":    []any{words[r.IntN(len(words))], words[r.IntN(len(words))], nil},
			"ctx": map[string]any{
				"ip":         fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)),
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
			},
			"message": msg.String(),
			"extra":   map[string]any{"trace": fmt.Sprintf("%016x", r.Uint64()), "spans": []int{1, 2, 3}},
		}
		b, err := json.Marshal(rec)
		if err != nil {
			panic(err)
		}
		records[i] = b
	}
	return records
}

// BenchmarkWrite converts ~1 KiB records to SNAPPY Parquet, closing a file
// every 100,000 records (about 100 MiB of JSON, near Firehose's largest
// buffer). Besides records/s, it reports records per second of the
// process's CPU time, which other load on the machine hardly disturbs.
func BenchmarkWrite(b *testing.B) {
	records := benchRecords(1000)
	total := 0
	for _, r := range records {
		total += len(r)
	}
	w, err := NewWriter(io.Discard, benchSchema(), Options{Compression: "SNAPPY"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(total / len(records)))
	b.ReportAllocs()
	cpu0, cpuOK := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := w.Write(records[i%len(records)]); err != nil {
			b.Fatal(err)
		}
		if w.Rows() == 100_000 {
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			w.Reset(io.Discard)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu1, ok := cpuTime(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(float64(b.N)/(cpu1-cpu0).Seconds(), "records/cpu-s")
	}
}

// BenchmarkConvert measures the JSON conversion alone, without parquet-go.
func BenchmarkConvert(b *testing.B) {
	records := benchRecords(1000)
	total := 0
	for _, r := range records {
		total += len(r)
	}
	c := newConverter(compile(benchSchema()))
	b.SetBytes(int64(total / len(records)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := c.convert(records[i%len(records)]); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			c.reset()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
