package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/sinks/s3"
)

// decoder walks the YAML node tree by the spec, decoding values into the
// config and collecting an *Error, with the node's position, for every
// problem. Walking nodes rather than decoding into structs is what gives
// every error a line and column: yaml.v3 drops them for unknown keys in
// nested types, and never names the file.
type decoder struct {
	file string
	errs []error
	// nodes holds the value node of every key and list element decoded, by
	// path, so that checks after decoding can point at the line.
	nodes map[string]*yaml.Node
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Message: fmt.Sprintf(format, args...)})
}

// object decodes the mapping n, described by o, into dst.
func (d *decoder) object(o *object, dst any, path string, n *yaml.Node) {
	n = resolve(n)
	if isNull(n) {
		n = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping with keys %s, found %s", o.keys(), describe(n))
		return
	}
	set := make(map[string]*yaml.Node) // key name → key node
	for _, p := range d.pairs(n, path, nil) {
		f := o.field(p.key.Value)
		if f == nil {
			d.errorf(p.key, path, "unknown key %q (valid keys: %s)", p.key.Value, o.keys())
			continue
		}
		set[f.key] = p.key
		d.value(f.value, dst, join(path, f.key), p.value)
	}
	for _, f := range o.fields {
		if f.required && set[f.key] == nil {
			d.errorf(n, path, "missing required key %q", f.key)
		}
	}
	d.exclusive(o.atMostOne, set, path)
	if d.exclusive(o.oneOf, set, path) == nil && len(o.oneOf) > 0 {
		d.errorf(n, path, "missing key: set %s", strings.Join(o.oneOf, " or "))
	}
}

// exclusive reports each key of keys set after the first one set, and
// returns the first one's key node, or nil when none is set.
func (d *decoder) exclusive(keys []string, set map[string]*yaml.Node, path string) *yaml.Node {
	var first *yaml.Node
	for _, k := range keys {
		kn := set[k]
		if kn == nil {
			continue
		}
		if first != nil {
			d.errorf(kn, path, "%s and %s (line %d) exclude each other: set only one", kn.Value, first.Value, first.Line)
			continue
		}
		first = kn
	}
	return first
}

// value decodes n, the value of the key at path, into dst.
func (d *decoder) value(v *value, dst any, path string, n *yaml.Node) {
	n = resolve(n)
	d.nodes[path] = n
	switch {
	case v.obj != nil && v.add == nil:
		d.object(v.obj, v.sub(dst), path, n)
	case v.obj != nil:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, found %s", describe(n))
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			item = resolve(item)
			d.nodes[p] = item
			d.object(v.obj, v.add(dst), p, item)
		}
	case v.strings != nil:
		d.stringMap(v.strings(dst), path, n)
	default:
		if err := v.decode(dst, n); err != nil {
			d.errorf(n, path, "%v", err)
		}
	}
}

// stringMap decodes a mapping of strings to strings, such as tags.
func (d *decoder) stringMap(m *map[string]string, path string, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of strings to strings, found %s", describe(n))
		return
	}
	if *m == nil {
		*m = make(map[string]string)
	}
	for _, p := range d.pairs(n, path, nil) {
		vn := resolve(p.value)
		s, err := decodeString(vn)
		if err != nil {
			d.errorf(vn, join(path, p.key.Value), "%v", err)
			continue
		}
		(*m)[p.key.Value] = s
	}
}

