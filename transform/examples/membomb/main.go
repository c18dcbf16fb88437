//go:build wasip1

// Membomb is hostile, for the tests: it answers like noop until it meets a
// record whose data contains "bomb", then allocates, and keeps, memory
// until it dies. The host's memory cap must stop it.
package main

import (
	"bytes"
	"context"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(membomb) }

func main() {}

var hoard [][]byte

func membomb(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{}
	for _, r := range ev.Records {
		if bytes.Contains(r.Data, []byte("bomb")) {
			for {
				b := make([]byte, 1<<20)
				for i := 0; i < len(b); i += 4 << 10 { // touch every page
					b[i] = byte(i)
				}
				hoard = append(hoard, b)
			}
		}
		resp.Records = append(resp.Records, transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data})
	}
	return resp, nil
}
