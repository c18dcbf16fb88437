package parquet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"
)

// writeFile writes the records to a new file and returns it, with the
// error of each Write.
func writeFile(t *testing.T, s *Schema, o Options, records []string) ([]byte, []error) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s, o)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	errs := make([]error, len(records))
	for i, r := range records {
		errs[i] = w.Write([]byte(r))
		var ce *ConversionError
		if errs[i] != nil && !errors.As(errs[i], &ce) {
			t.Fatalf("Write(%q) = %v; want nil or a *ConversionError", r, errs[i])
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes(), errs
}

// readRows returns the rows of the file as stored: values with their
// repetition and definition levels.
func readRows(t *testing.T, b []byte) (*pq.File, []pq.Row) {
	t.Helper()
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("cannot open file: %v", err)
	}
	var rows []pq.Row
	buf := make([]pq.Row, 100)
	for _, rg := range f.RowGroups() {
		r := rg.Rows()
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				rows = append(rows, row.Clone())
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("cannot read rows: %v", err)
			}
		}
		r.Close()
	}
	if int64(len(rows)) != f.NumRows() {
		t.Fatalf("read %d rows; the footer says %d", len(rows), f.NumRows())
	}
	return f, rows
}

// readAny returns the rows of the file as parquet-go assembles them into Go
// values, normalised: pointers dereferenced, and []byte (which parquet-go
// returns for the strings of map values) as string.
func readAny(t *testing.T, b []byte) []any {
	t.Helper()
	rows, err := pq.Read[any](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("cannot read file: %v", err)
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = normalize(r)
	}
	return out
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = normalize(e)
		}
		return s
	case []byte:
		return string(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		return normalize(rv.Elem().Interface())
	}
	return v
}

// show formats a stored value with its type, for comparisons.
func show(v pq.Value) string {
	switch v.Kind() {
	case pq.Boolean:
		return fmt.Sprintf("boolean:%v", v.Boolean())
	case pq.Int32:
		return fmt.Sprintf("int32:%d", v.Int32())
	case pq.Int64:
		return fmt.Sprintf("int64:%d", v.Int64())
	case pq.Float:
		return fmt.Sprintf("float:%v", v.Float())
	case pq.Double:
		return fmt.Sprintf("double:%v", v.Double())
	case pq.ByteArray:
		return fmt.Sprintf("bytes:%q", v.ByteArray())
	case pq.FixedLenByteArray:
		b := v.ByteArray()
		n := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return fmt.Sprintf("fixed%d:%s", len(b), n)
	}
	if v.IsNull() {
		return "null"
	}
	return v.String()
}

