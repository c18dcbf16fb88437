package config

import (
	"strings"
	"testing"
)

func TestParseHiveType(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"string", "string"},
		{" BIGINT ", "bigint"},
		{"varchar(20)", "string"},
		{"decimal(10, 2)", "decimal(10,2)"},
		{"decimal", "decimal(10,0)"},
		{"array<string>", "array<string>"},
		{"map<string, array<int>>", "map<string,array<int>>"},
		{"struct<a:int, b:struct<c:timestamp,d:array<double>>>", "struct<a:int,b:struct<c:timestamp,d:array<double>>>"},
	} {
		c, err := parseHiveType(tc.in)
		if err != nil {
			t.Errorf("parseHiveType(%q) = %v", tc.in, err)
			continue
		}
		if got := formatHiveType(c); got != tc.want {
			t.Errorf("formatHiveType(parseHiveType(%q)) = %q; want %q", tc.in, got, tc.want)
		}
	}
	c, _ := parseHiveType("struct<a:int>")
	if len(c.Fields) != 1 || c.Fields[0].Name != "a" || !c.Fields[0].Optional {
		t.Errorf("struct<a:int> = %+v; want one optional field a", c)
	}
	for _, tc := range []struct{ in, want string }{
		{"", "expected a type name, found the end"},
		{"array<string", `expected '>', found the end`},
		{"struct<:int>", "expected a field name"},
		{"map<int,string>", "map keys must be string"},
		{"string extra", `unexpected "extra" after the type`},
		{strings.Repeat("array<", 40) + "int" + strings.Repeat(">", 40), "nested more than"},
	} {
		if _, err := parseHiveType(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseHiveType(%q) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestParseProcessingErrors(t *testing.T) {
	base := "streams:\n  - name: s\n    destination:\n      bucket: bkt\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "      format_conversion:\n        enabled: true\n        schema:\n          - {name: a, type: \"array<int\"}\n",
			`hydrant.yaml:8:29: streams[0].destination.format_conversion.schema[0].type: invalid type "array<int" at column 10: expected '>', found the end`},
		{base + "      format_conversion:\n        enabled: true\n        schema:\n          - {name: a, type: strnig}\n",
			"hydrant.yaml:8:29: streams[0].destination.format_conversion.schema[0].type: unknown type \"strnig\""},
		{base + "      dynamic_partitioning: {enabled: true}\n      prefix: \"x/!{partitionKeyFromQuery:k}/\"\n      error_output_prefix: \"e/\"\n      processing:\n        metadata_extraction_query: \"{k: .a\"\n",
			"hydrant.yaml:9:36: streams[0].destination.processing.metadata_extraction_query: invalid jq query"},
		{base + "      encryption: {client_side: yes please}\n", "hydrant.yaml:5:33: streams[0].destination.encryption.client_side"},
	} {
		_, err := Parse("hydrant.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}
