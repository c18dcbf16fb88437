package nexmark

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// benchEvents is how many events BenchmarkNexmark generates: 100 s of
// event time at Nexmark's default 10,000 events/s.
const benchEvents = 1_000_000

var benchInput = sync.OnceValues(func() ([]byte, Counts) {
	var bids bytes.Buffer
	c, err := NewGenerator(Config{Seed: 1}).Write(benchEvents, nil, nil, &bids)
	if err != nil {
		panic(err)
	}
	return bids.Bytes(), c
})

// BenchmarkNexmark runs each query over the bids of 1,000,000 generated
// events, generated once outside the timer, the way hydrant sql run does:
// from JSON lines in memory (read, decoded, run and encoded), the output
// discarded. It reports events/s, counting every generated event as
// Nexmark does although only the bids (46 in 50) are input, and bids/s.
// The engine is single-threaded; run with -cpu 1:
//
//	go test ./sql/nexmark -run '^$' -bench Nexmark -cpu 1 -benchtime 3x
func BenchmarkNexmark(b *testing.B) {
	bids, counts := benchInput()
	for _, q := range []string{"q0", "q1", "q2", "q5"} {
		b.Run(q, func(b *testing.B) {
			app := loadQuery(b, q)
			b.SetBytes(int64(len(bids)))
			b.ResetTimer()
			for range b.N {
				stats, err := runQuery(app, bids, io.Discard, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				if stats.Records["bid"] != counts.Bids || stats.Errors != 0 {
					b.Fatalf("read %d bids with %d errors; want %d and none", stats.Records["bid"], stats.Errors, counts.Bids)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(benchEvents)*float64(b.N)/sec, "events/s")
			b.ReportMetric(float64(counts.Bids)*float64(b.N)/sec, "bids/s")
		})
	}
}
