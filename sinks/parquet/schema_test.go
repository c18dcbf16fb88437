package parquet

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	str := func(name string) Column { return Column{Name: name, Type: "string"} }
	deep := Column{Name: "leaf", Type: "int"}
	for i := 0; i < maxDepth; i++ {
		deep = Column{Name: "s", Type: "struct", Fields: []Column{deep}}
	}
	for _, tc := range []struct {
		name    string
		schema  Schema
		field   string // empty when valid
		message string // a part of the message
	}{
		{"valid", Schema{Columns: []Column{
			str("a"),
			{Name: "b", Type: " Decimal(10, 2) "},
			{Name: "c", Type: "TIMESTAMP", TimestampUnit: "micros"},
			{Name: "d", Type: "array", Element: &Column{Type: "map", Element: &Column{Type: "struct", Fields: []Column{str("x")}}}},
		}}, "", ""},
		{"no columns", Schema{}, "columns", "at least one column is required"},
		{"no name", Schema{Columns: []Column{str("a"), {Type: "int"}}}, "columns[1].name", "name is required"},
		{"bad name", Schema{Columns: []Column{str("\xff")}}, "columns[0].name", "not valid UTF-8"},
		{"duplicate name", Schema{Columns: []Column{str("a"), str("b"), str("A")}}, "columns[2].name", `name "A" repeats columns[0]`},
		{"no type", Schema{Columns: []Column{{Name: "a"}}}, "columns[0].type", "type is required; want one of string, boolean"},
		{"unknown type", Schema{Columns: []Column{{Name: "a", Type: "varchar(10)"}}}, "columns[0].type", `unknown type "varchar(10)"; want one of`},
		{"hive expression", Schema{Columns: []Column{{Name: "a", Type: "array<string>"}}}, "columns[0].type", "declare nested types as type struct, array or map"},
		{"decimal precision", Schema{Columns: []Column{{Name: "a", Type: "decimal(39,2)"}}}, "columns[0].type", "want decimal(p,s) with 1 <= p <= 38 and 0 <= s <= p"},
		{"decimal scale", Schema{Columns: []Column{{Name: "a", Type: "decimal(5,6)"}}}, "columns[0].type", "invalid decimal type"},
		{"decimal syntax", Schema{Columns: []Column{{Name: "a", Type: "decimal(5;2)"}}}, "columns[0].type", "invalid decimal type"},
		{"timestamp unit", Schema{Columns: []Column{{Name: "a", Type: "timestamp", TimestampUnit: "nanos"}}}, "columns[0].timestamp_unit", `unknown timestamp unit "nanos"; want millis or micros`},
		{"unit on string", Schema{Columns: []Column{{Name: "a", Type: "string", TimestampUnit: "millis"}}}, "columns[0].timestamp_unit", "timestamp_unit applies to timestamp columns only"},
		{"empty struct", Schema{Columns: []Column{{Name: "a", Type: "struct"}}}, "columns[0].fields", "a struct needs at least one field"},
		{"nested error", Schema{Columns: []Column{str("a"), {Name: "s", Type: "struct", Fields: []Column{str("x"), {Name: "y", Type: "inte"}}}}}, "columns[1].fields[1].type", `unknown type "inte"`},
		{"fields on array", Schema{Columns: []Column{{Name: "a", Type: "array", Element: &Column{Type: "int"}, Fields: []Column{str("x")}}}}, "columns[0].fields", "fields apply to struct columns only, not array"},
		{"array without element", Schema{Columns: []Column{{Name: "a", Type: "array"}}}, "columns[0].element", "element is required: declare the type of the array's elements"},
		{"map without element", Schema{Columns: []Column{{Name: "a", Type: "map"}}}, "columns[0].element", "the type of the map's values (keys are strings)"},
		{"element on int", Schema{Columns: []Column{{Name: "a", Type: "int", Element: &Column{Type: "int"}}}}, "columns[0].element", "element applies to array and map columns only, not int"},
		{"bad element", Schema{Columns: []Column{{Name: "a", Type: "array", Element: &Column{Type: "list"}}}}, "columns[0].element.type", `unknown type "list"`},
		{"too deep", Schema{Columns: []Column{deep}}, "columns[0]" + strings.Repeat(".fields[0]", maxDepth), "nesting is deeper than 64 levels"},
	} {
		err := tc.schema.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v; want nil", tc.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Message, tc.message) {
			t.Errorf("%s: Validate() = %v; want a *FieldError for %s containing %q", tc.name, err, tc.field, tc.message)
		}
		if _, err := NewWriter(nil, &tc.schema, Options{}); !errors.As(err, &fe) {
			t.Errorf("%s: NewWriter() = %v; want the *FieldError", tc.name, err)
		}
	}
}

func TestValidateLeafCount(t *testing.T) {
	cols := make([]Column, maxLeafColumns/2+1)
	for i := range cols {
		cols[i] = Column{Name: "m" + strconv.Itoa(i), Type: "map", Element: &Column{Type: "int"}}
	}
	s := Schema{Columns: cols}
	var fe *FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "columns" || !strings.Contains(fe.Message, "leaf columns; at most") {
		t.Errorf("Validate() of %d maps = %v; want too many leaf columns", len(cols), err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o       Options
		field   string
		message string
	}{
		{Options{}, "", ""},
		{Options{Compression: "gzip", RowGroupBytes: 1, PageBytes: 1, Dictionary: true, WriterVersion: "v2"}, "", ""},
		{Options{Compression: "LZ4"}, "compression", `unknown compression "LZ4"; want one of SNAPPY, GZIP, ZSTD, UNCOMPRESSED`},
		{Options{RowGroupBytes: -1}, "row_group_bytes", "must not be negative"},
		{Options{PageBytes: -1}, "page_bytes", "must not be negative"},
		{Options{PageBytes: 2 << 30}, "page_bytes", "must be at most 1 GiB"},
		{Options{WriterVersion: "V3"}, "writer_version", `unknown writer version "V3"; want V1 or V2`},
	} {
		err := tc.o.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v.Validate() = %v; want nil", tc.o, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Message, tc.message) {
			t.Errorf("%+v.Validate() = %v; want a *FieldError for %s containing %q", tc.o, err, tc.field, tc.message)
		}
	}
}
