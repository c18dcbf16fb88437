package partition

import (
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	big20, _ := new(big.Int).SetString("12345678901234567890", 10)
	tests := []struct {
		in   string
		want any
	}{
		{`{}`, map[string]any{}},
		{` {"a" : 1 , "b":[true,false,null]} `, map[string]any{"a": 1, "b": []any{true, false, nil}}},
		{`[]`, []any{}},
		{`"x"`, "x"},
		{`-0`, 0},
		{`123456789012345678`, 123456789012345678},
		{`-9223372036854775808`, math.MinInt64},
		{`9223372036854775807`, math.MaxInt64},
		{`12345678901234567890`, big20},
		{`1.0`, 1.0},
		{`1.5e3`, 1500.0},
		{`1E400`, math.Inf(1)},
		{`-1e400`, math.Inf(-1)},
		{`1e-400`, 0.0},
		{`"a\"\\\/\b\f\n\r\tz"`, "a\"\\/\b\f\n\r\tz"},
		{`"\u00e9\u20AC"`, "é€"},
		{`"é€😀"`, "é€😀"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\uFFFD"},
		{`"\ud83dx"`, "\uFFFDx"},
		{`"\ude00\ud83d\ude00"`, "\uFFFD😀"},
		{`"\ud83d\u0041"`, "\uFFFDA"},
		{"\"a\xffb\"", "a\uFFFDb"},
		{"\"\xe2\x82\"", "\uFFFD\uFFFD"},
		{`{"a":1,"a":2}`, map[string]any{"a": 2}},
		{`{"\u0061":1}`, map[string]any{"a": 1}},
	}
	for _, tt := range tests {
		got, err := decodeJSON([]byte(tt.in), nil)
		if err != nil {
			t.Errorf("decodeJSON(%q) failed: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeJSON(%q) = %#v; want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{``, "unexpected end of JSON input looking for beginning of value at offset 0"},
		{`   `, "unexpected end of JSON input looking for beginning of value at offset 3"},
		{`x`, "invalid character 'x' looking for beginning of value at offset 0"},
		{`{"a":1}{"a":2}`, "invalid character '{' after top-level value at offset 7"},
		{`{"a":1} x`, "invalid character 'x' after top-level value at offset 8"},
		{`{"a":1,}`, "invalid character '}' looking for beginning of object key string at offset 7"},
		{`{"a" 1}`, "invalid character '1' after object key at offset 5"},
		{`{"a":1 "b":2}`, "invalid character '\"' after object key:value pair at offset 7"},
		{`{a:1}`, "invalid character 'a' looking for beginning of object key string at offset 1"},
		{`[1,]`, "invalid character ']' looking for beginning of value at offset 3"},
		{`[1 2]`, "invalid character '2' after array element at offset 3"},
		{`[1`, "unexpected end of JSON input after array element at offset 2"},
		{`"abc`, "unexpected end of JSON input in string literal at offset 4"},
		{"\"a\tb\"", `invalid character '\t' in string literal at offset 2`},
		{`"\x"`, "invalid character 'x' in string escape code at offset 2"},
		{`"\u12g4"`, "invalid character 'g' in \\u hexadecimal character escape at offset 5"},
		{`01`, "invalid character '1' after top-level value at offset 1"},
		{`-`, "unexpected end of JSON input in numeric literal at offset 1"},
		{`1.`, "unexpected end of JSON input after decimal point in numeric literal at offset 2"},
		{`1.e5`, "invalid character 'e' after decimal point in numeric literal at offset 2"},
		{`1e`, "unexpected end of JSON input in exponent of numeric literal at offset 2"},
		{`+1`, "invalid character '+' looking for beginning of value at offset 0"},
		{`NaN`, "invalid character 'N' looking for beginning of value at offset 0"},
		{`tru`, "unexpected end of JSON input in literal true at offset 3"},
		{`nul1`, "invalid character '1' in literal null at offset 3"},
		{"\xef\xbb\xbf{}", "invalid character 0xef looking for beginning of value at offset 0"},
		{strings.Repeat("[", maxDepth+1), "exceeded max depth of 10000 at offset 10000"},
	}
	for _, tt := range tests {
		_, err := decodeJSON([]byte(tt.in), nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("decodeJSON(%.40q) error = %v; want %s", tt.in, err, tt.want)
		}
		if json.Valid([]byte(tt.in)) {
			t.Errorf("json.Valid(%.40q) = true; the test case is wrong", tt.in)
		}
	}
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if err := validateJSON([]byte(deep)); err != nil {
		t.Errorf("validateJSON(%d nested arrays) = %v; want nil", maxDepth, err)
	}
}

// TestDecodeJSONProjection checks that a field keeps what it selects,
// whole, and drops the rest.
func TestDecodeJSONProjection(t *testing.T) {
	f := &field{sub: map[string]*field{
		"a": nil,
		"t": {sub: map[string]*field{"d": nil}},
		"é": nil,
	}}
	in := `{"a":{"x":[1]},"b":{"big":[1,2,3]},"t":{"d":"m","e":"z"},"\u00e9":1,"c":"\u0041"}`
	want := map[string]any{"a": map[string]any{"x": []any{1}}, "t": map[string]any{"d": "m"}, "é": 1}
	got, err := decodeJSON([]byte(in), f)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeJSON(%q, projection) = %v, %v; want %v", in, got, err, want)
	}
	// A value that is not an object is kept whole.
	in = `{"t":["d"]}`
	want = map[string]any{"t": []any{"d"}}
	got, err = decodeJSON([]byte(in), f)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeJSON(%q, projection) = %v, %v; want %v", in, got, err, want)
	}
	// What is dropped is still validated.
	in = `{"a":1,"b":[1,]}`
	if _, err := decodeJSON([]byte(in), f); err == nil {
		t.Errorf("decodeJSON(%q, projection) succeeded; want an error", in)
	}
}

func TestPlainPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"abcdefgh", 8},
		{`"bcdefgh`, 0},
		{`abc"efgh`, 3},
		{`abcdefg\`, 7},
		{"abc\x1fefgh", 3},
		{"abc\x20efgh", 8},
		{"a\x80cdefgh", 1},
		{"\x00bcdefgh", 0},
		{"abcdef\xff\"", 6},
		{"\x01\"\\\x00\x80\x1f\x7f!", 0},
		{"~~~~~~~\x7f", 8},
	}
	for _, tt := range tests {
		w := uint64(0)
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(tt.in[i])
		}
		if got := plainPrefix(w); got != tt.want {
			t.Errorf("plainPrefix(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}
