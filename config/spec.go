package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/clickhouse"
	"github.com/hydrantio/hydrant/sinks/s3"
	"github.com/hydrantio/hydrant/sinks/webhook"
)

// spec describes every key of the config file. It is the one place a key
// is documented: the decoder walks it to decode and check a file, and
// Reference renders it, with the defaults from Default and newStream.
var spec = &object{fields: []*field{{
	key:   "server",
	doc:   "How the server listens, where it keeps its data, and how it logs.",
	value: mapping(func(c *Config) *Server { return &c.Server }, serverSpec),
}, {
	key:   "auth",
	doc:   "Who may call the APIs.",
	value: mapping(func(c *Config) *Auth { return &c.Auth }, authSpec),
}, {
	key: "object_store",
	doc: "Where object destinations write. With no S3 endpoint, they write to the " +
		"embedded object store, which keeps bucket B as the directory <data_dir>/objects/B/.",
	value: mapping(func(c *Config) *ObjectStore { return &c.ObjectStore }, objectStoreSpec),
}, {
	key: "encryption",
	doc: "Master keys of client-side encryption, which destinations turn on with " +
		"encryption.client_side.",
	value: mapping(func(c *Config) *Encryption { return &c.Encryption }, encryptionSpec),
}, {
	key: "functions",
	doc: "Transformation functions, which streams run by name " +
		"(processing.function.name) over their records, with Firehose's Lambda " +
		"transformation contract.",
	value: list(func(c *Config) *[]Function { return &c.Functions }, newFunction, functionSpec),
}, {
	key: "streams",
	doc: "Delivery streams declared by this file. The API can use them but cannot " +
		"update or delete them.",
	value: list(func(c *Config) *[]delivery.StreamConfig { return &c.Streams }, newStream, streamSpec),
}}}

var serverSpec = &object{fields: []*field{{
	key: "data_dir",
	doc: "Directory holding everything Hydrant stores: the stream logs, delivery " +
		"checkpoints, streams created through the API, and the embedded object store, " +
		"which keeps bucket B as the directory <data_dir>/objects/B/.",
	value: str(func(s *Server) *string { return &s.DataDir }, notEmpty("a directory, such as ./data")),
}, {
	key: "http_addr",
	doc: "Address the HTTP listener binds: the Firehose API (POST / with X-Amz-Target), " +
		"the REST gateway (/v1/…), /metrics, /healthz, /readyz and the web console.",
	typ:   "host:port",
	value: str(func(s *Server) *string { return &s.HTTPAddr }, hostPort),
}, {
	key:   "grpc_addr",
	doc:   "Address the gRPC listener binds.",
	typ:   "host:port",
	value: str(func(s *Server) *string { return &s.GRPCAddr }, hostPort),
}, {
	key: "kafka_addr",
	doc: "Address the Kafka-protocol listener binds; producers write to a stream as " +
		"to a topic of the same name. Empty turns the listener off.",
	typ:   "host:port or empty",
	dflt:  `default: "" (off)`,
	value: str(func(s *Server) *string { return &s.KafkaAddr }, optional(hostPort)),
}, {
	key: "region",
	doc: "AWS region Hydrant answers as: it appears in stream ARNs and in the " +
		"credential scope of signed requests, so clients must be configured with it.",
	rng:   "lowercase letters, digits and hyphens",
	value: str(func(s *Server) *string { return &s.Region }, matches(regionPattern, "a region name", "lowercase letters, digits and hyphens, such as us-east-1")),
}, {
	key:   "account_id",
	doc:   "AWS account ID in stream ARNs (arn:aws:firehose:<region>:<account_id>:deliverystream/<name>).",
	rng:   "12 digits",
	value: str(func(s *Server) *string { return &s.AccountID }, matches(accountPattern, "an account ID", "12 digits, such as 000000000000")),
}, {
	key:   "log_level",
	doc:   "Least severe level of the log lines written.",
	value: level(func(s *Server) *slog.Level { return &s.LogLevel }),
}, {
	key:   "log_format",
	doc:   "Format of the log lines: text writes key=value pairs, json one object per line.",
	value: enum(func(s *Server) *string { return &s.LogFormat }, "log format", LogFormatText, LogFormatJSON),
}}}

