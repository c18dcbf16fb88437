//go:build wasip1

// Extra is hostile, for the tests: it answers every record Ok, and one
// more record that it was not given.
package main

import (
	"context"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(extra) }

func main() {}

func extra(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{}
	for _, r := range ev.Records {
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	resp.Records = append(resp.Records, transform.Result{RecordID: "extra-record", Result: transform.ResultOk, Data: []byte("surprise")})
	return resp, nil
}
