// Package builtin holds Firehose's built-in record processors that
// Hydrant runs in process, as pure functions over a record's bytes:
// Decompression (Gunzip) and CloudWatchLogProcessing with
// DataMessageExtraction (ExtractMessages). They run before the record
// reaches a transformation function, in the order Firehose runs them:
// decompress, then extract the log events' messages.
//
// A record a processor cannot handle fails with an *Error; the delivery
// worker sends it, as it arrived (still compressed), to the error output
// with the Error's Code, instead of retrying it: the same record fails the
// same way every time. Firehose writes records it could not decompress
// under the decompression-failed error output prefix.
package builtin

// Error codes of records the processors cannot handle, after the codes
// the delivery worker writes for the other processors
// (RecordDeAggregation.MalformedRecord). Firehose documents no codes of
// its own for these failures.
const (
	// CodeNotGzip: the record is not gzip data, or its gzip data is
	// corrupt or cut short.
	CodeNotGzip = "Decompression.MalformedRecord"
	// CodeTooLarge: the record decompresses to more than the limit.
	CodeTooLarge = "Decompression.RecordTooLarge"
	// CodeNotCloudWatchLogs: the decompressed record is not a CloudWatch
	// Logs subscription record.
	CodeNotCloudWatchLogs = "CloudWatchLogProcessing.MalformedRecord"
)

// Error is a record a processor cannot handle.
//
// Message says why, of the record: "it is not gzip (it starts 7b 22, not
// 1f 8b)", for the caller to put after what failed ("cannot decompress
// the record: "). It may quote parts of the record, as JSON syntax errors
// do, so it belongs in the error output next to the record's data, never
// in logs.
type Error struct {
	Code    string // one of the Code constants
	Message string
}

func (e *Error) Error() string { return e.Message }
