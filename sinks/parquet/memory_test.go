package parquet

import (
	"io"
	"runtime"
	"testing"
)

// TestMemoryPerWriter measures the heap a writer holds when its row group
// is about to be written, the most it holds, and checks that it stays
// within the row group size plus the page buffers.
func TestMemoryPerWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory over 8 MiB of records")
	}
	records := benchRecords(1000)
	for _, o := range []Options{{}, {Compression: "UNCOMPRESSED"}, {Dictionary: true}} {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.GC() // and what sync.Pools dropped
		runtime.ReadMemStats(&m0)
		w, err := NewWriter(io.Discard, benchSchema(), o)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; w.groupBytes < DefaultRowGroupBytes*95/100; n++ {
			if err := w.Write(records[n%len(records)]); err != nil {
				t.Fatal(err)
			}
		}
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		held := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
		t.Logf("%+v: %d records, %.1f MiB of values, %.1f MiB encoded: writer holds %.1f MiB",
			o, n, float64(w.groupBytes)/(1<<20), float64(w.pw.Size())/(1<<20), float64(held)/(1<<20))
		if limit := int64(DefaultRowGroupBytes + 10*maxDefaultPageBytes + 2*maxStagedBytes); held > limit {
			t.Errorf("%+v: writer holds %d bytes; want at most %d", o, held, limit)
		}
		runtime.KeepAlive(w)
	}
}
