package clickhouse

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// testPlan makes a plan from columns as Config declares them, each with a
// type.
func testPlan(t testing.TB, reject bool, cols ...Column) *plan {
	t.Helper()
	pcs := make([]planCol, len(cols))
	for i, c := range cols {
		typ, err := parseType(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		pc := planCol{name: c.Name, typ: typ, required: c.Required, path: c.Path, segs: []string{c.Name}}
		if c.Path != "" {
			if pc.segs, err = parsePath(c.Path); err != nil {
				t.Fatal(err)
			}
		} else {
			pc.path = "." + c.Name
		}
		pcs[i] = pc
	}
	return newPlan("INSERT INTO t", pcs, reject)
}

// rows converts records and returns each row as its column values joined
// by " | ", or "REJECT: reason".
func rows(p *plan, recs ...string) []string {
	b := p.getBuf()
	defer p.putBuf(b)
	var out []string
	var ok []int
	for i, r := range recs {
		if err := p.add(b, []byte(r)); err != nil {
			out = append(out, "REJECT: "+err.Error())
			continue
		}
		out = append(out, "")
		ok = append(ok, i)
	}
	for _, c := range b.cols {
		if c.rows() != b.nrows {
			panic(fmt.Sprintf("column has %d rows, batch %d", c.rows(), b.nrows))
		}
		c.prepare()
	}
	for row, i := range ok {
		vals := make([]string, len(b.cols))
		for j, c := range b.cols {
			vals[j] = fmt.Sprint(rowValue(c, row))
		}
		out[i] = strings.Join(vals, " | ")
	}
	return out
}

func TestPlanRows(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: "UInt64"},
		{Name: "user_id", Type: "Nullable(Int32)", Path: ".user.id"},
		{Name: "country", Type: "String", Path: ".user.geo.country"},
		{Name: "tags", Type: "Array(String)"},
		{Name: "dotted", Type: "String", Path: `."a.b"`},
	}
	for _, tt := range []struct {
		rec, want string
	}{
		{`{"id": 1, "user": {"id": 7, "geo": {"country": "DE"}}, "tags": ["x"], "a.b": "d"}`, "1 | 7 | DE | [x] | d"},
		{`{"id": 2}`, "2 | <nil> |  | [] | "},
		{` {"id":3,"user":{"id":null,"name":"bob"},"extra":{"deep":[1,2,{"x":1}]}} `, "3 | <nil> |  | [] | "},
		{`{"user": {"geo": {"country": "FR", "city": "Paris"}}, "id": 4}`, "4 | <nil> | FR | [] | "},
		{`{"user": null, "id": 5}`, "5 | <nil> |  | [] | "},
		{`{"id": 6, "id": 66}`, "66 | <nil> |  | [] | "},
		{`{"user": {"id": 1}, "user": {"id": 2}, "id": 7}`, "7 | 2 |  | [] | "},
		{`{"i\u0064": 8, "\u0075ser": {"id": 8}}`, "8 | 8 |  | [] | "},
		{`{}`, "0 | <nil> |  | [] | "},
		{`{"id": "x"}`, `REJECT: field .id: cannot convert a string to UInt64 for column id: want a number, not a string that is not one`},
		{`{"id": 9, "user": {"id": 2147483648}}`, `REJECT: field .user.id: cannot convert a number to Nullable(Int32) for column user_id: 2147483648 is out of range [-2147483648, 2147483647]`},
		{`{"id": 10, "user": "bob"}`, `REJECT: field .user is a string, but columns map fields inside it: want an object`},
		{`{"id": 11, "tags": ["a", null]}`, `REJECT: field .tags: cannot convert an array to Array(String) for column tags: null element: an Array(String) cannot hold one; use Array(Nullable(String))`},
		{`[1, 2]`, `REJECT: the record is an array, not a JSON object`},
		{`"x"`, `REJECT: the record is a string, not a JSON object`},
		{``, `REJECT: the record is not a JSON object`},
		{`{"id": 12`, `REJECT: invalid JSON at byte 9: unexpected end, want ',' or '}'`},
		{`{"id": 13} {"id": 14}`, `REJECT: invalid JSON at byte 11: data after the JSON object`},
		{`{"id": 15, "x": [1,]}`, `REJECT: invalid JSON at byte 19: unexpected ']', want a value`},
		{`{"id": 16, "user": {"id": 1,}}`, `REJECT: invalid JSON at byte 28: unexpected '}', want a string key`},
		{`{"id": 01}`, `REJECT: invalid JSON at byte 8: unexpected '1', want ',' or '}'`},
		{"{\"id\": 17, \"s\": \"a\x01\"}", `REJECT: invalid JSON at byte 18: control character in string`},
		{`{"id": 18}` + "\n", "18 | <nil> |  | [] | "},
	} {
		got := rows(testPlan(t, false, cols...), tt.rec)[0]
		if got != tt.want {
			t.Errorf("record %s:\n got %s\nwant %s", tt.rec, got, tt.want)
		}
	}
}