var authSpec = &object{fields: []*field{{
	key: "access_keys",
	doc: "Access keys that may sign requests with AWS Signature Version 4, as the AWS " +
		"SDKs and CLI do with a profile's aws_access_key_id and aws_secret_access_key. " +
		"With none, only a development default is accepted, and only on loopback addresses.",
	value: list(func(a *Auth) *[]AccessKey { return &a.AccessKeys }, func() AccessKey { return AccessKey{} }, &object{
		oneOf: []string{"secret_access_key", "secret_access_key_env"},
		fields: []*field{{
			key:      "access_key_id",
			doc:      "Access key ID clients sign with.",
			required: true,
			example:  "AKIAIOSFODNN7EXAMPLE",
			value:    str(func(k *AccessKey) *string { return &k.ID }, notEmpty("the key ID clients sign with")),
		}, {
			key: "secret_access_key",
			doc: "Secret access key, written in this file. Prefer secret_access_key_env, " +
				"which keeps the secret out of the file.",
			dflt:     "required unless secret_access_key_env is set",
			example:  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			disabled: true,
			value:    str(func(k *AccessKey) *string { return &k.Secret }, notEmpty("the secret access key")),
		}, {
			key: "secret_access_key_env",
			doc: "Name of the environment variable holding the secret access key. It must be " +
				"set, and not empty, when the file is loaded.",
			dflt:    "required unless secret_access_key is set",
			example: referenceEnv,
			value:   envSecret(func(k *AccessKey) *string { return &k.Secret }),
		}},
	}),
}}}

var objectStoreSpec = &object{fields: []*field{{
	key: "s3",
	doc: "An S3-compatible server (AWS S3, MinIO, …) that object destinations write to " +
		"instead of the embedded object store. An object is written with one PUT, or as a " +
		"multipart upload when larger than part_size; either way it appears whole or not " +
		"at all, and a redelivery after a crash overwrites it, so delivery stays exactly-once.",
	value: mapping(func(o *ObjectStore) *s3.Config { return &o.S3 }, s3Spec),
}}}

var s3Spec = &object{
	atMostOne: []string{"secret_access_key", "secret_access_key_env"},
	fields: []*field{{
		key: "endpoint",
		doc: "URL of the S3 server, without a path; https:// connects with TLS. Empty " +
			"keeps the embedded object store. hydrant serve --s3-endpoint overrides it.",
		typ:     "URL",
		rng:     "http://host[:port] or https://host[:port]",
		dflt:    `default: "" (the embedded object store)`,
		example: `""`,
		value:   str(func(c *s3.Config) *string { return &c.Endpoint }, optional(s3Endpoint)),
	}, {
		key: "region",
		doc: "Region requests are signed for, and new buckets are created in. Empty " +
			"means the environment variable " + s3.EnvRegion + ", or " + s3.DefaultRegion + " when it is unset.",
		rng:   "lowercase letters, digits and hyphens",
		dflt:  `default: "" (` + s3.EnvRegion + `, else ` + s3.DefaultRegion + `)`,
		value: str(func(c *s3.Config) *string { return &c.Region }, optional(matches(regionPattern, "a region name", "lowercase letters, digits and hyphens, such as us-east-1"))),
	}, {
		key: "access_key_id",
		doc: "Access key ID requests are signed with. With neither it nor a secret set, the " +
			"environment variables " + s3.EnvAccessKeyID + ", " + s3.EnvSecretAccessKey + " and " +
			s3.EnvSessionToken + " are used, as the AWS SDKs do.",
		dflt:  `default: "" (` + s3.EnvAccessKeyID + `)`,
		value: str(func(c *s3.Config) *string { return &c.AccessKeyID }, nil),
	}, {
		key: "secret_access_key",
		doc: "Secret access key, written in this file. Prefer secret_access_key_env, " +
			"which keeps the secret out of the file.",
		dflt:     `default: "" (` + s3.EnvSecretAccessKey + `)`,
		example:  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		disabled: true,
		value:    str(func(c *s3.Config) *string { return &c.SecretAccessKey }, notEmpty("the secret access key")),
	}, {
		key: "secret_access_key_env",
		doc: "Name of the environment variable holding the secret access key. It must be " +
			"set, and not empty, when the file is loaded.",
		dflt:     `default: "" (` + s3.EnvSecretAccessKey + `)`,
		example:  "HYDRANT_S3_SECRET_ACCESS_KEY",
		disabled: true,
		value:    envSecret(func(c *s3.Config) *string { return &c.SecretAccessKey }),
	}, {
		key: "force_path_style",
		doc: "Always address buckets as <endpoint>/<bucket>/<key> (path style). When false, " +
			"buckets are addressed as <bucket>.<endpoint>/<key> (virtual-host style) on " +
			"endpoints known to support it, such as AWS S3's, and in path style elsewhere, " +
			"which is what MinIO and most S3-compatible servers expect.",
		value: boolean(func(c *s3.Config) *bool { return &c.ForcePathStyle }),
	}, {
		key: "create_buckets",
		doc: "Create a destination's bucket on the first write into it when it does not " +
			"exist. When false, a missing bucket is an error, logged and retried, that names it.",
		value: boolean(func(c *s3.Config) *bool { return &c.CreateBuckets }),
	}, {
		key: "part_size",
		doc: "Objects larger than this are written as multipart uploads in parts of this " +
			"size, read one at a time, so it bounds the memory each upload in flight uses.",
		rng:   formatSize(s3.MinPartSize) + " to " + formatSize(s3.MaxPartSize),
		value: size(func(c *s3.Config) *int64 { return &c.PartSize }),
	}, {
		key: "ca_file",
		doc: "PEM file of certificate authorities trusted, on top of the system's, when " +
			"the endpoint is https://; for a server with a private CA.",
		example:  "/etc/hydrant/s3-ca.pem",
		disabled: true,
		value:    str(func(c *s3.Config) *string { return &c.CAFile }, nil),
	}, {
		key: "insecure_skip_verify",
		doc: "Skips the check of the server's TLS certificate. For testing only: anyone " +
			"on the path can then read and change what Hydrant writes.",
		value: boolean(func(c *s3.Config) *bool { return &c.InsecureSkipVerify }),
	}, {
		key: "sse",
		doc: "Server-side encryption the S3 server applies to every object written. A " +
			"destination's encryption.kms_key_arn asks for SSE-KMS with its own key instead.",
		value: mapping(func(c *s3.Config) *s3.SSEConfig { return &c.SSE }, sseSpec),
	}},
}

