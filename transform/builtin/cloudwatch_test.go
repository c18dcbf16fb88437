package builtin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// cwRecord returns a CloudWatch Logs subscription record of messageType
// with a log event for each message, as CloudWatch Logs writes it before
// gzip.
func cwRecord(tb testing.TB, messageType string, messages ...string) []byte {
	tb.Helper()
	type event struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
		Message   string `json:"message"`
	}
	events := make([]event, len(messages))
	for i, m := range messages {
		events[i] = event{ID: fmt.Sprintf("3195310660696698337880902507980421114328961542429822156%d", i), Timestamp: 1432826855000 + int64(i), Message: m}
	}
	b, err := json.Marshal(map[string]any{
		"messageType":         messageType,
		"owner":               "111111111111",
		"logGroup":            "CloudTrail/logs",
		"logStream":           "111111111111_CloudTrail/logs_us-east-1",
		"subscriptionFilters": []string{"Destination"},
		"logEvents":           events,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// controlRecord is the record CloudWatch Logs sends when a subscription
// filter is created.
const controlRecord = `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],` +
	`"logEvents":[{"id":"","timestamp":1432826855000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`

func TestExtractMessages(t *testing.T) {
	cloudTrail := []string{
		`{"eventVersion":"1.03","userIdentity":{"type":"Root1"}`,
		`{"eventVersion":"1.03","userIdentity":{"type":"Root2"}`,
		`{"eventVersion":"1.03","userIdentity":{"type":"Root3"}`,
	}
	for _, tt := range []struct {
		name    string
		data    string
		want    []string
		control bool
		message string // part of the error message; "" for no error
	}{
		{name: "data", data: string(cwRecord(t, "DATA_MESSAGE", cloudTrail...)), want: cloudTrail},
		{name: "as logged", data: string(cwRecord(t, "DATA_MESSAGE", "line\n", "", " tab\there ", "é ✓ \u2028", `"quoted" \ <&>`)),
			want: []string{"line\n", "", " tab\there ", "é ✓ \u2028", `"quoted" \ <&>`}},
		{name: "escapes", data: `{"messageType":"DATA_MESSAGE","logEvents":[{"message":"\u00e9\ud83d\ude00\/\b\f\n\r\t\\\""}]}`, want: []string{"é😀/\b\f\n\r\t\\\""}},
		{name: "no log events", data: `{"messageType":"DATA_MESSAGE","logEvents":[]}`, want: nil},
		{name: "other members", data: `{"messageType":"DATA_MESSAGE","policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":"1","timestamp":1,"message":"m","extractedFields":{"a":"1"}}]}`, want: []string{"m"}},
		{name: "control", data: controlRecord, control: true},
		{name: "control without events", data: `{"messageType":"CONTROL_MESSAGE"}`, control: true},
		{name: "empty", data: "", message: "not JSON"},
		{name: "text", data: "hello world", message: "not JSON: invalid character 'h'"},
		{name: "gzip", data: string(gz(t, controlRecord)), message: "not JSON"},
		{name: "two records", data: controlRecord + controlRecord, message: "not JSON"},
		{name: "array", data: `[` + controlRecord + `]`, message: "a JSON array, not an object"},
		{name: "null", data: `null`, message: "no messageType"},
		{name: "other JSON", data: `{"user":"u1","event":"click"}`, message: "no messageType"},
		{name: "unknown type", data: `{"messageType":"DATA","logEvents":[]}`, message: `messageType is "DATA"`},
		{name: "type not a string", data: `{"messageType":1,"logEvents":[]}`, message: "messageType is a JSON number, not a string"},
		{name: "no logEvents", data: `{"messageType":"DATA_MESSAGE"}`, message: "without logEvents"},
		{name: "null logEvents", data: `{"messageType":"DATA_MESSAGE","logEvents":null}`, message: "without logEvents"},
		{name: "logEvents an object", data: `{"messageType":"DATA_MESSAGE","logEvents":{}}`, message: "logEvents is a JSON object, not an array of objects"},
		{name: "an event without message", data: `{"messageType":"DATA_MESSAGE","logEvents":[{"message":"a"},{"id":"2"}]}`, message: "log event 2 of 2 has no message"},
		{name: "a null event", data: `{"messageType":"DATA_MESSAGE","logEvents":[null]}`, message: "log event 1 of 1 has no message"},
		{name: "message not a string", data: `{"messageType":"DATA_MESSAGE","logEvents":[{"message":{"a":1}}]}`, message: "logEvents.message is a JSON object, not a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			control, err := ExtractMessages([]byte(tt.data), func(msg []byte) error {
				got = append(got, string(msg))
				return nil
			})
			if tt.message != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeNotCloudWatchLogs || !strings.Contains(e.Message, tt.message) {
					t.Fatalf("ExtractMessages(%q) = %v; want an error of code %s with %q", tt.data, err, CodeNotCloudWatchLogs, tt.message)
				}
				if got != nil || control {
					t.Fatalf("ExtractMessages(%q) emitted %q, control %t, before failing; want nothing", tt.data, got, control)
				}
				return
			}
			if err != nil || control != tt.control || !slices.Equal(got, tt.want) {
				t.Fatalf("ExtractMessages(%q) = %q, control %t, %v; want %q, control %t", tt.data, got, control, err, tt.want, tt.control)
			}
		})
	}
}

func TestExtractMessagesEmitError(t *testing.T) {
	stop := errors.New("full")
	n := 0
	_, err := ExtractMessages(cwRecord(t, "DATA_MESSAGE", "a", "b", "c"), func([]byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("ExtractMessages with emit failing at the 2nd message = %v after %d calls; want %v after 2", err, n, stop)
	}
}
