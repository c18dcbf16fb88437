package partition

// CodeMetadataExtractionFailed is the error code Firehose writes to the
// errorCode field of a record it could not partition: the record is not
// JSON, the MetadataExtractionQuery failed on it, or its result cannot be
// used as partition keys. It is the code observed in Firehose's error
// output for all of these, with messages such as "Non JSON record
// provided"; Firehose documents no finer-grained codes for inline
// parsing.
//
// A record that RecordDeAggregation cannot split gets no such code: the
// delivery worker writes it whole to the processing-failed error output
// with its own code, RecordDeAggregation.MalformedRecord.
const CodeMetadataExtractionFailed = "DynamicPartitioning.MetadataExtractionFailed"

// Error is a record-level failure of dynamic partitioning. The delivery
// worker sends the record to the error output, with Code and Message in
// the errorCode and errorMessage fields, instead of retrying it: the same
// record fails the same way every time.
//
// Message may quote parts of the record, as jq's error messages do, so it
// belongs in the error output next to the record's data, never in logs.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func extractionError(msg string) *Error {
	return &Error{Code: CodeMetadataExtractionFailed, Message: msg}
}
