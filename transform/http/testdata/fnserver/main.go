// Command fnserver is a small HTTP transformation function for tests: it
// answers POST / with Firehose's Lambda transformation contract, as a
// function behind a Lambda function URL or a Knative service would, and
// prints the URL it serves on stdout, on one line, once it listens.
//
//	go run ./transform/http/testdata/fnserver [-addr 127.0.0.1:0] [-token secret]
//
// Each record's data is expected to be a JSON object. The answer for it:
//
//	{"drop": true}          Dropped
//	{"fail": true}          the whole invocation fails as a Lambda function
//	                        does: 502, X-Amz-Function-Error: Unhandled and
//	                        {"errorMessage": …, "errorType": "RecordAskedToFail"}
//	{"sleep_ms": 500}       Ok, after a pause of that long (for timeouts)
//	any other object        Ok, the object with "fnserver": true added, and
//	                        its "type" member, if a string, as the
//	                        partition key "type"
//	not a JSON object       ProcessingFailed, the data unchanged
//
// With -token, a request without "Authorization: Bearer <token>" gets 401.
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type event struct {
	InvocationID string `json:"invocationId"`
	Records      []struct {
		RecordID string `json:"recordId"`
		Data     []byte `json:"data"`
	} `json:"records"`
}

type result struct {
	RecordID string    `json:"recordId"`
	Result   string    `json:"result"`
	Data     []byte    `json:"data,omitempty"`
	Metadata *metadata `json:"metadata,omitempty"`
}

type metadata struct {
	PartitionKeys map[string]string `json:"partitionKeys"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	token := flag.String("token", "", "bearer token that requests must carry; none if empty")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler(*token), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s/\n", ln.Addr())
	os.Stdout.Sync()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var ev event
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&ev); err != nil {
			lambdaError(w, "InvalidEvent", "cannot decode the event: "+err.Error())
			return
		}
		out := make([]result, len(ev.Records))
		for i, rec := range ev.Records {
			out[i] = result{RecordID: rec.RecordID, Result: "Ok"}
			var obj map[string]any
			if err := json.Unmarshal(rec.Data, &obj); err != nil || obj == nil {
				out[i].Result, out[i].Data = "ProcessingFailed", rec.Data
				continue
			}
			if obj["fail"] == true {
				lambdaError(w, "RecordAskedToFail", fmt.Sprintf("record %s asked to fail", rec.RecordID))
				return
			}
			if obj["drop"] == true {
				out[i].Result = "Dropped"
				continue
			}
			if ms, ok := obj["sleep_ms"].(float64); ok {
				select {
				case <-time.After(time.Duration(ms) * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
			obj["fnserver"] = true
			out[i].Data, _ = json.Marshal(obj)
			if typ, ok := obj["type"].(string); ok {
				out[i].Metadata = &metadata{PartitionKeys: map[string]string{"type": typ}}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"records": out})
	})
	return mux
}

// lambdaError answers as Lambda does for a function that raised an error.
func lambdaError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Function-Error", "Unhandled")
	w.WriteHeader(http.StatusBadGateway)
	json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}
