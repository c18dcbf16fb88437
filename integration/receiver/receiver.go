package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Protocol limits the receiver holds requests to.
const (
	maxRecordData  = 1024000 // bytes of one record before base64
	maxRecordsProt = 10000
)

// Faults are the fractions of requests answered wrongly on purpose, each
// drawn independently of the request from a generator seeded by Seed.
type Faults struct {
	Status500 float64 // 500 before taking the records
	Status413 float64 // 413 before taking them; never for an id already taken
	Garbage   float64 // records taken, then a 200 that breaks the response format
	WrongID   float64 // records taken, then a 200 with another requestId
	Stall     float64 // records taken, then no answer for Config.StallFor
	Drop      float64 // records taken, then the connection dropped mid-response
	Seed      uint64
}

// Config says what the receiver expects of requests.
type Config struct {
	// AccessKey is the X-Amz-Firehose-Access-Key expected; empty expects
	// no such header.
	AccessKey string
	// CommonAttributes are those expected in
	// X-Amz-Firehose-Common-Attributes.
	CommonAttributes map[string]string
	// SourceARN is the X-Amz-Firehose-Source-Arn expected; empty expects
	// no such header.
	SourceARN string
	// ContentEncoding is NONE (no Content-Encoding), GZIP (gzip) or ANY.
	ContentEncoding string
	// MaxBodyBytes is the largest body taken, decompressed; larger ones
	// get a genuine 413.
	MaxBodyBytes int64
	// StallFor is how long a stalled request goes unanswered.
	StallFor time.Duration
	Faults   Faults
}

// Stats is what /stats shows.
type Stats struct {
	Requests          int            `json:"requests"`           // POSTs
	AcceptedRequests  int            `json:"accepted_requests"`  // distinct request ids whose records were taken
	DuplicateRequests int            `json:"duplicate_requests"` // requests of an id already taken
	Records           int            `json:"records"`            // distinct records taken
	Bytes             int64          `json:"bytes"`              // their data
	Invalid           int            `json:"invalid"`            // requests that broke the protocol (400)
	InvalidReasons    []string       `json:"invalid_reasons"`    // the first few
	DigestMismatches  int            `json:"digest_mismatches"`  // an id seen again with other records
	TooLarge          int            `json:"too_large"`          // genuine 413s
	Faults            map[string]int `json:"faults"`             // injected, by kind
	Rejected413       []string       `json:"rejected_413"`       // ids answered an injected 413
	IDs               map[string]ID  `json:"ids"`
}

// ID is what the receiver saw of one request id.
type ID struct {
	Attempts int  `json:"attempts"`
	Accepted bool `json:"accepted"`
}

const maxReasons = 20

// receiver is the endpoint: an http.Handler for POST / (any path) and
// GET /stats.
type receiver struct {
	cfg   Config
	attrs map[string]string

	mu     sync.Mutex
	rng    *rand.Rand
	out    *bufio.Writer // nil: records are only counted
	base64 bool          // write records in base64
	taken  map[string][sha256.Size]byte
	stats  Stats
}

func newReceiver(cfg Config, out io.Writer, outBase64 bool) *receiver {
	if cfg.CommonAttributes == nil {
		cfg.CommonAttributes = map[string]string{}
	}
	r := &receiver{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Faults.Seed, cfg.Faults.Seed^0x9e3779b97f4a7c15)),
		base64: outBase64,
		taken:  map[string][sha256.Size]byte{},
		stats:  Stats{Faults: map[string]int{}, IDs: map[string]ID{}, Rejected413: []string{}, InvalidReasons: []string{}},
	}
	if out != nil {
		r.out = bufio.NewWriterSize(out, 1<<20)
	}
	return r
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/stats" {
		rc.mu.Lock()
		b, err := json.Marshal(rc.stats)
		rc.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	id := r.Header.Get("X-Amz-Firehose-Request-Id")
	if r.Method != http.MethodPost {
		rc.invalid(w, id, fmt.Sprintf("method %s: want POST", r.Method))
		return
	}
	req, status, err := rc.parse(r)
	rc.mu.Lock()
	rc.stats.Requests++
	if id != "" {
		s := rc.stats.IDs[id]
		s.Attempts++
		rc.stats.IDs[id] = s
	}
	rc.mu.Unlock()
	if err != nil {
		if status == http.StatusRequestEntityTooLarge {
			rc.mu.Lock()
			rc.stats.TooLarge++
			rc.mu.Unlock()
			answer(w, status, id, err.Error())
			return
		}
		rc.invalid(w, id, err.Error())
		return
	}

	rc.mu.Lock()
	fault := rc.drawFault(id)
	if fault != "" {
		rc.stats.Faults[fault]++
	}
	switch fault {
	case "500":
		rc.mu.Unlock()
		answer(w, 500, id, "injected: internal error")
		return
	case "413":
		rc.stats.Rejected413 = append(rc.stats.Rejected413, id)
		rc.mu.Unlock()
		answer(w, 413, id, "injected: payload too large")
		return
	}
	err = rc.take(id, req)
	rc.mu.Unlock()
	if err != nil {
		answer(w, 500, id, "cannot write the records: "+err.Error())
		return
	}

	switch fault {
	case "garbage":
		garbage(w, id, rc.pick(7))
	case "wrong_id":
		answer(w, 200, "00000000-0000-4000-8000-000000000000", "")
	case "stall":
		select {
		case <-time.After(rc.cfg.StallFor):
			answer(w, 200, id, "")
		case <-r.Context().Done():
		}
	case "drop":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, `{"requestId":"`+id[:len(id)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // closes the connection (HTTP/1) or resets the stream (HTTP/2)
	default:
		answer(w, 200, id, "")
	}
}

