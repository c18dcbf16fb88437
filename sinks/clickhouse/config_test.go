package clickhouse

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := func() Config {
		return Config{Addrs: []string{"127.0.0.1:9000"}, Table: "events"}
	}
	for _, tt := range []struct {
		name   string
		change func(*Config)
		want   string // "" is valid
	}{
		{"minimal", func(c *Config) {}, ""},
		{"full", func(c *Config) {
			c.Addrs = []string{"ch1:9440", "[::1]:9440"}
			c.TLS, c.CAFile, c.Compression, c.UnknownFields = true, "/ca.pem", "zstd", "reject"
			c.CreateTable, c.Engine = true, "MergeTree() ORDER BY id"
			c.Columns = []Column{{Name: "id", Type: "UInt64"}, {Name: "u", Type: "Nullable(String)", Path: ".user.name"}}
			c.Settings = map[string]int{"insert_quorum": 2}
		}, ""},
		{"no addrs", func(c *Config) { c.Addrs = nil }, "no server address"},
		{"url addr", func(c *Config) { c.Addrs = []string{"http://ch:8123"} }, `invalid address "http://ch:8123"`},
		{"no port", func(c *Config) { c.Addrs = []string{"ch"} }, "want host:port"},
		{"no table", func(c *Config) { c.Table = "" }, "no table"},
		{"compression", func(c *Config) { c.Compression = "gzip" }, `unknown compression "gzip": want none, lz4 or zstd`},
		{"unknown fields", func(c *Config) { c.UnknownFields = "drop" }, "want ignore or reject"},
		{"ca without tls", func(c *Config) { c.CAFile = "/ca.pem" }, "TLS is off"},
		{"skip verify without tls", func(c *Config) { c.InsecureSkipVerify = true }, "TLS is off too"},
		{"engine without create", func(c *Config) { c.Engine = "Log" }, "create_table is off"},
		{"create without columns", func(c *Config) { c.CreateTable = true }, "create_table needs the columns"},
		{"create untyped", func(c *Config) {
			c.CreateTable = true
			c.Columns = []Column{{Name: "id"}}
		}, `column "id" has no type, which create_table needs`},
		{"bad type", func(c *Config) { c.Columns = []Column{{Name: "p", Type: "Decimal(10,2)"}} }, `column "p": type "Decimal(10,2)": Decimal is not a type the sink converts JSON into`},
		{"bad path", func(c *Config) { c.Columns = []Column{{Name: "p", Path: ".items[0]"}} }, `column "p": invalid path ".items[0]"`},
		{"twice", func(c *Config) { c.Columns = []Column{{Name: "a"}, {Name: "a"}} }, `column "a" is listed twice`},
		{"unnamed", func(c *Config) { c.Columns = []Column{{Type: "String"}} }, "column 1 has no name"},
		{"negative", func(c *Config) { c.DialTimeout = -1 }, "must not be negative"},
		{"setting", func(c *Config) { c.Settings = map[string]int{"a b": 1} }, `invalid setting name "a b"`},
	} {
		c := ok()
		tt.change(&c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}