// TestConvert writes one value per type and reads back what was stored.
func TestConvert(t *testing.T) {
	ms := func(tm time.Time) string { return fmt.Sprintf("int64:%d", tm.UnixMilli()) }
	for _, tc := range []struct {
		typ, unit string
		json      string // the value of field v
		want      string // as show prints it, or the error message's end
	}{
		{"string", "", `"abc"`, `bytes:"abc"`},
		{"string", "", `""`, `bytes:""`},
		{"string", "", `"a\"b\\c\n\u00e9\ud83d\ude00"`, `bytes:"a\"b\\c\né😀"`},
		{"string", "", "\"bad \xff utf-8\"", "bytes:\"bad \ufffd utf-8\""},
		{"string", "", `12.50`, `bytes:"12.50"`},
		{"string", "", `-1e3`, `bytes:"-1e3"`},
		{"string", "", `true`, `bytes:"true"`},
		{"string", "", `false`, `bytes:"false"`},
		{"string", "", `null`, `null`},
		{"string", "", `{"a":1}`, `column "v": cannot convert JSON object to string`},
		{"string", "", `[1]`, `column "v": cannot convert JSON array to string`},
		{"boolean", "", `true`, `boolean:true`},
		{"boolean", "", `false`, `boolean:false`},
		{"boolean", "", `"TRUE"`, `boolean:true`},
		{"boolean", "", `"false"`, `boolean:false`},
		{"boolean", "", `"yes"`, `column "v": cannot convert JSON string to boolean: want true or false`},
		{"boolean", "", `1`, `column "v": cannot convert JSON number to boolean`},
		{"tinyint", "", `-128`, `int32:-128`},
		{"tinyint", "", `128`, `column "v": JSON number is out of range for tinyint`},
		{"smallint", "", `"32767"`, `int32:32767`},
		{"smallint", "", `-32769`, `column "v": JSON number is out of range for smallint`},
		{"int", "", `2147483647`, `int32:2147483647`},
		{"int", "", `-2147483648`, `int32:-2147483648`},
		{"int", "", `2147483648`, `column "v": JSON number is out of range for int`},
		{"int", "", `"-42"`, `int32:-42`},
		{"int", "", `"abc"`, `column "v": cannot convert JSON string to int: not a number`},
		{"int", "", `""`, `column "v": cannot convert JSON string to int: not a number`},
		{"int", "", `" 1"`, `column "v": cannot convert JSON string to int: not a number`},
		{"int", "", `"1.5"`, `column "v": cannot convert non-integer JSON string to int`},
		{"int", "", `1.0`, `column "v": cannot convert non-integer JSON number to int`},
		{"int", "", `1e2`, `column "v": cannot convert non-integer JSON number to int`},
		{"int", "", `true`, `column "v": cannot convert JSON boolean to int`},
		{"int", "", `{}`, `column "v": cannot convert JSON object to int`},
		{"integer", "", `7`, `int32:7`},
		{"bigint", "", `9223372036854775807`, `int64:9223372036854775807`},
		{"bigint", "", `-9223372036854775808`, `int64:-9223372036854775808`},
		{"bigint", "", `9223372036854775808`, `column "v": JSON number is out of range for bigint`},
		{"bigint", "", `123456789012345678901234567890`, `column "v": JSON number is out of range for bigint`},
		{"float", "", `1.5`, `float:1.5`},
		{"float", "", `"-2.25"`, `float:-2.25`},
		{"float", "", `3`, `float:3`},
		{"float", "", `1e39`, `column "v": JSON number is out of range for float`},
		{"float", "", `"NaN"`, `float:NaN`},
		{"float", "", `"-Infinity"`, `float:-Inf`},
		{"float", "", `"1,5"`, `column "v": cannot convert JSON string to float: not a number`},
		{"double", "", `1e308`, `double:1e+308`},
		{"double", "", `-0.0`, fmt.Sprintf("double:%v", math.Copysign(0, -1))},
		{"double", "", `1e-400`, `double:0`},
		{"double", "", `1e309`, `column "v": JSON number is out of range for double`},
		{"double", "", `"infinity"`, `double:+Inf`},
		{"double", "", `[1.5]`, `column "v": cannot convert JSON array to double`},
		{"decimal(10,2)", "", `12.345`, `int64:1235`},
		{"decimal(10,2)", "", `"-12.345"`, `int64:-1235`},
		{"decimal(10,2)", "", `99999999.995`, `column "v": JSON number does not fit decimal(10,2)`},
		{"decimal(10,2)", "", `"1.2.3"`, `column "v": cannot convert JSON string to decimal(10,2): not a number`},
		{"decimal(5, 1)", "", `-2.25`, `int32:-23`},
		{"decimal", "", `1234567890`, `int64:1234567890`},
		{"decimal(20,0)", "", `-1`, `fixed9:-1`},
		{"decimal(38,10)", "", `"1.00000000005"`, `fixed16:10000000001`},
		{"decimal(38,10)", "", `-9999999999999999999999999999.9999999999`, `fixed16:-99999999999999999999999999999999999999`},
		{"decimal(38,10)", "", `true`, `column "v": cannot convert JSON boolean to decimal(38,10)`},
		{"date", "", `"2020-01-02"`, `int32:18263`},
		{"date", "", `"1969-12-31"`, `int32:-1`},
		{"date", "", `"2020-02-30"`, `column "v": cannot convert JSON string to date: want yyyy-MM-dd`},
		{"date", "", `18263`, `column "v": cannot convert JSON number to date`},
		{"timestamp", "", `1518033528123`, `int64:1518033528123`},
		{"timestamp", "", `-1`, `int64:-1`},
		{"timestamp", "", `"2017-02-07 15:13:01.14"`, ms(time.Date(2017, 2, 7, 15, 13, 1, 140e6, time.UTC))},
		{"timestamp", "", `"2017-02-07T15:13:01.3925Z"`, ms(time.Date(2017, 2, 7, 15, 13, 1, 392e6, time.UTC))},
		{"timestamp", "", `"2017-02-07T15:13:01+01:00"`, ms(time.Date(2017, 2, 7, 14, 13, 1, 0, time.UTC))},
		{"timestamp", "", `"1969-12-31T23:59:59.9995Z"`, `int64:-1`},
		{"timestamp", "", `1518033528.5`, `column "v": cannot convert non-integer JSON number to timestamp: want epoch milliseconds`},
		{"timestamp", "", `"yesterday"`, `column "v": cannot convert JSON string to timestamp: want RFC 3339 or yyyy-MM-dd HH:mm:ss[.fffffffff]`},
		{"timestamp", "", `false`, `column "v": cannot convert JSON boolean to timestamp`},
		{"timestamp", "micros", `1518033528123`, `int64:1518033528123000`},
		{"timestamp", "micros", `"1970-01-01T00:00:00.000001999Z"`, `int64:1`},
		{"timestamp", "micros", `9223372036854775807`, `column "v": JSON number is out of range for timestamp`},
		{"binary", "", `"aGVsbG8="`, `bytes:"hello"`},
		{"binary", "", `"/w=="`, `bytes:"\xff"`},
		{"binary", "", `"\/w=="`, `bytes:"\xff"`},
		{"binary", "", `""`, `bytes:""`},
		{"binary", "", `"aGVsbG8"`, `column "v": cannot convert JSON string to binary: want standard base64`},
		{"binary", "", `12`, `column "v": cannot convert JSON number to binary`},
	} {
		s := &Schema{Columns: []Column{{Name: "v", Type: tc.typ, TimestampUnit: tc.unit, Optional: true}}}
		record := `{"v":` + tc.json + `}`
		b, errs := writeFile(t, s, Options{}, []string{record})
		_, rows := readRows(t, b)
		got := ""
		switch {
		case errs[0] != nil:
			got = errs[0].Error()
			if len(rows) != 0 {
				t.Errorf("%s: Write(%s) failed yet the file has %d rows", tc.typ, record, len(rows))
			}
		case len(rows) != 1 || len(rows[0]) != 1:
			t.Fatalf("%s: Write(%s): the file has rows %v; want one value", tc.typ, record, rows)
		default:
			got = show(rows[0][0])
		}
		if got != tc.want {
			t.Errorf("%s: Write(%s) stored %s; want %s", tc.typ, record, got, tc.want)
		}
	}
}

