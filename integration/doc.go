// Package integration holds Hydrant's end-to-end tests: they build the
// hydrant binary, run it as a real process on a temporary data dir, talk to
// it with real clients (the AWS SDK for Go v2, raw HTTP, the hydrant CLI),
// kill and restart it, and count every record in the objects it wrote.
//
// The tests are skipped by `go test -short` (make unit) and run by
// `make test`. HYDRANT_TEST_BIN names a prebuilt binary to test instead of
// building one; HYDRANT_TEST_VERBOSE=1 logs more of what the tests see.
// When the tests run with -race, the binary is built with -race too.
package integration
