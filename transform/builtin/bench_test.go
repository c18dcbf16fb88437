package builtin

import (
	"fmt"
	"strings"
	"testing"
)

// benchMessages returns n log messages of about size bytes, shaped like
// the JSON application logs CloudWatch Logs carries.
func benchMessages(n, size int) []string {
	msgs := make([]string, n)
	for i := range msgs {
		m := fmt.Sprintf(`{"ts":"2026-03-01T12:00:%02d.%03dZ","level":"info","request_id":"%08x","msg":"`, i%60, i%1000, i*7919)
		msgs[i] = m + strings.Repeat("handled request ", max(size-len(m)-2, 0)/16) + `"}`
	}
	return msgs
}

// BenchmarkGunzip decompresses a CloudWatch Logs record of 100 log
// events of 200 bytes into a reused dst; MB/s counts decompressed bytes.
//
//	go test -run '^$' -bench Gunzip -cpu 1 ./transform/builtin/
func BenchmarkGunzip(b *testing.B) {
	data := cwRecord(b, MessageTypeData, benchMessages(100, 200)...)
	src := gz(b, string(data))
	dst := make([]byte, 0, len(data))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = Gunzip(dst[:0], src, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data))/float64(len(src)), "ratio")
}

// BenchmarkExtractMessages extracts the messages of a decompressed
// CloudWatch Logs record of 100 log events of 200 bytes; MB/s counts the
// record's bytes.
func BenchmarkExtractMessages(b *testing.B) {
	data := cwRecord(b, MessageTypeData, benchMessages(100, 200)...)
	n := 0
	emit := func(msg []byte) error { n += len(msg); return nil }
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ExtractMessages(data, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}
