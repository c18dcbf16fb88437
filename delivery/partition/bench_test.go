package partition

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchRecord returns a JSON record of about 1 KiB, shaped like the
// example record of Firehose's dynamic partitioning guide with a payload
// of typical event fields.
func benchRecord(tb testing.TB) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":{"device":"mobile","event":"user_clicked_submit_button"},"customer_id":"1234567890","event_timestamp":1565382027,"region":"sample_region"`)
	for i := 0; b.Len() < 1000; i++ {
		fmt.Fprintf(&b, `,"field_%d":{"id":%d,"name":"value number %d","score":%d.25,"tags":["a","b\u00e9"],"ok":true}`, i, i*7919, i, i)
	}
	b.WriteString("}")
	if err := validateJSON(b.Bytes()); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkExtract measures Extract on a ~1 KiB record, reporting
// records/s on one core. "projected" is the typical query, which reads
// three members; "whole" is the same query with projection turned off,
// the cost for queries that read the whole record.
//
//	go test -run '^$' -bench Extract -cpu 1 ./delivery/partition/
func BenchmarkExtract(b *testing.B) {
	const src = `{customer_id: .customer_id, device: .type.device, year: .event_timestamp | strftime("%Y")}`
	record := benchRecord(b)
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"projected", nil},
		{"whole", []Option{withWholeRecord()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := Compile(src, bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			dst := make(map[string]string)
			b.SetBytes(int64(len(record)))
			b.ReportAllocs()
			cpu0, cpuOK := processCPUTime()
			for b.Loop() {
				if err := q.Extract(ctx, record, dst); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, cpu0, cpuOK)
		})
	}
}

// reportRate reports records/s of wall-clock time and, where the process
// CPU time is known, records per CPU-second (records/cpu-s), which holds
// on a busy host. Run with -cpu 1 so that both are per core.
func reportRate(b *testing.B, cpu0 time.Duration, cpuOK bool) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if cpu1, ok := processCPUTime(); ok && cpuOK && cpu1 > cpu0 {
		b.ReportMetric(float64(b.N)/(cpu1-cpu0).Seconds(), "records/cpu-s")
	}
}

// BenchmarkSplitJSON splits an aggregate of 100 ~1 KiB records.
func BenchmarkSplitJSON(b *testing.B) {
	record := benchRecord(b)
	data := bytes.Repeat(append(record, '\n'), 100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := SplitJSON(data, func([]byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalBaseline decodes the record of BenchmarkExtract with
// encoding/json into an any, as a naive Extract would before running the
// query: a yardstick for the host the benchmarks run on.
func BenchmarkUnmarshalBaseline(b *testing.B) {
	record := benchRecord(b)
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	cpu0, cpuOK := processCPUTime()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(record, &v); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, cpu0, cpuOK)
}
