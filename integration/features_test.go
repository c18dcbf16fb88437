package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hydrantio/hydrant/delivery/compress"
)

// The features of issue 3, end to end: records go in through the AWS SDK's
// PutRecordBatch to a real `hydrant serve`, which delivers them to a real
// MinIO; the tests read the objects back with MinIO's client, parquet-go
// and `hydrant decrypt`, and compare them with what was sent, record by
// record.

// featServer starts hydrant delivering to m, with the root credentials in
// the file; store is more of object_store.s3 (indented by four spaces),
// streams the config's streams list.
func featServer(t *testing.T, m *minioServer, store, streams string) *server {
	t.Helper()
	creds := fmt.Sprintf("    access_key_id: %s\n    secret_access_key: %s\n", minioUser, minioPassword)
	return startServer(t, m.s3Config(creds+store, streams))
}

// storedObject is one object as MinIO holds it.
type storedObject struct {
	key  string
	data []byte // as stored: compressed, encrypted
}

// listObjects reads every object of bucket whose key starts with prefix,
// sorted by key.
func listObjects(t *testing.T, m *minioServer, bucket, prefix string) []storedObject {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []storedObject
	for obj := range m.Client().ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("cannot list s3://%s/%s: %v", bucket, prefix, obj.Err)
		}
		data, err := getObject(ctx, m.Client(), bucket, obj.Key, nil)
		if err != nil {
			t.Fatalf("cannot read s3://%s/%s: %v", bucket, obj.Key, err)
		}
		out = append(out, storedObject{key: obj.Key, data: data})
	}
	slices.SortFunc(out, func(a, b storedObject) int { return strings.Compare(a.key, b.key) })
	return out
}

// decompress decompresses an object of the given compress format.
func decompress(format string, data []byte) ([]byte, error) {
	r, err := compress.NewReader(format, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// errorLine is one line of an error output object, in Firehose's shape.
type errorLine struct {
	AttemptsMade           int               `json:"attemptsMade"`
	ArrivalTimestamp       int64             `json:"arrivalTimestamp"`
	ErrorCode              string            `json:"errorCode"`
	ErrorMessage           string            `json:"errorMessage"`
	AttemptEndingTimestamp int64             `json:"attemptEndingTimestamp"`
	RawData                string            `json:"rawData"`
	PartitionKeys          map[string]string `json:"partitionKeys"`
}

// badRecord is a record the test expects in the error output.
type badRecord struct {
	data string // the exact bytes, as rawData holds them
	code string // errorCode
	msg  string // part of errorMessage
}

// checkErrorOutput checks the error output objects (already decompressed
// into lines by key): each line is a Firehose error record whose rawData
// is one of want, each of want appears exactly once, with its code and
// message, arrived within [start, end].
func checkErrorOutput(t *testing.T, what string, lines map[string][]string, want []badRecord, start, end time.Time) {
	t.Helper()
	byData := make(map[string]badRecord, len(want))
	for _, b := range want {
		byData[b.data] = b
	}
	seen := make(map[string]int)
	for key, ls := range lines {
		for i, line := range ls {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &fields); err != nil {
				t.Errorf("%s: %s line %d is not JSON: %v: %q", what, key, i+1, err, line)
				continue
			}
			for _, f := range []string{"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage", "rawData"} {
				if _, ok := fields[f]; !ok {
					t.Errorf("%s: %s line %d has no %s: %s", what, key, i+1, f, line)
				}
			}
			var e errorLine
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Errorf("%s: %s line %d: %v: %s", what, key, i+1, err, line)
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(e.RawData)
			if err != nil {
				t.Errorf("%s: %s line %d: rawData is not base64: %v", what, key, i+1, err)
				continue
			}
			b, ok := byData[string(raw)]
			if !ok {
				t.Errorf("%s: %s line %d holds a record that should not have failed: %q (%s: %s)", what, key, i+1, shorten(string(raw)), e.ErrorCode, e.ErrorMessage)
				continue
			}
			seen[b.data]++
			if e.AttemptsMade < 1 {
				t.Errorf("%s: error record of %.60q: attemptsMade = %d; want ≥ 1", what, b.data, e.AttemptsMade)
			}
			if at := time.UnixMilli(e.ArrivalTimestamp); at.Before(start.Truncate(time.Millisecond)) || at.After(end) {
				t.Errorf("%s: error record of %.60q: arrivalTimestamp = %v; want within the puts, %v to %v", what, b.data, at, start, end)
			}
			if e.ErrorCode != b.code {
				t.Errorf("%s: error record of %.60q: errorCode = %q; want %q", what, b.data, e.ErrorCode, b.code)
			}
			if !strings.Contains(e.ErrorMessage, b.msg) {
				t.Errorf("%s: error record of %.60q: errorMessage = %q; want it to say %q", what, b.data, e.ErrorMessage, b.msg)
			}
		}
	}
	for _, b := range want {
		if n := seen[b.data]; n != 1 {
			t.Errorf("%s: record %q is in the error output %d times; want once", what, shorten(b.data), n)
		}
	}
}

// checkCounts checks that every wanted line was delivered exactly once and
// nothing else was.
func checkCounts(t *testing.T, what string, got map[string]int, want []string) {
	t.Helper()
	wanted := make(map[string]bool, len(want))
	var missing, dup, unexpected []string
	for _, w := range want {
		wanted[w] = true
		switch n := got[w]; {
		case n == 0:
			missing = append(missing, w)
		case n > 1:
			dup = append(dup, fmt.Sprintf("%q×%d", w, n))
		}
	}
	total := 0
	for r, n := range got {
		total += n
		if !wanted[r] {
			unexpected = append(unexpected, fmt.Sprintf("%q×%d", shorten(r), n))
		}
	}
	if len(missing)+len(dup)+len(unexpected) > 0 {
		slices.Sort(missing)
		slices.Sort(dup)
		slices.Sort(unexpected)
		t.Errorf("%s: %d records delivered, %d sent:\n  %d missing: %s\n  %d more than once: %s\n  %d unexpected: %s",
			what, total, len(want), len(missing), head(missing, 5), len(dup), head(dup, 5), len(unexpected), head(unexpected, 5))
	}
}
