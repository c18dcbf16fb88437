package config

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/s3"
)

// withConfig returns the defaults changed by edit.
func withConfig(edit func(c *Config)) *Config {
	c := Default()
	edit(c)
	return c
}

// withStream returns a stream with the defaults, changed by edit.
func withStream(name, bucket string, edit func(s *delivery.StreamConfig)) delivery.StreamConfig {
	s := newStream()
	s.Name, s.Destination.Bucket = name, bucket
	s.Destination.Processing.Function = delivery.FunctionProcessing{} // no function: no preset retries
	if edit != nil {
		edit(&s)
	}
	return s
}

func TestDefault(t *testing.T) {
	want := &Config{Server: Server{
		DataDir:   "./data",
		HTTPAddr:  "127.0.0.1:4573",
		GRPCAddr:  "127.0.0.1:4574",
		KafkaAddr: "",
		Region:    "us-east-1",
		AccountID: "000000000000",
		LogLevel:  slog.LevelInfo,
		LogFormat: "text",
	}, ObjectStore: ObjectStore{S3: s3.Config{PartSize: 16 << 20}}}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() = %+v; want %+v", got, want)
	}
	// A file that sets nothing of a section gets the same defaults.
	for _, in := range []string{"server: {}\n", "server:\nauth:\nstreams:\n", "streams: []\n"} {
		got, err := Parse("hydrant.yaml", []byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, nil", in, got, err, want)
		}
	}
	// Delivery's defaults, with an unset interval taking Firehose's 300 s.
	s := newStream()
	if s.MaxLogBytes != delivery.DefaultMaxLogBytes || s.Destination.Buffering.SizeMB != 5 ||
		s.Destination.Buffering.IntervalSeconds != 300 || s.Destination.Compression != delivery.Uncompressed {
		t.Errorf("newStream() = %+v; want delivery's defaults", s)
	}
}

// full sets every key.
const full = `server:
  data_dir: /var/lib/hydrant
  http_addr: 0.0.0.0:8080
  grpc_addr: ":8081"
  kafka_addr: "[::1]:9092"
  region: eu-west-1
  account_id: 123456789012
  log_level: debug
  log_format: json
auth:
  access_keys:
    - access_key_id: AKIDFILE
      secret_access_key: file-secret
    - access_key_id: AKIDENV
      secret_access_key_env: HYDRANT_TEST_SECRET
object_store:
  s3:
    endpoint: https://s3.eu-west-1.amazonaws.com
    region: eu-west-1
    access_key_id: AKIDS3
    secret_access_key_env: HYDRANT_TEST_SECRET
    force_path_style: true
    create_buckets: true
    part_size: 8MiB
streams:
  - name: events
    max_log_bytes: 10GiB
    tags: {team: data, tier: "1"}
    destination:
      bucket: events
      prefix: "logs/!{timestamp:yyyy/MM/dd}/"
      error_output_prefix: "errors/!{firehose:error-output-type}/"
      buffering: {size_mb: 64, interval_seconds: 0}
      compression: GZIP
  - name: clicks.v2
    max_log_bytes: 536870912
    destination:
      bucket: clicks-archive
      buffering:
        size_mb: 128
      compression: ZSTD
`

