package parquet

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// TestMemoryPerWriter measures the heap a writer holds when its row group
// is about to be written, the most it holds, and checks it against the
// bound the Writer documents.
func TestMemoryPerWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory over 8 MiB of records")
	}
	// A table of 500 required bigint columns: its page buffers would be
	// 500 pages but for the default page size shrinking with width.
	wide := &Schema{}
	var rec strings.Builder
	rec.WriteByte('{')
	for i := 0; i < 500; i++ {
		wide.Columns = append(wide.Columns, Column{Name: fmt.Sprintf("c%d", i), Type: "bigint"})
		if i > 0 {
			rec.WriteByte(',')
		}
		fmt.Fprintf(&rec, `"c%d":%d`, i, i*7919)
	}
	rec.WriteByte('}')
	for _, tc := range []struct {
		name    string
		schema  *Schema
		records [][]byte
		o       Options
	}{
		{"events", benchSchema(), benchRecords(1000), Options{}},
		{"events uncompressed", benchSchema(), benchRecords(1000), Options{Compression: "UNCOMPRESSED"}},
		{"events dictionary", benchSchema(), benchRecords(1000), Options{Dictionary: true}},
		{"500 columns", wide, [][]byte{[]byte(rec.String())}, Options{Compression: "UNCOMPRESSED"}},
	} {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.GC() // and what sync.Pools dropped
		runtime.ReadMemStats(&m0)
		w, err := NewWriter(io.Discard, tc.schema, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; w.groupBytes < DefaultRowGroupBytes*95/100; n++ {
			if err := w.Write(tc.records[n%len(tc.records)]); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		held := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
		t.Logf("%s: %d records, %.1f MiB of values, %.1f MiB in parquet-go (its estimate): writer holds %.1f MiB",
			tc.name, n, float64(w.groupBytes)/(1<<20), float64(w.pw.Size())/(1<<20), float64(held)/(1<<20))
		leaves := compile(tc.schema).leaves
		page := defaultPageBytes(DefaultRowGroupBytes, leaves)
		limit := w.pw.Size() + int64(leaves)*(page+int64(pageChunk(page))) + 2*maxStagedBytes + 24*maxStagedValues
		if held > limit {
			t.Errorf("%s: writer holds %d bytes; want at most %d", tc.name, held, limit)
		}
		runtime.KeepAlive(w)
	}
}
