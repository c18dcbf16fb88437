//go:build wasip1

// Crash is hostile, for the tests: it answers like noop until it meets a
// record whose data contains "exit", then exits with status 3 mid-batch.
package main

import (
	"bytes"
	"context"
	"os"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(crash) }

func main() {}

func crash(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{}
	for _, r := range ev.Records {
		if bytes.Contains(r.Data, []byte("exit")) {
			os.Exit(3)
		}
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	return resp, nil
}
