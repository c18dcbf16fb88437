package main

import (
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
	for _, s := range r.s3 {
		for _, round := range s.rounds {
			m = max(m, round.v.cpu.other, round.bareCPU.other)
		}
	}
	if r.ch != nil {
		for _, round := range r.ch.rounds {
			m = max(m, round.v.cpu.other, round.clientCores.other)
		}
	}
	for _, w := range r.webhook {
		for _, round := range w.rounds {
			m = max(m, round.v.cpu.other)
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
	for _, s := range r.s3 {
		if len(s.rounds) > 0 && s.ratio() < targetS3Ratio {
			return false
		}
	}
	if r.ch != nil && len(r.ch.rounds) > 0 && r.ch.ratio() < targetCHRatio {
		return false
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

	if len(r.s3) > 0 || r.minioSkipped {
		r.printS3(p, o)
	}
	if r.convert != nil {
		r.printConvert(p, o)
	}
	if r.ch != nil || r.chSkipped {
		r.printClickHouse(p, o)
	}
	if len(r.webhook) > 0 {
		r.printWebhook(p, o)
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

func (r *results) printS3(p func(string, ...any), o *options) {
	p("")
	if r.minioSkipped {
		p("4. Into MinIO: skipped, no MinIO binary (make bench builds one and sets HYDRANT_MINIO; or pass -minio PATH)")
		return
	}
	p("4. Into MinIO: %s of %d B JSON records put by %d producers until all of it is in MinIO; best of %d round(s)",
		fmtBytes(o.minioBytes/int64(o.recordSize)*int64(o.recordSize)), o.recordSize, o.producers, o.minioRounds)
	p("   MinIO %s on loopback, one drive in a temp dir; a stream per hydrant row, %d MiB / 60 s buffers:", r.minioVersion, o.minioBufferMB)
	p("   an object per buffer, one PUT per object, one PUT at a time")
	p("     A     MinIO's own PUTs, right after the hydrant row below it, hydrant stopped: as many objects of the same sizes,")
	p("           one PUT at a time as a stream's delivery worker makes them, with minio-go and hydrant's PUT options")
	p("     B, C  hydrant end to end: first put until hydrant_delivery_records_total reaches the acknowledged count")
	p("   %-40s %7s %10s %6s %10s %12s %12s %12s   %s", "row", "objects", "object MiB", "s", "records/s", "record MiB/s", "object MiB/s",
		"worst obj/s", "cores: hydrant/minio/bench/other")
	for i, s := range r.s3 {
		h, b := s.best()
		if h == nil {
			continue
		}
		worstBare, worstH := b.bareMiBs(), h.hydrantMiBs()
		for _, round := range s.rounds {
			worstBare, worstH = min(worstBare, round.bareMiBs()), min(worstH, round.hydrantMiBs())
		}
		p("   %-40s %7d %10.1f %6.2f %10s %12s %12.1f %12.1f   %s", "A  MinIO PUT, "+s.format.label+" objects' sizes",
			b.v.objects, mib(b.v.objBytes), b.bare.Seconds(), "—", "—", b.bareMiBs(), worstBare, b.bareCPU.withDest())
		p("   %-40s %7d %10.1f %6.2f %10.0f %12.1f %12.1f %12.1f   %s", fmt.Sprintf("%c  hydrant → MinIO, %s", 'B'+i, s.format.formatLabel()),
			h.v.objects, mib(h.v.objBytes), h.v.e2e.Seconds(), float64(h.v.records)/h.v.e2e.Seconds(), h.v.e2eMiBs(),
			h.hydrantMiBs(), worstH, h.v.cpu.withDest())
	}
	for i, s := range r.s3 {
		if len(s.rounds) == 0 {
			continue
		}
		var per []string
		for _, round := range s.rounds {
			per = append(per, fmt.Sprintf("%.2f", round.hydrantMiBs()/round.bareMiBs()))
		}
		label := fmt.Sprintf("%c / A  object MiB/s, %s", 'B'+i, s.format.label)
		p("   %-40s %7.2f   target ≥ %.2f  %s   (each round: %s)", label, s.ratio(), targetS3Ratio,
			verdict(s.ratio() >= targetS3Ratio), strings.Join(per, " "))
		// The other reading of the figure: the records' MiB/s end to end
		// (what a producer gets through), against the same bare PUTs.
		h, b := s.best()
		rec := h.v.e2eMiBs() / b.bareMiBs()
		p("   %-40s %7.2f   target ≥ %.2f  %s", fmt.Sprintf("%c / A  record MiB/s, %s", 'B'+i, s.format.label), rec, targetS3Ratio, verdict(rec >= targetS3Ratio))
	}
	p("   the ratio holds hydrant's object bytes per second, first put to last delivery, against MinIO taking the same objects")
	p("   one PUT at a time, as a stream delivers them: in that time hydrant also receives, decodes, logs and compresses or converts the records")
	base := r.baselineAt(o.producers)
	if base != nil && base.producers != o.producers {
		base = nil
	}
	for i, s := range r.s3 {
		h, b := s.best()
		if h == nil {
			continue
		}
		what := "compressing"
		if s.format.parquet {
			what = "converting"
		}
		perRecord := float64(h.v.objBytes) / float64(h.v.bytes)
		p("   %c: all acknowledged after %.2f s, the last object in MinIO %.2f s later; objects are %.3f of the record data",
			'B'+i, h.v.ingest.Seconds(), (h.v.e2e - h.v.ingest).Seconds(), perRecord)
		if h.v.putTime > 0 {
			inPut := mib(h.v.objBytes) / h.v.putTime.Seconds()
			p("      the delivery worker spent %.2f s in its %d PUTs (%.0f %% of the time; %.1f MiB/s while in a PUT = %.2f × A),",
				h.v.putTime.Seconds(), h.v.puts, 100*h.v.putTime.Seconds()/h.v.e2e.Seconds(), inPut, inPut/b.bareMiBs())
			p("      the rest %s records or waiting for them", what)
		}
		if base != nil {
			ceiling := base.mibs() * perRecord
			p("      ceiling: the --discard baseline decoded %.1f MiB/s of records at %d producers (section 1); at %.3f that is",
				base.mibs(), base.producers, perRecord)
			p("      %.1f MiB/s of objects = %.2f × A: the most that decoding the requests alone leaves room for here", ceiling, ceiling/b.bareMiBs())
		}
	}
}

// withDest is the cores with the destination process's among them.
func (c cores) withDest() string {
	return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", c.srv, c.dest, c.bench, c.other)
}

func (r *results) printConvert(p func(string, ...any), o *options) {
	c := r.convert
	p("")
	p("5. Parquet conversion on one core: sinks/parquet.Writer in the bench process with GOMAXPROCS 1, nothing else running;")
	p("   the Parquet stream's schema (%d columns) and options (SNAPPY), a file per %d records, output counted and dropped; best of %d round(s)",
		len(recordSchema().Columns), c.perFile, len(c.wall))
	p("   %-40s %9s %9s %12s %6s %10s %10s %14s %12s", "row", "records", "JSON MiB", "Parquet MiB", "s", "records/s", "JSON MiB/s", "records/CPU-s", "worst rec/s")
	worst := c.bestWall
	for _, w := range c.wall {
		worst = max(worst, w)
	}
	p("   %-40s %9d %9.1f %12.1f %6.2f %10.0f %10.1f %14.0f %12.0f", "D  Parquet conversion, one core",
		c.records, mib(c.jsonIn), mib(c.out), c.bestWall.Seconds(), c.recordsPerSec(), mib(c.jsonIn)/c.bestWall.Seconds(),
		c.recordsPerCPUSec(), float64(c.records)/worst.Seconds())
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
	if lines, n, err = countLines(zr, buf); err != nil {
		return lines, n, fmt.Errorf("object %s: %w", path, err)
	}
	return lines, n, nil
}

func (r *results) printClickHouse(p func(string, ...any), o *options) {
	p("")
	if r.chSkipped {
		p("6. Into ClickHouse: skipped, no ClickHouse binary (make bench installs one and sets HYDRANT_CLICKHOUSE; or pass -clickhouse PATH)")
		return
	}
	c := r.ch
	p("6. Into ClickHouse: %s of %d B JSON records (%d rows) into a table of their %d fields; best of %d round(s)",
		fmtBytes(c.rows*int64(o.recordSize)), o.recordSize, c.rows, len(chColumns), len(c.rounds))
	p("   ClickHouse %s on loopback, a fresh %s table per row, counted, then dropped; A and B alternate in turn:", c.version, chEngine)
	p("     A  clickhouse-client --query \"INSERT INTO t FORMAT JSONEachRow\" %s, the records from a file on its stdin:",
		strings.Join(chClientSettings, " "))
	p("        one INSERT; the client parses the JSON (C++) and sends native blocks, LZ4")
	p("     B  hydrant end to end, %d producers: first put until hydrant_delivery_records_total reaches the acknowledged count;", o.producers)
	p("        %d MiB / 60 s buffers, one INSERT per buffer; the sink parses the JSON (Go) and sends native columns, LZ4; create_table", c.bufferMB)
	h, a := c.best()
	if h == nil {
		p("   no round completed")
		return
	}
	worstA, worstB := a.clientRowsPerSec(c.rows), h.hydrantRowsPerSec()
	for _, round := range c.rounds {
		worstA, worstB = min(worstA, round.clientRowsPerSec(c.rows)), min(worstB, round.hydrantRowsPerSec())
	}
	recMiBs := func(rowsPerSec float64) float64 { return rowsPerSec * float64(o.recordSize) / (1 << 20) }
	// Rows per CPU-second of the client or of hydrant: a busy neighbour
	// disturbs it less than wall time.
	perCPU := func(rows int64, c cores, wall time.Duration) float64 {
		if c.srv <= 0 {
			return 0
		}
		return float64(rows) / (c.srv * wall.Seconds())
	}
	p("   %-36s %8s %6s %9s %12s %12s %10s %5s   %s", "row", "rows", "s", "rows/s", "record MiB/s", "worst rows/s", "rows/CPU-s", "parts",
		"cores: A client, B hydrant / clickhouse / bench / other")
	p("   %-36s %8d %6.2f %9.0f %12.1f %12.0f %10.0f %5d   %s", "A  clickhouse-client, JSONEachRow", c.rows, a.client.Seconds(),
		a.clientRowsPerSec(c.rows), recMiBs(a.clientRowsPerSec(c.rows)), worstA, perCPU(c.rows, a.clientCores, a.client), a.clientParts,
		a.clientCores.withDest())
	p("   %-36s %8d %6.2f %9.0f %12.1f %12.0f %10.0f %5d   %s", "B  hydrant → ClickHouse", h.v.records, h.v.e2e.Seconds(),
		h.hydrantRowsPerSec(), recMiBs(h.hydrantRowsPerSec()), worstB, perCPU(h.v.records, h.v.cpu, h.v.e2e), h.parts, h.v.cpu.withDest())
	var per []string
	for _, round := range c.rounds {
		per = append(per, fmt.Sprintf("%.2f", round.hydrantRowsPerSec()/round.clientRowsPerSec(c.rows)))
	}
	p("   %-36s %8.2f   target ≥ %.2f  %s   (each round: %s)", "B / A  rows/s", c.ratio(), targetCHRatio,
		verdict(c.ratio() >= targetCHRatio), strings.Join(per, " "))
	p("   verified: each of the %d tables held exactly the %d rows sent, with the same cityHash64 over every column: hydrant's rows",
		2*len(c.rounds), c.rows)
	p("   are the rows ClickHouse's own JSONEachRow parser made of the same records")
	p("   rows/CPU-s: rows per CPU-second of the client (A) or of the hydrant process (B), HTTP and log included")
	p("   A: its time includes starting the client and connecting, which alone (clickhouse-client --query \"SELECT 1\") takes %.2f s",
		c.clientStart.Seconds())
	p("   B: all acknowledged after %.2f s, the last INSERT done %.2f s later", h.v.ingest.Seconds(), (h.v.e2e - h.v.ingest).Seconds())
	if h.v.putTime > 0 {
		inInsert := float64(h.v.records) / h.v.putTime.Seconds()
		p("      the delivery worker spent %.2f s in its %d INSERTs (%.0f %% of the time), converting and inserting: %.0f rows/s while in", h.v.putTime.Seconds(),
			h.v.puts, 100*h.v.putTime.Seconds()/h.v.e2e.Seconds(), inInsert)
		p("      an INSERT = %.2f × A: A's work (JSON → native → INSERT) without HTTP, base64, the log or the producers (no target)",
			inInsert/a.clientRowsPerSec(c.rows))
	}
	if base := r.baselineAt(o.producers); base != nil && base.producers == o.producers {
		p("      ceiling: the --discard baseline decoded %.0f records/s at %d producers (section 1) = %.2f × A: the most that",
			base.recordsPerSec(), base.producers, base.recordsPerSec()/a.clientRowsPerSec(c.rows))
		p("      decoding the requests alone leaves room for here, before any logging, conversion or INSERT")
	}
	p("   A and B do the same work at ClickHouse: both parse the JSON on the client side and send native blocks, which the server only")
	p("   writes as parts. B also takes every record over HTTP in base64 inside a PutRecordBatch, appends it to its durable log")
	p("   (fsync), reads it back, and does all of it on the same %d cores as the producers; A reads a local file. A's single", r.env.nproc)
	p("   INSERT writes the parts the server's squashing makes of it (up to 1,048,576 rows or 256 MiB each); B writes one per")
	p("   buffer, which ClickHouse merges in the background (in the clickhouse column)")
}

func (r *results) printWebhook(p func(string, ...any), o *options) {
	p("")
	p("7. Webhook: %s of %d B %s records put by %d producers until the receiver has them all; best of %d round(s)",
		fmtBytes(o.webhookBytes/int64(o.recordSize)*int64(o.recordSize)), o.recordSize, o.payload, o.producers, o.webhookRounds)
	p("   a stream per row with %d MiB / 60 s buffers: POSTs of a buffer's records (at most 10,000 and 64 MiB each), one at a time,", o.webhookBufferMB)
	p("   over loopback http to a discard receiver (this binary with -serve-discard-receiver, a process of its own) that reads each")
	p("   body, gunzips it, checks its requestId, counts its records, drops it and answers 200; wire MiB/s counts request bodies as sent")
	p("   %-28s %8s %6s %10s %10s %12s %10s %12s %12s   %s", "row", "requests", "s", "requests/s", "records/s", "record MiB/s",
		"wire MiB/s", "wire/record", "worst rec/s", "cores: hydrant/receiver/bench/other")
	for i, w := range r.webhook {
		b := w.best()
		if b == nil {
			continue
		}
		worst := b.v.e2eMiBs()
		for _, round := range w.rounds {
			worst = min(worst, round.v.e2eMiBs())
		}
		p("   %-28s %8d %6.2f %10.1f %10.0f %12.1f %10.1f %12.3f %12.0f   %s", fmt.Sprintf("%c  hydrant → webhook, %s", 'E'+i, w.enc.label),
			b.recv.Requests, b.v.e2e.Seconds(), b.requestsPerSec(), float64(b.v.records)/b.v.e2e.Seconds(), b.v.e2eMiBs(), b.wireMiBs(),
			float64(b.recv.WireBytes)/float64(b.v.bytes), worst*(1<<20)/float64(o.recordSize), b.v.cpu.withDest())
	}
	for i, w := range r.webhook {
		b := w.best()
		if b == nil {
			continue
		}
		p("   %c: all acknowledged after %.2f s, the last request answered %.2f s later; the receiver got exactly the %d records", 'E'+i,
			b.v.ingest.Seconds(), (b.v.e2e - b.v.ingest).Seconds(), b.recv.Records)
		if b.v.putTime > 0 {
			p("      the delivery worker spent %.2f s in its %d requests (%.0f %% of the time; %.1f MiB/s of records, %.1f MiB/s on the wire", b.v.putTime.Seconds(), b.v.puts,
				100*b.v.putTime.Seconds()/b.v.e2e.Seconds(), mib(b.v.bytes)/b.v.putTime.Seconds(), mib(b.recv.WireBytes)/b.v.putTime.Seconds())
			p("      while in one, which includes the receiver reading%s the body), the rest encoding%s the bodies, or waiting for records",
				map[bool]string{true: " and gunzipping"}[w.enc.label == "GZIP"], map[bool]string{true: " and gzipping"}[w.enc.label == "GZIP"])
		}
	}
	p("   for information (no target); section 2 is the same path into objects")
}
