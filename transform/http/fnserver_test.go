package http

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/transform"
)

// startFnserver builds testdata/fnserver, runs it as a process of its own
// with args, and returns the URL it serves. The process is stopped when
// the test ends.
func startFnserver(t *testing.T, args ...string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build testdata/fnserver:", err)
	}
	bin := filepath.Join(t.TempDir(), "fnserver")
	if out, err := exec.Command(goTool, "build", "-o", bin, "./testdata/fnserver").CombinedOutput(); err != nil {
		t.Fatalf("cannot build testdata/fnserver: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Error("fnserver did not stop on SIGINT in 10 s")
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "http://") {
			t.Fatalf("fnserver printed %q; want its URL", url)
		}
		return url
	case <-time.After(30 * time.Second):
		t.Fatal("fnserver printed no URL in 30 s")
		return ""
	}
}

// TestFnserver invokes testdata/fnserver, a real HTTP function in a
// process of its own, through the contract: an event in, an answer that
// Decode accepts, with each kind of result, a function error and a
// timeout.
func TestFnserver(t *testing.T) {
	url := startFnserver(t, "-token", "fn-token")
	f := newFunction(t, Config{URL: url, BearerToken: "fn-token"})
	ev := &transform.Event{InvocationID: "inv-1", DeliveryStreamArn: "arn:aws:firehose:us-east-1:123456789012:deliverystream/s", Region: "us-east-1",
		Records: []transform.Record{
			{RecordID: "ok", ApproximateArrivalTimestamp: 1700000000000, Data: []byte(`{"type":"click","user":"u1"}`)},
			{RecordID: "drop", ApproximateArrivalTimestamp: 1700000000001, Data: []byte(`{"drop":true}`)},
			{RecordID: "bad", ApproximateArrivalTimestamp: 1700000000002, Data: []byte("not json")},
		}}
	answer, err := f.Invoke(context.Background(), transform.AppendEvent(nil, ev))
	if err != nil {
		t.Fatal(err)
	}
	results, err := transform.Decode(answer, ev)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", answer, err)
	}
	var data map[string]any
	json.Unmarshal(results[0].Data, &data)
	if results[0].Result != transform.ResultOk || data["fnserver"] != true || data["user"] != "u1" ||
		results[0].Metadata == nil || results[0].Metadata.PartitionKeys["type"] != "click" {
		t.Errorf("result of %s = %+v, data %s; want Ok, the record with fnserver:true, partition key type=click", ev.Records[0].Data, results[0], results[0].Data)
	}
	if results[1].Result != transform.ResultDropped || results[2].Result != transform.ResultProcessingFailed || string(results[2].Data) != "not json" {
		t.Errorf("results = %+v; want Dropped, then ProcessingFailed with the data unchanged", results[1:])
	}

	one := func(data string) []byte {
		return transform.AppendEvent(nil, &transform.Event{InvocationID: "inv-2", Records: []transform.Record{{RecordID: "r", Data: []byte(data)}}})
	}
	_, err = f.Invoke(context.Background(), one(`{"fail":true}`))
	wantError(t, err, transform.CodeFunctionError, "HTTP 502", "X-Amz-Function-Error Unhandled", `RecordAskedToFail: "record r asked to fail"`)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = f.Invoke(ctx, one(`{"sleep_ms":10000}`))
	wantError(t, err, transform.CodeTimedOut)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Invoke returned %v after a deadline of 300ms", took)
	}

	wrong := newFunction(t, Config{URL: url, BearerToken: "other-token"})
	_, err = wrong.Invoke(context.Background(), one(`{}`))
	e := wantError(t, err, transform.CodeFunctionError, "HTTP 401")
	if strings.Contains(e.Message, "other-token") {
		t.Errorf("Invoke = %v: the message holds the token", err)
	}
}
