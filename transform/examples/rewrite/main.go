//go:build wasip1

// Rewrite reshapes JSON records (see handlers.Rewrite): it upper-cases
// "name", renames "msg" to "message", adds "transformed": true, and
// partitions by "customer_id".
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rewrite.wasm .
package main

import (
	"github.com/hydrantio/hydrant/transform/examples/handlers"
	"github.com/hydrantio/hydrant/transform/wasm/guest"
)

func init() { guest.Handle(handlers.Rewrite) }

func main() {}
