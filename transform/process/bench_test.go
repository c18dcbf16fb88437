//go:build linux

package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// Benchmarks invoke a no-op function with one worker over batches of 900
// records of 1 KiB of JSON (about 1.2 MiB of event), as a delivery
// stream's transform would, and report records per second and the
// latency of a batch.
const (
	benchRecords    = 900
	benchRecordSize = 1024
)

func BenchmarkPythonNoop(b *testing.B) { benchmark(b, python(b, "noop.lambda_handler")) }

func BenchmarkNodeNoop(b *testing.B) { benchmark(b, node(b, "noop.handler")) }

// BenchmarkRawNoop runs a raw worker written in Go (the test binary).
func BenchmarkRawNoop(b *testing.B) { benchmark(b, goWorker(b)) }

// BenchmarkNativeNoop is the baseline: the same JSON in and out, decoded
// and encoded by encoding/json in the server's own process.
func BenchmarkNativeNoop(b *testing.B) {
	f := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		resp := &transform.Response{Records: make([]transform.Result, len(ev.Records))}
		for i, r := range ev.Records {
			resp.Records[i] = transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data}
		}
		return resp, nil
	})
	run(b, f)
}

func benchmark(b *testing.B, cfg Config) {
	f, warnings, err := New(context.Background(), "bench", cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if len(warnings) > 0 {
		b.Fatalf("New warned %q", warnings)
	}
	run(b, f)
}

func run(b *testing.B, f transform.Function) {
	ev := event(benchRecords, benchRecordSize)
	payload := transform.AppendEvent(nil, ev)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	answer, err := f.Invoke(ctx, payload)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := transform.Decode(answer, ev); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	pid := 0
	if pf, ok := f.(*Function); ok {
		pid = currentWorker(b, pf).pid
	}
	worker0, host0 := cpuTime(pid), cpuTime(0)
	for b.Loop() {
		t0 := time.Now()
		if _, err := f.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	workerCPU, hostCPU := cpuTime(pid)-worker0, cpuTime(0)-host0
	if pid == 0 {
		workerCPU = 0
	}
	perBatch := func(d time.Duration) float64 { return float64(d) / 1e6 / float64(len(lat)) }
	// CPU time is what a busy machine does not blur: the records one core
	// would pass per second, the host and the worker taking turns.
	b.ReportMetric(perBatch(workerCPU), "worker-cpu-ms/batch")
	b.ReportMetric(perBatch(hostCPU), "host-cpu-ms/batch")
	b.ReportMetric(float64(benchRecords)/(perBatch(workerCPU+hostCPU)/1e3), "records/cpu-s")
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(float64(benchRecords*len(lat))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// cpuTime returns the CPU time used by process pid, all its threads, or
// by this process when pid is 0.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		total += time.Duration(ns)
	}
	return total
}