// drawFault draws the fault of one request, "" for none. rc.mu is held.
func (rc *receiver) drawFault(id string) string {
	f := rc.cfg.Faults
	x := rc.rng.Float64()
	for _, k := range []struct {
		name string
		p    float64
	}{{"500", f.Status500}, {"413", f.Status413}, {"garbage", f.Garbage}, {"wrong_id", f.WrongID}, {"stall", f.Stall}, {"drop", f.Drop}} {
		if x < k.p {
			if k.name == "413" && rc.stats.IDs[id].Accepted {
				return "" // a 413 after taking the records would lose nothing, but would make the sender drop them
			}
			return k.name
		}
		x -= k.p
	}
	return ""
}

func (rc *receiver) pick(n int) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.rng.IntN(n)
}

// take keeps the records of request id, once: a request id seen again
// counts as a duplicate, and one whose records differ from the first as a
// digest mismatch. rc.mu is held.
func (rc *receiver) take(id string, req *parsed) error {
	if sum, ok := rc.taken[id]; ok {
		rc.stats.DuplicateRequests++
		if sum != req.digest {
			rc.stats.DigestMismatches++
		}
		return nil
	}
	if rc.out != nil {
		for _, d := range req.data {
			if rc.base64 {
				rc.out.WriteString(base64.StdEncoding.EncodeToString(d))
			} else {
				rc.out.Write(d)
			}
			rc.out.WriteByte('\n')
		}
		// Flushed before the answer: what a sender was told is taken is
		// in the file.
		if err := rc.out.Flush(); err != nil {
			return err
		}
	}
	rc.taken[id] = req.digest
	s := rc.stats.IDs[id]
	s.Accepted = true
	rc.stats.IDs[id] = s
	rc.stats.AcceptedRequests++
	rc.stats.Records += len(req.data)
	for _, d := range req.data {
		rc.stats.Bytes += int64(len(d))
	}
	return nil
}

func (rc *receiver) invalid(w http.ResponseWriter, id, reason string) {
	rc.mu.Lock()
	rc.stats.Invalid++
	if len(rc.stats.InvalidReasons) < maxReasons {
		rc.stats.InvalidReasons = append(rc.stats.InvalidReasons, reason)
	}
	rc.mu.Unlock()
	answer(w, 400, id, reason)
}