type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of the mapping n, reporting duplicate
// and non-string keys, and expanding merge keys (<<: *base). Keys set in n
// win over merged ones, and an earlier merged mapping wins over a later
// one, as YAML's merge key says. merged holds the mappings already merged,
// so that a mapping merging itself ends.
func (d *decoder) pairs(n *yaml.Node, path string, merged map[*yaml.Node]bool) []pair {
	var out []pair
	first := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "expected a key, found %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if prev := first[k.Value]; prev != nil {
			d.errorf(k, path, "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		first[k.Value] = k
		out = append(out, pair{k, v})
	}
	if len(merges) == 0 {
		return out
	}
	if merged == nil {
		merged = make(map[*yaml.Node]bool)
	}
	merged[n] = true
	for _, m := range merges {
		m = resolve(m)
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src.Kind != yaml.MappingNode {
				d.errorf(src, path, "expected a mapping to merge, found %s", describe(src))
				continue
			}
			if merged[src] {
				continue
			}
			for _, p := range d.pairs(src, path, merged) {
				if first[p.key.Value] == nil {
					first[p.key.Value] = p.key
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// checkServer checks server settings against each other.
func (d *decoder) checkServer(s *Server) {
	addrs := []struct{ key, addr string }{{"http_addr", s.HTTPAddr}, {"grpc_addr", s.GRPCAddr}, {"kafka_addr", s.KafkaAddr}}
	for i, a := range addrs {
		for _, b := range addrs[:i] {
			if a.addr == "" || a.addr != b.addr {
				continue
			}
			// At least one of the two is set in the file, since the
			// defaults differ; point at the one that is.
			key := a.key
			if d.nodes["server."+key] == nil {
				key = b.key
			}
			d.errorf(d.node("server."+key), "server."+key, "%q is also %s: give each listener its own address", a.addr, other(key, a.key, b.key))
		}
	}
}

func other(key, a, b string) string {
	if key == a {
		return b
	}
	return a
}

// checkAccessKeys reports a key ID declared twice.
func (d *decoder) checkAccessKeys(keys []AccessKey) {
	first := make(map[string]int)
	for i, k := range keys {
		j, dup := first[k.ID]
		if !dup {
			first[k.ID] = i
			continue
		}
		p := fmt.Sprintf("auth.access_keys[%d].access_key_id", i)
		d.errorf(d.node(p), p, "duplicate access key ID %q (first at line %d)", k.ID, d.node(fmt.Sprintf("auth.access_keys[%d].access_key_id", j)).Line)
	}
}

// checkS3 reports half-set credentials, a part size out of range, and
// server-side encryption or TLS settings that do not fit together.
func (d *decoder) checkS3(c *s3.Config) {
	const p = "object_store.s3"
	if err := c.SSE.Validate(); err != nil {
		d.errorf(d.node(p+".sse"), p+".sse", "%v", err)
	} else if c.Endpoint != "" {
		if err := c.Validate(); err != nil && (c.SSE.Type == s3.SSEC || c.CAFile != "" || c.InsecureSkipVerify) {
			d.errorf(d.node(p+".endpoint"), p+".endpoint", "%v", err)
		}
	}
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		d.errorf(d.node(p+".access_key_id"), p, "access_key_id is set without a secret: set secret_access_key_env (or secret_access_key) too")
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		key := p + ".secret_access_key"
		if d.nodes[key] == nil {
			key += "_env"
		}
		d.errorf(d.node(key), p, "a secret access key is set without access_key_id: set access_key_id too")
	}
	if c.PartSize < s3.MinPartSize || c.PartSize > s3.MaxPartSize {
		d.errorf(d.node(p+".part_size"), p+".part_size", "%d is out of range: use %s to %s", c.PartSize, formatSize(s3.MinPartSize), formatSize(s3.MaxPartSize))
	}
}

// checkStreams validates each stream and reports a name declared twice.
func (d *decoder) checkStreams(streams []delivery.StreamConfig) {
	first := make(map[string]int)
	for i := range streams {
		s := &streams[i]
		// Defaults that depend on other keys (those of a feature that is
		// turned on) are only known now.
		if f := s.Destination.Processing.Function; f.Name == "" && f.ARN == "" && f.BufferSizeBytes == 0 && f.BufferIntervalSeconds == 0 {
			// No function: drop the preset retries, so that a stream
			// without one is what it was before functions existed.
			s.Destination.Processing.Function = delivery.FunctionProcessing{}
		}
		s.Destination.ApplyFeatureDefaults()
		if err := s.Validate(); err != nil {
			var fe *delivery.FieldError
			if !errors.As(err, &fe) {
				p := fmt.Sprintf("streams[%d]", i)
				d.errs = append(d.errs, &Error{File: d.file, Line: d.node(p).Line, Column: d.node(p).Column, Path: p, Message: err.Error(), Err: err})
				continue
			}
			p := fmt.Sprintf("streams[%d].%s", i, fe.Field)
			n := d.node(p)
			d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Path: p, Message: fe.Message, Err: err})
			continue
		}
		j, dup := first[s.Name]
		if !dup {
			first[s.Name] = i
			continue
		}
		p := fmt.Sprintf("streams[%d].name", i)
		d.errorf(d.node(p), p, "duplicate stream name %q (first at line %d)", s.Name, d.node(fmt.Sprintf("streams[%d].name", j)).Line)
	}
}

// node returns the node decoded at path or, when the file does not set
// that key, at the nearest enclosing path it does set.
func (d *decoder) node(path string) *yaml.Node {
	for {
		if n := d.nodes[path]; n != nil {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return &yaml.Node{}
		}
		path = path[:i]
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what n is, for "expected …, found …" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "no value"
		}
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return strconv.Quote(v)
	}
	return "an alias"
}

// decodeString decodes a scalar as its text, whatever YAML type it would
// resolve to, so that account_id: 000000000000 keeps its zeros. No value
// is the empty string.
func decodeString(n *yaml.Node) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected a string, found %s", describe(n))
	}
	return n.Value, nil
}

// decodeBool decodes true or false (YAML 1.2's spellings only: yes and on
// are strings there, and an error here).
func decodeBool(n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		switch n.Value {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
	}
	return false, fmt.Errorf("expected true or false, found %s", describe(n))
}

// decodeInt decodes an integer in any of YAML's notations (10, 0x0a, 1_000).
func decodeInt(n *yaml.Node) (int, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && integerText.MatchString(n.Value) {
		// YAML resolves an integer too large for 64 bits as a float.
		return 0, fmt.Errorf("%s is out of range for an integer", n.Value)
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, fmt.Errorf("expected an integer, found %s", describe(n))
	}
	var i int
	if err := n.Decode(&i); err != nil {
		return 0, fmt.Errorf("%s is out of range for an integer", n.Value)
	}
	return i, nil
}

var integerText = regexp.MustCompile(`^[-+]?[0-9_]+$`)

// decodeSize decodes a size: an integer number of bytes or a string with
// a unit, such as 10GiB.
func decodeSize(n *yaml.Node) (int64, error) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, fmt.Errorf("expected a size, found %s: %s", describe(n), sizeHelp)
	}
	if n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err != nil {
			return 0, fmt.Errorf("%s is too large: the largest size is %d bytes", n.Value, int64(math.MaxInt64))
		}
		if i < 0 {
			return 0, fmt.Errorf("%s is negative: %s", n.Value, sizeHelp)
		}
		return i, nil
	}
	return parseSize(n.Value)
}
