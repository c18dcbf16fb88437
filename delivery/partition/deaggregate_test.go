package partition

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// collect returns what split yields, as strings.
func collect(split func(fn func([]byte) error) error) ([]string, error) {
	subs := []string{}
	err := split(func(sub []byte) error {
		subs = append(subs, string(sub))
		return nil
	})
	return subs, err
}

func TestSplitJSON(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`{"a":1}`, []string{`{"a":1}`}},
		{`{"a":1}{"a":2}`, []string{`{"a":1}`, `{"a":2}`}},
		{"{\"a\":1}\n{\"a\":2}\n", []string{`{"a":1}`, `{"a":2}`}},
		{" \r\n\t{\"a\":1} \n\n {\"a\":{\"b\":[1,{}]}}\r\n", []string{`{"a":1}`, `{"a":{"b":[1,{}]}}`}},
		{"{ \"a\" : 1 }", []string{`{ "a" : 1 }`}},
		{`{"s":"}{\"\u00e9"}{}`, []string{`{"s":"}{\"\u00e9"}`, `{}`}},
		{`{"é":"東京"}`, []string{`{"é":"東京"}`}},
		{"", []string{}},
		{" \n ", []string{}},
		{strings.Repeat(`{}`, MaxSubRecords), slicesRepeat(`{}`, MaxSubRecords)},
	}
	for _, tt := range tests {
		got, err := collect(func(fn func([]byte) error) error { return SplitJSON([]byte(tt.in), fn) })
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitJSON(%.40q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestSplitJSONErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`{"a":1}{"a":2`, "cannot split record: sub-record 2 is not valid JSON: unexpected end of JSON input after object key:value pair at offset 13"},
		{`{"a":1},{"a":2}`, "cannot split record: sub-record 2 is not valid JSON: invalid character ',' looking for beginning of value at offset 7"},
		{`[{"a":1},{"a":2}]`, "cannot split record: sub-record 1 is not a JSON object"},
		{`{"a":1} "text"`, "cannot split record: sub-record 2 is not a JSON object"},
		{`{"a":1} 42`, "cannot split record: sub-record 2 is not a JSON object"},
		{`{"a":1} null`, "cannot split record: sub-record 2 is not a JSON object"},
		{`{"a":1}}`, "cannot split record: sub-record 2 is not valid JSON: invalid character '}' looking for beginning of value at offset 7"},
		{`hello`, "cannot split record: sub-record 1 is not valid JSON: invalid character 'h' looking for beginning of value at offset 0"},
		{"{\"a\":1}\x00", "cannot split record: sub-record 2 is not valid JSON: invalid character '\\x00' looking for beginning of value at offset 7"},
		{strings.Repeat(`{}`, MaxSubRecords+1), "cannot split record: it holds more than 500 JSON objects"},
	}
	for _, tt := range tests {
		called := false
		err := SplitJSON([]byte(tt.in), func([]byte) error {
			called = true
			return nil
		})
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeMetadataExtractionFailed || pe.Message != tt.want {
			t.Errorf("SplitJSON(%.40q) = %v; want *Error %q", tt.in, err, tt.want)
		}
		if called {
			t.Errorf("SplitJSON(%.40q) called fn before failing; want all or nothing", tt.in)
		}
	}
}

func TestSplitDelimited(t *testing.T) {
	tests := []struct {
		in, delim string
		want      []string
	}{
		{"a\nb\n", "\n", []string{"a", "b"}},
		{"a\nb", "\n", []string{"a", "b"}},
		{"a\n\nb", "\n", []string{"a", "", "b"}},
		{"\na", "\n", []string{"", "a"}},
		{"\n", "\n", []string{""}},
		{"", "\n", []string{}},
		{"a", "\n", []string{"a"}},
		{"a####b####", "####", []string{"a", "b"}},
		{"a###b", "####", []string{"a###b"}},
		{"a#####b", "##", []string{"a", "", "#b"}},
		{"é|東京|😀", "|", []string{"é", "東京", "😀"}},
		{"a\r\nb\r\n", "\r\n", []string{"a", "b"}},
		{strings.Repeat("x\n", MaxSubRecords), "\n", slicesRepeat("x", MaxSubRecords)},
		{strings.Repeat("x\n", MaxSubRecords-1) + "x", "\n", slicesRepeat("x", MaxSubRecords)},
	}
	for _, tt := range tests {
		got, err := collect(func(fn func([]byte) error) error { return SplitDelimited([]byte(tt.in), []byte(tt.delim), fn) })
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitDelimited(%.40q, %q) = %q, %v; want %q", tt.in, tt.delim, got, err, tt.want)
		}
	}
}

