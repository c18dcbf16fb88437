package clickhouse

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// convert runs one JSON value through a column of type typ and returns
// the value clickhouse-go would be handed for its row, dereferenced and
// with arrays as []any, or the error.
func convert(t *testing.T, typ, value string) (any, error) {
	t.Helper()
	ct, err := parseType(typ)
	if err != nil {
		t.Fatalf("parseType(%q) = %v", typ, err)
	}
	c := newColumn(ct, false)
	v := []byte(value)
	if value == "null" {
		c.addNull()
	} else if err := c.add(v); err != nil {
		if c.rows() != 0 {
			t.Errorf("%s from %s: failed add left %d rows", typ, value, c.rows())
		}
		return nil, err
	}
	if c.rows() != 1 {
		t.Fatalf("%s from %s: %d rows after add, want 1", typ, value, c.rows())
	}
	c.prepare()
	return rowValue(c, 0), nil
}

// rowValue returns row i of a prepared column in a comparable form.
func rowValue(c column, i int) any {
	if a, ok := c.(*arrayCol); ok {
		from := 0
		if i > 0 {
			from = a.offs[i-1]
		}
		out := []any{}
		for j := from; j < a.offs[i]; j++ {
			out = append(out, rowValue(a.elem, j))
		}
		return out
	}
	v := reflect.ValueOf(c.out(i, i+1)).Index(0)
	switch {
	case v.Kind() == reflect.Pointer && v.IsNil():
		return nil
	case v.Kind() == reflect.Pointer:
		return v.Elem().Interface()
	case v.Type() == reflect.TypeFor[[]byte]():
		return string(v.Bytes())
	}
	return v.Interface()
}

