package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// The keys of the record destinations: an HTTP endpoint and ClickHouse.

var httpSpec = &object{atMostOne: []string{"access_key", "access_key_env"}, fields: []*field{{
	key: "url",
	doc: "Endpoint the records are POSTed to, following Firehose's HTTP endpoint " +
		"delivery protocol. Setting it makes the destination an HTTP endpoint: bucket, " +
		"prefix and error_output_prefix then say where failed records (and, with " +
		"backup.mode AllData, every record) are written.",
	typ:     "URL, https:// (http:// only to loopback, unless allow_insecure_http)",
	example: `""`,
	value:   str(func(c *webhook.Config) *string { return &c.URL }, nil),
}, {
	key:   "allow_insecure_http",
	doc:   "Accepts an http:// URL to a host that is not loopback; records and the access key then cross the network in the clear.",
	value: boolean(func(c *webhook.Config) *bool { return &c.AllowInsecureHTTP }),
}, {
	key:      "access_key",
	doc:      "Sent in X-Amz-Firehose-Access-Key, written in this file. Prefer access_key_env.",
	example:  "endpoint-secret",
	disabled: true,
	value:    str(func(c *webhook.Config) *string { return &c.AccessKey }, nil),
}, {
	key:      "access_key_env",
	doc:      "Name of the environment variable holding the access key.",
	example:  "HYDRANT_ENDPOINT_KEY",
	disabled: true,
	value:    envSecret(func(c *webhook.Config) *string { return &c.AccessKey }),
}, {
	key:   "common_attributes",
	doc:   "Sent with every request in X-Amz-Firehose-Common-Attributes.",
	value: stringMap(func(c *webhook.Config) *map[string]string { return &c.CommonAttributes }),
}, {
	key:   "content_encoding",
	doc:   "GZIP compresses request bodies (Content-Encoding: gzip).",
	rng:   webhook.EncodingNone + " or " + webhook.EncodingGzip,
	dflt:  `default: "" (` + webhook.EncodingNone + `)`,
	value: str(func(c *webhook.Config) *string { return &c.ContentEncoding }, nil),
}, {
	key:   "ca_file",
	doc:   "PEM file of certificate authorities trusted besides the system's, for an endpoint with a private CA.",
	value: str(func(c *webhook.Config) *string { return &c.CAFile }, nil),
}, {
	key:   "insecure_skip_verify",
	doc:   "Skips the check of the endpoint's TLS certificate. For testing only.",
	value: boolean(func(c *webhook.Config) *bool { return &c.InsecureSkipVerify }),
}, {
	key:   "request_timeout",
	doc:   "Bound on one attempt, from sending the request to reading the whole answer.",
	dflt:  "default: 0s (" + webhook.DefaultRequestTimeout.String() + ")",
	value: duration(func(c *webhook.Config) *time.Duration { return &c.RequestTimeout }),
}, {
	key: "retry_duration",
	doc: "How long a request is retried after its first attempt failed (Firehose's " +
		"RetryOptions.DurationInSeconds); then its records go to the error output as " +
		"http-endpoint-failed.",
	rng:   "0s to " + webhook.MaxRetryDuration.String(),
	dflt:  "default: 0s (" + webhook.DefaultRetryDuration.String() + ")",
	value: duration(func(c *webhook.Config) *time.Duration { return &c.RetryDuration }),
}, {
	key:   "max_records_per_request",
	doc:   "Most records in one request.",
	rng:   fmt.Sprintf("1 to %d", webhook.MaxRecordsPerRequest),
	dflt:  fmt.Sprintf("default: 0 (%d)", webhook.MaxRecordsPerRequest),
	value: integer(func(c *webhook.Config) *int { return &c.MaxRecordsPerRequest }),
}, {
	key:   "max_bytes_per_request",
	doc:   "Largest request body, before compression; one body is held in memory at a time.",
	dflt:  "default: 0 (64MiB)",
	value: intSize(func(c *webhook.Config) *int { return &c.MaxBytesPerRequest }),
}}}

