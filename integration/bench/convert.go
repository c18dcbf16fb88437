package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/parquet"
)

// convertResult is the Parquet conversion row: sinks/parquet's Writer on
// one goroutine with GOMAXPROCS 1.
type convertResult struct {
	records  int   // per round
	perFile  int   // records per Parquet file
	jsonIn   int64 // bytes of JSON per round
	out      int64 // bytes of Parquet per round
	wall     []time.Duration
	cpu      []time.Duration // CPU time of the whole process, per round
	bestWall time.Duration
	bestCPU  time.Duration
}

func (c *convertResult) recordsPerSec() float64 { return float64(c.records) / c.bestWall.Seconds() }

func (c *convertResult) recordsPerCPUSec() float64 { return float64(c.records) / c.bestCPU.Seconds() }

// countingWriter counts the bytes written to it and drops them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// convertPhase converts o.convertRecords of the benchmark's 1 KiB JSON
// lines to SNAPPY Parquet with recordSchema, as the Parquet stream's
// delivery worker does (the same writer, options and schema; a file per
// buffer of records), but in the benchmark's process with GOMAXPROCS 1
// and nothing else running, for o.convertRounds rounds, and keeps the
// fastest. The output is counted and dropped, so no I/O is measured.
func convertPhase(o *options) (*convertResult, error) {
	const distinct = 4000 // as many as the payload of a volume phase holds
	rng := rand.New(rand.NewPCG(5, 6))
	recs := make([][]byte, distinct)
	for i := range recs {
		recs[i] = makeRecord(rng, i, o.recordSize)
	}
	c := &convertResult{records: o.convertRecords, perFile: max(o.minioBufferMB<<20/o.recordSize, 1)}
	var out countingWriter
	w, err := parquet.NewWriter(&out, recordSchema(), parquet.Options{
		Compression: delivery.DefaultParquetCompression,
		PageBytes:   delivery.DefaultParquetPageSize,
	})
	if err != nil {
		return nil, err
	}

	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	for round := 1; round <= o.convertRounds; round++ {
		progress("round %d/%d, Parquet conversion of %d records on one core", round, o.convertRounds, c.records)
		runtime.GC()
		out.n, c.jsonIn = 0, 0
		w.Reset(&out)
		start, cpu0 := time.Now(), selfCPU()
		for i := range c.records {
			rec := recs[i%distinct]
			if err := w.Write(rec); err != nil {
				return nil, fmt.Errorf("parquet conversion of record %d: %w", i, err)
			}
			c.jsonIn += int64(len(rec))
			if w.Rows() == int64(c.perFile) {
				if err := w.Close(); err != nil {
					return nil, err
				}
				w.Reset(&out)
			}
		}
		if w.Rows() > 0 {
			if err := w.Close(); err != nil {
				return nil, err
			}
		}
		wall, cpu := time.Since(start), selfCPU()-cpu0
		c.wall, c.cpu, c.out = append(c.wall, wall), append(c.cpu, cpu), out.n
		if c.bestWall == 0 || wall < c.bestWall {
			c.bestWall = wall
		}
		if c.bestCPU == 0 || cpu < c.bestCPU {
			c.bestCPU = cpu
		}
	}
	return c, nil
}
