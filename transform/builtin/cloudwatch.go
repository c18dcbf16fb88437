package builtin

import (
	"encoding/json"
	"fmt"
)

// Message types of a CloudWatch Logs subscription record.
const (
	MessageTypeData    = "DATA_MESSAGE"
	MessageTypeControl = "CONTROL_MESSAGE"
)

// ExtractMessages is Firehose's CloudWatchLogProcessing processor with
// DataMessageExtraction true, run on a record Gunzip decompressed: it
// calls emit with the message of each log event of data, a CloudWatch
// Logs subscription record,
//
//	{"messageType": "DATA_MESSAGE", "owner": "123456789012",
//	 "logGroup": "…", "logStream": "…", "subscriptionFilters": ["…"],
//	 "logEvents": [{"id": "…", "timestamp": 1432826855000, "message": "…"}, …]}
//
// in order. What Firehose does, and Hydrant with it:
//
//   - Firehose drops the metadata of the record (owner, logGroup,
//     logStream, subscriptionFilters, the events' ids and timestamps) and
//     delivers only what the events' message fields hold
//     (https://docs.aws.amazon.com/firehose/latest/dev/Message_extraction.html).
//     Each message is its own record, as it was logged: unquoted from its
//     JSON string, with no delimiter added. The guide's example output
//     shows one message per line; that line break is the
//     AppendDelimiterToRecord processor's, which the caller runs after
//     this one when it is configured.
//   - A CONTROL_MESSAGE record is sent by CloudWatch Logs to check that
//     the destination is reachable and carries no log data: it is dropped
//     (control is true, emit is not called), as AWS's CloudWatch Logs
//     processor blueprint for Firehose drops it.
//   - A record that is not a subscription record (not a JSON object, no
//     or another messageType, no logEvents, a log event without a string
//     message) fails with an *Error of CodeNotCloudWatchLogs. The caller
//     sends it to the processing-failed error output as it arrived, still
//     compressed: Firehose writes a record that fails after decompression
//     to the error bucket in its compressed form, with an error code and
//     message (https://docs.aws.amazon.com/firehose/latest/dev/decomp-faq.html).
//
// A DATA_MESSAGE with an empty logEvents list yields no record. Members
// other than messageType and logEvents are not checked: account-level
// subscriptions add policyLevel, and filters with fields add
// extractedFields.
//
// It is all or nothing: data is decoded whole before emit is first
// called, so a malformed record goes whole to the error output, never
// half delivered. If emit fails, ExtractMessages stops and returns emit's
// error as it is. msg is valid only until emit returns; emit copies what
// it keeps.
func ExtractMessages(data []byte, emit func(msg []byte) error) (control bool, err error) {
	var rec struct {
		MessageType *string `json:"messageType"`
		LogEvents   *[]struct {
			Message *string `json:"message"`
		} `json:"logEvents"`
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return false, notCloudWatchLogs("%s", jsonError(err))
	}
	switch {
	case rec.MessageType == nil:
		return false, notCloudWatchLogs("it has no messageType")
	case *rec.MessageType == MessageTypeControl:
		return true, nil
	case *rec.MessageType != MessageTypeData:
		return false, notCloudWatchLogs("its messageType is %q: want %s or %s", *rec.MessageType, MessageTypeData, MessageTypeControl)
	case rec.LogEvents == nil:
		return false, notCloudWatchLogs("it is a %s without logEvents", MessageTypeData)
	}
	events := *rec.LogEvents
	for i := range events {
		if events[i].Message == nil {
			return false, notCloudWatchLogs("log event %d of %d has no message", i+1, len(events))
		}
	}
	var buf []byte // one copy of each message at a time, for emit
	for i := range events {
		buf = append(buf[:0], *events[i].Message...)
		if err := emit(buf); err != nil {
			return false, err
		}
	}
	return false, nil
}

func notCloudWatchLogs(format string, args ...any) *Error {
	return &Error{Code: CodeNotCloudWatchLogs, Message: "it is not a CloudWatch Logs subscription record: " + fmt.Sprintf(format, args...)}
}

// jsonError says why data did not decode, shortly: a syntax error with
// its offset, or the member whose JSON type is wrong.
func jsonError(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("it is not JSON: %v at byte %d", e, e.Offset)
	case *json.UnmarshalTypeError:
		if e.Field == "" {
			return fmt.Sprintf("it is a JSON %s, not an object", e.Value)
		}
		want := "a string"
		if e.Field == "logEvents" {
			want = "an array of objects"
		}
		return fmt.Sprintf("its %s is a JSON %s, not %s", e.Field, e.Value, want)
	}
	return err.Error()
}