var sseSpec = &object{atMostOne: []string{"customer_key", "customer_key_env"}, fields: []*field{{
	key: "type",
	doc: "SSE-S3 (keys managed by the server), SSE-KMS (a key of the server's KMS) or " +
		"SSE-C (a key Hydrant sends with every request, which needs an https endpoint). " +
		"Empty sends no encryption header, so the bucket's default applies.",
	rng:  `"", ` + s3.SSES3 + ", " + s3.SSEKMS + " or " + s3.SSEC,
	dflt: `default: "" (the bucket's default)`,
	value: str(func(c *s3.SSEConfig) *string { return &c.Type }, optional(func(s string) error {
		if s != s3.SSES3 && s != s3.SSEKMS && s != s3.SSEC {
			return fmt.Errorf("%q is not a server-side encryption type: use %s", s, orList([]string{s3.SSES3, s3.SSEKMS, s3.SSEC}))
		}
		return nil
	})),
}, {
	key:     "kms_key_id",
	doc:     "With SSE-KMS, the key ID or ARN; empty means the server's default key.",
	example: `""`,
	value:   str(func(c *s3.SSEConfig) *string { return &c.KMSKeyID }, nil),
}, {
	key:   "kms_context",
	doc:   "With SSE-KMS, the encryption context sent with every object.",
	value: stringMap(func(c *s3.SSEConfig) *map[string]string { return &c.KMSContext }),
}, {
	key: "customer_key",
	doc: "With SSE-C, the 256-bit key as base64, written in this file. Prefer " +
		"customer_key_env. The server does not keep it: losing it loses the objects.",
	example:  "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	disabled: true,
	value:    str(func(c *s3.SSEConfig) *string { return &c.CustomerKey }, nil),
}, {
	key:      "customer_key_env",
	doc:      "With SSE-C, the name of the environment variable holding the key as base64.",
	example:  "HYDRANT_SSE_C_KEY",
	disabled: true,
	value:    envSecret(func(c *s3.SSEConfig) *string { return &c.CustomerKey }),
}}}