func date(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

func unix(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func TestConvert(t *testing.T) {
	const bad = "ERROR"
	type tc struct {
		typ, in string
		want    any // bad: an error containing errHas
		errHas  string
	}
	tests := []tc{
		// Unsigned integers.
		{"UInt8", `0`, uint8(0), ""},
		{"UInt8", `255`, uint8(255), ""},
		{"UInt8", `256`, bad, "out of range [0, 255]"},
		{"UInt8", `-1`, bad, "out of range"},
		{"UInt8", `-0`, uint8(0), ""},
		{"UInt8", `1.0`, uint8(1), ""},
		{"UInt8", `1e2`, uint8(100), ""},
		{"UInt8", `1.5`, bad, "not an integer"},
		{"UInt8", `"12"`, uint8(12), ""},
		{"UInt8", `" 12"`, bad, "not one"},
		{"UInt8", `"x"`, bad, "not one"},
		{"UInt8", `""`, bad, "not one"},
		{"UInt8", `true`, uint8(1), ""},
		{"UInt8", `false`, uint8(0), ""},
		{"UInt8", `{}`, bad, "want a number, not an object"},
		{"UInt8", `[1]`, bad, "want a number, not an array"},
		{"UInt16", `65535`, uint16(65535), ""},
		{"UInt32", `4294967295`, uint32(math.MaxUint32), ""},
		{"UInt32", `4294967296`, bad, "out of range"},
		{"UInt64", `18446744073709551615`, uint64(math.MaxUint64), ""},
		{"UInt64", `"18446744073709551615"`, uint64(math.MaxUint64), ""},
		{"UInt64", `18446744073709551616`, bad, "out of range"},
		{"UInt64", `1e20`, bad, "out of range"},
		// Signed integers.
		{"Int8", `-128`, int8(-128), ""},
		{"Int8", `127`, int8(127), ""},
		{"Int8", `128`, bad, "out of range [-128, 127]"},
		{"Int8", `-129`, bad, "out of range"},
		{"Int16", `-32768`, int16(-32768), ""},
		{"Int32", `-2147483648`, int32(math.MinInt32), ""},
		{"Int32", `2147483648`, bad, "out of range"},
		{"Int64", `-9223372036854775808`, int64(math.MinInt64), ""},
		{"Int64", `9223372036854775807`, int64(math.MaxInt64), ""},
		{"Int64", `9223372036854775808`, bad, "out of range"},
		{"Int64", `-9223372036854775809`, bad, "out of range"},
		{"Int64", `"-42"`, int64(-42), ""},
		{"Int64", `-4.2e1`, int64(-42), ""},
		// Floats.
		{"Float64", `1.5`, 1.5, ""},
		{"Float64", `-0.25e2`, -25.0, ""},
		{"Float64", `1e308`, 1e308, ""},
		{"Float64", `1e309`, bad, "out of range"},
		{"Float64", `"2.5"`, 2.5, ""},
		{"Float64", `"inf"`, math.Inf(1), ""},
		{"Float64", `"x"`, bad, "not one"},
		{"Float64", `true`, 1.0, ""},
		{"Float64", `"a"`, bad, "not one"},
		{"Float64", `null`, 0.0, ""},
		{"Float32", `1.5`, float32(1.5), ""},
		{"Float32", `3.5e38`, bad, "out of range for Float32"},
		// Strings.
		{"String", `"abc"`, "abc", ""},
		{"String", `""`, "", ""},
		{"String", `"a\nb\t\"c\"\\/"`, "a\nb\t\"c\"\\/", ""},
		{"String", `"\u00e9\u4e2d"`, "é中", ""},
		{"String", `"\ud83d\ude00"`, "😀", ""},
		{"String", `"\ud83d"`, "\uFFFD", ""},
		{"String", `"é"`, "é", ""},
		{"String", `12.50`, "12.50", ""},
		{"String", `true`, "true", ""},
		{"String", `{"a": [1, 2]}`, `{"a": [1, 2]}`, ""},
		{"String", `null`, "", ""},
		{"FixedString(3)", `"abc"`, "abc", ""},
		{"FixedString(3)", `"ab"`, "ab", ""},
		{"FixedString(3)", `"abcd"`, bad, "4 bytes do not fit in FixedString(3)"},
		{"FixedString(2)", `"é"`, "é", ""},
		// Dates: the date as written, or epoch seconds or milliseconds in UTC.
		{"Date", `"2024-05-01"`, date(2024, 5, 1), ""},
		{"Date", `"2024-05-01T23:30:00-05:00"`, date(2024, 5, 1), ""},
		{"Date", `"2024-05-01 00:30:00+02:00"`, date(2024, 5, 1), ""},
		{"Date", `1714521600`, date(2024, 5, 1), ""},
		{"Date", `1714607999`, date(2024, 5, 1), ""},
		{"Date", `1714521600000`, date(2024, 5, 1), ""},
		{"Date", `"1714521600"`, date(2024, 5, 1), ""},
		{"Date", `0`, date(1970, 1, 1), ""},
		{"Date", `"2149-06-06"`, date(2149, 6, 6), ""},
		{"Date", `"2149-06-07"`, bad, "out of the range of Date"},
		{"Date", `"1969-12-31"`, bad, "out of the range of Date"},
		{"Date", `-1`, bad, "out of the range of Date"},
		{"Date", `"2024-02-30"`, bad, "no such day"},
		{"Date", `"2024-02-29"`, date(2024, 2, 29), ""},
		{"Date", `"2023-02-29"`, bad, "no such day"},
		{"Date", `"yesterday"`, bad, "not an RFC 3339 date"},
		{"Date", `"2024-5-1"`, bad, "not an RFC 3339 date"},
		{"Date", `true`, bad, "want an RFC 3339 date or epoch seconds, not a boolean"},
		{"Date", `null`, date(1970, 1, 1), ""},
		// Date-times.
		{"DateTime", `"2024-05-01T12:00:00Z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"2024-05-01t12:00:00z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"2024-05-01 12:00:00+02:00"`, unix("2024-05-01T10:00:00Z"), ""},
		{"DateTime", `"2024-05-01T12:00:00-0130"`, unix("2024-05-01T13:30:00Z"), ""},
		{"DateTime", `"2024-05-01T12:00:00+02"`, unix("2024-05-01T10:00:00Z"), ""},
		{"DateTime", `"2024-05-01T12:00Z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"2024-05-01T12:00:00.999999Z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"2024-05-01T12:00:00."`, bad, "not an RFC 3339"},
		{"DateTime", `"2024-05-01T24:00:00Z"`, bad, "no such time"},
		{"DateTime", `"2024-05-01T12:00:00+2:00"`, bad, "not an RFC 3339"},
		{"DateTime", `"2024-05-01T12:00:00Zjunk"`, bad, "not an RFC 3339"},
		{"DateTime", `1714564800`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `1714564800.9`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `1714564800123`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"1714564800"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"2024-05-01 12:00:00"`, bad, "without a zone offset is ambiguous"},
		{"DateTime", `"2024-05-01"`, bad, "without a zone offset is ambiguous"},
		{"DateTime('UTC')", `"2024-05-01 12:00:00"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime('Europe/Berlin')", `"2024-05-01 12:00:00"`, unix("2024-05-01T10:00:00Z"), ""},
		{"DateTime('Europe/Berlin')", `"2024-01-01 12:00:00"`, unix("2024-01-01T11:00:00Z"), ""},
		{"DateTime('Europe/Berlin')", `"2024-05-01T12:00:00Z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"DateTime", `"1970-01-01T00:00:00Z"`, int64(0), ""},
		{"DateTime", `"1969-12-31T23:59:59Z"`, bad, "out of the range of DateTime"},
		{"DateTime", `"2106-02-07T06:28:15Z"`, int64(math.MaxUint32), ""},
		{"DateTime", `"2106-02-07T06:28:16Z"`, bad, "out of the range of DateTime"},
		{"DateTime", `-5`, bad, "out of the range of DateTime"},
		{"DateTime", `{}`, bad, "not an object"},
		// UUIDs.
		{"UUID", `"8d0f1f2e-0000-4000-8000-000000000001"`, uuid.MustParse("8d0f1f2e-0000-4000-8000-000000000001"), ""},
		{"UUID", `"8D0F1F2E-0000-4000-8000-000000000001"`, uuid.MustParse("8d0f1f2e-0000-4000-8000-000000000001"), ""},
		{"UUID", `"nope"`, bad, "not a UUID"},
		{"UUID", `1`, bad, "want a UUID string"},
		// Nullable.
		{"Nullable(Int32)", `null`, nil, ""},
		{"Nullable(Int32)", `5`, int32(5), ""},
		{"Nullable(Int32)", `"x"`, bad, "not one"},
		{"Nullable(String)", `null`, nil, ""},
		{"Nullable(String)", `"a"`, "a", ""},
		{"Nullable(DateTime)", `"2024-05-01T12:00:00Z"`, unix("2024-05-01T12:00:00Z"), ""},
		{"Nullable(Date)", `null`, nil, ""},
		{"Nullable(UUID)", `null`, nil, ""},
		// Arrays.
		{"Array(Int32)", `[1, 2, -3]`, []any{int32(1), int32(2), int32(-3)}, ""},
		{"Array(Int32)", `[]`, []any{}, ""},
		{"Array(Int32)", `null`, []any{}, ""},
		{"Array(Int32)", `[1, null]`, bad, "null element: an Array(Int32) cannot hold one; use Array(Nullable(Int32))"},
		{"Array(Int32)", `[1, "x"]`, bad, "element 1: want a number"},
		{"Array(Int32)", `"1,2"`, bad, "want a JSON array, not a string"},
		{"Array(String)", `["a", "b\n", 3]`, []any{"a", "b\n", "3"}, ""},
		{"Array(Nullable(String))", `["a", null]`, []any{"a", nil}, ""},
		{"Array(Nullable(Float64))", `[null, 1.5]`, []any{nil, 1.5}, ""},
		{"Array(Array(UInt8))", `[[1, 2], [], [3]]`, []any{[]any{uint8(1), uint8(2)}, []any{}, []any{uint8(3)}}, ""},
		{"Array(Array(UInt8))", `[[1], [256]]`, bad, "element 1: element 0"},
		{"Array(DateTime)", `["2024-05-01T12:00:00Z", 0]`, []any{unix("2024-05-01T12:00:00Z"), int64(0)}, ""},
		{"Array(Date)", `["2024-05-01"]`, []any{date(2024, 5, 1)}, ""},
		{"Array(FixedString(2))", `["ab", "c"]`, []any{"ab", "c"}, ""},
		// LowCardinality is its type.
		{"LowCardinality(String)", `"a"`, "a", ""},
		{"LowCardinality(Nullable(String))", `null`, nil, ""},
		{"LowCardinality(UInt16)", `7`, uint16(7), ""},
	}
	for _, tt := range tests {
		got, err := convert(t, tt.typ, tt.in)
		if tt.want == bad {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s from %s: error %v, value %#v; want an error containing %q", tt.typ, tt.in, err, got, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s from %s: %v; want %#v", tt.typ, tt.in, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s from %s = %#v (%T); want %#v (%T)", tt.typ, tt.in, got, got, tt.want, tt.want)
		}
	}
}

func TestConvertNaN(t *testing.T) {
	for _, in := range []string{`"nan"`, `"NaN"`} {
		got, err := convert(t, "Float64", in)
		if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
			t.Errorf("Float64 from %s = %v, %v; want NaN", in, got, err)
		}
	}
}

// A column keeps its rows consistent through failed adds and truncation,
// which a rejected record and a repeated key do.
func TestColumnTruncate(t *testing.T) {
	for _, typ := range []string{"String", "Nullable(String)", "Int32", "Array(Array(String))", "Array(Nullable(Int64))"} {
		ct, _ := parseType(typ)
		c := newColumn(ct, false)
		vals := map[string][]string{
			"String":                 {`"a"`, `"bb"`, `"ccc"`},
			"Nullable(String)":       {`"a"`, `null`, `"ccc"`},
			"Int32":                  {`1`, `2`, `3`},
			"Array(Array(String))":   {`[["a"]]`, `[[], ["b", "c"]]`, `[["d"]]`},
			"Array(Nullable(Int64))": {`[1]`, `[null, 2]`, `[]`},
		}[typ]
		for _, v := range vals {
			if v == "null" {
				c.addNull()
			} else if err := c.add([]byte(v)); err != nil {
				t.Fatalf("%s: add(%s) = %v", typ, v, err)
			}
		}
		c.prepare()
		want := []any{rowValue(c, 0), rowValue(c, 1), rowValue(c, 2)}
		c.truncate(1)
		for _, v := range vals[1:] {
			if v == "null" {
				c.addNull()
			} else if err := c.add([]byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		c.prepare()
		got := []any{rowValue(c, 0), rowValue(c, 1), rowValue(c, 2)}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s after truncate(1) and re-adding: %v; want %v", typ, got, want)
		}
	}
}

func TestParseType(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"String", "String"},
		{" Nullable( Int32 ) ", "Nullable(Int32)"},
		{"Array(Array(Nullable(String)))", "Array(Array(Nullable(String)))"},
		{"DateTime('Europe/Berlin')", "DateTime('Europe/Berlin')"},
		{"DateTime( 'UTC' )", "DateTime('UTC')"},
		{"FixedString(16)", "FixedString(16)"},
		{"LowCardinality(Nullable(String))", "LowCardinality(Nullable(String))"},
		{"Decimal(10, 2)", "ERROR: not a type the sink converts"},
		{"Enum8('a' = 1)", "ERROR: not a type the sink converts"},
		{"DateTime64(3)", "ERROR: not a type the sink converts"},
		{"string", "ERROR: not a type the sink converts"},
		{"Nullable(Array(Int8))", "ERROR: only a plain type can be Nullable"},
		{"Nullable(Nullable(Int8))", "ERROR: only a plain type can be Nullable"},
		{"LowCardinality(Array(String))", "ERROR: LowCardinality takes"},
		{"Array(LowCardinality(String))", "ERROR: not supported"},
		{"FixedString(0)", "ERROR: size from 1"},
		{"FixedString", "ERROR: needs a size"},
		{"DateTime('Mars/Olympus')", "ERROR: unknown time zone"},
		{"Array(Int8", "ERROR: want )"},
		{"Int8)", "ERROR: unexpected"},
		{"", "ERROR: want a type name"},
	} {
		typ, err := parseType(tt.in)
		got := ""
		if err != nil {
			got = "ERROR: " + err.Error()
		} else {
			got = typ.String()
		}
		if strings.HasPrefix(tt.want, "ERROR: ") && !strings.Contains(got, strings.TrimPrefix(tt.want, "ERROR: ")) || !strings.HasPrefix(tt.want, "ERROR: ") && got != tt.want {
			t.Errorf("parseType(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string // nil: an error
	}{
		{".a", []string{"a"}},
		{".user.id", []string{"user", "id"}},
		{`."user.name"`, []string{"user.name"}},
		{`.a."b \"c\"".d`, []string{"a", `b "c"`, "d"}},
		{`.""`, []string{""}},
		{".", []string{}},
		{"a", nil},
		{"..a", nil},
		{".a.", nil},
		{".a[0]", nil},
		{".a | .b", nil},
		{`."a`, nil},
		{"", nil},
	} {
		got, err := parsePath(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("parsePath(%q) = %q; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parsePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
