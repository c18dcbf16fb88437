package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/config"
	"github.com/hydrantio/hydrant/transform"
	"github.com/hydrantio/hydrant/transform/process"
)

// TestTransformTest runs transform test against an HTTP function that
// upper-cases records, drops "skip" and fails "bad".
func TestTransformTest(t *testing.T) {
	var events int
	h := transform.Native(func(_ context.Context, ev *transform.Event) (*transform.Response, error) {
		events++
		resp := &transform.Response{}
		for _, r := range ev.Records {
			res := transform.Result{RecordID: r.RecordID, Result: transform.ResultOk, Data: bytes.ToUpper(r.Data),
				Metadata: &transform.Metadata{PartitionKeys: map[string]string{"len": string(rune('0' + len(r.Data)%10))}}}
			switch string(r.Data) {
			case "skip":
				res = transform.Result{RecordID: r.RecordID, Result: transform.ResultDropped}
			case "bad":
				res = transform.Result{RecordID: r.RecordID, Result: transform.ResultProcessingFailed}
			}
			resp.Records = append(resp.Records, res)
		}
		return resp, nil
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"data":"Z2FyYmFnZQ=="`) { // "garbage"
			_, _ = w.Write([]byte("not json"))
			return
		}
		out, err := h.Invoke(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write(out)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hydrant.yaml")
	if err := os.WriteFile(cfgPath, []byte("functions:\n  - name: upper\n    runtime: http\n    timeout: 5s\n    http: {url: "+srv.URL+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(input, []byte("one\nskip\nbad\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCLI(t, nil, "transform", "test", "--config", cfgPath, "--function", "upper", "--input", input, "--batch-size", "4")
	if err != nil {
		t.Fatalf("transform test: %v (stderr %s)", err, errOut)
	}
	var got []transformOutput
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var o transformOutput
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		got = append(got, o)
	}
	if len(got) != 4 || *got[0].Data != "ONE" || got[0].PartitionKeys["len"] != "3" || got[1].Result != "Dropped" || got[2].Result != "ProcessingFailed" || *got[3].Data != "FOUR" {
		t.Errorf("transform test printed %s; want ONE (keys len=3), Dropped, ProcessingFailed, FOUR", out)
	}
	if events != 2 || !strings.Contains(errOut, "4 records in 2 invocations") || !strings.Contains(errOut, "2 Ok, 1 Dropped, 1 ProcessingFailed") {
		t.Errorf("%d events, summary %q; want 2 invocations of 4-byte batches and the counts", events, errOut)
	}

	// A broken answer is reported with Firehose's error code.
	if err := os.WriteFile(input, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCLI(t, nil, "transform", "test", "--config", cfgPath, "--function", "upper", "--input", input)
	if err == nil || !strings.Contains(err.Error(), transform.CodeInvalidResponse) {
		t.Errorf("transform test on a garbage answer: %v; want an error with %s", err, transform.CodeInvalidResponse)
	}
	_, _, err = runCLI(t, nil, "transform", "test", "--config", cfgPath, "--function", "nope", "--input", input)
	if err == nil || !strings.Contains(err.Error(), `declares no function "nope"`) {
		t.Errorf("transform test of an undeclared function: %v; want an error naming it", err)
	}
}

func TestHideServerFiles(t *testing.T) {
	cfg := &config.Config{Encryption: config.Encryption{KeyFile: "/etc/hydrant/keys"}, Functions: []config.Function{
		{Name: "p", Runtime: config.RuntimeProcess, Process: process.Config{HiddenPaths: []string{"/etc/other"}}},
		{Name: "w", Runtime: config.RuntimeWasm},
	}}
	hideServerFiles(cfg, "/etc/hydrant/hydrant.yaml")
	if got, want := cfg.Functions[0].Process.HiddenPaths, []string{"/etc/other", "/etc/hydrant/hydrant.yaml", "/etc/hydrant/keys"}; !slices.Equal(got, want) {
		t.Errorf("hidden paths of a process function = %q; want %q", got, want)
	}
	if got := cfg.Functions[1].Process.HiddenPaths; got != nil {
		t.Errorf("a wasm function got hidden paths %q", got)
	}
}
