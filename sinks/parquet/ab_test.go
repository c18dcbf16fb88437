package parquet

import (
	"bytes"
	"testing"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

func TestABSnappy(t *testing.T) {
	records := benchRecords(1000)
	run := func(codec compress.Codec) (int, float64) {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, benchSchema(), Options{})
		// swap the codec in the column writers
		for _, c := range w.pw.ColumnWriters() {
			_ = c
		}
		c := compile(benchSchema())
		config, _ := pq.NewWriterConfig(pq.NewSchema("schema", c.node), pq.Compression(codec), pq.PageBufferSize(190<<10), pq.DataPageVersion(1))
		w.pw = pq.NewWriter(&buf, config)
		w.columns = w.pw.ColumnWriters()
		c0, _ := cpuTime()
		for i := 0; i < 100_000; i++ {
			w.Write(records[i%len(records)])
		}
		w.Close()
		c1, _ := cpuTime()
		return buf.Len(), 100_000 / (c1 - c0).Seconds()
	}
	for i := 0; i < 3; i++ {
		n1, r1 := run(&pq.Snappy)
		n2, r2 := run(snappyCodec{})
		t.Logf("parquet-go snappy (better): %d bytes, %.0f records/cpu-s | s2 standard snappy: %d bytes, %.0f records/cpu-s", n1, r1, n2, r2)
	}
}