// answer writes a response of the protocol: {requestId, timestamp} and an
// errorMessage when msg is not empty.
func answer(w http.ResponseWriter, status int, id, msg string) {
	body := map[string]any{"requestId": id, "timestamp": time.Now().UnixMilli()}
	if msg != "" {
		body["errorMessage"] = msg
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// garbage writes a 200 that a sender must not take for a success.
func garbage(w http.ResponseWriter, id string, kind int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	switch kind {
	case 0:
		io.WriteString(w, "OK")
	case 1:
		h.Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html>{"requestId":%q,"timestamp":1}</html>`, id)
	case 2:
		fmt.Fprintf(w, `{"requestId":%q}`, id) // no timestamp
	case 3:
		fmt.Fprintf(w, `{"requestId":%q,"timestamp":"%d"}`, id, time.Now().UnixMilli()) // a string
	case 4:
		fmt.Fprintf(w, `{"requestId":%q,"timestamp":1,"status":"ok"}`, id) // an unexpected field
	case 5:
		fmt.Fprintf(w, `{"requestId":%q,"timest`, id) // truncated
	default:
		h.Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprintf(zw, `{"requestId":%q,"timestamp":1}`, id)
		zw.Close()
	}
}

// parsed is a request that follows the protocol.
type parsed struct {
	data   [][]byte
	digest [sha256.Size]byte // of the records, to compare redeliveries
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// minTimestamp is 2020-01-01 in milliseconds: older timestamps are not
// milliseconds since the epoch.
const minTimestamp = 1577836800000

// parse checks a request against the protocol, headers and body, and
// returns its records. A body over MaxBodyBytes is a 413; anything else
// wrong a 400.
func (rc *receiver) parse(r *http.Request) (*parsed, int, error) {
	h := r.Header
	one := func(name string) (string, error) {
		v := h.Values(name)
		if len(v) > 1 {
			return "", fmt.Errorf("%d %s headers: want one", len(v), name)
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	for _, name := range []string{"Content-Type", "Content-Encoding", "X-Amz-Firehose-Protocol-Version", "X-Amz-Firehose-Request-Id",
		"X-Amz-Firehose-Access-Key", "X-Amz-Firehose-Common-Attributes", "X-Amz-Firehose-Source-Arn"} {
		if _, err := one(name); err != nil {
			return nil, 400, err
		}
	}
	if v := h.Get("X-Amz-Firehose-Protocol-Version"); v != "1.0" {
		return nil, 400, fmt.Errorf("X-Amz-Firehose-Protocol-Version is %q: want 1.0", v)
	}
	id := h.Get("X-Amz-Firehose-Request-Id")
	if !guidRE.MatchString(id) {
		return nil, 400, fmt.Errorf("X-Amz-Firehose-Request-Id %q is not a GUID", id)
	}
	if v := h.Get("Content-Type"); v != "application/json" {
		return nil, 400, fmt.Errorf("Content-Type is %q: want application/json", v)
	}
	_, hasKey := h["X-Amz-Firehose-Access-Key"]
	switch key := h.Get("X-Amz-Firehose-Access-Key"); {
	case rc.cfg.AccessKey == "" && hasKey:
		return nil, 400, errors.New("X-Amz-Firehose-Access-Key is set: none is configured")
	case rc.cfg.AccessKey != "" && key != rc.cfg.AccessKey:
		return nil, 400, errors.New("X-Amz-Firehose-Access-Key is missing or wrong")
	}
	_, hasARN := h["X-Amz-Firehose-Source-Arn"]
	switch arn := h.Get("X-Amz-Firehose-Source-Arn"); {
	case rc.cfg.SourceARN == "" && hasARN:
		return nil, 400, fmt.Errorf("X-Amz-Firehose-Source-Arn is %q: want none", arn)
	case rc.cfg.SourceARN != "" && arn != rc.cfg.SourceARN:
		return nil, 400, fmt.Errorf("X-Amz-Firehose-Source-Arn is %q: want %q", arn, rc.cfg.SourceARN)
	}
	if err := rc.checkAttributes(h.Get("X-Amz-Firehose-Common-Attributes")); err != nil {
		return nil, 400, err
	}
	ce := h.Get("Content-Encoding")
	switch rc.cfg.ContentEncoding {
	case "NONE":
		if _, ok := h["Content-Encoding"]; ok {
			return nil, 400, fmt.Errorf("Content-Encoding is %q: want none", ce)
		}
	case "GZIP":
		if ce != "gzip" {
			return nil, 400, fmt.Errorf("Content-Encoding is %q: want gzip", ce)
		}
	default: // ANY
		if _, ok := h["Content-Encoding"]; ok && ce != "gzip" {
			return nil, 400, fmt.Errorf("Content-Encoding is %q: want gzip or none", ce)
		}
	}
	if r.ContentLength < 0 {
		return nil, 400, errors.New("no Content-Length")
	}

	raw, err := io.ReadAll(io.LimitReader(r.Body, rc.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, 400, fmt.Errorf("cannot read the body: %v", err)
	}
	if int64(len(raw)) != r.ContentLength {
		if int64(len(raw)) > rc.cfg.MaxBodyBytes {
			return nil, 413, fmt.Errorf("the body is over %d bytes", rc.cfg.MaxBodyBytes)
		}
		return nil, 400, fmt.Errorf("the body has %d bytes; Content-Length says %d", len(raw), r.ContentLength)
	}
	body := raw
	if ce == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, 400, fmt.Errorf("the body does not gunzip: %v", err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, rc.cfg.MaxBodyBytes+1))
		if err != nil {
			return nil, 400, fmt.Errorf("the body does not gunzip: %v", err)
		}
	}
	if int64(len(body)) > rc.cfg.MaxBodyBytes {
		return nil, 413, fmt.Errorf("the body is over %d bytes", rc.cfg.MaxBodyBytes)
	}
	return parseBody(body, id)
}

func (rc *receiver) checkAttributes(v string) error {
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &got); err != nil {
		return fmt.Errorf("X-Amz-Firehose-Common-Attributes %q is not a JSON object: %v", v, err)
	}
	if len(got) != 1 || got["commonAttributes"] == nil {
		return fmt.Errorf("X-Amz-Firehose-Common-Attributes %q: want exactly {\"commonAttributes\":{…}}", v)
	}
	var attrs map[string]string
	if err := json.Unmarshal(got["commonAttributes"], &attrs); err != nil || attrs == nil {
		return fmt.Errorf("X-Amz-Firehose-Common-Attributes %q: commonAttributes is not an object of strings", v)
	}
	if len(attrs) != len(rc.cfg.CommonAttributes) {
		return fmt.Errorf("X-Amz-Firehose-Common-Attributes has %d attributes: want %d", len(attrs), len(rc.cfg.CommonAttributes))
	}
	for k, want := range rc.cfg.CommonAttributes {
		if g, ok := attrs[k]; !ok || g != want {
			return fmt.Errorf("X-Amz-Firehose-Common-Attributes: attribute %q is %q: want %q", k, g, want)
		}
	}
	return nil
}

// parseBody checks a request body strictly: exactly requestId (the
// header's), timestamp (integer milliseconds) and records, 1 to 10,000
// objects of exactly one field, data, in padded standard base64 of at most
// 1,024,000 bytes.
func parseBody(body []byte, id string) (*parsed, int, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, 400, fmt.Errorf("the body is not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, 400, errors.New("data after the body's JSON object")
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"records", "requestId", "timestamp"}) {
		return nil, 400, fmt.Errorf("the body has the fields %q: want exactly records, requestId and timestamp", keys)
	}
	var bodyID string
	if err := json.Unmarshal(top["requestId"], &bodyID); err != nil || top["requestId"][0] != '"' {
		return nil, 400, errors.New("requestId is not a string")
	}
	if bodyID != id {
		return nil, 400, fmt.Errorf("the body's requestId %q is not the header's %q", bodyID, id)
	}
	ts, err := strconv.ParseInt(string(top["timestamp"]), 10, 64)
	if err != nil || ts < minTimestamp || ts > time.Now().Add(time.Hour).UnixMilli() {
		return nil, 400, fmt.Errorf("timestamp %.40s is not milliseconds since the epoch of about now", top["timestamp"])
	}
	var recs []map[string]json.RawMessage
	if err := json.Unmarshal(top["records"], &recs); err != nil || top["records"][0] != '[' {
		return nil, 400, errors.New("records is not an array of objects")
	}
	if len(recs) < 1 || len(recs) > maxRecordsProt {
		return nil, 400, fmt.Errorf("%d records: want 1 to %d", len(recs), maxRecordsProt)
	}
	p := &parsed{data: make([][]byte, len(recs))}
	h := sha256.New()
	for i, rec := range recs {
		v, ok := rec["data"]
		if len(rec) != 1 || !ok {
			return nil, 400, fmt.Errorf("record %d has %d fields: want exactly data", i, len(rec))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil || v[0] != '"' {
			return nil, 400, fmt.Errorf("record %d: data is not a string", i)
		}
		d, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, 400, fmt.Errorf("record %d: data is not padded standard base64: %v", i, err)
		}
		if len(d) > maxRecordData {
			return nil, 400, fmt.Errorf("record %d has %d bytes: at most %d are allowed", i, len(d), maxRecordData)
		}
		p.data[i] = d
		var n [8]byte
		for j := range n {
			n[j] = byte(len(d) >> (8 * j))
		}
		h.Write(n[:])
		h.Write(d)
	}
	h.Sum(p.digest[:0])
	return p, 200, nil
}

// flush writes out what is buffered.
func (rc *receiver) flush() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.out == nil {
		return nil
	}
	return rc.out.Flush()
}
