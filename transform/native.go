package transform

import (
	"context"
	"encoding/json"
)

// Handler is a transformation written in Go and run in the server's own
// process, with no isolation: for tests, benchmarks and trusted code.
type Handler func(ctx context.Context, ev *Event) (*Response, error)

// Native returns h as a Function that speaks the same JSON as every other
// runtime, so that it costs what a function of another runtime costs
// apart from the runtime itself.
func Native(h Handler) Function { return native(h) }

type native Handler

func (h native) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	var ev Event
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, Errorf(CodeFunctionError, "cannot decode the event: %v", err)
	}
	resp, err := h(ctx, &ev)
	if err != nil {
		return nil, Errorf(CodeFunctionError, "%v", err)
	}
	return json.Marshal(resp)
}

func (native) Close() error { return nil }
