package wasm

import "github.com/hydrantio/hydrant/transform/examples/handlers"

// The native twins of the example modules: the same handlers, run in the
// server's process.
var (
	nativeNoop    = handlers.Noop
	nativeRewrite = handlers.Rewrite
)