var clickhouseSpec = &object{atMostOne: []string{"password", "password_env"}, fields: []*field{{
	key: "addrs",
	doc: "Native-protocol addresses (host:port) of the ClickHouse servers, tried in " +
		"order. Setting them makes the destination ClickHouse: one INSERT per buffer, " +
		"so the buffering hints set the size of each part ClickHouse writes.",
	example: "[]",
	value:   stringList(func(c *clickhouse.Config) *[]string { return &c.Addrs }),
}, {
	key:   "database",
	doc:   "Database of the table.",
	dflt:  `default: "" (default)`,
	value: str(func(c *clickhouse.Config) *string { return &c.Database }, nil),
}, {
	key:   "table",
	doc:   "Table the records are inserted into.",
	value: str(func(c *clickhouse.Config) *string { return &c.Table }, nil),
}, {
	key:   "user",
	doc:   "User the inserts run as.",
	dflt:  `default: "" (default)`,
	value: str(func(c *clickhouse.Config) *string { return &c.User }, nil),
}, {
	key:      "password",
	doc:      "Password, written in this file. Prefer password_env.",
	disabled: true,
	example:  "secret",
	value:    str(func(c *clickhouse.Config) *string { return &c.Password }, nil),
}, {
	key:      "password_env",
	doc:      "Name of the environment variable holding the password.",
	disabled: true,
	example:  "HYDRANT_CLICKHOUSE_PASSWORD",
	value:    envSecret(func(c *clickhouse.Config) *string { return &c.Password }),
}, {
	key:   "tls",
	doc:   "Connects with TLS, verifying the server's certificate.",
	value: boolean(func(c *clickhouse.Config) *bool { return &c.TLS }),
}, {
	key:   "ca_file",
	doc:   "PEM file of certificate authorities trusted besides the system's.",
	value: str(func(c *clickhouse.Config) *string { return &c.CAFile }, nil),
}, {
	key:   "insecure_skip_verify",
	doc:   "Skips the check of the server's TLS certificate. For testing only.",
	value: boolean(func(c *clickhouse.Config) *bool { return &c.InsecureSkipVerify }),
}, {
	key:   "compression",
	doc:   "Compression of the blocks sent: none, lz4 or zstd.",
	dflt:  `default: "" (lz4)`,
	value: str(func(c *clickhouse.Config) *string { return &c.Compression }, nil),
}, {
	key: "columns",
	doc: "Columns inserted into, and where each takes its value from. Empty means every " +
		"insertable column of the table, each from the top-level field of its name.",
	value: list(func(c *clickhouse.Config) *[]clickhouse.Column { return &c.Columns }, func() clickhouse.Column { return clickhouse.Column{} }, &object{fields: []*field{{
		key:      "name",
		doc:      "Column name.",
		required: true,
		example:  "user_id",
		value:    str(func(c *clickhouse.Column) *string { return &c.Name }, notEmpty("the column name")),
	}, {
		key: "type",
		doc: "ClickHouse type, such as String, UInt64, Float64, Date, DateTime, " +
			"Nullable(String) or Array(Int32); empty means the table's. Required with create_table.",
		example: "String",
		value:   str(func(c *clickhouse.Column) *string { return &c.Type }, nil),
	}, {
		key:   "path",
		doc:   "Field the value comes from, as a dotted path such as .user.id; empty means the top-level field named like the column.",
		value: str(func(c *clickhouse.Column) *string { return &c.Path }, nil),
	}, {
		key:   "required",
		doc:   "Rejects a record whose field is missing or null, instead of storing NULL or the type's zero value.",
		value: boolean(func(c *clickhouse.Column) *bool { return &c.Required }),
	}}}),
}, {
	key:   "unknown_fields",
	doc:   "What a field no column takes does to its record: ignore it, or reject the record to the error output.",
	rng:   "ignore or reject",
	dflt:  `default: "" (ignore)`,
	value: str(func(c *clickhouse.Config) *string { return &c.UnknownFields }, nil),
}, {
	key:   "create_table",
	doc:   "Creates the table from columns if it does not exist.",
	value: boolean(func(c *clickhouse.Config) *bool { return &c.CreateTable }),
}, {
	key:   "engine",
	doc:   "ENGINE clause of the table create_table creates.",
	dflt:  `default: "" (` + clickhouse.DefaultEngine + `)`,
	value: str(func(c *clickhouse.Config) *string { return &c.Engine }, nil),
}}}

// duration is a Go duration string such as 30s or 5m.
func duration[P any](get func(*P) *time.Duration) *value {
	return scalar("duration", get, func(n *yaml.Node) (time.Duration, error) {
		s, err := decodeString(n)
		if err != nil {
			return 0, err
		}
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: use a number and a unit, such as 30s or 5m", s)
		}
		return d, nil
	}, func(d time.Duration) string { return d.String() })
}

// intSize is a size stored in an int.
func intSize[P any](get func(*P) *int) *value {
	return scalar("size", get, func(n *yaml.Node) (int, error) {
		v, err := decodeSize(n)
		if err != nil {
			return 0, err
		}
		if v > 1<<40 {
			return 0, fmt.Errorf("%d is too large", v)
		}
		return int(v), nil
	}, func(v int) string { return formatSize(int64(v)) })
}

// stringList is a list of strings.
func stringList[P any](get func(*P) *[]string) *value {
	return scalar("list of strings", get, func(n *yaml.Node) ([]string, error) {
		if isNull(n) {
			return nil, nil
		}
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("expected a list of strings, found %s", describe(n))
		}
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			s, err := decodeString(resolve(item))
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}, func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = yamlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	})
}
