package builtin_test

import (
	"bytes"
	"compress/gzip"
	"fmt"

	"github.com/hydrantio/hydrant/transform/builtin"
)

// A record from a CloudWatch Logs subscription filter goes through
// Decompression, then CloudWatchLogProcessing with DataMessageExtraction:
// each log event's message becomes a record.
func Example() {
	var rec bytes.Buffer
	w := gzip.NewWriter(&rec)
	w.Write([]byte(`{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"app","logStream":"i-0abc",` +
		`"subscriptionFilters":["all"],"logEvents":[` +
		`{"id":"1","timestamp":1700000000000,"message":"{\"level\":\"info\",\"msg\":\"started\"}"},` +
		`{"id":"2","timestamp":1700000000001,"message":"{\"level\":\"warn\",\"msg\":\"slow\"}"}]}`))
	w.Close()

	data, err := builtin.Gunzip(nil, rec.Bytes(), 1<<20)
	if err != nil {
		fmt.Println(err) // to the decompression-failed error output
		return
	}
	control, err := builtin.ExtractMessages(data, func(msg []byte) error {
		fmt.Printf("%s\n", msg)
		return nil
	})
	fmt.Println(control, err)
	// Output:
	// {"level":"info","msg":"started"}
	// {"level":"warn","msg":"slow"}
	// false <nil>
}