var streamSpec = &object{fields: []*field{{
	key: "name",
	doc: "Name of the delivery stream, by which producers and the Firehose API address " +
		"it; also its Kafka topic.",
	rng:      "1 to 64 of a-z A-Z 0-9 _ . -",
	required: true,
	example:  "events",
	value:    str(func(s *delivery.StreamConfig) *string { return &s.Name }, nil),
}, {
	key: "max_log_bytes",
	doc: "Disk limit of the stream's log. While the log is at the limit, producers get " +
		"ServiceUnavailableException until delivery catches up.",
	rng:   "at least " + formatSize(delivery.MinMaxLogBytes),
	value: size(func(s *delivery.StreamConfig) *int64 { return &s.MaxLogBytes }),
}, {
	key:     "tags",
	doc:     "Tags of the stream, as TagDeliveryStream sets and ListTagsForDeliveryStream lists them.",
	example: "{team: data}",
	value:   stringMap(func(s *delivery.StreamConfig) *map[string]string { return &s.Tags }),
}, {
	key: "destination",
	doc: "Where and how the stream delivers: to a bucket of the object store, as " +
		"Firehose's extended S3 destination does.",
	value: mapping(func(s *delivery.StreamConfig) *delivery.Destination { return &s.Destination }, destinationSpec),
}}}

var destinationSpec = &object{fields: []*field{{
	key: "bucket",
	doc: "Bucket the stream writes its objects to. The embedded object store keeps it " +
		"as the directory <data_dir>/objects/<bucket>/.",
	rng:      "3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit",
	required: true,
	example:  "events",
	value:    str(func(d *delivery.Destination) *string { return &d.Bucket }, nil),
}, {
	key: "prefix",
	doc: "Prepended to the key of every object delivered; it may hold Firehose's " +
		"!{…} expressions, such as !{timestamp:yyyy/MM/dd}. Empty means Firehose's " +
		"default, YYYY/MM/DD/HH/.",
	example: "logs/!{timestamp:yyyy/MM/dd}/",
	value:   str(func(d *delivery.Destination) *string { return &d.Prefix }, nil),
}, {
	key: "error_output_prefix",
	doc: "Prepended, instead of prefix, to the key of every object holding records " +
		"that failed for good; it may hold !{firehose:error-output-type} and " +
		"!{timestamp:…} expressions.",
	example: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
	value:   str(func(d *delivery.Destination) *string { return &d.ErrorOutputPrefix }, nil),
}, {
	key: "buffering",
	doc: "When a buffer of records is delivered: once it holds size_mb or is " +
		"interval_seconds old, whichever comes first.",
	value: mapping(func(d *delivery.Destination) *delivery.BufferingHints { return &d.Buffering }, &object{fields: []*field{{
		key:   "size_mb",
		doc:   "Buffer size, in MiB, that triggers a delivery.",
		rng:   fmt.Sprintf("%d to %d", delivery.MinBufferSizeMB, delivery.MaxBufferSizeMB),
		value: integer(func(b *delivery.BufferingHints) *int { return &b.SizeMB }),
	}, {
		key:   "interval_seconds",
		doc:   "Buffer age, in seconds, that triggers a delivery; 0 delivers as soon as possible.",
		rng:   fmt.Sprintf("%d to %d", delivery.MinBufferIntervalSec, delivery.MaxBufferIntervalSec),
		value: integer(func(b *delivery.BufferingHints) *int { return &b.IntervalSeconds }),
	}}}),
}, {
	key:     "compression",
	doc:     "Compression of the objects delivered.",
	rng:     "one of " + strings.Join(delivery.CompressionFormats, ", "),
	example: delivery.GZIP,
	value:   str(func(d *delivery.Destination) *string { return &d.Compression }, nil),
}, {
	key:   "processing",
	doc:   "Record processing before delivery, in this order: de-aggregation, partition key extraction, then the delimiter.",
	value: mapping(func(d *delivery.Destination) *delivery.Processing { return &d.Processing }, processingSpec),
}, {
	key:   "dynamic_partitioning",
	doc:   "Delivers records under prefixes computed from their content (Firehose's dynamic partitioning).",
	value: mapping(func(d *delivery.Destination) *delivery.DynamicPartitioning { return &d.DynamicPartitioning }, dynamicPartitioningSpec),
}, {
	key:   "format_conversion",
	doc:   "Converts JSON records to Apache Parquet (Firehose's record format conversion, with the schema given here).",
	value: mapping(func(d *delivery.Destination) *delivery.FormatConversion { return &d.FormatConversion }, formatConversionSpec),
}, {
	key:   "encryption",
	doc:   "How objects are encrypted.",
	value: mapping(func(d *delivery.Destination) *delivery.ObjectEncryption { return &d.Encryption }, objectEncryptionSpec),
}, {
	key: "backup",
	doc: "A copy of the source records, as they were put, in a second bucket (Firehose's " +
		"S3 backup). It is written with each batch, under a key made of the same log " +
		"range, so it is exactly-once too; it is encrypted as the objects are.",
	value: mapping(func(d *delivery.Destination) *delivery.Backup { return &d.Backup }, backupSpec),
}, {
	key: "s3",
	doc: "An S3 server of this destination's own, overriding object_store.s3 for its " +
		"objects; it takes the same keys. With no endpoint, the destination writes where " +
		"object_store says.",
	value: mapping(func(d *delivery.Destination) *s3.Config { return &d.S3 }, s3Spec),
}, {
	key:   "http",
	doc:   "An HTTP endpoint the records go to instead of objects (Firehose's HTTP endpoint destination).",
	value: mapping(func(d *delivery.Destination) *webhook.Config { return &d.HTTP }, httpSpec),
}, {
	key:   "clickhouse",
	doc:   "A ClickHouse table the records are inserted into instead of objects (a Hydrant extension).",
	value: mapping(func(d *delivery.Destination) *clickhouse.Config { return &d.ClickHouse }, clickhouseSpec),
}}}

