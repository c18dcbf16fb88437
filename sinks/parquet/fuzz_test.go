package parquet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func fuzzSchema() *Schema {
	return &Schema{Columns: []Column{
		{Name: "s", Type: "string", Optional: true},
		{Name: "i", Type: "bigint", Optional: true},
		{Name: "d", Type: "double", Optional: true},
		{Name: "b", Type: "boolean", Optional: true},
		{Name: "tags", Type: "array", Optional: true, Element: &Column{Type: "string", Optional: true}},
		{Name: "obj", Type: "struct", Optional: true, Fields: []Column{{Name: "x", Type: "int", Optional: true}}},
		{Name: "bin", Type: "binary", Optional: true},
		// Not modelled below; there for the parsers to be fuzzed.
		{Name: "ts", Type: "timestamp", Optional: true},
		{Name: "dec", Type: "decimal(20,3)", Optional: true},
		{Name: "small", Type: "decimal(4,2)", Optional: true},
		{Name: "m", Type: "map", Optional: true, Element: &Column{Type: "date", Optional: true}},
		{Name: "req", Type: "array", Optional: true, Element: &Column{Type: "struct", Fields: []Column{{Name: "f", Type: "float"}}}},
	}}
}

// FuzzWrite writes an arbitrary record and a valid one after it: Write must
// accept the record or return a *ConversionError, the file must always be
// readable and hold exactly the accepted records, and an accepted record
// must be valid JSON whose modelled columns read back as encoding/json
// decodes them.
func FuzzWrite(f *testing.F) {
	for _, seed := range []string{
		`{"s":"a","i":1,"d":1.5,"b":true,"tags":["x",null],"obj":{"x":2},"bin":"aGk="}`,
		`{"S":12,"I":"-3","D":"NaN","B":"FALSE","tags":[],"OBJ":{"X":null},"ts":"2017-02-07 15:13:01.14","dec":"-1.2345e2","m":{"a":"2020-01-02","b":null}}`,
		`{"ts":1518033528123,"small":99.995,"req":[{"f":1},{"f":"2"}]}`,
		`{"s":"\ud83d\ude00\u00e9\n","unknown":{"deep":[[[{}]]]}}`,
		`{}`,
		`[]`,
		`{"i":1.5}`,
	} {
		f.Add([]byte(seed))
	}
	const last = `{"s":"last","i":-1}`
	f.Fuzz(func(t *testing.T, record []byte) {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, fuzzSchema(), Options{RowGroupBytes: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(record)
		var ce *ConversionError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("Write(%q) = %v; want nil or a *ConversionError", record, err)
		}
		accepted := err == nil
		if err := w.Write([]byte(last)); err != nil {
			t.Fatalf("Write(%q) after Write(%q) = %v", last, record, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		rows := readAny(t, buf.Bytes())
		want := 1
		if accepted {
			want = 2
		}
		if len(rows) != want || w.Rows() != int64(want) {
			t.Fatalf("file has %d rows, Rows() = %d; want %d", len(rows), w.Rows(), want)
		}
		if got := rows[len(rows)-1].(map[string]any); got["s"] != "last" || got["i"] != int64(-1) {
			t.Fatalf("last row read back as %v", got)
		}
		if accepted {
			checkModel(t, record, rows[0].(map[string]any))
		}
	})
}

// checkModel compares the modelled columns of an accepted record with what
// encoding/json makes of it.
func checkModel(t *testing.T, record []byte, got map[string]any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(record))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("Write accepted %q, which encoding/json rejects: %v", record, err)
	}
	if _, err := d.Token(); err == nil {
		t.Fatalf("Write accepted %q, which has data after the object", record)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("Write accepted %q, which is not an object", record)
	}
	check := func(col string, want any, ok bool) {
		t.Helper()
		if !ok {
			t.Fatalf("Write accepted %q, but column %s cannot hold %#v", record, col, lookup(t, obj, col))
		}
		if !sameValue(got[col], want) {
			t.Fatalf("Write(%q): column %s read back as %#v; want %#v", record, col, got[col], want)
		}
	}
	s, ok := modelString(lookup(t, obj, "s"))
	check("s", s, ok)
	i, ok := modelInt(lookup(t, obj, "i"), 64)
	check("i", i, ok)
	f, ok := modelDouble(lookup(t, obj, "d"))
	check("d", f, ok)
	b, ok := modelBool(lookup(t, obj, "b"))
	check("b", b, ok)
	var tags any
	ok = true
	switch x := lookup(t, obj, "tags").(type) {
	case nil:
	case []any:
		list := make([]any, len(x))
		for k, e := range x {
			var okk bool
			list[k], okk = modelString(e)
			ok = ok && okk
		}
		tags = list
	default:
		ok = false
	}
	check("tags", tags, ok)
	var o any
	ok = true
	switch x := lookup(t, obj, "obj").(type) {
	case nil:
	case map[string]any:
		xv, okk := modelInt(lookup(t, x, "x"), 32)
		o, ok = map[string]any{"x": xv}, okk
	default:
		ok = false
	}
	check("obj", o, ok)
	var bin any
	ok = true
	switch x := lookup(t, obj, "bin").(type) {
	case nil:
	case string:
		dec, err := base64.StdEncoding.DecodeString(x)
		bin, ok = string(dec), err == nil
	default:
		ok = false
	}
	check("bin", bin, ok)
}

// lookup returns the member of obj whose name is col in any case.
func lookup(t *testing.T, obj map[string]any, col string) any {
	var v any
	n := 0
	for k, e := range obj {
		if strings.ToLower(k) == col {
			v = e
			n++
		}
	}
	if n > 1 {
		t.Fatalf("Write accepted an object with %d members named %s", n, col)
	}
	return v
}

func modelString(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return nil, false
}

func modelInt(v any, bits int) (any, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, true
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return nil, false
	}
	n, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return nil, false
	}
	if bits == 32 {
		return int32(n), true
	}
	return n, true
}

func modelDouble(v any) (any, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, true
	case json.Number:
		s = x.String()
	case string:
		if f, ok := nonFinite([]byte(x)); ok {
			return f, true
		}
		s = x
	default:
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func modelBool(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(strings.ToLower(x))
		return b, err == nil && (strings.EqualFold(x, "true") || strings.EqualFold(x, "false"))
	}
	return nil, false
}

// sameValue is reflect.DeepEqual, except that NaN equals NaN.
func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok && math.IsNaN(fa) && math.IsNaN(fb) {
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}
