package http

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := func(mod func(*Config)) Config {
		c := Config{URL: "https://fn.example.com/transform"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string // part of the error; "" for valid
	}{
		{"https", ok(nil), ""},
		{"query and port", ok(func(c *Config) { c.URL = "https://fn.example.com:8443/api/v1/web/ns/default/t.json?blocking=true" }), ""},
		{"http to loopback", ok(func(c *Config) { c.URL = "http://127.0.0.1:8080/" }), ""},
		{"http to localhost", ok(func(c *Config) { c.URL = "http://localhost/" }), ""},
		{"http to ::1", ok(func(c *Config) { c.URL = "http://[::1]:9000/" }), ""},
		{"http allowed", ok(func(c *Config) { c.URL, c.AllowInsecureHTTP = "http://fn.default.svc.cluster.local/", true }), ""},
		{"headers and token", ok(func(c *Config) {
			c.Headers = map[string]string{"X-Api-Key": "k", "X-Require-Whisk-Auth": "w\tx"}
			c.BearerToken = "t"
		}), ""},
		{"authorization header", ok(func(c *Config) { c.Headers = map[string]string{"authorization": "Basic dTpw"} }), ""},
		{"connections", ok(func(c *Config) { c.MaxConnections = MaxMaxConnections }), ""},

		{"no URL", Config{}, "has no URL"},
		{"relative URL", ok(func(c *Config) { c.URL = "/transform" }), "want https://host"},
		{"ftp", ok(func(c *Config) { c.URL = "ftp://fn.example.com/" }), "want https://host"},
		{"no host", ok(func(c *Config) { c.URL = "https:///x" }), "want https://host"},
		{"opaque", ok(func(c *Config) { c.URL = "https:fn.example.com" }), "want https://host"},
		{"bad URL", ok(func(c *Config) { c.URL = "https://fn.example.com/%zz?key=s3cret" }), "invalid http function URL"},
		{"credentials", ok(func(c *Config) { c.URL = "https://user:pw@fn.example.com/" }), "holds credentials"},
		{"fragment", ok(func(c *Config) { c.URL = "https://fn.example.com/#x" }), "#fragment"},
		{"http", ok(func(c *Config) { c.URL = "http://fn.example.com/" }), "allow plain HTTP explicitly"},
		{"http with CA file", ok(func(c *Config) { c.URL, c.CAFile = "http://127.0.0.1/", "ca.pem" }), "not https://"},
		{"http without verification", ok(func(c *Config) { c.URL, c.InsecureSkipVerify = "http://127.0.0.1/", true }), "not https://"},
		{"CA file and no verification", ok(func(c *Config) { c.CAFile, c.InsecureSkipVerify = "ca.pem", true }), "keep one"},
		{"empty header name", ok(func(c *Config) { c.Headers = map[string]string{"": "v"} }), "not an HTTP token"},
		{"header name with space", ok(func(c *Config) { c.Headers = map[string]string{"X Key": "v"} }), `"X Key" is not an HTTP token`},
		{"header name with colon", ok(func(c *Config) { c.Headers = map[string]string{"X-Key:": "v"} }), "not an HTTP token"},
		{"content type", ok(func(c *Config) { c.Headers = map[string]string{"content-type": "text/plain"} }), "Content-Type is set by Hydrant"},
		{"accept encoding", ok(func(c *Config) { c.Headers = map[string]string{"Accept-Encoding": "br"} }), "Accept-Encoding is set by Hydrant"},
		{"host", ok(func(c *Config) { c.Headers = map[string]string{"Host": "other"} }), "Host is set by Hydrant"},
		{"same header twice", ok(func(c *Config) { c.Headers = map[string]string{"X-Key": "a", "x-key": "b"} }), "are the same header"},
		{"newline in value", ok(func(c *Config) { c.Headers = map[string]string{"X-Key": "s3cret\r\nX-Evil: 1"} }), "X-Key has a control character at byte 6"},
		{"token and authorization", ok(func(c *Config) {
			c.Headers = map[string]string{"Authorization": "Basic x"}
			c.BearerToken = "t"
		}), "keep one"},
		{"token with newline", ok(func(c *Config) { c.BearerToken = "s3cret\n" }), "bearer token has a control character"},
		{"token with Bearer", ok(func(c *Config) { c.BearerToken = "bearer s3cret" }), `starts with "Bearer "`},
		{"negative connections", ok(func(c *Config) { c.MaxConnections = -1 }), "out of range"},
		{"too many connections", ok(func(c *Config) { c.MaxConnections = MaxMaxConnections + 1 }), "out of range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate(%v) = %v; want nil", tt.cfg, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate(%v) = %v; want an error with %q", tt.cfg, err, tt.want)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Fatalf("Validate(%v) = %v: the message holds a secret", tt.cfg, err)
			}
		})
	}
}

func TestNewCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600)
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.pem"), "cannot read the http function's CA file"},
		{notPEM, "holds no PEM certificate"},
	} {
		_, err := New(Config{URL: "https://fn.example.com/", CAFile: tt.file}, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New with CA file %s = %v; want an error with %q", tt.file, err, tt.want)
		}
	}
}

func TestConfigString(t *testing.T) {
	c := Config{
		URL:         "https://fn.example.com/t?code=s3cret-query",
		Headers:     map[string]string{"X-Api-Key": "s3cret-header"},
		BearerToken: "s3cret-token",
	}
	s := c.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "X-Api-Key") || !strings.Contains(s, "https://fn.example.com/t?…") {
		t.Fatalf("Config.String() = %s; want the URL without its query, header names, and no secret", s)
	}
}
