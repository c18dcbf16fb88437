package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// Benchmarks: the wasm runtime against transform.Native running the same
// transformations in the server's process (nativeNoop and nativeRewrite
// are the code of examples/noop and examples/rewrite, and
// TestNativeTwins checks that they answer the same).
//
//	go test -run '^$' -bench . -benchtime 2s ./transform/wasm/

// benchBatch is about 1 MiB of data: 900 JSON records of 1 KiB.
const benchRecords, benchRecordBytes = 900, 1 << 10

func BenchmarkNoop(b *testing.B) {
	benchFunctions(b, "noop", nativeNoop)
}

func BenchmarkRewrite(b *testing.B) {
	benchFunctions(b, "rewrite", nativeRewrite)
}

func benchFunctions(b *testing.B, example string, native transform.Handler) {
	ev := jsonEvent(benchRecords, benchRecordBytes)
	event := transform.AppendEvent(nil, ev)
	b.Run("wasm", func(b *testing.B) {
		f, err := New(context.Background(), Config{Module: examplePath(example), CacheDir: cacheDir}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		benchInvoke(b, f, ev, event)
	})
	b.Run("native", func(b *testing.B) {
		benchInvoke(b, transform.Native(native), ev, event)
	})
}

func benchInvoke(b *testing.B, f transform.Function, ev *transform.Event, event []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Check the answer once, outside the timing.
	answer, err := f.Invoke(ctx, event)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := transform.Decode(answer, ev); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(ev.Records) * len(ev.Records[0].Data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Invoke(ctx, event); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ev.Records))/b.Elapsed().Seconds(), "records/s")
}

// jsonEvent returns an event of n JSON records of size bytes each, of the
// shape examples/rewrite expects.
func jsonEvent(n, size int) *transform.Event {
	ev := &transform.Event{
		InvocationID:      "11111111-2222-3333-4444-555555555555",
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/bench",
		Region:            "us-east-1",
	}
	for i := range n {
		head := fmt.Sprintf(`{"customer_id":"c-%d","name":"alice %d","amount":%d.25,"msg":"`, i%17, i, i)
		pad := strings.Repeat("x", max(0, size-len(head)-2))
		ev.Records = append(ev.Records, transform.Record{
			RecordID:                    fmt.Sprintf("49590338271490256608559692538361571095921575989136588898%06d", i),
			ApproximateArrivalTimestamp: 1700000000000 + int64(i),
			Data:                        []byte(head + pad + `"}`),
		})
	}
	return ev
}
