package partition

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
)

// Sub-record types of the RecordDeAggregation processor's SubRecordType
// parameter.
const (
	SubRecordTypeJSON      = "JSON"
	SubRecordTypeDelimited = "DELIMITED"
)

// DefaultDelimiter is what DELIMITED de-aggregation splits on when the
// processor has no Delimiter parameter.
const DefaultDelimiter = "\n"

// MaxSubRecords is the most sub-records one record may be split into, as
// Firehose caps de-aggregation "at 500 per record".
const MaxSubRecords = 500

// SplitJSON calls fn with each JSON object of data, an aggregate of
// objects one after another, optionally separated by whitespace:
// {"a":1}{"a":2} or {"a":1}\n{"a":2}. The slices alias data, without the
// whitespace around them; fn must not keep them past its return unless
// data outlives it.
//
// It is all or nothing: data is validated before fn is first called, so
// that a malformed aggregate goes whole to the error output, never half
// delivered. It fails with an *Error if data holds malformed JSON, a value
// that is not an object (Firehose does not accept [{"a":1},{"a":2}]), or
// more than MaxSubRecords objects. Data holding only whitespace yields
// nothing. If fn fails, SplitJSON stops and returns fn's error as it is.
func SplitJSON(data []byte, fn func(sub []byte) error) error {
	// Boundaries of the objects, kept on the stack: SplitJSON does not
	// allocate.
	var bounds [MaxSubRecords][2]int32
	if len(data) > 1<<31-1 {
		return extractionError("cannot split record: record is larger than 2 GiB")
	}
	n := 0
	p := parser{s: data}
	for {
		p.skipSpace()
		if p.i == len(data) {
			break
		}
		if data[p.i] != '{' {
			if _, err := p.value(nil, false); err != nil {
				return splitError(n, err)
			}
			return extractionError("cannot split record: sub-record " + strconv.Itoa(n+1) + " is not a JSON object")
		}
		if n == MaxSubRecords {
			return extractionError("cannot split record: it holds more than " + strconv.Itoa(MaxSubRecords) + " JSON objects")
		}
		start := p.i
		if _, err := p.object(nil, false); err != nil {
			return splitError(n, err)
		}
		bounds[n] = [2]int32{int32(start), int32(p.i)}
		n++
	}
	for _, b := range bounds[:n] {
		if err := fn(data[b[0]:b[1]:b[1]]); err != nil {
			return err
		}
	}
	return nil
}

func splitError(n int, err error) *Error {
	return extractionError("cannot split record: sub-record " + strconv.Itoa(n+1) + " is not valid JSON: " + err.Error())
}

// SplitDelimited calls fn with each piece of data between occurrences of
// delim; an empty piece after the last delimiter is dropped, so "a\nb\n"
// and "a\nb" both yield a and b, while "a\n\nb" yields a, an empty piece,
// and b. The slices alias data; fn must not keep them past its return
// unless data outlives it. Empty data yields nothing.
//
// It fails with an *Error, before calling fn, if data would yield more
// than MaxSubRecords pieces, and with a plain error if delim is empty
// (see ValidateDelimiter). If fn fails, SplitDelimited stops and returns
// fn's error as it is.
func SplitDelimited(data, delim []byte, fn func(sub []byte) error) error {
	if err := ValidateDelimiter(delim); err != nil {
		return err
	}
	n := bytes.Count(data, delim)
	if !bytes.HasSuffix(data, delim) && len(data) > 0 {
		n++
	}
	if n > MaxSubRecords {
		return extractionError("cannot split record: it holds more than " + strconv.Itoa(MaxSubRecords) + " delimited sub-records")
	}
	for len(data) > 0 {
		sub, rest, _ := bytes.Cut(data, delim)
		if err := fn(sub[:len(sub):len(sub)]); err != nil {
			return err
		}
		data = rest
	}
	return nil
}

// ValidateDelimiter checks a DELIMITED de-aggregation delimiter at
// configuration time.
func ValidateDelimiter(delim []byte) error {
	if len(delim) == 0 {
		return errors.New("de-aggregation delimiter is empty")
	}
	return nil
}

// DecodeDelimiter decodes the Delimiter parameter of a RecordDeAggregation
// processor, which the Firehose API takes base64-encoded ("IyMjIw==" for
// "####"), and validates it.
func DecodeDelimiter(param string) ([]byte, error) {
	delim, err := base64.StdEncoding.DecodeString(param)
	if err != nil {
		return nil, fmt.Errorf("cannot decode de-aggregation delimiter %q as base64: %w", param, err)
	}
	if err := ValidateDelimiter(delim); err != nil {
		return nil, err
	}
	return delim, nil
}