var backupSpec = &object{fields: []*field{{
	key:   "mode",
	doc:   "Enabled copies every source record; Disabled copies none.",
	rng:   "one of " + strings.Join(delivery.BackupModes, ", "),
	dflt:  `default: "" (` + delivery.BackupDisabled + `)`,
	value: str(func(b *delivery.Backup) *string { return &b.Mode }, nil),
}, {
	key:     "bucket",
	doc:     "Bucket receiving the copies.",
	example: "events-backup",
	value:   str(func(b *delivery.Backup) *string { return &b.Bucket }, nil),
}, {
	key: "prefix",
	doc: "Prepended to the key of every copy; it may hold !{timestamp:…} expressions. " +
		"Empty means YYYY/MM/DD/HH/.",
	value: str(func(b *delivery.Backup) *string { return &b.Prefix }, nil),
}, {
	key:   "compression",
	doc:   "Compression of the copies.",
	rng:   "one of " + strings.Join(delivery.CompressionFormats, ", "),
	dflt:  "default: " + delivery.Uncompressed + " when enabled",
	value: str(func(b *delivery.Backup) *string { return &b.Compression }, nil),
}}}

// object describes a mapping of the config file.
type object struct {
	fields []*field // in the order the reference lists them
	// oneOf names keys of which exactly one must be set.
	oneOf []string
	// atMostOne names keys of which at most one may be set.
	atMostOne []string
}

// field describes one key.
type field struct {
	key string
	// doc says what the key means, in sentences.
	doc string
	// typ names the value's type when it is narrower than value's (host:port).
	typ string
	// rng says which values are accepted, when not all of the type.
	rng      string
	required bool
	// example is the value, as YAML, the reference shows instead of the default.
	example string
	// dflt is the reference's line about the default, when not "default: <value>".
	dflt string
	// disabled keys are shown commented out by the reference, because they
	// exclude a key it shows set.
	disabled bool
	value    *value
}

// value says what a key's value is and where it is stored. The
// constructors below fill it; dst is always a pointer to the Go value
// holding the mapping the key belongs to (*Config, *Server, …).
type value struct {
	typ string
	rng string
	// A scalar: decode stores n into dst; show returns dst's value as YAML.
	decode func(dst any, n *yaml.Node) error
	show   func(dst any) string
	// A mapping of strings to strings.
	strings func(dst any) *map[string]string
	// A mapping (sub returns its Go value in dst) or, when add is set, a
	// list of mappings (add appends an element with its defaults and
	// returns it; elem returns one for the reference).
	obj  *object
	sub  func(dst any) any
	add  func(dst any) any
	elem func() any
}

func (o *object) field(key string) *field {
	for _, f := range o.fields {
		if f.key == key {
			return f
		}
	}
	return nil
}

func (o *object) keys() string {
	keys := make([]string, len(o.fields))
	for i, f := range o.fields {
		keys[i] = f.key
	}
	return strings.Join(keys, ", ")
}

func scalar[P, V any](typ string, get func(*P) *V, decode func(*yaml.Node) (V, error), show func(V) string) *value {
	return &value{
		typ: typ,
		decode: func(dst any, n *yaml.Node) error {
			v, err := decode(n)
			if err != nil {
				return err
			}
			*get(dst.(*P)) = v
			return nil
		},
		show: func(dst any) string { return show(*get(dst.(*P))) },
	}
}

