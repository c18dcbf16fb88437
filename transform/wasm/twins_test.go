package wasm

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/hydrantio/hydrant/transform"
)

// nativeNoop is examples/noop/main.go's noop.
func nativeNoop(_ context.Context, ev *transform.Event) (*transform.Response, error) {
	resp := &transform.Response{Records: make([]transform.Result, len(ev.Records))}
	for i, r := range ev.Records {
		resp.Records[i] = transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: r.Data}
	}
	return resp, nil
}

// nativeRewrite is examples/rewrite/main.go's rewrite.
func nativeRewrite(_ context.Context, ev *transform.Event) (*transform.Response, error) {
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

// reshape is examples/rewrite/main.go's reshape.
func reshape(data []byte) ([]byte, string, error) {
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
