//go:build wasip1

// Readfile is hostile, for the tests: it probes the file system it was
// granted. Each record's data is {"read": path, "write": path} (either may
// be left out), or anything else for {"read": "/etc/shadow", "write":
// "/tmp/hydrant-wasm-escape"}. It reads and writes the paths; a record
// whose probes all succeed is answered Ok with what was read, any other
// ProcessingFailed with the errors.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(readfile) }

func main() {}

type probe struct {
	Read  string `json:"read"`
	Write string `json:"write"`
}

func readfile(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{}
	for _, r := range ev.Records {
		var p probe
		if json.Unmarshal(r.Data, &p) != nil {
			p = probe{Read: "/etc/shadow", Write: "/tmp/hydrant-wasm-escape"}
		}
		var read []byte
		var errs []error
		if p.Read != "" {
			b, err := os.ReadFile(p.Read)
			read = b
			errs = append(errs, err)
		}
		if p.Write != "" {
			errs = append(errs, os.WriteFile(p.Write, []byte("written by the readfile example\n"), 0o644))
		}
		out := transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: read}
		if err := errors.Join(errs...); err != nil {
			out.Result, out.Data = transform.ResultProcessingFailed, []byte(err.Error())
		}
		resp.Records = append(resp.Records, out)
	}
	return resp, nil
}
