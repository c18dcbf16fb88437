package wal

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
	"github.com/hydrantio/hydrant/record"
)

// benchBatch is the common case: a full PutRecordBatch of 500 × 1 KiB.
func benchBatch() ([]record.Record, int64) {
	rs := make([]record.Record, 500)
	now := time.Now()
	var n int64
	for i := range rs {
		rs[i] = record.Record{ArrivalTime: now, PartitionKey: "partition-key", Data: make([]byte, 1024)}
		n += int64(len(rs[i].Data))
	}
	return rs, n
}

// BenchmarkAppend appends benchBatch from 1 and from 8 goroutines, to a
// plaintext log (appenders=N) and to an encrypted one
// (encrypted/appenders=N).
func BenchmarkAppend(b *testing.B) {
	benchAppend(b, nil)
	b.Run("encrypted", func(b *testing.B) { benchAppend(b, testKeys(b, "k1")) })
}

// benchAppend runs the Append benchmarks, on an encrypted log if keys is
// not nil.
func benchAppend(b *testing.B, keys *encrypt.Keyring) {
	for _, appenders := range []int{1, 8} {
		b.Run(map[int]string{1: "appenders=1", 8: "appenders=8"}[appenders], func(b *testing.B) {
			l := benchLog(b, keys)
			batch, n := benchBatch()
			b.SetBytes(n)
			b.ReportAllocs()
			b.ResetTimer()
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			for range appenders {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if _, err := l.Append(context.Background(), batch); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Fsyncs)/float64(b.N), "fsyncs/op")
		})
	}
}

// benchLog opens a log for a benchmark, encrypted if keys is not nil.
func benchLog(b *testing.B, keys *encrypt.Keyring) *Log {
	l, err := Open(b.TempDir(), Options{Logger: discardLogger, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if err := l.SetEncryption(keys != nil); err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkRead(b *testing.B) { benchRead(b, nil) }

func BenchmarkReadEncrypted(b *testing.B) { benchRead(b, testKeys(b, "k1")) }

// benchRead reads 20 batches of benchBatch, from an encrypted log if keys
// is not nil.
func benchRead(b *testing.B, keys *encrypt.Keyring) {
	l := benchLog(b, keys)
	var err error
	batch, n := benchBatch()
	const batches = 20
	for range batches {
		if _, err := l.Append(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n) // per op: one batch worth of records
	b.ReportAllocs()
	b.ResetTimer()
	var r *Reader
	for i := 0; i < b.N; i++ {
		if i%batches == 0 {
			if r != nil {
				r.Close()
			}
			if r, err = l.NewReader(0); err != nil {
				b.Fatal(err)
			}
		}
		for range len(batch) {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if r != nil {
		if _, err := r.Next(); err != nil && err != io.EOF && b.N%batches != 0 {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkEncodeEntry encodes benchBatch as one entry, plaintext and
// sealed: the CPU cost of encryption without the fsync that dominates
// BenchmarkAppend.
func BenchmarkEncodeEntry(b *testing.B) {
	batch, n := benchBatch()
	_, aead, err := appendEncryptedSegmentHeader(nil, testKeys(b, "k1"))
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.Run("plaintext", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			buf = appendEntry(buf[:0], 0, batch)
		}
	})
	b.Run("encrypted", func(b *testing.B) {
		b.SetBytes(n)
		b.ReportAllocs()
		for b.Loop() {
			buf = appendSealedEntry(buf[:0], 0, batch, aead)
		}
	})
}