// Rejected records leave no trace in the batch: the rows around them are
// whole.
func TestPlanRejectedRowsLeaveNoTrace(t *testing.T) {
	p := testPlan(t, false,
		Column{Name: "a", Type: "String"},
		Column{Name: "b", Type: "Array(Array(Int8))"},
		Column{Name: "c", Type: "Nullable(UInt8)"},
	)
	got := rows(p,
		`{"a": "one", "b": [[1]], "c": 1}`,
		`{"a": "two", "b": [[2], [3, 300]], "c": 2}`, // fails in b after a
		`{"c": 3, "a": "three", "b": [[4]], "d": 1, "c": 256}`,
		`{"a": "four", "b": [[5, 6]]}`,
	)
	want := []string{
		"one | [[1]] | 1",
		"REJECT: field .b: cannot convert an array to Array(Array(Int8)) for column b: element 1: element 1: 300 is out of range [-128, 127]",
		"REJECT: field .c: cannot convert a number to Nullable(UInt8) for column c: 256 is out of range [0, 255]",
		"four | [[5 6]] | <nil>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestPlanUnknownFields(t *testing.T) {
	cols := []Column{{Name: "id", Type: "Int64"}, {Name: "uid", Type: "String", Path: ".user.id"}}
	for _, tt := range []struct {
		rec, want string
	}{
		{`{"id": 1, "user": {"id": "u"}}`, "1 | u"},
		{`{"id": 1, "name": "x"}`, `REJECT: field .name is not mapped to a column, and unknown fields are rejected`},
		{`{"id": 1, "user": {"id": "u", "name": "x"}}`, `REJECT: field .user.name is not mapped to a column, and unknown fields are rejected`},
		{`{"id": 1, "a.b": 1}`, `REJECT: field ."a.b" is not mapped to a column, and unknown fields are rejected`},
	} {
		if got := rows(testPlan(t, true, cols...), tt.rec)[0]; got != tt.want {
			t.Errorf("reject, record %s:\n got %s\nwant %s", tt.rec, got, tt.want)
		}
	}
	// A column holding the whole record maps every field.
	p := testPlan(t, true, Column{Name: "raw", Type: "String", Path: "."}, Column{Name: "id", Type: "Int64"})
	if got, want := rows(p, ` {"id": 1, "x": [true]} `)[0], `{"id": 1, "x": [true]} | 1`; got != want {
		t.Errorf("whole record: got %s; want %s", got, want)
	}
}

func TestPlanRequired(t *testing.T) {
	p := testPlan(t, false, Column{Name: "id", Type: "Int64", Required: true}, Column{Name: "n", Type: "Nullable(Int64)", Path: ".x.n", Required: true})
	got := rows(p, `{"id": 1, "x": {"n": 2}}`, `{"x": {"n": 2}}`, `{"id": null, "x": {"n": 2}}`, `{"id": 1, "x": {"n": null}}`, `{"id": 1}`)
	want := []string{
		"1 | 2",
		"REJECT: field .id is missing: column id requires it",
		"REJECT: field .id is null: column id requires a value",
		"REJECT: field .x.n is null: column n requires a value",
		"REJECT: field .x.n is missing: column n requires it",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

// Two columns may take the same field, and a path may lie inside another
// column's.
func TestPlanSharedPaths(t *testing.T) {
	p := testPlan(t, true,
		Column{Name: "ts", Type: "DateTime", Path: ".t"},
		Column{Name: "day", Type: "Date", Path: ".t"},
		Column{Name: "user", Type: "String"},
		Column{Name: "uid", Type: "UInt32", Path: ".user.id"},
	)
	got := rows(p, `{"t": "2024-05-01T23:00:00Z", "user": {"id": 5}}`, `{"t": 0, "user": "bob"}`, `{"t": 0, "user": {"id": 1, "x": 2}}`)
	want := []string{
		`1714604400 | 2024-05-01 00:00:00 +0000 UTC | {"id": 5} | 5`,
		`0 | 1970-01-01 00:00:00 +0000 UTC | bob | 0`,
		`REJECT: field .user.x is not mapped to a column, and unknown fields are rejected`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestScan(t *testing.T) {
	valid := []string{
		`0`, `-0`, `1.5e+3`, `-1E-2`, `"a\"\\\/\b\f\n\r\t\u00e9"`, `true`, `false`, `null`,
		`[]`, `[ 1 , [ ] , { } ]`, `{"a":{"b":[{"c":null}]}}`, " {\n\t\"a\" : 1\r} ",
		"\"\xff\xfe\"", // invalid UTF-8 is kept, as encoding/json accepts it
	}
	invalid := []string{
		``, ` `, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `1e+`, `0x1`, `NaN`, `tru`, `nul`, `"`, `"\x"`, `"\u12"`,
		"\"a\x00\"", `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1,}`, `{,}`, `[1 2]`, `{"a":1 "b":2}`, `[`, `{"a":[}`,
		strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	}
	for _, s := range valid {
		if !scanOK([]byte(s)) {
			t.Errorf("scan(%q) = invalid; want valid", s)
		}
	}
	for _, s := range invalid {
		if scanOK([]byte(s)) {
			t.Errorf("scan(%q) = valid; want invalid", s)
		}
	}
}

// scanOK reports whether data is one JSON value, with space around it.
func scanOK(data []byte) bool {
	i := skipSpace(data, 0)
	end, err := skipValue(data, i, 0)
	return err == nil && skipSpace(data, end) == len(data)
}

// depth is the deepest nesting of brackets in data, counted roughly
// (brackets in strings count too).
func depth(data []byte) int {
	d, most := 0, 0
	for _, c := range data {
		switch c {
		case '[', '{':
			d++
			most = max(most, d)
		case ']', '}':
			d--
		}
	}
	return most
}

// FuzzScan checks the scanner against encoding/json: the same inputs are
// valid, and strings unquote to the same text.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a": [1, "b\u00e9", {"c": null}], "d": -1.5e3}`, `"\ud83d\ude00"`, `[true, false]`, `{"a":1,}`, `"\ud800x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if depth(data) >= maxDepth {
			return
		}
		got, want := scanOK(data), json.Valid(data)
		if got != want {
			t.Fatalf("scan(%q) valid = %v; encoding/json says %v", data, got, want)
		}
		if !got {
			return
		}
		i := skipSpace(data, 0)
		if data[i] != '"' || !utf8.Valid(data) {
			return
		}
		end, _, _ := scanString(data, i)
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		if u := string(unquote(nil, data[i:end])); u != s {
			t.Fatalf("unquote(%q) = %q; encoding/json says %q", data[i:end], u, s)
		}
	})
}

// FuzzRecord feeds arbitrary records through a plan of every kind of
// column: no panic, and a batch whose columns agree on the row count.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{
		`{"s": "a", "i": 1, "f": 1.5, "d": "2024-05-01", "t": 0, "u": {"id": 1}, "a": [[1]], "n": null, "fs": "ab"}`,
		`{"s": {"x": 1}, "a": [[1, null]], "t": "2024-05-01T12:00:00Z", "u": {"id": "x"}}`,
		`{"i": 1, "i": 2, "u": {"id": 1}, "u": null}`,
	} {
		f.Add([]byte(s))
	}
	p := testPlan(f, false,
		Column{Name: "s", Type: "String"},
		Column{Name: "i", Type: "Int16"},
		Column{Name: "f", Type: "Float32"},
		Column{Name: "d", Type: "Date"},
		Column{Name: "t", Type: "Nullable(DateTime)"},
		Column{Name: "uid", Type: "UInt64", Path: ".u.id"},
		Column{Name: "a", Type: "Array(Array(Nullable(Int8)))"},
		Column{Name: "n", Type: "Nullable(String)"},
		Column{Name: "fs", Type: "FixedString(2)"},
		Column{Name: "raw", Type: "String", Path: "."},
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		b := p.getBuf()
		defer p.putBuf(b)
		for range 2 {
			err := p.add(b, data)
			if err == nil && !json.Valid(data) {
				t.Fatalf("record %q converted but is not valid JSON", data)
			}
		}
		for i, c := range b.cols {
			if c.rows() != b.nrows {
				t.Fatalf("column %d has %d rows; the batch %d", i, c.rows(), b.nrows)
			}
			c.prepare()
			for r := range b.nrows {
				rowValue(c, r)
			}
		}
	})
}
