package partition

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSplitJSON checks SplitJSON against encoding/json: it must accept
// exactly the aggregates that json.Decoder reads as a stream of at most
// MaxSubRecords objects, yield those objects as slices of the record in
// order with only whitespace between them, and call fn only once the
// whole record is known to be good.
func FuzzSplitJSON(f *testing.F) {
	for _, seed := range []string{
		`{"a":1}{"a":2}`,
		"{\"a\":1}\n{\"a\":2}\n",
		` {"s":"}{\"","n":[1,-2.5e3,true,null]} `,
		`[{"a":1}]`,
		`{"a":1},{"a":2}`,
		`{"a":`,
		"{\"\xff\":\"\\ud800\"}",
		strings.Repeat(`{}`, MaxSubRecords+1),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var subs [][]byte
		err := SplitJSON(data, func(sub []byte) error {
			subs = append(subs, sub)
			return nil
		})

		want, wantOK := decodeStream(data)
		if !wantOK || len(want) > MaxSubRecords {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeMetadataExtractionFailed {
				t.Fatalf("SplitJSON(%q) = %v; want an *Error", data, err)
			}
			if len(subs) > 0 {
				t.Fatalf("SplitJSON(%q) yielded %d sub-records before failing; want none", data, len(subs))
			}
			return
		}
		if err != nil {
			t.Fatalf("SplitJSON(%q) = %v; want %d objects", data, err, len(want))
		}
		if len(subs) != len(want) {
			t.Fatalf("SplitJSON(%q) yielded %d sub-records; want %d", data, len(subs), len(want))
		}
		pos := 0
		for i, sub := range subs {
			for pos < len(data) && isSpace(data[pos]) {
				pos++
			}
			if !bytes.Equal(sub, want[i]) || len(sub) == 0 || &sub[0] != &data[pos] {
				t.Fatalf("SplitJSON(%q) sub-record %d = %q at offset %d; want %q, a slice of the record", data, i, sub, pos, want[i])
			}
			pos += len(sub)
		}
		for pos < len(data) && isSpace(data[pos]) {
			pos++
		}
		if pos != len(data) {
			t.Fatalf("SplitJSON(%q) left %q unaccounted for", data, data[pos:])
		}
	})
}

// decodeStream reads data with encoding/json as a stream of values, and
// reports whether all are objects.
func decodeStream(data []byte) ([]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var values []json.RawMessage
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			return values, true
		} else if err != nil || v[0] != '{' {
			return nil, false
		}
		values = append(values, v)
	}
}

// fuzzQueries are the queries FuzzExtract runs: the common shapes, ones
// that read the whole record, and ones that run for long.
var fuzzQueries = []string{
	`{customer_id: .customer_id, device: .type.device}`,
	`{k: .a.b[0], l: .a[.i]}`,
	`{k: (.a // "x"), l: "\(.b)-\(.c.d)"}`,
	`.a as $x | {k: $x, l: .b}`,
	`{(.k): .v}`,
	`{k: .a[]}`,
	`{k: (if .a then .b else .c end)}`,
	`{k: tostring, l: length}`,
	`{k: (.ts | strftime("%Y-%m-%d"))}`,
	`{k: (.n | tonumber), l: (.s | ascii_downcase)}`,
	`{k: last(range(.n))}`,
	`{k: ([.[]?] | length)}`,
	`.`,
	`{k: (.a | @base64d)}`,
}

