package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fmtBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", mib(b))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func (c cores) String() string { return fmt.Sprintf("%.2f / %.2f / %.2f", c.srv, c.bench, c.other) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// baselineAt returns the baseline row with n producers, or the one with
// the most producers below it.
func (r *results) baselineAt(n int) *ingestRow {
	var best *ingestRow
	for i := range r.ingest {
		row := &r.ingest[i]
		if row.server == baselineKey && row.producers <= n && (best == nil || row.producers > best.producers) {
			best = row
		}
	}
	return best
}

// rowAt returns the row of server with n producers, or nil.
func (r *results) rowAt(server string, n int) *ingestRow {
	for i := range r.ingest {
		if row := &r.ingest[i]; row.server == server && row.producers == n {
			return row
		}
	}
	return nil
}

func (r *results) maxOther() float64 {
	var m float64
	for _, row := range r.ingest { // the rows shown
		m = max(m, row.cpu.other)
	}
	for _, v := range []*volumeResult{r.e2e, r.backlog} {
		if v != nil {
			m = max(m, v.cpu.other)
		}
	}
	return m
}

func (r *results) peakRSS() int64 {
	var peak int64
	for _, m := range r.mem {
		if !strings.Contains(m.phase, "baseline") {
			peak = max(peak, m.hwm)
		}
	}
	return peak
}

// targetsMet reports whether every figure that was measured meets its
// target. The GZIP-delivering ingest rows have none.
func (r *results) targetsMet() bool {
	for _, row := range r.ingest {
		if row.server != ingestOnlyKey {
			continue
		}
		if b := r.baselineAt(row.producers); b != nil && row.recordsPerSec()/b.recordsPerSec() < targetIngestRatio {
			return false
		}
	}
	if r.e2e != nil && r.e2e.e2e > 0 {
		if b := r.baselineAt(r.e2e.producers); b != nil && r.e2e.e2eMiBs()/b.mibs() < targetE2ERatio {
			return false
		}
	}
	return r.peakRSS() <= targetPeakRSS
}

func (r *ingestRow) mibs() float64 { return r.recordsPerSec() * float64(r.recordSize) / (1 << 20) }

func (r *results) print(w io.Writer, o *options) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	srvGo, srvProcs := r.env.srvGoVersion, r.env.srvGOMAXPROCS
	if srvGo == "" {
		srvGo = "?"
	}
	if srvProcs == "" {
		srvProcs = "?"
	}
	p("")
	p("Hydrant end-to-end benchmark — %s, run took %s", r.started.UTC().Format("2006-01-02 15:04 UTC"), r.elapsed.Round(time.Second))
	p("  machine  nproc %d; GOMAXPROCS %d (bench), %s (server); %s; load average at start %s", r.env.nproc, r.env.gomaxprocs, srvProcs, r.env.osArch, r.env.loadAvg)
	p("  Go       %s (bench), %s (server binary %s)", r.env.goVersion, srvGo, r.env.hydrantBin)
	p("  load     PutRecordBatch of %d %s records × %d B (request body %s), %d pre-encoded bodies reused;",
		o.batch, o.payload, o.recordSize, fmtBytes(int64(r.bodyBytes)), nBodies)
	p("           bench and server share the machine; MiB/s counts record data (1 MiB = 2^20 B)")

	if len(r.ingest) > 0 {
		r.printIngest(p, o)
	}

	if v := r.e2e; v != nil && v.stats != nil {
		p("")
		p("2. End to end: %s put by %d producers until all of it is in objects", fmtBytes(v.bytes), v.producers)
		p("   stream %s: GZIP, %d MiB / %d s buffers", v.stream, v.bufferMB, v.intervalS)
		r.printVolume(p, v)
		if v.e2e > 0 {
			if b := r.baselineAt(v.producers); b != nil {
				ratio := v.e2eMiBs() / b.mibs()
				p("   end-to-end / baseline ingest (%d producers, %.1f MiB/s) = %.2f   target ≥ %.2f  %s",
					b.producers, b.mibs(), ratio, targetE2ERatio, verdict(ratio >= targetE2ERatio))
			}
		}
	}

	if len(r.mem) > 0 {
		p("")
		p("3. Memory: peak RSS of each server process (VmHWM from /proc/PID/status, read before SIGTERM)")
		p("   %-43s %10s %22s %10s", "process", "accepted", "max undelivered", "VmHWM")
		for _, m := range r.mem {
			und := "—"
			if !strings.Contains(m.phase, "baseline") {
				und = fmt.Sprintf("%s (%s log)", fmtBytes(int64(m.backlog.records)*int64(o.recordSize)), fmtBytes(int64(m.backlog.bytes)))
			}
			p("   %-43s %10s %22s %10s", m.phase, fmtBytes(m.accepted), und, fmtBytes(m.hwm))
		}
		if v := r.backlog; v != nil && v.e2e > 0 {
			p("   backlog phase: %s acknowledged in %.1f s (%.1f MiB/s), in objects after %.1f s (%.1f MiB/s), %d objects",
				fmtBytes(v.bytes), v.ingest.Seconds(), v.ingestMiBs(), v.e2e.Seconds(), v.e2eMiBs(), v.objects)
		}
		peak := r.peakRSS()
		p("   peak RSS of hydrant over the run: %s   target ≤ %s  %s", fmtBytes(peak), fmtBytes(targetPeakRSS), verdict(peak <= targetPeakRSS))
	}

	if other := r.maxOther(); other > 0.25 {
		p("")
		p("WARNING: other processes used up to %.2f cores during a measurement (load average at start: %s);", other, r.env.loadAvg)
		p("         the figures are noisy; rerun on a quiet machine for numbers to compare.")
	}

	if len(r.serverLogs) > 0 {
		p("")
		p("Server warnings and errors (%d, benign ones left out):", len(r.serverLogs))
		for i, l := range r.serverLogs {
			if i == 10 {
				p("   …")
				break
			}
			p("   %s", l)
		}
	}
}

