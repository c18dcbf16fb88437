// Package config loads hydrant.yaml, the server's config file.
//
// Decoding is strict: an unknown key, a duplicate key, a value of the wrong
// type and a setting that fails validation are all errors naming the file,
// line, column and key. Every key is described once, in the spec table in
// spec.go; the decoder reads it to know the keys and Reference renders it
// as the reference file deploy/examples/hydrant.yaml.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/s3"
)

// Config is a loaded config file, with defaults applied and validated.
type Config struct {
	Server      Server
	Auth        Auth
	ObjectStore ObjectStore
	Encryption  Encryption
	// Functions are the transformation functions streams may run.
	Functions []Function
	// Streams are the delivery streams the file declares, in file order,
	// with delivery's defaults applied and validated.
	Streams []delivery.StreamConfig
}

// Server holds the settings of the server section. Each field is the key
// named beside it; Reference says what it means.
type Server struct {
	DataDir   string     // data_dir
	HTTPAddr  string     // http_addr
	GRPCAddr  string     // grpc_addr
	KafkaAddr string     // kafka_addr; empty when the Kafka listener is off
	Region    string     // region
	AccountID string     // account_id
	LogLevel  slog.Level // log_level
	LogFormat string     // log_format: LogFormatText or LogFormatJSON
}

// ObjectStore holds the settings of the object_store section: where object
// destinations write.
type ObjectStore struct {
	// S3 is the S3 server object destinations write to; with no Endpoint
	// they write to the embedded file store under the data dir. Its
	// SecretAccessKey is already resolved: secret_access_key, or the value
	// of the environment variable secret_access_key_env names.
	S3 s3.Config // s3
}

// Encryption holds the settings of the encryption section: where the
// master keys of client-side encryption come from. With neither set, the
// environment variable encrypt.EnvMasterKeys is used when it is set.
type Encryption struct {
	KeyFile string // key_file
	KeysEnv string // keys_env
}

// Log formats (server.log_format).
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Auth holds the settings of the auth section.
type Auth struct {
	AccessKeys []AccessKey // access_keys
}

// AccessKey is a key pair that may sign requests. Secret is already
// resolved: it is secret_access_key, or the value of the environment
// variable secret_access_key_env names.
type AccessKey struct {
	ID     string // access_key_id
	Secret string
}

// String shows the key ID only, so printing a Config never leaks a secret.
func (k AccessKey) String() string { return k.ID + ":<secret>" }

// Default returns the configuration Hydrant runs with when there is no
// config file. It is the one place the server defaults live: Parse starts
// from it and overwrites what the file sets.
func Default() *Config {
	return &Config{
		Server: Server{
			DataDir:   "./data",
			HTTPAddr:  "127.0.0.1:4573",
			GRPCAddr:  "127.0.0.1:4574",
			KafkaAddr: "",
			Region:    "us-east-1",
			AccountID: "000000000000",
			LogLevel:  slog.LevelInfo,
			LogFormat: LogFormatText,
		},
		ObjectStore: ObjectStore{S3: s3.Config{PartSize: s3.DefaultPartSize}},
	}
}

// newStream returns a stream config holding delivery's defaults, onto
// which a stream entry of the file is decoded. Because a key the file sets
// overwrites its default, an explicit zero (interval_seconds: 0, deliver as
// soon as possible) stays zero, and an explicit out-of-range value reaches
// validation instead of being replaced.
func newStream() delivery.StreamConfig {
	var c delivery.StreamConfig
	c.ApplyDefaults()
	// ApplyDefaults keeps a zero interval, which is meaningful; an unset one
	// is the default, as delivery.Destination.ApplyDefaults asks us to do.
	c.Destination.Buffering.IntervalSeconds = delivery.DefaultBufferIntervalSec
	// Zero retries is meaningful too.
	c.Destination.Processing.Function.NumberOfRetries = delivery.DefaultFunctionRetries
	return c
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a config file's contents; name is the file name errors
// show. Secrets named by secret_access_key_env are read from the
// environment. On failure it returns every problem found: one *Error, or
// several joined with errors.Join.
func Parse(name string, data []byte) (*Config, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	d := &decoder{file: name, nodes: make(map[string]*yaml.Node)}
	d.object(spec, cfg, "", root)
	if len(d.errs) == 0 {
		// Checks across fields, on values that decoded cleanly.
		d.checkServer(&cfg.Server)
		d.checkAccessKeys(cfg.Auth.AccessKeys)
		d.checkS3(&cfg.ObjectStore.S3)
		d.checkFunctions(cfg.Functions)
		d.checkStreams(cfg.Streams)
		d.checkStreamFunctions(cfg.Streams, cfg.Functions)
	}
	switch len(d.errs) {
	case 0:
		return cfg, nil
	case 1:
		return nil, d.errs[0]
	}
	return nil, errors.Join(d.errs...)
}

var yamlErrorLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// parseYAML parses data as exactly one YAML document and returns its root
// node.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	syntaxError := func(err error) error {
		e := &Error{File: name, Message: strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
		if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Message = m[2]
		}
		return e
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case err == io.EOF:
		return nil, &Error{File: name, Line: 1, Column: 1, Message: emptyFile}
	case err != nil:
		return nil, syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, syntaxError(err)
	default:
		return nil, &Error{File: name, Line: next.Line, Column: next.Column,
			Message: "a second YAML document starts here: a config file holds exactly one; merge the two"}
	}
	if len(doc.Content) != 1 || doc.Content[0].ShortTag() == "!!null" {
		return nil, &Error{File: name, Line: 1, Column: 1, Message: emptyFile}
	}
	return doc.Content[0], nil
}

const emptyFile = "the file holds no settings: set at least one of server, auth, object_store, streams, or leave the config file out to run on the defaults"
