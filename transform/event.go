package transform

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Event is the input of one invocation.
type Event struct {
	InvocationID      string   `json:"invocationId"`
	DeliveryStreamArn string   `json:"deliveryStreamArn"`
	Region            string   `json:"region"`
	Records           []Record `json:"records"`
}

// Record is one record of an Event. Data is base64 in the JSON.
type Record struct {
	RecordID string `json:"recordId"`
	// ApproximateArrivalTimestamp is in milliseconds since the epoch.
	ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
	Data                        []byte `json:"data"`
}

// Response is a function's answer.
type Response struct {
	Records []Result `json:"records"`
}

// Result is the answer for one record.
type Result struct {
	RecordID string    `json:"recordId"`
	Result   string    `json:"result"`
	Data     []byte    `json:"data,omitempty"`
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Metadata is what a function adds to a record: its partition keys, which
// dynamic partitioning reads as !{partitionKeyFromLambda:KEY}.
type Metadata struct {
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
}

// AppendEvent appends ev as the contract's JSON to dst. It writes what
// encoding/json would, without its reflection, for the hot path.
func AppendEvent(dst []byte, ev *Event) []byte {
	dst = append(dst, `{"invocationId":`...)
	dst = appendString(dst, ev.InvocationID)
	dst = append(dst, `,"deliveryStreamArn":`...)
	dst = appendString(dst, ev.DeliveryStreamArn)
	dst = append(dst, `,"region":`...)
	dst = appendString(dst, ev.Region)
	dst = append(dst, `,"records":[`...)
	for i := range ev.Records {
		r := &ev.Records[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"recordId":`...)
		dst = appendString(dst, r.RecordID)
		dst = append(dst, `,"approximateArrivalTimestamp":`...)
		dst = strconv.AppendInt(dst, r.ApproximateArrivalTimestamp, 10)
		dst = append(dst, `,"data":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, `"}`...)
	}
	return append(dst, "]}"...)
}

// appendString appends s as a JSON string. strconv's quoting writes \x
// escapes, which JSON does not have; invalid UTF-8 becomes U+FFFD, as
// encoding/json writes it.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

// Decode parses a function's answer to ev and checks it against the
// contract: valid JSON, one result per record given (none missing, none
// twice, none unknown), a known result for each. It returns the results
// in the order of ev.Records. Any violation fails the whole invocation,
// as in Firehose, with an *Error.
func Decode(answer []byte, ev *Event) ([]Result, error) {
	if len(answer) > MaxResponseBytes {
		return nil, Errorf(CodeResponseTooLarge, "the answer is %d bytes, more than the %d allowed", len(answer), MaxResponseBytes)
	}
	var resp Response
	if err := decodeResponse(answer, &resp); err != nil {
		return nil, Errorf(CodeInvalidResponse, "the answer is not the transformation response JSON: %v", trimJSONError(err))
	}
	out := make([]Result, len(ev.Records))
	seen := make([]bool, len(ev.Records))
	var index map[string]int // built only when the answer is out of order
	for j := range resp.Records {
		r := &resp.Records[j]
		i := j
		if j >= len(ev.Records) || ev.Records[j].RecordID != r.RecordID {
			if index == nil {
				index = make(map[string]int, len(ev.Records))
				for k := range ev.Records {
					index[ev.Records[k].RecordID] = k
				}
			}
			var ok bool
			if i, ok = index[r.RecordID]; !ok {
				if len(resp.Records) > len(ev.Records) {
					return nil, Errorf(CodeUnknownRecordID, "the answer has %d records for the %d given; record id %q was not given", len(resp.Records), len(ev.Records), r.RecordID)
				}
				return nil, Errorf(CodeUnknownRecordID, "record id %q was not given", r.RecordID)
			}
		}
		if seen[i] {
			return nil, Errorf(CodeDuplicatedRecordID, "record id %q is answered more than once", r.RecordID)
		}
		switch r.Result {
		case ResultOk, ResultDropped, ResultProcessingFailed:
		default:
			return nil, Errorf(CodeInvalidResponse, "record %q has result %q: use %s, %s or %s", r.RecordID, r.Result, ResultOk, ResultDropped, ResultProcessingFailed)
		}
		seen[i] = true
		out[i] = *r
	}
	for i, ok := range seen {
		if !ok {
			return nil, Errorf(CodeMissingRecordID, "record id %q is not answered (%d of %d records answered)", ev.Records[i].RecordID, len(resp.Records), len(ev.Records))
		}
	}
	return out, nil
}

// trimJSONError keeps a JSON syntax error short: the message and offset.
func trimJSONError(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}
