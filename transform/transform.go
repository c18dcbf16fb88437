// Package transform is the contract between a delivery stream and the
// functions that transform its records, and the runtimes that run them:
// wasm (WebAssembly under wazero), process (a sandboxed worker pool),
// http (any HTTP function) and the built-in processors.
//
// Every runtime speaks Firehose's Lambda transformation contract, so a
// handler written for Lambda runs unchanged: the function receives
//
//	{"invocationId": "…", "deliveryStreamArn": "…", "region": "…",
//	 "records": [{"recordId": "…", "approximateArrivalTimestamp": 1700000000000, "data": "<base64>"}]}
//
// and answers
//
//	{"records": [{"recordId": "…", "result": "Ok|Dropped|ProcessingFailed",
//	              "data": "<base64>", "metadata": {"partitionKeys": {"k": "v"}}}]}
//
// with exactly one result per record it was given.
package transform

import (
	"context"
	"fmt"
)

// Function is one transformation function, whatever its runtime.
type Function interface {
	// Invoke runs the function over one event (the JSON above) and returns
	// the function's answer as it gave it, unchecked: Decode checks it. It
	// blocks until the function answers, fails, or ctx is done (the
	// invocation timeout, which must stop the function's work); a failed
	// invocation is an *Error. Invoke is safe for concurrent use and never
	// keeps event or the returned slice.
	Invoke(ctx context.Context, event []byte) ([]byte, error)
	// Close stops the function's workers and frees what they hold. Calls
	// of Invoke after Close fail.
	Close() error
}

// Results of a transformed record.
const (
	ResultOk               = "Ok"
	ResultDropped          = "Dropped"
	ResultProcessingFailed = "ProcessingFailed"
)

// Error codes of failed invocations, after the codes Firehose reports for
// Lambda, and the code of a record the function marked ProcessingFailed.
const (
	// CodeFunctionError: the function raised an error, crashed, trapped or
	// could not be started.
	CodeFunctionError = "Lambda.FunctionError"
	// CodeTimedOut: the function did not answer within the invocation
	// timeout, and was stopped.
	CodeTimedOut = "Lambda.FunctionTimedOut"
	// CodeInvalidResponse: the answer is not the contract's JSON.
	CodeInvalidResponse = "Lambda.JsonProcessingException"
	// CodeMissingRecordID: a record given was not answered.
	CodeMissingRecordID = "Lambda.MissingRecordId"
	// CodeDuplicatedRecordID: a record was answered twice.
	CodeDuplicatedRecordID = "Lambda.DuplicatedRecordId"
	// CodeUnknownRecordID: the answer holds a record id it was not given,
	// so more records than it was given.
	CodeUnknownRecordID = "Lambda.UnknownRecordId"
	// CodeResponseTooLarge: the answer exceeds MaxResponseBytes.
	CodeResponseTooLarge = "Lambda.ResponseTooLarge"
	// CodeUnavailable: the function's endpoint or workers could not be
	// reached.
	CodeUnavailable = "Lambda.ServiceUnavailable"
	// CodeProcessingFailed is the error code of a record the function
	// answered with ProcessingFailed.
	CodeProcessingFailed = "Lambda.ProcessingFailed"
)

// MaxResponseBytes bounds a function's answer: 64 MiB, far above the
// 3 MiB processing buffer, so that a function may expand its records but
// never exhaust the server's memory.
const MaxResponseBytes = 64 << 20

// Error is a failed invocation: the whole event failed. The delivery
// stream retries it up to its NumberOfRetries, then sends every record of
// the event to the error output under processing-failed with Code.
type Error struct {
	Code    string // one of the Code constants
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
