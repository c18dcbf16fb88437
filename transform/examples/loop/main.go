//go:build wasip1

// Loop is hostile, for the tests: it answers like noop until it meets a
// record whose data contains "loop", then spins forever. The host must
// stop it at the invocation timeout.
package main

import (
	"bytes"
	"context"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(loop) }

func main() {}

var spins uint64

func loop(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{}
	for _, r := range ev.Records {
		if bytes.Contains(r.Data, []byte("loop")) {
			for {
				spins++
			}
		}
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	return resp, nil
}