func (r *results) printIngest(p func(string, ...any), o *options) {
	p("")
	p("1. Ingest: acknowledged PutRecordBatch, %v warm-up then %v per row; best of %d interleaved round(s)", o.warmup, o.duration, o.rounds)
	p("   three servers side by side, each with a stream bench of 5 MiB / 60 s buffers:")
	p("     baseline (--discard)            decodes and validates each request, discards the records")
	p("     hydrant, ingest only            compression UNCOMPRESSED: durable group-committed append, ack; delivery only copies")
	p("     hydrant, GZIP delivery running  compression GZIP: the same, compressing its deliveries on the same cores")
	p("   %-30s %9s %10s %8s %8s %8s %9s %9s %11s   %-24s", "server", "producers", "records/s", "MiB/s", "p50 ms", "p99 ms",
		"requests", "throttled", "worst MiB/s", "cores: server/bench/other")
	for _, row := range r.ingest {
		worst := row.recordsPerSec()
		for _, v := range row.rounds {
			worst = min(worst, v)
		}
		p("   %-30s %9d %10.0f %8.1f %8.1f %8.1f %9d %9d %11.1f   %s", serverLabel(row.server), row.producers, row.recordsPerSec(), row.mibs(),
			ms(row.stats.percentile(0.50)), ms(row.stats.percentile(0.99)), row.stats.requests, row.stats.throttled,
			worst*float64(row.recordSize)/(1<<20), row.cpu)
	}
	r.printRatios(p, o, "ingest only / baseline", ingestOnlyKey, func(ratio float64) string {
		return fmt.Sprintf("target ≥ %.2f  %s", targetIngestRatio, verdict(ratio >= targetIngestRatio))
	})
	r.printRatios(p, o, "GZIP delivering / baseline", gzipKey, func(float64) string {
		return "for information (no target)"
	})
	for _, k := range ingestServers {
		var appends []string
		for _, row := range r.ingest {
			if row.server == k.name && row.appendMean > 0 {
				appends = append(appends, fmt.Sprintf("%.1f ms at %d", ms(row.appendMean), row.producers))
			}
		}
		if len(appends) > 0 {
			p("   %s: mean time a put spends in the log's durable append (server side): %s producer(s)", k.label, strings.Join(appends, ", "))
		}
	}
}

// printRatios prints the ratio of server's records/s to the baseline's at
// each concurrency, labelled on the first line, with note(ratio) after it.
func (r *results) printRatios(p func(string, ...any), o *options, label, server string, note func(float64) string) {
	for _, n := range o.concurrency {
		h, b := r.rowAt(server, n), r.baselineAt(n)
		if h == nil || b == nil || b.producers != n {
			continue
		}
		ratio := h.recordsPerSec() / b.recordsPerSec()
		p("   %-30s %9d %10.2f   %s", label, n, ratio, note(ratio))
		label = ""
	}
}

func (r *results) printVolume(p func(string, ...any), v *volumeResult) {
	p("   all acknowledged  %6.1f s  %7.1f MiB/s   p50 %.0f ms, p99 %.0f ms per request, %d throttled",
		v.ingest.Seconds(), v.ingestMiBs(), ms(v.stats.percentile(0.5)), ms(v.stats.percentile(0.99)), v.stats.throttled)
	if v.e2e == 0 {
		p("   not all delivered")
		return
	}
	p("   all in objects    %6.1f s  %7.1f MiB/s   last object %.2f s after the last ack; max undelivered %s",
		v.e2e.Seconds(), v.e2eMiBs(), (v.e2e - v.ingest).Seconds(), fmtBytes(int64(v.maxBacklog.records)*int64(v.recordSize)))
	p("   cores used        %s (first put to all delivered)", v.cpu)
	if v.objects > 0 {
		p("   verified          %d objects hold exactly the %d acknowledged records; objects are %.3f of the data",
			v.objects, v.records, float64(v.objBytes)/float64(v.bytes))
	}
}

// countObjects decompresses every object of bucket and returns the
// number of records in them (newlines: every record ends in one) and the
// objects' count and size. Every record must be recordSize bytes.
func countObjects(dataDir, bucket string, recordSize int) (records int64, objects int, size int64, err error) {
	root := filepath.Join(dataDir, "objects", bucket)
	var paths []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			paths = append(paths, path)
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cannot list objects: %w", err)
	}
	type count struct{ lines, bytes int64 }
	counts := make([]count, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := range next {
				counts[i].lines, counts[i].bytes, errs[i] = countGzip(paths[i], buf)
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	var total int64
	for i, c := range counts {
		if errs[i] != nil {
			return 0, len(paths), size, errs[i]
		}
		if c.bytes != c.lines*int64(recordSize) {
			return 0, len(paths), size, fmt.Errorf("object %s: %d bytes in %d lines, records are %d bytes", paths[i], c.bytes, c.lines, recordSize)
		}
		records += c.lines
		total += c.bytes
	}
	return records, len(paths), size, nil
}

func countGzip(path string, buf []byte) (lines, n int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("object %s: %w", path, err)
	}
	for {
		k, err := zr.Read(buf)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		n += int64(k)
		if err == io.EOF {
			return lines, n, nil
		}
		if err != nil {
			return lines, n, fmt.Errorf("object %s: %w", path, err)
		}
	}
}