// FuzzExtract runs queries on arbitrary records. Extract must never
// panic nor hang, must fail only with an *Error, and must produce valid
// UTF-8 values of at most MaxValueLen bytes; projection must not change
// any result; and the parser must agree with encoding/json on what JSON
// is and what it holds.
func FuzzExtract(f *testing.F) {
	for _, seed := range []string{
		`{"customer_id":"1234567890","type":{"device":"mobile"}}`,
		`{"a":{"b":["x"]},"i":0,"b":"é","c":{"d":1e400},"k":"key","v":12345678901234567890}`,
		`{"a":[1,"2",true,null,{}],"ts":1565382027,"n":"1e3","s":"ÄÖ"}`,
		`{"n":100000000}`,
		`[1,{"a":2}]`,
		"\"\\ud83d\\ude00\xff\"",
		`{"a":"/w=="}`,
		`{"a":1,}`,
	} {
		for i := range fuzzQueries {
			f.Add([]byte(seed), uint8(i))
		}
	}
	type pair struct{ projected, whole *Query }
	queries := make([]pair, len(fuzzQueries))
	for i, src := range fuzzQueries {
		// A small step limit keeps every run short.
		projected, err := Compile(src, WithStepLimit(100_000))
		if err != nil {
			f.Fatalf("Compile(%q) failed: %v", src, err)
		}
		whole, err := Compile(src, WithStepLimit(100_000), withWholeRecord())
		if err != nil {
			f.Fatal(err)
		}
		queries[i] = pair{projected, whole}
	}
	f.Fuzz(func(t *testing.T, record []byte, n uint8) {
		checkParser(t, record)

		q := queries[int(n)%len(queries)]
		dst := map[string]string{}
		err := q.projected.Extract(context.Background(), record, dst)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeMetadataExtractionFailed || pe.Message == "" {
				t.Fatalf("Compile(%q).Extract(%q) = %#v; want an *Error", q.projected, record, err)
			}
		}
		for k, v := range dst {
			if !utf8.ValidString(v) || len(v) > MaxValueLen {
				t.Fatalf("Compile(%q).Extract(%q) key %q = %q; want valid UTF-8 of at most %d bytes", q.projected, record, k, v, MaxValueLen)
			}
		}
		if q.projected.fields != nil {
			checkSameExtract(t, q.projected, q.whole, record)
		}
	})
}

// checkParser checks the parser against encoding/json on data.
func checkParser(t *testing.T, data []byte) {
	t.Helper()
	got, err := decodeJSON(data, nil)
	if valid := json.Valid(data); (err == nil) != valid {
		t.Fatalf("decodeJSON(%q) error = %v; json.Valid = %v", data, err, valid)
	}
	if verr := validateJSON(data); (verr == nil) != (err == nil) {
		t.Fatalf("validateJSON(%q) = %v; decodeJSON error = %v", data, verr, err)
	}
	if err != nil {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		t.Fatalf("json.Decode(%q) failed: %v", data, err)
	}
	if want = gojqNumbers(want); !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON(%q) = %#v; encoding/json decodes %#v", data, got, want)
	}
}

// gojqNumbers converts the json.Number values in v as the parser does.
func gojqNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		return parseNumber(v.String(), !strings.ContainsAny(v.String(), ".eE"))
	case []any:
		for i := range v {
			v[i] = gojqNumbers(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = gojqNumbers(v[k])
		}
	}
	return v
}

// FuzzProjection checks the analysis behind projection on arbitrary
// queries: whatever a query, running it on the parts of a record the
// analysis selects must give the same result as running it on the whole
// record.
func FuzzProjection(f *testing.F) {
	for _, q := range projectionQueries {
		f.Add(q, []byte(projectionRecords[1]))
		f.Add(q, []byte(projectionRecords[2]))
	}
	f.Fuzz(func(t *testing.T, src string, record []byte) {
		if len(src) > 64 || len(record) > 4096 || !safeToFuzz(src) {
			return
		}
		projected, err := Compile(src, WithStepLimit(10_000))
		if err != nil || projected.fields == nil {
			return
		}
		whole, err := Compile(src, WithStepLimit(10_000), withWholeRecord())
		if err != nil {
			t.Fatalf("Compile(%q) failed only without projection: %v", src, err)
		}
		checkSameExtract(t, projected, whole, record)
	})
}

// safeToFuzz reports whether src is free of what could make a short
// query allocate without bounds, such as "x" * 1e9, setpath([1e9]; 1) or
// repeated doubling: the fuzzer would find those and run out of memory.
func safeToFuzz(src string) bool {
	for _, s := range []string{"*", "=", "setpath", "pick", "fromstream", "repeat", "recurse", "while",
		"until", "range", "limit", "def", "reduce", "foreach", "combinations", "walk", "sub", "splits"} {
		if strings.Contains(src, s) {
			return false
		}
	}
	return true
}