func TestParse(t *testing.T) {
	t.Setenv("HYDRANT_TEST_SECRET", "env-secret")
	tests := []struct {
		name string
		in   string
		want *Config
	}{{
		name: "every key",
		in:   full,
		want: &Config{
			Server: Server{
				DataDir:   "/var/lib/hydrant",
				HTTPAddr:  "0.0.0.0:8080",
				GRPCAddr:  ":8081",
				KafkaAddr: "[::1]:9092",
				Region:    "eu-west-1",
				AccountID: "123456789012",
				LogLevel:  slog.LevelDebug,
				LogFormat: "json",
			},
			Auth: Auth{AccessKeys: []AccessKey{{"AKIDFILE", "file-secret"}, {"AKIDENV", "env-secret"}}},
			ObjectStore: ObjectStore{S3: s3.Config{
				Endpoint:        "https://s3.eu-west-1.amazonaws.com",
				Region:          "eu-west-1",
				AccessKeyID:     "AKIDS3",
				SecretAccessKey: "env-secret",
				ForcePathStyle:  true,
				CreateBuckets:   true,
				PartSize:        8 << 20,
			}},
			Streams: []delivery.StreamConfig{{
				Name:        "events",
				MaxLogBytes: 10 << 30,
				Tags:        map[string]string{"team": "data", "tier": "1"},
				Destination: delivery.Destination{
					Bucket:            "events",
					Prefix:            "logs/!{timestamp:yyyy/MM/dd}/",
					ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
					Buffering:         delivery.BufferingHints{SizeMB: 64, IntervalSeconds: 0},
					Compression:       delivery.GZIP,
				},
			}, {
				Name:        "clicks.v2",
				MaxLogBytes: 512 << 20,
				Destination: delivery.Destination{
					Bucket:      "clicks-archive",
					Buffering:   delivery.BufferingHints{SizeMB: 128, IntervalSeconds: 300},
					Compression: delivery.ZSTD,
				},
			}},
		},
	}, {
		name: "stream defaults",
		in:   "streams:\n  - name: s\n    destination: {bucket: b-1}\n",
		want: withConfig(func(c *Config) { c.Streams = []delivery.StreamConfig{withStream("s", "b-1", nil)} }),
	}, {
		name: "explicit zero interval is kept",
		in:   "streams:\n  - name: s\n    destination: {bucket: b-1, buffering: {interval_seconds: 0}}\n",
		want: withConfig(func(c *Config) {
			c.Streams = []delivery.StreamConfig{withStream("s", "b-1", func(s *delivery.StreamConfig) { s.Destination.Buffering.IntervalSeconds = 0 })}
		}),
	}, {
		name: "sizes",
		in: "streams:\n" +
			"  - {name: a, max_log_bytes: 1.5GiB, destination: {bucket: b-1}}\n" +
			"  - {name: b, max_log_bytes: 512 MiB, destination: {bucket: b-1}}\n" +
			"  - {name: c, max_log_bytes: 5mb, destination: {bucket: b-1}}\n" +
			"  - {name: d, max_log_bytes: 0x1000000, destination: {bucket: b-1}}\n",
		want: withConfig(func(c *Config) {
			c.Streams = []delivery.StreamConfig{
				withStream("a", "b-1", func(s *delivery.StreamConfig) { s.MaxLogBytes = 3 << 29 }),
				withStream("b", "b-1", func(s *delivery.StreamConfig) { s.MaxLogBytes = 512 << 20 }),
				withStream("c", "b-1", func(s *delivery.StreamConfig) { s.MaxLogBytes = 5e6 }),
				withStream("d", "b-1", func(s *delivery.StreamConfig) { s.MaxLogBytes = 16 << 20 }),
			}
		}),
	}, {
		name: "merge keys",
		in: `streams:
  - name: a
    destination: &dest
      bucket: shared
      compression: GZIP
      buffering: &buf {size_mb: 10}
  - name: b
    destination:
      <<: *dest
      compression: ZSTD
      buffering:
        <<: *buf
        interval_seconds: 60
`,
		want: withConfig(func(c *Config) {
			c.Streams = []delivery.StreamConfig{
				withStream("a", "shared", func(s *delivery.StreamConfig) {
					s.Destination.Compression = delivery.GZIP
					s.Destination.Buffering.SizeMB = 10
				}),
				withStream("b", "shared", func(s *delivery.StreamConfig) {
					s.Destination.Compression = delivery.ZSTD
					s.Destination.Buffering = delivery.BufferingHints{SizeMB: 10, IntervalSeconds: 60}
				}),
			}
		}),
	}, {
		name: "s3 with the credentials from the environment",
		in:   "object_store:\n  s3: {endpoint: \"http://127.0.0.1:9000/\", force_path_style: false}\n",
		want: withConfig(func(c *Config) { c.ObjectStore.S3.Endpoint = "http://127.0.0.1:9000/" }),
	}, {
		name: "s3 with the secret in the file",
		in:   "object_store:\n  s3: {access_key_id: AKID, secret_access_key: s, create_buckets: True}\n",
		want: withConfig(func(c *Config) {
			c.ObjectStore.S3.AccessKeyID, c.ObjectStore.S3.SecretAccessKey, c.ObjectStore.S3.CreateBuckets = "AKID", "s", true
		}),
	}, {
		name: "scalars keep their text",
		in:   "server:\n  account_id: 000000000000\n  region: local\n  kafka_addr:\n",
		want: withConfig(func(c *Config) { c.Server.Region = "local" }),
	}}
	for _, tt := range tests {
		got, err := Parse("hydrant.yaml", []byte(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Parse(%q) =\n%+v, %v\nwant\n%+v, nil", tt.name, tt.in, got, err, tt.want)
		}
	}
}

// errorTests are files that must fail to load, with the exact message.
// FuzzParse starts from them too.
var errorTests = []struct {
	in, want string
}{
	// Unknown keys.
	{"sever:\n  data_dir: x\n",
		`hydrant.yaml:1:1: unknown key "sever" (valid keys: server, auth, object_store, encryption, functions, streams)`},
	{"streams:\n  - name: events\n    destination:\n      bucket: events\n      buffering:\n        size_mbs: 5\n",
		`hydrant.yaml:6:9: streams[0].destination.buffering: unknown key "size_mbs" (valid keys: size_mb, interval_seconds)`},
	{"streams:\n- name: e\n  destination: {bucket: events, buffering: {size_mbs: 5}}\n",
		`hydrant.yaml:3:45: streams[0].destination.buffering: unknown key "size_mbs" (valid keys: size_mb, interval_seconds)`},
	{"x-destination: &dest {bucket: shared}\n",
		`hydrant.yaml:1:1: unknown key "x-destination" (valid keys: server, auth, object_store, encryption, functions, streams)`},

	// Wrong types.
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: {size_mb: five}\n",
		`hydrant.yaml:5:28: streams[0].destination.buffering.size_mb: expected an integer, found "five"`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: {size_mb: \"5\"}\n",
		`hydrant.yaml:5:28: streams[0].destination.buffering.size_mb: expected an integer, found "5"`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering:\n        interval_seconds: [1]\n",
		`hydrant.yaml:6:27: streams[0].destination.buffering.interval_seconds: expected an integer, found a list`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: 5\n",
		`hydrant.yaml:5:18: streams[0].destination.buffering: expected a mapping with keys size_mb, interval_seconds, found "5"`},
	{"- server\n",
		`hydrant.yaml:1:1: expected a mapping with keys server, auth, object_store, encryption, functions, streams, found a list`},
	{"streams: {name: events}\n",
		`hydrant.yaml:1:10: streams: expected a list, found a mapping`},
	{"streams: [events]\n",
		`hydrant.yaml:1:11: streams[0]: expected a mapping with keys name, max_log_bytes, tags, destination, found "events"`},
	{"server:\n  data_dir: {a: b}\n",
		`hydrant.yaml:2:13: server.data_dir: expected a string, found a mapping`},
	{"streams:\n  - name: e\n    tags: {team: [a, b]}\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:18: streams[0].tags.team: expected a string, found a list`},
	{"streams:\n  - name: e\n    tags: [team]\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:11: streams[0].tags: expected a mapping of strings to strings, found a list`},
	{"server:\n  ? [a, b]\n  : c\n",
		`hydrant.yaml:2:5: server: expected a key, found a list`},
	{"streams:\n  - name: e\n    destination:\n      <<: five\n      bucket: events\n",
		`hydrant.yaml:4:11: streams[0].destination: expected a mapping to merge, found "five"`},

	// Sizes.
	{"streams:\n  - name: e\n    max_log_bytes: -5\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: -5 is negative: ` + sizeHelp},
	{"streams:\n  - name: e\n    max_log_bytes: -1GiB\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "-1GiB" is negative: ` + sizeHelp},
	{"streams:\n  - name: e\n    max_log_bytes: 10XB\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "10XB" has an unknown unit "XB": ` + sizeHelp},
	{"streams:\n  - name: e\n    max_log_bytes: lots\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "lots" is not a size: ` + sizeHelp},
	{"streams:\n  - name: e\n    max_log_bytes: 1.5\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "1.5" is not a whole number of bytes`},
	{"streams:\n  - name: e\n    max_log_bytes: [1]\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: expected a size, found a list: ` + sizeHelp},
	{"streams:\n  - name: e\n    max_log_bytes: 99999999999999999999\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "99999999999999999999" is too large: the largest size is 9223372036854775807 bytes`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: {size_mb: 99999999999999999999}\n",
		`hydrant.yaml:5:28: streams[0].destination.buffering.size_mb: 99999999999999999999 is out of range for an integer`},
	{"streams:\n  - name: e\n    max_log_bytes: 1KiB\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: 1024 is below the minimum of 4194304 bytes`},
	{"streams:\n  - name: e\n    max_log_bytes: 9999999999TiB\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: "9999999999TiB" is too large: the largest size is 9223372036854775807 bytes`},

	// Stream validation, pointed at the value at fault.
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      compression: gzip2\n",
		`hydrant.yaml:5:20: streams[0].destination.compression: "gzip2" is not a compression format: use one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY, ZSTD`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: {size_mb: 0}\n",
		`hydrant.yaml:5:28: streams[0].destination.buffering.size_mb: 0 is out of range: use 1 to 128`},
	{"streams:\n  - name: e\n    destination:\n      bucket: events\n      buffering: {interval_seconds: -1}\n",
		`hydrant.yaml:5:37: streams[0].destination.buffering.interval_seconds: -1 is out of range: use 0 to 900`},
	{"streams:\n  - name: bad name\n    destination: {bucket: events}\n",
		`hydrant.yaml:2:11: streams[0].name: "bad name" is not a valid stream name: use 1 to 64 of a-z A-Z 0-9 _ . -, not starting with a dot`},
	{"streams:\n  - name: e\n    destination: {bucket: Events_1}\n",
		`hydrant.yaml:3:27: streams[0].destination.bucket: "Events_1" is not a valid bucket name: use 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit`},
	{"streams:\n  - name: e\n    max_log_bytes: 0\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:20: streams[0].max_log_bytes: 0 is below the minimum of 4194304 bytes`},

	// Missing and duplicate.
	{"streams:\n  - name: e\n    destination: {prefix: x/}\n",
		`hydrant.yaml:3:18: streams[0].destination: missing required key "bucket"`},
	{"streams:\n  - name: e\n    destination:\n",
		`hydrant.yaml:3:17: streams[0].destination: missing required key "bucket"`},
	{"streams:\n  - destination: {bucket: events}\n",
		`hydrant.yaml:2:5: streams[0]: missing required key "name"`},
	{"streams:\n  - name: events\n    destination: {bucket: a-1}\n  - name: clicks\n    destination: {bucket: a-2}\n  - name: events\n    destination: {bucket: a-3}\n",
		`hydrant.yaml:6:11: streams[2].name: duplicate stream name "events" (first at line 2)`},
	{"server:\n  http_addr: 127.0.0.1:1\n  region: eu-west-1\n  http_addr: 127.0.0.1:2\n",
		`hydrant.yaml:4:3: server: duplicate key "http_addr" (first at line 2)`},
	{"streams:\n  - name: e\n    tags: {a: 1, a: 2}\n    destination: {bucket: events}\n",
		`hydrant.yaml:3:18: streams[0].tags: duplicate key "a" (first at line 3)`},

	// The file as a whole.
	{"", `hydrant.yaml:1:1: ` + emptyFile},
	{"# nothing yet\n", `hydrant.yaml:1:1: ` + emptyFile},
	{"---\n", `hydrant.yaml:1:1: ` + emptyFile},
	{"server: {}\n---\nstreams: []\n",
		`hydrant.yaml:2:1: a second YAML document starts here: a config file holds exactly one; merge the two`},
	{"server:\n  data_dir: [\n",
		`hydrant.yaml:2: did not find expected node content`},
	{"server:\n  data_dir: a\n   http_addr: b\n",
		`hydrant.yaml:3: mapping values are not allowed in this context`},
	{"streams:\n  - name: e\n    destination: *dest\n",
		`hydrant.yaml: unknown anchor 'dest' referenced`},

	// Auth.
	{"auth:\n  access_keys:\n    - access_key_id: AKID\n      secret_access_key_env: HYDRANT_TEST_UNSET\n",
		`hydrant.yaml:4:30: auth.access_keys[0].secret_access_key_env: environment variable HYDRANT_TEST_UNSET is not set`},
	{"auth:\n  access_keys:\n    - access_key_id: AKID\n      secret_access_key_env: HYDRANT_TEST_EMPTY\n",
		`hydrant.yaml:4:30: auth.access_keys[0].secret_access_key_env: environment variable HYDRANT_TEST_EMPTY is empty`},
	{"auth:\n  access_keys:\n    - access_key_id: AKID\n",
		`hydrant.yaml:3:7: auth.access_keys[0]: missing key: set secret_access_key or secret_access_key_env`},
	{"auth:\n  access_keys:\n    - access_key_id: AKID\n      secret_access_key: s\n      secret_access_key_env: HYDRANT_TEST_SECRET\n",
		`hydrant.yaml:5:7: auth.access_keys[0]: secret_access_key_env and secret_access_key (line 4) exclude each other: set only one`},
	{"auth:\n  access_keys:\n    - secret_access_key: s\n",
		`hydrant.yaml:3:7: auth.access_keys[0]: missing required key "access_key_id"`},
	{"auth:\n  access_keys:\n    - {access_key_id: AKID, secret_access_key: a}\n    - {access_key_id: AKID, secret_access_key: b}\n",
		`hydrant.yaml:4:23: auth.access_keys[1].access_key_id: duplicate access key ID "AKID" (first at line 3)`},
	{"auth:\n  access_keys:\n    - {access_key_id: AKID, secret_access_key: \"\"}\n",
		`hydrant.yaml:3:48: auth.access_keys[0].secret_access_key: is empty: set the secret access key`},

	// Object store.
	{"object_store:\n  s3:\n    endpoint: s3.amazonaws.com\n",
		`hydrant.yaml:3:15: object_store.s3.endpoint: "s3.amazonaws.com" is not an S3 endpoint: use a URL such as https://s3.us-east-1.amazonaws.com or http://127.0.0.1:9000, without a path`},
	{"object_store:\n  s3:\n    endpoint: http://minio:9000/bucket\n",
		`hydrant.yaml:3:15: object_store.s3.endpoint: "http://minio:9000/bucket" is not an S3 endpoint: use a URL such as https://s3.us-east-1.amazonaws.com or http://127.0.0.1:9000, without a path`},
	{"object_store:\n  s3:\n    force_path_style: yes\n",
		`hydrant.yaml:3:23: object_store.s3.force_path_style: expected true or false, found "yes"`},
	{"object_store:\n  s3:\n    part_size: 1MiB\n",
		`hydrant.yaml:3:16: object_store.s3.part_size: 1048576 is out of range: use 5MiB to 5GiB`},
	{"object_store:\n  s3:\n    region: EU\n",
		`hydrant.yaml:3:13: object_store.s3.region: "EU" is not a region name: use lowercase letters, digits and hyphens, such as us-east-1`},
	{"object_store:\n  s3:\n    access_key_id: AKID\n",
		`hydrant.yaml:3:20: object_store.s3: access_key_id is set without a secret: set secret_access_key_env (or secret_access_key) too`},
	{"object_store:\n  s3:\n    secret_access_key_env: HYDRANT_TEST_SECRET\n",
		`hydrant.yaml:3:28: object_store.s3: a secret access key is set without access_key_id: set access_key_id too`},
	{"object_store:\n  s3:\n    access_key_id: AKID\n    secret_access_key: s\n    secret_access_key_env: HYDRANT_TEST_SECRET\n",
		`hydrant.yaml:5:5: object_store.s3: secret_access_key_env and secret_access_key (line 4) exclude each other: set only one`},
	{"object_store:\n  s3:\n    bucket: events\n",
		`hydrant.yaml:3:5: object_store.s3: unknown key "bucket" (valid keys: endpoint, region, access_key_id, secret_access_key, secret_access_key_env, force_path_style, create_buckets, part_size, ca_file, insecure_skip_verify, sse)`},

	// Server.
	{"server:\n  data_dir: \"\"\n",
		`hydrant.yaml:2:13: server.data_dir: is empty: set a directory, such as ./data`},
	{"server:\n  http_addr: localhost\n",
		`hydrant.yaml:2:14: server.http_addr: "localhost" is not a host:port address: use one such as 127.0.0.1:4573, or :4573 for every interface`},
	{"server:\n  grpc_addr: 127.0.0.1:99999\n",
		`hydrant.yaml:2:14: server.grpc_addr: "127.0.0.1:99999" is not a host:port address: use one such as 127.0.0.1:4573, or :4573 for every interface`},
	{"server:\n  grpc_addr: 127.0.0.1:4573\n",
		`hydrant.yaml:2:14: server.grpc_addr: "127.0.0.1:4573" is also http_addr: give each listener its own address`},
	{"server:\n  region: US_EAST\n",
		`hydrant.yaml:2:11: server.region: "US_EAST" is not a region name: use lowercase letters, digits and hyphens, such as us-east-1`},
	{"server:\n  account_id: 12345\n",
		`hydrant.yaml:2:15: server.account_id: "12345" is not an account ID: use 12 digits, such as 000000000000`},
	{"server:\n  log_level: verbose\n",
		`hydrant.yaml:2:14: server.log_level: "verbose" is not a log level: use debug, info, warn or error`},
	{"server:\n  log_format: xml\n",
		`hydrant.yaml:2:15: server.log_format: "xml" is not a log format: use text or json`},

	// Every problem is reported, in file order.
	{"server:\n  log_format: xml\n  colour: true\nstreams:\n  - name: e\n    destination: {bucket: events, buffering: {size_mb: five}}\n",
		"hydrant.yaml:2:15: server.log_format: \"xml\" is not a log format: use text or json\n" +
			"hydrant.yaml:3:3: server: unknown key \"colour\" (valid keys: data_dir, http_addr, grpc_addr, kafka_addr, region, account_id, log_level, log_format)\n" +
			"hydrant.yaml:6:56: streams[0].destination.buffering.size_mb: expected an integer, found \"five\""},
}

func TestParseErrors(t *testing.T) {
	t.Setenv("HYDRANT_TEST_SECRET", "s")
	t.Setenv("HYDRANT_TEST_EMPTY", "")
	os.Unsetenv("HYDRANT_TEST_UNSET")
	for _, tt := range errorTests {
		got, err := Parse("hydrant.yaml", []byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q) = %v; want %v", tt.in, err, tt.want)
			continue
		}
		if got != nil {
			t.Errorf("Parse(%q) returned a config with its error", tt.in)
		}
		var e *Error
		if !errors.As(err, &e) || e.File != "hydrant.yaml" {
			t.Errorf("Parse(%q) = %#v; want an *Error", tt.in, err)
		}
		if _, ok := err.(*Error); !ok && !strings.Contains(tt.want, "\n") {
			t.Errorf("Parse(%q) = %#v; want a lone error to be an *Error", tt.in, err)
		}
	}
}

func TestParseErrorUnwrapsFieldError(t *testing.T) {
	_, err := Parse("hydrant.yaml", []byte("streams:\n  - name: e\n    destination: {bucket: events, compression: lz4}\n"))
	var fe *delivery.FieldError
	if !errors.As(err, &fe) || fe.Field != "destination.compression" {
		t.Errorf("Parse() = %v; want a *delivery.FieldError for destination.compression", err)
	}
}

func TestEnvSecret(t *testing.T) {
	const in = "auth:\n  access_keys:\n    - access_key_id: AKID\n      secret_access_key_env: HYDRANT_TEST_SECRET\n"
	t.Setenv("HYDRANT_TEST_SECRET", "from the environment")
	got, err := Parse("hydrant.yaml", []byte(in))
	want := []AccessKey{{ID: "AKID", Secret: "from the environment"}}
	if err != nil || !reflect.DeepEqual(got.Auth.AccessKeys, want) {
		t.Fatalf("Parse(%q) = %+v, %v; want access keys %+v", in, got, err, want)
	}
	if s := (AccessKey{ID: "AKID", Secret: "hush"}).String(); strings.Contains(s, "hush") {
		t.Errorf("AccessKey.String() = %q; shows the secret", s)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hydrant.yaml")
	if err := os.WriteFile(path, []byte("server:\n  log_level: warn\n  log_formt: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := path + `:3:3: server: unknown key "log_formt" (valid keys: data_dir, http_addr, grpc_addr, kafka_addr, region, account_id, log_level, log_format)`
	if _, err := Load(path); err == nil || err.Error() != want {
		t.Errorf("Load(%q) = %v; want %v", path, err, want)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(%q) = %v; want an error wrapping os.ErrNotExist", missing, err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"1B", 1, false},
		{"1KiB", 1 << 10, false},
		{"10GiB", 10 << 30, false},
		{"10 gib", 10 << 30, false},
		{"2TiB", 2 << 40, false},
		{"1KB", 1000, false},
		{"3MB", 3e6, false},
		{"4GB", 4e9, false},
		{"1TB", 1e12, false},
		{"1.5KiB", 1536, false},
		{"0.5MB", 5e5, false},
		{" 7MiB ", 7 << 20, false},
		{"8EiB", 0, true},
		{"1.1B", 0, true},
		{"-1", 0, true},
		{"", 0, true},
		{"GiB", 0, true},
		{"1e9", 0, true},
		{"1.KiB", 0, true},
		{"9223372036854775807", 1<<63 - 1, false},
		{"9223372036854775808", 0, true},
		{"99999999999999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error %t", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, n := range []int64{0, 1, 1000, 1 << 10, 3 << 29, 10 << 30, 5 << 40} {
		if got, err := parseSize(formatSize(n)); got != n || err != nil {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v; want %d", n, got, err, n)
		}
	}
}

func TestEmbedded(t *testing.T) {
	c := Embedded()
	if len(c.Streams) != 1 || c.Streams[0].Name != "events" || c.Streams[0].Destination.Bucket != "events" {
		t.Fatalf("Embedded().Streams = %+v; want one stream events → bucket events", c.Streams)
	}
	if c.Server.HTTPAddr != Default().Server.HTTPAddr {
		t.Errorf("Embedded().Server.HTTPAddr = %q; want the default %q", c.Server.HTTPAddr, Default().Server.HTTPAddr)
	}
}
