package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hydrantio/hydrant/sinks/parquet"
)

// s3Format is one destination format of the MinIO rows.
type s3Format struct {
	name    string // stream name and bucket prefix
	label   string // in the report
	parquet bool   // format_conversion to Parquet (SNAPPY), else GZIP
}

var s3Formats = []s3Format{
	{name: "gzip", label: "GZIP"},
	{name: "parquet", label: "Parquet", parquet: true},
}

// formatLabel is a row's format in the report: Parquet says its codec.
func (f s3Format) formatLabel() string {
	if f.parquet {
		return f.label + " (SNAPPY)"
	}
	return f.label
}

// s3Result is what the MinIO rows measured for one format, every round.
type s3Result struct {
	format s3Format
	rounds []s3Round
}

// s3Round is one round of one format: hydrant end to end into MinIO, then
// MinIO's own PUTs of objects of the sizes hydrant wrote.
type s3Round struct {
	v       *volumeResult
	bare    time.Duration // the sequential PUTs
	bareCPU cores
}

// hydrantMiBs is object MiB/s, first put to all delivered.
func (s *s3Round) hydrantMiBs() float64 { return mib(s.v.objBytes) / s.v.e2e.Seconds() }

// bareMiBs is MinIO's PUT MiB/s for the same objects, one at a time.
func (s *s3Round) bareMiBs() float64 { return mib(s.v.objBytes) / s.bare.Seconds() }

// best returns the round with the most hydrant object MiB/s and the one
// with the fastest bare PUTs.
func (s *s3Result) best() (hydrant, bare *s3Round) {
	for i := range s.rounds {
		r := &s.rounds[i]
		if hydrant == nil || r.hydrantMiBs() > hydrant.hydrantMiBs() {
			hydrant = r
		}
		if bare == nil || r.bareMiBs() > bare.bareMiBs() {
			bare = r
		}
	}
	return hydrant, bare
}

// ratio is the figure of the MinIO rows: hydrant's best object MiB/s over
// MinIO's best sequential-PUT MiB/s for objects of the same sizes.
func (s *s3Result) ratio() float64 {
	h, b := s.best()
	if h == nil {
		return 0
	}
	return h.hydrantMiBs() / b.bareMiBs()
}

// recordSchema is the Parquet schema of makeRecord's JSON lines: the
// table of the Parquet stream and of the conversion row.
func recordSchema() *parquet.Schema {
	return &parquet.Schema{Columns: []parquet.Column{
		{Name: "ts", Type: "timestamp"},
		{Name: "seq", Type: "bigint"},
		{Name: "user", Type: "string"},
		{Name: "event", Type: "string"},
		{Name: "country", Type: "string"},
		{Name: "url", Type: "string"},
		{Name: "latency_ms", Type: "int"},
		{Name: "status", Type: "int"},
		{Name: "ua", Type: "string"},
		{Name: "trace", Type: "string"},
		{Name: "note", Type: "string"},
	}}
}

// s3StreamConfig is a hydrant.yaml with one stream writing to bucket on m.
func s3StreamConfig(m *minioServer, f s3Format, bucket string, sizeMB int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `object_store:
  s3:
    endpoint: %s
    access_key_id: %s
    secret_access_key: %s
    force_path_style: true
streams:
  - name: %s
    max_log_bytes: 4GiB
    destination:
      bucket: %s
      buffering: {size_mb: %d, interval_seconds: 60}
`, m.endpoint(), minioUser, minioPassword, f.name, bucket, sizeMB)
	if !f.parquet {
		b.WriteString("      compression: GZIP\n")
		return b.String()
	}
	b.WriteString(`      compression: UNCOMPRESSED
      format_conversion:
        enabled: true
        compression: SNAPPY
        schema:
`)
	for _, c := range recordSchema().Columns {
		fmt.Fprintf(&b, "          - {name: %s, type: %s}\n", c.Name, c.Type)
	}
	return b.String()
}

// minioPhase starts MinIO and runs o.minioRounds rounds; in each, every
// format of s3Formats runs in turn: a fresh hydrant server with one stream
// into a fresh bucket takes o.minioBytes from o.producers producers until
// all of it is in MinIO (row B or C), then, with hydrant stopped, the
// benchmark PUTs as many objects of the same sizes one after another
// (row A). The two run back to back so that a neighbour's load hits both
// alike. r.s3 gets every round, r.mem each format's peak.
func minioPhase(ctx context.Context, o *options, r *results) error {
	progress("starting MinIO (%s)", o.minio)
	m, err := startMinio(ctx, o.minio)
	if err != nil {
		return err
	}
	defer m.remove()
	defer m.stop()
	r.minioVersion = minioVersion(o.minio)

	r.s3 = make([]*s3Result, len(s3Formats))
	mems := make([]phaseMem, len(s3Formats))
	for i, f := range s3Formats {
		r.s3[i] = &s3Result{format: f}
		mems[i].phase = fmt.Sprintf("into MinIO, %s (%d MiB buffers)", f.label, o.minioBufferMB)
	}
	defer func() {
		for _, mem := range mems {
			if mem.hwm > 0 {
				r.mem = append(r.mem, mem)
			}
		}
	}()
	for round := 1; round <= o.minioRounds; round++ {
		for i, f := range s3Formats {
			bucket := fmt.Sprintf("%s-%d", f.name, round)
			if err := m.makeBucket(ctx, bucket); err != nil {
				return err
			}
			progress("round %d/%d, hydrant into MinIO, %s", round, o.minioRounds, f.label)
			var objs []object
			v, mem, err := volumePhase(ctx, o, volumeSpec{
				stream: f.name, sizeMB: o.minioBufferMB, intervalS: 60, volume: o.minioBytes,
				config: s3StreamConfig(m, f, bucket, o.minioBufferMB), destPID: m.pid(),
				verify: func(ctx context.Context, _ *server, v *volumeResult) (int64, error) {
					var err error
					if objs, err = m.list(ctx, bucket, ""); err != nil {
						return 0, err
					}
					v.objects, v.objBytes = len(objs), 0
					for _, obj := range objs {
						v.objBytes += obj.size
					}
					return m.countRecords(ctx, bucket, objs, f.parquet, o.recordSize)
				},
			})
			r.serverLogs = append(r.serverLogs, prefixed(f.name, v.logs)...)
			if mem != nil {
				mems[i].accepted = max(mems[i].accepted, mem.accepted)
				mems[i].backlog.records = max(mems[i].backlog.records, mem.backlog.records)
				mems[i].backlog.bytes = max(mems[i].backlog.bytes, mem.backlog.bytes)
				mems[i].hwm = max(mems[i].hwm, mem.hwm)
			}
			if err != nil {
				return fmt.Errorf("%w\n%s", err, m.logTail())
			}

			progress("round %d/%d, MinIO PUT of %d objects of the sizes of %s's, one at a time", round, o.minioRounds, len(objs), f.name)
			meter := startCPUWith(nil, m.pid())
			d, err := m.putSequential(ctx, bucket, "bench-put/", objs)
			cpu := meter.stop()
			if err != nil {
				return fmt.Errorf("%w\n%s", err, m.logTail())
			}
			r.s3[i].rounds = append(r.s3[i].rounds, s3Round{v: v, bare: d, bareCPU: cpu})
		}
	}
	return nil
}

// minioVersion is the version `make minio` wrote beside bin, else the
// first line of `minio --version`, else "?".
func minioVersion(bin string) string {
	if b, err := os.ReadFile(bin + ".version"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || line == "" {
		return "?"
	}
	return line
}
