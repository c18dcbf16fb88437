package guest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/transform"
)

// The codec's benchmarks, natively or, closer to production, under wazero:
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o guest.wasm . &&
//	wazero run -timeout 1h guest.wasm -test.bench . -test.run '^$'
//
// (-timeout makes wazero check for termination, as the host does.)

func BenchmarkDecodeEvent(b *testing.B) {
	event := transform.AppendEvent(nil, benchEvent(900, 1024))
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		var ev transform.Event
		if !decodeEventFast(event, &ev) {
			b.Fatal("slow path")
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	ev := benchEvent(900, 1024)
	resp := &transform.Response{}
	for _, r := range ev.Records {
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	var buf []byte
	buf = appendResponse(buf[:0], resp)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = appendResponse(buf[:0], resp)
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	src := make([]byte, 1<<20)
	for i := range src {
		src[i] = byte(i * 7)
	}
	enc := append(appendBase64(nil, src), '"')
	dst := make([]byte, len(enc))
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, _, ok := decodeBase64(dst, enc, 0); !ok {
			b.Fatal("not ok")
		}
	}
}

func BenchmarkAppendBase64(b *testing.B) {
	src := make([]byte, 1<<20)
	dst := appendBase64(nil, src)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst = appendBase64(dst[:0], src)
	}
}

func BenchmarkScanString(b *testing.B) {
	src := []byte(strings.Repeat("abcdefghijklmnopqrstuvwxyz", 40000) + `"`)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, ok := scanString(src, 0); !ok {
			b.Fatal("not ok")
		}
	}
}

func BenchmarkDecodeEventNoData(b *testing.B) {
	event := transform.AppendEvent(nil, benchEvent(900, 0))
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		var ev transform.Event
		if !decodeEventFast(event, &ev) {
			b.Fatal("slow path")
		}
	}
}

// benchEvent is n records of size bytes, with ids and times as Hydrant
// makes them.
func benchEvent(n, size int) *transform.Event {
	ev := &transform.Event{InvocationID: "11111111-2222-3333-4444-555555555555", DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/bench", Region: "us-east-1"}
	for i := range n {
		ev.Records = append(ev.Records, transform.Record{
			RecordID:                    fmt.Sprintf("49590338271490256608559692538361571095921575989136588898%06d", i),
			ApproximateArrivalTimestamp: 1700000000000 + int64(i),
			Data:                        bytes.Repeat([]byte{'x'}, size),
		})
	}
	return ev
}