// str is a string; check, if set, says what is wrong with one.
func str[P any](get func(*P) *string, check func(string) error) *value {
	return scalar("string", get, func(n *yaml.Node) (string, error) {
		s, err := decodeString(n)
		if err == nil && check != nil {
			err = check(s)
		}
		return s, err
	}, yamlString)
}

// enum is a string, one of names.
func enum[P any](get func(*P) *string, what string, names ...string) *value {
	v := str(get, func(s string) error {
		for _, name := range names {
			if s == name {
				return nil
			}
		}
		return fmt.Errorf("%q is not a %s: use %s", s, what, orList(names))
	})
	v.rng = "one of " + strings.Join(names, ", ")
	return v
}

var levels = []struct {
	name  string
	level slog.Level
}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}}

// level is a log level, by its lower-case name.
func level[P any](get func(*P) *slog.Level) *value {
	names := make([]string, len(levels))
	for i, l := range levels {
		names[i] = l.name
	}
	v := scalar("string", get, func(n *yaml.Node) (slog.Level, error) {
		s, err := decodeString(n)
		if err != nil {
			return 0, err
		}
		for _, l := range levels {
			if s == l.name {
				return l.level, nil
			}
		}
		return 0, fmt.Errorf("%q is not a log level: use %s", s, orList(names))
	}, func(l slog.Level) string { return strings.ToLower(l.String()) })
	v.rng = "one of " + strings.Join(names, ", ")
	return v
}

func boolean[P any](get func(*P) *bool) *value {
	return scalar("boolean", get, decodeBool, strconv.FormatBool)
}

func integer[P any](get func(*P) *int) *value {
	return scalar("integer", get, decodeInt, strconv.Itoa)
}

func size[P any](get func(*P) *int64) *value {
	return scalar("size", get, decodeSize, formatSize)
}

// envSecret is the name of an environment variable; the variable's value
// is stored, read when the file is decoded.
func envSecret[P any](get func(*P) *string) *value {
	return &value{
		typ: "string",
		decode: func(dst any, n *yaml.Node) error {
			name, err := decodeString(n)
			if err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("is empty: name the environment variable holding the secret")
			}
			secret, ok := os.LookupEnv(name)
			if !ok {
				return fmt.Errorf("environment variable %s is not set", name)
			}
			if secret == "" {
				return fmt.Errorf("environment variable %s is empty", name)
			}
			*get(dst.(*P)) = secret
			return nil
		},
		show: func(any) string { return `""` },
	}
}

func stringMap[P any](get func(*P) *map[string]string) *value {
	return &value{
		typ:     "mapping of strings to strings",
		strings: func(dst any) *map[string]string { return get(dst.(*P)) },
		show: func(dst any) string {
			m := *get(dst.(*P))
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for i, k := range keys {
				keys[i] = yamlString(k) + ": " + yamlString(m[k])
			}
			return "{" + strings.Join(keys, ", ") + "}"
		},
	}
}

func mapping[P, C any](get func(*P) *C, o *object) *value {
	return &value{typ: "mapping", obj: o, sub: func(dst any) any { return get(dst.(*P)) }}
}

func list[P, E any](get func(*P) *[]E, newElem func() E, o *object) *value {
	return &value{
		typ: "list",
		obj: o,
		add: func(dst any) any {
			s := get(dst.(*P))
			*s = append(*s, newElem())
			return &(*s)[len(*s)-1]
		},
		elem: func() any {
			e := newElem()
			return &e
		},
	}
}

// Checks of string values.

func notEmpty(what string) func(string) error {
	return func(s string) error {
		if s == "" {
			return fmt.Errorf("is empty: set %s", what)
		}
		return nil
	}
}

func optional(check func(string) error) func(string) error {
	return func(s string) error {
		if s == "" {
			return nil
		}
		return check(s)
	}
}

func hostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%q is not a host:port address: use one such as 127.0.0.1:4573, or :4573 for every interface", s)
	}
	return nil
}

func s3Endpoint(s string) error {
	if _, err := s3.ParseEndpoint(s); err != nil {
		return fmt.Errorf("%q is not an S3 endpoint: use a URL such as https://s3.us-east-1.amazonaws.com or http://127.0.0.1:9000, without a path", s)
	}
	return nil
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

func matches(re *regexp.Regexp, what, help string) func(string) error {
	return func(s string) error {
		if !re.MatchString(s) {
			return fmt.Errorf("%q is not %s: use %s", s, what, help)
		}
		return nil
	}
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// yamlString formats s as a YAML scalar that reads back as the string s.
func yamlString(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}
