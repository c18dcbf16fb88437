//go:build wasip1

// Garbage is hostile, for the tests: it answers bytes that are not JSON.
package main

import "github.com/hydrantio/hydrant/transform/wasm/guest"

func init() {
	guest.HandleJSON(func([]byte) ([]byte, error) {
		return []byte("this is not {JSON"), nil
	})
}

func main() {}
