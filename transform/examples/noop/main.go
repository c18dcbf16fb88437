//go:build wasip1

// Noop answers every record Ok and unchanged: the smallest transformation,
// and the baseline of the wasm runtime's benchmarks.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o noop.wasm .
package main

import (
	"context"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(noop) }

func main() {}

func noop(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{Records: make([]transform.Result, len(ev.Records))}
	for i, r := range ev.Records {
		resp.Records[i] = transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data}
	}
	return resp, nil
}
