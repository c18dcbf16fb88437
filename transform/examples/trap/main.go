//go:build wasip1

// Trap is hostile, for the tests: it answers like noop until it meets a
// record whose data contains "boom", then panics mid-batch; a record
// containing "fail" makes it return an error instead, which fails the
// invocation without killing the instance.
package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(trap) }

func main() {}

// calls counts invocations, so that the tests can tell a fresh instance
// from a reused one.
var calls int

func trap(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	calls++
	resp := &transform.Response{}
	for _, r := range ev.Records {
		switch {
		case bytes.Contains(r.Data, []byte("boom")):
			panic(fmt.Sprintf("boom at record %s", r.RecordID))
		case bytes.Contains(r.Data, []byte("fail")):
			return nil, fmt.Errorf("cannot transform record %s", r.RecordID)
		case bytes.Contains(r.Data, []byte("calls")):
			r.Data = fmt.Appendf(nil, "%d", calls)
		}
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	return resp, nil
}
