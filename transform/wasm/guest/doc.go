// Package guest writes Hydrant transformation functions in Go for the wasm
// runtime. A function is a Go program built as a WebAssembly reactor,
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// whose init registers its handler:
//
//	func init() { guest.Handle(transform) }
//
//	func main() {} // required by the go tool, never called
//
//	func transform(ctx context.Context, ev *transform.Event) (*transform.Response, error) { … }
//
// The handler has the type of transform.Handler, so the same code also runs
// in the server's process with transform.Native. This package implements
// the module's side of the ABI (ABI.md in the parent folder): it decodes
// the event, calls the handler, and encodes the answer, with a JSON codec
// made for the contract's two documents that accepts exactly what
// encoding/json accepts.
//
// Handle and HandleJSON exist only under GOOS=wasip1; the codec builds
// everywhere so that it is tested and fuzzed on the host.
package guest