// nestedSchema has every kind of nesting, with optional nodes at each depth.
func nestedSchema() *Schema {
	return &Schema{Columns: []Column{
		{Name: "id", Type: "bigint"},
		{Name: "Name", Type: "string", Optional: true},
		{Name: "tags", Type: "array", Optional: true, Element: &Column{Type: "string", Optional: true}},
		{Name: "user", Type: "struct", Optional: true, Fields: []Column{
			{Name: "age", Type: "int"},
			{Name: "emails", Type: "array", Element: &Column{Type: "string"}},
			{Name: "address", Type: "struct", Optional: true, Fields: []Column{
				{Name: "city", Type: "string", Optional: true},
				{Name: "zip", Type: "int", Optional: true},
			}},
		}},
		{Name: "items", Type: "array", Optional: true, Element: &Column{Type: "struct", Optional: true, Fields: []Column{
			{Name: "sku", Type: "string"},
			{Name: "qty", Type: "int", Optional: true},
			{Name: "sizes", Type: "array", Optional: true, Element: &Column{Type: "double", Optional: true}},
		}}},
		{Name: "matrix", Type: "array", Optional: true, Element: &Column{Type: "array", Element: &Column{Type: "int"}}},
		{Name: "attrs", Type: "map", Optional: true, Element: &Column{Type: "bigint", Optional: true}},
	}}
}

