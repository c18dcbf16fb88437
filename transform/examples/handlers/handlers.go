// Package handlers holds the example transformations as plain Go
// handlers: the wasm examples (../noop, ../rewrite) run them under
// package guest, and the tests and benchmarks run the same code natively
// as their twins, so that the two compare like with like.
package handlers

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hydrantio/hydrant/transform"
)

// Noop answers every record Ok and unchanged: the smallest transformation.
func Noop(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{Records: make([]transform.Result, len(ev.Records))}
	for i, r := range ev.Records {
		resp.Records[i] = transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data}
	}
	return resp, nil
}

// Rewrite reshapes JSON records: it upper-cases the string field "name",
// renames "msg" to "message", adds "transformed": true, and partitions the
// record by its "customer_id" (readable as
// !{partitionKeyFromLambda:customer}). A record that is not a JSON object
// fails with ProcessingFailed, unchanged.
func Rewrite(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{Records: make([]transform.Result, len(ev.Records))}
	for i, r := range ev.Records {
		out := &resp.Records[i]
		out.RecordID = r.RecordID
		data, customer, err := reshape(r.Data)
		if err != nil {
			out.Result, out.Data = transform.ResultProcessingFailed, r.Data
			continue
		}
		out.Result, out.Data = transform.ResultOk, data
		if customer != "" {
			out.Metadata = &transform.Metadata{PartitionKeys: map[string]string{"customer": customer}}
		}
	}
	return resp, nil
}

// reshape rewrites one record and returns it, newline-terminated, with its
// customer id.
func reshape(data []byte) ([]byte, string, error) {
	// Raw values keep every field it does not touch exactly as it was.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, "", err
	}
	if raw, ok := obj["name"]; ok {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			obj["name"], _ = json.Marshal(strings.ToUpper(name))
		}
	}
	if raw, ok := obj["msg"]; ok {
		delete(obj, "msg")
		obj["message"] = raw
	}
	obj["transformed"] = json.RawMessage("true")
	var customer string
	if raw, ok := obj["customer_id"]; ok {
		_ = json.Unmarshal(raw, &customer)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, "", err
	}
	return append(out, '\n'), customer, nil
}
