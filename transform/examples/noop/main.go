//go:build wasip1

// Noop answers every record Ok and unchanged (see handlers.Noop): the
// smallest transformation, and the baseline of the wasm runtime's
// benchmarks.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o noop.wasm .
package main

import (
	"github.com/hydrantio/hydrant/transform/examples/handlers"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(handlers.Noop) }

func main() {}