func TestNested(t *testing.T) {
	type obj = map[string]any
	type arr = []any
	nulls := obj{"id": nil, "Name": nil, "tags": nil, "user": nil, "items": nil, "matrix": nil, "attrs": nil}
	row := func(kv obj) any {
		m := obj{}
		for k, v := range nulls {
			m[k] = v
		}
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		record string
		want   any // nil when the record is rejected
		err    string
	}{
		{"only required", `{"id":1}`, row(obj{"id": int64(1)}), ""},
		{"case-insensitive", `{"ID":2,"NAME":"n","name2":"ignored"}`, row(obj{"id": int64(2), "Name": "n"}), ""},
		{"unknown fields of any shape", `{"x":{"y":[1,{"z":null}],"w":"\"}"},"id":3,"q":[[],{}]}`, row(obj{"id": int64(3)}), ""},
		{"nulls", `{"id":4,"Name":null,"tags":null,"user":null,"items":null,"matrix":null,"attrs":null}`, row(obj{"id": int64(4)}), ""},
		{"empty containers", `{"id":5,"tags":[],"items":[],"matrix":[],"attrs":{}}`,
			row(obj{"id": int64(5), "tags": arr{}, "items": arr{}, "matrix": arr{}, "attrs": obj{}}), ""},
		{"list with null elements", `{"id":6,"tags":[null,"a",null]}`, row(obj{"id": int64(6), "tags": arr{nil, "a", nil}}), ""},
		{"struct", `{"id":7,"user":{"age":30,"emails":["a@x","b@x"],"address":{"city":"Paris"}}}`,
			row(obj{"id": int64(7), "user": obj{"age": int32(30), "emails": arr{"a@x", "b@x"}, "address": obj{"city": "Paris", "zip": nil}}}), ""},
		{"struct with null struct", `{"id":8,"user":{"age":1,"emails":[],"address":null}}`,
			row(obj{"id": int64(8), "user": obj{"age": int32(1), "emails": arr{}, "address": nil}}), ""},
		{"list of structs", `{"id":9,"items":[{"sku":"a","qty":2,"sizes":[1.5,null]},null,{"sku":"b","sizes":[]},{"SKU":"c","sizes":null}]}`,
			row(obj{"id": int64(9), "items": arr{
				obj{"sku": "a", "qty": int32(2), "sizes": arr{1.5, nil}},
				nil,
				obj{"sku": "b", "qty": nil, "sizes": arr{}},
				obj{"sku": "c", "qty": nil, "sizes": nil},
			}}), ""},
		{"list of lists", `{"id":10,"matrix":[[1,2],[],[3]]}`,
			row(obj{"id": int64(10), "matrix": arr{arr{int32(1), int32(2)}, arr{}, arr{int32(3)}}}), ""},
		{"map", `{"id":11,"attrs":{"a":1,"b":null,"":-3}}`,
			row(obj{"id": int64(11), "attrs": obj{"a": int64(1), "b": nil, "": int64(-3)}}), ""},
		{"white space", " \t\r\n{ \"id\" : 12 , \"tags\" : [ \"a\" , null ] } \n",
			row(obj{"id": int64(12), "tags": arr{"a", nil}}), ""},

		{"missing required", `{"Name":"x"}`, nil, `column "id": field is missing but the column is not optional`},
		{"null required", `{"id":null}`, nil, `column "id": value is null but the column is not optional`},
		{"missing nested required", `{"id":1,"user":{"emails":[]}}`, nil, `column "user.age": field is missing but the column is not optional`},
		{"null required element", `{"id":1,"user":{"age":1,"emails":["a",null]}}`, nil, `column "user.emails[]": value is null but the column is not optional`},
		{"deep mismatch", `{"id":1,"items":[{"sku":"a"},{"sku":"b","sizes":[1,"x"]}]}`, nil, `column "items[].sizes[]": cannot convert JSON string to double: not a number`},
		{"map value mismatch", `{"id":1,"attrs":{"a":1,"b":"x"}}`, nil, `column "attrs{}": cannot convert JSON string to bigint: not a number`},
		{"struct mismatch", `{"id":1,"user":[]}`, nil, `column "user": cannot convert JSON array to struct`},
		{"array mismatch", `{"id":1,"tags":"a"}`, nil, `column "tags": cannot convert JSON string to array`},
		{"map mismatch", `{"id":1,"attrs":[]}`, nil, `column "attrs": cannot convert JSON array to map`},
		{"duplicate", `{"id":1,"name":"a","Name":"b"}`, nil, `column "Name": field appears twice in the object (names are case-insensitive)`},
		{"array record", `[{"id":1}]`, nil, `record is not a JSON object`},
		{"string record", `"id"`, nil, `record is not a JSON object`},
		{"empty record", ``, nil, `record is not a JSON object`},
		{"two objects", `{"id":1} {"id":2}`, nil, `record is not valid JSON: unexpected data after the object at offset 9`},
		{"truncated", `{"id":1,"tags":["a"`, nil, `record is not valid JSON: unexpected end of input`},
		{"trailing comma", `{"id":1,}`, nil, `record is not valid JSON: unexpected character '}' at offset 8`},
		{"bad literal", `{"id":1,"x":nul}`, nil, `record is not valid JSON: unexpected character '}' at offset 15`},
		{"bad unknown", `{"id":1,"x":[1 2]}`, nil, `record is not valid JSON: unexpected character '2' at offset 15`},
		{"single quotes", `{'id':1}`, nil, `record is not valid JSON: unexpected character '\'' at offset 1`},
		{"too deep", `{"id":1,"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, nil, `record is not valid JSON: nesting deeper than 1000 at offset 1011`},
	} {
		b, errs := writeFile(t, nestedSchema(), Options{}, []string{tc.record})
		got := readAny(t, b)
		if tc.err != "" {
			if errs[0] == nil || errs[0].Error() != tc.err || len(got) != 0 {
				t.Errorf("%s: Write(%q) = %v, %d rows; want %q, 0 rows", tc.name, tc.record, errs[0], len(got), tc.err)
			}
			continue
		}
		if errs[0] != nil {
			t.Errorf("%s: Write(%q) = %v", tc.name, tc.record, errs[0])
			continue
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%s: Write(%q) read back as\n%#v\nwant\n%#v", tc.name, tc.record, got, tc.want)
		}
	}
}

// TestLevels checks the repetition and definition levels of nested values
// against the Dremel encoding worked out by hand.
func TestLevels(t *testing.T) {
	// Leaf columns and their maximum levels (rep, def):
	//  0 id               (0,0)
	//  1 Name             (0,1)
	//  2 tags.list.element (1,3)
	//  3 user.age         (0,1)
	//  4 user.emails...   (1,2)
	//  5 user.address.city (0,3)
	//  6 user.address.zip  (0,3)
	//  7 items...sku      (1,3)
	//  8 items...qty      (1,4)
	//  9 items...sizes...element (2,6)
	// 10 matrix...element...element (2,3)
	// 11 attrs.key_value.key   (1,2)
	// 12 attrs.key_value.value (1,3)
	type lv struct {
		val      string
		rep, def int
	}
	for _, tc := range []struct {
		record string
		want   [][]lv // per column
	}{
		{`{"id":1}`, [][]lv{
			{{"int64:1", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}},
			{{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}},
			{{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 0}},
		}},
		{`{"id":2,"Name":"n","tags":["a",null],"user":{"age":3,"emails":[],"address":{"zip":75}},` +
			`"items":[{"sku":"s","sizes":[1,null]},null,{"sku":"t","qty":1,"sizes":[]}],"matrix":[[1,2],[]],"attrs":{"k":null,"j":5}}`, [][]lv{
			{{"int64:2", 0, 0}},
			{{`bytes:"n"`, 0, 1}},
			{{`bytes:"a"`, 0, 3}, {"null", 1, 2}},
			{{"int32:3", 0, 1}},
			{{"null", 0, 1}},
			{{"null", 0, 2}},
			{{"int32:75", 0, 3}},
			{{`bytes:"s"`, 0, 3}, {"null", 1, 2}, {`bytes:"t"`, 1, 3}},
			{{"null", 0, 3}, {"null", 1, 2}, {"int32:1", 1, 4}},
			{{"double:1", 0, 6}, {"null", 2, 5}, {"null", 1, 2}, {"null", 1, 4}},
			{{"int32:1", 0, 3}, {"int32:2", 2, 3}, {"null", 1, 2}},
			{{`bytes:"k"`, 0, 2}, {`bytes:"j"`, 1, 2}},
			{{"null", 0, 2}, {"int64:5", 1, 3}},
		}},
		{`{"id":3,"tags":[],"items":[],"matrix":[],"attrs":{}}`, [][]lv{
			{{"int64:3", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 1}}, {{"null", 0, 0}}, {{"null", 0, 0}},
			{{"null", 0, 0}}, {{"null", 0, 0}}, {{"null", 0, 1}}, {{"null", 0, 1}}, {{"null", 0, 1}},
			{{"null", 0, 1}}, {{"null", 0, 1}}, {{"null", 0, 1}},
		}},
	} {
		b, errs := writeFile(t, nestedSchema(), Options{}, []string{tc.record})
		if errs[0] != nil {
			t.Fatalf("Write(%s) = %v", tc.record, errs[0])
		}
		_, rows := readRows(t, b)
		got := make([][]lv, len(tc.want))
		rows[0].Range(func(col int, vals []pq.Value) bool {
			for _, v := range vals {
				got[col] = append(got[col], lv{show(v), v.RepetitionLevel(), v.DefinitionLevel()})
			}
			return true
		})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Write(%s) stored\n%v\nwant\n%v", tc.record, got, tc.want)
		}
	}
}

func TestSchemaOfFile(t *testing.T) {
	s := &Schema{Columns: []Column{
		{Name: "z", Type: "bigint"},
		{Name: "a", Type: "timestamp", Optional: true},
		{Name: "m", Type: "timestamp", TimestampUnit: "micros"},
		{Name: "d", Type: "decimal(20,4)"},
		{Name: "l", Type: "array", Element: &Column{Type: "date"}},
		{Name: "s", Type: "struct", Fields: []Column{{Name: "y", Type: "binary"}, {Name: "b", Type: "boolean", Optional: true}}},
		{Name: "k", Type: "map", Element: &Column{Type: "float"}},
	}}
	b, _ := writeFile(t, s, Options{}, nil)
	f, _ := readRows(t, b)
	want := `message schema {
	required int64 z (INT(64,true));
	optional int64 a (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));
	required int64 m (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	required fixed_len_byte_array(9) d (DECIMAL(20,4));
	required group l (LIST) {
		repeated group list {
			required int32 element (DATE);
		}
	}
	required group s {
		required binary y;
		optional boolean b;
	}
	required group k (MAP) {
		repeated group key_value {
			required binary key (STRING);
			required float value;
		}
	}
}`
	if got := f.Schema().String(); got != want {
		t.Errorf("schema of the file:\n%s\nwant (columns in declared order):\n%s", got, want)
	}
}

// genRecord returns a record of nestedSchema, as JSON, and the row that
// reading it back should give.
func genRecord(i int) (string, any) {
	type obj = map[string]any
	type arr = []any
	in := obj{"id": i}
	out := obj{"id": int64(i), "Name": nil, "tags": nil, "user": nil, "items": nil, "matrix": nil, "attrs": nil}
	if i%3 != 0 {
		name := fmt.Sprintf("name-%d-%s", i, strings.Repeat("x", i%50))
		in["name"], out["Name"] = name, name
	}
	if i%4 != 0 {
		tags, want := arr{}, arr{}
		for j := 0; j < i%5; j++ {
			if j == 2 {
				tags, want = append(tags, nil), append(want, nil)
				continue
			}
			tag := fmt.Sprintf("t%d", (i+j)%7)
			tags, want = append(tags, tag), append(want, tag)
		}
		in["tags"], out["tags"] = tags, want
	}
	if i%5 != 1 {
		in["user"] = obj{"age": i % 100, "emails": arr{fmt.Sprintf("u%d@example.com", i)}, "address": obj{"city": "c" + fmt.Sprint(i%10)}}
		out["user"] = obj{"age": int32(i % 100), "emails": arr{fmt.Sprintf("u%d@example.com", i)}, "address": obj{"city": "c" + fmt.Sprint(i%10), "zip": nil}}
	}
	if i%2 == 0 {
		in["items"] = arr{obj{"sku": fmt.Sprint(i), "qty": i, "sizes": arr{float64(i) / 4, nil}}}
		out["items"] = arr{obj{"sku": fmt.Sprint(i), "qty": int32(i), "sizes": arr{float64(i) / 4, nil}}}
	}
	if i%7 == 0 {
		in["attrs"] = obj{"n": i, "m": nil}
		out["attrs"] = obj{"n": int64(i), "m": nil}
	}
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	return string(b), out
}

// TestRowGroups writes many rows over several row groups with every
// compression, writer version and encoding, with rejected records among
// them, and reads them all back.
func TestRowGroups(t *testing.T) {
	const n = 1500
	var records []string
	var want []any
	for i := 0; i < n; i++ {
		r, w := genRecord(i)
		records, want = append(records, r), append(want, w)
		if i%97 == 0 { // rejected late in the record, after values were staged
			records = append(records, strings.Replace(r, `"id":`, `"items":[{"sku":"a"},{"sku":1.5,"qty":"x"}],"id":`, 1))
		}
	}
	for _, compression := range append(Compressions, "") {
		for _, version := range []string{"V1", "V2"} {
			for _, dict := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/dictionary=%v", compression, version, dict)
				t.Run(name, func(t *testing.T) {
					o := Options{Compression: compression, WriterVersion: version, Dictionary: dict, RowGroupBytes: 16 << 10, PageBytes: 2 << 10}
					b, errs := writeFile(t, nestedSchema(), o, records)
					rejected := 0
					for _, err := range errs {
						if err != nil {
							rejected++
						}
					}
					if want := len(records) - n; rejected != want {
						t.Fatalf("%d records rejected; want %d", rejected, want)
					}
					f, _ := readRows(t, b)
					if len(f.RowGroups()) < 5 {
						t.Errorf("%d row groups; want several", len(f.RowGroups()))
					}
					codec := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String()
					if wantCodec := strings.ToUpper(compression); wantCodec != "" && codec != wantCodec || wantCodec == "" && codec != "SNAPPY" {
						t.Errorf("codec %s; want %s", codec, compression)
					}
					got := readAny(t, b)
					if len(got) != len(want) {
						t.Fatalf("read %d rows; want %d", len(got), len(want))
					}
					for i := range want {
						if !reflect.DeepEqual(got[i], want[i]) {
							t.Fatalf("row %d read back as\n%#v\nwant\n%#v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestRowGroupSize checks that row groups are flushed near RowGroupBytes.
func TestRowGroupSize(t *testing.T) {
	s := &Schema{Columns: []Column{{Name: "s", Type: "string"}}}
	var records []string
	for i := 0; i < 1000; i++ {
		records = append(records, fmt.Sprintf(`{"s":"%0996d"}`, i)) // 1000 bytes of values each
	}
	b, _ := writeFile(t, s, Options{RowGroupBytes: 100_000, Compression: "UNCOMPRESSED"}, records)
	f, _ := readRows(t, b)
	for i, rg := range f.RowGroups() {
		if n := rg.NumRows(); n != 100 && i < len(f.RowGroups())-1 {
			t.Errorf("row group %d has %d rows; want 100", i, n)
		}
	}
	if len(f.RowGroups()) != 10 {
		t.Errorf("%d row groups; want 10", len(f.RowGroups()))
	}
}

func TestReset(t *testing.T) {
	s := &Schema{Columns: []Column{{Name: "id", Type: "int"}}}
	var first, second, third bytes.Buffer
	w, err := NewWriter(&first, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := w.Write([]byte(fmt.Sprintf(`{"id":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]byte(`{"id":9}`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v; want ErrClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("Close after Close = %v; want ErrClosed", err)
	}

	w.Reset(&second)
	if w.Rows() != 0 {
		t.Errorf("Rows() = %d after Reset; want 0", w.Rows())
	}
	w.Write([]byte(`{"id":10}`))
	w.Reset(&third) // abandons the second file unfinished
	w.Write([]byte(`{"id":20}`))
	w.Write([]byte(`{"id":21}`))
	if w.Rows() != 2 {
		t.Errorf("Rows() = %d; want 2", w.Rows())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		buf  *bytes.Buffer
		want []any
	}{
		{&first, []any{map[string]any{"id": int32(0)}, map[string]any{"id": int32(1)}, map[string]any{"id": int32(2)}}},
		{&third, []any{map[string]any{"id": int32(20)}, map[string]any{"id": int32(21)}}},
	} {
		if got := readAny(t, tc.buf.Bytes()); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("file read back as %v; want %v", got, tc.want)
		}
	}
	if second.Len() != 0 {
		t.Errorf("the abandoned file has %d bytes; want none (nothing flushed)", second.Len())
	}
}

func TestEmptyFile(t *testing.T) {
	b, _ := writeFile(t, nestedSchema(), Options{}, nil)
	f, rows := readRows(t, b)
	if len(rows) != 0 || len(f.RowGroups()) != 0 {
		t.Errorf("empty file has %d rows in %d row groups; want none", len(rows), len(f.RowGroups()))
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	s := &Schema{Columns: []Column{{Name: "s", Type: "string"}}}
	w, err := NewWriter(&failingWriter{n: 1000}, s, Options{RowGroupBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 10_000 && werr == nil; i++ {
		werr = w.Write([]byte(fmt.Sprintf(`{"s":"%0100d"}`, i)))
	}
	var ce *ConversionError
	if werr == nil || errors.As(werr, &ce) || !strings.Contains(werr.Error(), "disk full") {
		t.Fatalf("Write to a failing io.Writer = %v; want a fatal error", werr)
	}
	if err := w.Write([]byte(`{"s":"x"}`)); err != werr {
		t.Errorf("Write after a fatal error = %v; want %v", err, werr)
	}
	if err := w.Close(); err != werr {
		t.Errorf("Close after a fatal error = %v; want %v", err, werr)
	}
	var buf bytes.Buffer
	w.Reset(&buf)
	if err := w.Write([]byte(`{"s":"x"}`)); err != nil {
		t.Fatalf("Write after Reset = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Reset = %v", err)
	}
	if got := readAny(t, buf.Bytes()); len(got) != 1 {
		t.Errorf("file after Reset has %d rows; want 1", len(got))
	}
}

// TestRecordNotRetained checks that Write copies what it keeps of a record.
func TestRecordNotRetained(t *testing.T) {
	s := &Schema{Columns: []Column{{Name: "s", Type: "string"}, {Name: "m", Type: "map", Element: &Column{Type: "string"}}}}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, s, Options{})
	record := []byte(`{"s":"hello","m":{"key":"value"}}`)
	if err := w.Write(record); err != nil {
		t.Fatal(err)
	}
	for i := range record {
		record[i] = 'X'
	}
	w.Close()
	want := []any{map[string]any{"s": "hello", "m": map[string]any{"key": "value"}}}
	if got := readAny(t, buf.Bytes()); !reflect.DeepEqual(got, want) {
		t.Errorf("read back %v; want %v", got, want)
	}
}

// TestLargeRecord writes a record larger than the staging limits between
// small ones, and checks that the buffers it grew are released.
func TestLargeRecord(t *testing.T) {
	s := &Schema{Columns: []Column{
		{Name: "n", Type: "array", Optional: true, Element: &Column{Type: "int"}},
		{Name: "s", Type: "string", Optional: true},
	}}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	nums := make([]string, 200_000)
	for i := range nums {
		nums[i] = fmt.Sprint(i % 1000)
	}
	big := `{"n":[` + strings.Join(nums, ",") + `],"s":"` + strings.Repeat("x", 2<<20) + `"}`
	for i, r := range []string{`{"s":"a"}`, big, `{"n":[1]}`} {
		if err := w.Write([]byte(r)); err != nil {
			t.Fatalf("Write(record %d) = %v", i, err)
		}
	}
	for i, v := range w.conv.vals {
		if cap(v) > 4*maxStagedValues {
			t.Errorf("column %d keeps room for %d values after the large record", i, cap(v))
		}
	}
	if cap(w.conv.arena) > 4*maxStagedBytes {
		t.Errorf("the arena keeps %d bytes after the large record", cap(w.conv.arena))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows := readAny(t, buf.Bytes())
	if len(rows) != 3 {
		t.Fatalf("read %d rows; want 3", len(rows))
	}
	got := rows[1].(map[string]any)
	if n := got["n"].([]any); len(n) != len(nums) || n[len(n)-1] != int32(999) || got["s"].(string) != strings.Repeat("x", 2<<20) {
		t.Errorf("the large record read back with %d numbers, a string of %d bytes", len(n), len(got["s"].(string)))
	}
	if want := map[string]any{"n": []any{int32(1)}, "s": nil}; !reflect.DeepEqual(rows[2], want) {
		t.Errorf("the record after the large one read back as %v; want %v", rows[2], want)
	}
}

func TestColumnNames(t *testing.T) {
	s := &Schema{Columns: []Column{
		{Name: "with space", Type: "int"},
		{Name: "a-b.c", Type: "string"},
		{Name: "1st", Type: "boolean"},
		{Name: "Ünïcödé", Type: "struct", Fields: []Column{{Name: "ÄB", Type: "int"}}},
	}}
	b, errs := writeFile(t, s, Options{}, []string{`{"WITH SPACE":1,"A-B.C":"x","1ST":true,"ünïcödé":{"äb":2}}`})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	want := []any{map[string]any{"with space": int32(1), "a-b.c": "x", "1st": true, "Ünïcödé": map[string]any{"ÄB": int32(2)}}}
	if got := readAny(t, b); !reflect.DeepEqual(got, want) {
		t.Errorf("read back %v; want %v", got, want)
	}
	if typ := compile(s).node.GoType(); typ.NumField() != 4 {
		t.Errorf("GoType() = %v; want a struct of 4 fields", typ)
	}
}