func TestSplitDelimitedErrors(t *testing.T) {
	tests := []struct {
		in, delim string
		want      string
		record    bool // an *Error, rather than a configuration error
	}{
		{"a\nb", "", "de-aggregation delimiter is empty", false},
		{strings.Repeat("x\n", MaxSubRecords) + "x", "\n", "cannot split record: it holds more than 500 delimited sub-records", true},
		{strings.Repeat("\n", MaxSubRecords+1), "\n", "cannot split record: it holds more than 500 delimited sub-records", true},
	}
	for _, tt := range tests {
		called := false
		err := SplitDelimited([]byte(tt.in), []byte(tt.delim), func([]byte) error {
			called = true
			return nil
		})
		var pe *Error
		if err == nil || err.Error() != tt.want || errors.As(err, &pe) != tt.record {
			t.Errorf("SplitDelimited(%.40q, %q) = %#v; want %q (record error %v)", tt.in, tt.delim, err, tt.want, tt.record)
		}
		if called {
			t.Errorf("SplitDelimited(%.40q, %q) called fn before failing; want all or nothing", tt.in, tt.delim)
		}
	}
}

// TestSplitStops checks that an error from fn stops splitting and comes
// back as it is.
func TestSplitStops(t *testing.T) {
	stop := errors.New("stop")
	for name, split := range map[string]func(fn func([]byte) error) error{
		"SplitJSON":      func(fn func([]byte) error) error { return SplitJSON([]byte(`{"a":1}{"a":2}{"a":3}`), fn) },
		"SplitDelimited": func(fn func([]byte) error) error { return SplitDelimited([]byte("1\n2\n3"), []byte("\n"), fn) },
	} {
		n := 0
		err := split(func([]byte) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 2 {
			t.Errorf("%s with failing fn = %v after %d calls; want %v after 2", name, err, n, stop)
		}
	}
}

// TestSplitAliases checks that sub-records are slices of the record,
// capped so that appending to one cannot overwrite the next.
func TestSplitAliases(t *testing.T) {
	data := []byte(`{"a":1} {"a":2}`)
	err := SplitJSON(data, func(sub []byte) error {
		if cap(sub) != len(sub) || &sub[0] != &data[bytes.Index(data, sub)] {
			t.Errorf("SplitJSON yielded %q, not a capped slice of the record", sub)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data = []byte("ab\ncd")
	err = SplitDelimited(data, []byte("\n"), func(sub []byte) error {
		if cap(sub) != len(sub) || &sub[0] != &data[bytes.Index(data, sub)] {
			t.Errorf("SplitDelimited yielded %q, not a capped slice of the record", sub)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSplitAllocs(t *testing.T) {
	jsonData := bytes.Repeat([]byte(`{"a":"b\u00e9","c":[1,2.5e3,true,null]}`+"\n"), 100)
	delimited := bytes.Repeat([]byte("abc####"), 100)
	delim := []byte("####")
	fn := func([]byte) error { return nil }
	if n := testing.AllocsPerRun(10, func() {
		if err := SplitJSON(jsonData, fn); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("SplitJSON allocates %v times; want 0", n)
	}
	if n := testing.AllocsPerRun(10, func() {
		if err := SplitDelimited(delimited, delim, fn); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("SplitDelimited allocates %v times; want 0", n)
	}
}

func TestDecodeDelimiter(t *testing.T) {
	tests := []struct {
		param   string
		want    string
		wantErr string
	}{
		{"IyMjIw==", "####", ""},
		{"Cg==", "\n", ""},
		{"", "", "de-aggregation delimiter is empty"},
		{"###", "", `cannot decode de-aggregation delimiter "###" as base64: illegal base64 data at input byte 0`},
	}
	for _, tt := range tests {
		got, err := DecodeDelimiter(tt.param)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("DecodeDelimiter(%q) = %q, %v; want error %q", tt.param, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("DecodeDelimiter(%q) = %q, %v; want %q", tt.param, got, err, tt.want)
		}
	}
	if err := ValidateDelimiter([]byte(DefaultDelimiter)); err != nil {
		t.Errorf("ValidateDelimiter(DefaultDelimiter) = %v; want nil", err)
	}
}
