package parquet

import (
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	pq "github.com/parquet-go/parquet-go"
)

// ConversionError is the error of Writer.Write for a record that does not
// fit the schema: it is not a JSON object, is not valid JSON, lacks a
// required column, or holds a value that cannot be converted to its column's
// type. Nothing of the record is written, and the writer stays usable;
// Firehose reports such records as format-conversion-failed.
type ConversionError struct {
	// Column is the path of the offending column, empty when the record as
	// a whole is at fault. Struct fields are joined with '.', an array's
	// element is written a[], a map's value m{}.
	Column string
	// Message says what is wrong, naming the column and the kind of JSON
	// value but never the value itself.
	Message string
}

func (e *ConversionError) Error() string { return e.Message }

// converter turns JSON records into Parquet values, staged per leaf column
// until the Writer hands them to parquet-go. A record is staged whole or
// not at all.
type converter struct {
	root *field
	sc   scanner

	// vals holds the staged values of each leaf column; marks the lengths
	// before the record being converted, to drop it on error.
	vals  [][]pq.Value
	marks []int
	// arena holds the bytes of the staged string, binary, map key and
	// decimal values, which the values point into. When it grows, values
	// already staged keep pointing at the old array, which stays valid.
	arena []byte
	// scratch holds a JSON string being converted to a non-string type; key
	// holds an object key.
	scratch, key []byte
	// values counts the staged values.
	values int
	// size is the uncompressed size of the record's values so far.
	size int64
}

func newConverter(c *compiled) *converter {
	return &converter{
		root:  c.root,
		vals:  make([][]pq.Value, c.leaves),
		marks: make([]int, c.leaves),
	}
}

// convert stages the values of one record and returns their uncompressed
// size, or returns a *ConversionError and stages nothing.
func (c *converter) convert(record []byte) (int64, error) {
	for i := range c.vals {
		c.marks[i] = len(c.vals[i])
	}
	arena, values := len(c.arena), c.values
	c.size = 0
	c.sc.reset(record)
	if err := c.record(); err != nil {
		for i := range c.vals {
			c.vals[i] = c.vals[i][:c.marks[i]]
		}
		c.arena, c.values = c.arena[:arena], values
		return 0, err
	}
	c.sc.reset(nil) // do not keep the record
	return c.size, nil
}

// reset drops the staged values, once parquet-go has copied them. Buffers
// that one outsized record grew are dropped rather than kept for good.
func (c *converter) reset() {
	for i, v := range c.vals {
		if cap(v) > 4*maxStagedValues {
			c.vals[i] = nil
			continue
		}
		clear(v) // release pointers into old arenas
		c.vals[i] = v[:0]
	}
	c.arena = shrink(c.arena, 4*maxStagedBytes)
	c.scratch = shrink(c.scratch, maxStagedBytes)
	c.key = shrink(c.key, maxStagedBytes)
	c.values = 0
}

// shrink empties b, and drops it if its capacity is over limit.
func shrink(b []byte, limit int) []byte {
	if cap(b) > limit {
		return nil
	}
	return b[:0]
}

func (c *converter) record() error {
	s := &c.sc
	if s.peek() != '{' {
		return &ConversionError{Message: "record is not a JSON object"}
	}
	if err := c.object(c.root, 0); err != nil {
		return err
	}
	if s.peek(); s.pos < len(s.data) {
		return &ConversionError{Message: fmt.Sprintf("record is not valid JSON: unexpected data after the object at offset %d", s.pos)}
	}
	return nil
}

// object converts the JSON object at the scanner, the value of struct n,
// whose first values repeat at level rep.
func (c *converter) object(n *field, rep int) error {
	s := &c.sc
	s.pos++ // '{'
	seen := n.seen
	clear(seen)
	if s.peek() == '}' {
		s.pos++
	} else {
	members:
		for {
			if s.peek() != '"' {
				return s.syntaxError()
			}
			var err error
			if c.key, err = s.appendString(c.key[:0]); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if i, ok := n.lookup(c.key); !ok {
				if err := s.skip(1); err != nil { // unknown fields are ignored, as Firehose does
					return err
				}
			} else {
				if seen[i] {
					return fieldError(n.fields[i], "field appears twice in the object (names are case-insensitive)")
				}
				seen[i] = true
				if err := c.value(n.fields[i], rep); err != nil {
					return err
				}
			}
			switch s.peek() {
			case ',':
				s.pos++
			case '}':
				s.pos++
				break members
			default:
				return s.syntaxError()
			}
		}
	}
	for i, f := range n.fields {
		if !seen[i] {
			if !f.optional {
				return fieldError(f, "field is missing but the column is not optional")
			}
			c.nulls(f.first, f.end, rep, f.def-1)
		}
	}
	return nil
}

// lookup returns the position of the field named key, which it lower-cases
// in place.
func (n *field) lookup(key []byte) (int, bool) {
	h, ascii := uint32(fnvOffset), true
	for i, ch := range key {
		switch {
		case 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
			key[i] = ch
		case ch >= 0x80:
			ascii = false
		}
		h = (h ^ uint32(ch)) * fnvPrime
	}
	if !ascii {
		lower := strings.ToLower(string(key))
		return n.names.find(hashName(lower), []byte(lower))
	}
	return n.names.find(h, key)
}

// value converts the JSON value at the scanner to node n.
func (c *converter) value(n *field, rep int) error {
	s := &c.sc
	ch := s.peek()
	if ch == 'n' {
		if err := s.literal("null"); err != nil {
			return err
		}
		if !n.optional {
			return fieldError(n, "value is null but the column is not optional")
		}
		c.nulls(n.first, n.end, rep, n.def-1)
		return nil
	}
	switch n.kind {
	case kStruct:
		if ch != '{' {
			return c.mismatch(n, ch)
		}
		return c.object(n, rep)
	case kList:
		if ch != '[' {
			return c.mismatch(n, ch)
		}
		return c.list(n, rep)
	case kMap:
		if ch != '{' {
			return c.mismatch(n, ch)
		}
		return c.mapping(n, rep)
	}
	return c.leaf(n, rep, ch)
}

// list converts the JSON array at the scanner to array n.
func (c *converter) list(n *field, rep int) error {
	s := &c.sc
	s.pos++ // '['
	if s.peek() == ']' {
		s.pos++
		c.nulls(n.first, n.end, rep, n.def) // present and empty
		return nil
	}
	for r := rep; ; r = n.rep {
		if err := c.value(n.elem, r); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntaxError()
		}
	}
}

// mapping converts the JSON object at the scanner to map n, in the order
// of its members.
func (c *converter) mapping(n *field, rep int) error {
	s := &c.sc
	s.pos++ // '{'
	if s.peek() == '}' {
		s.pos++
		c.nulls(n.first, n.end, rep, n.def) // present and empty
		return nil
	}
	for r := rep; ; r = n.rep {
		if s.peek() != '"' {
			return s.syntaxError()
		}
		start := len(c.arena)
		var err error
		if c.arena, err = s.appendString(c.arena); err != nil {
			return err
		}
		c.putBytes(n.key, r, c.arena[start:])
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := c.value(n.elem, r); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntaxError()
		}
	}
}

// leaf converts the JSON value at the scanner, whose first byte is ch and
// which is not null, to leaf column n.
func (c *converter) leaf(n *field, rep int, ch byte) error {
	s := &c.sc
	switch {
	case ch == '"':
		var err error
		switch n.kind {
		case kString:
			start := len(c.arena)
			if c.arena, err = s.appendString(c.arena); err != nil {
				return err
			}
			c.putBytes(n, rep, c.arena[start:])
			return nil
		case kBinary:
			if c.scratch, err = s.appendString(c.scratch[:0]); err != nil {
				return err
			}
			start := len(c.arena)
			c.arena = slices.Grow(c.arena, base64.StdEncoding.DecodedLen(len(c.scratch)))
			m, err := base64.StdEncoding.Decode(c.arena[start:cap(c.arena)], c.scratch)
			if err != nil {
				return fieldError(n, "cannot convert JSON string to binary: want standard base64")
			}
			c.arena = c.arena[:start+m]
			c.putBytes(n, rep, c.arena[start:])
			return nil
		}
		if c.scratch, err = s.appendString(c.scratch[:0]); err != nil {
			return err
		}
		return c.fromString(n, rep, c.scratch)
	case ch == 't' || ch == 'f':
		b, err := s.boolean()
		if err != nil {
			return err
		}
		return c.fromBool(n, rep, b)
	case ch == '-' || isDigit(ch):
		num, isInt, err := s.number()
		if err != nil {
			return err
		}
		return c.fromNumber(n, rep, num, isInt)
	case ch == '{' || ch == '[':
		return c.mismatch(n, ch)
	}
	return s.syntaxError()
}

func (c *converter) fromBool(n *field, rep int, b bool) error {
	switch n.kind {
	case kBoolean:
		c.put(n, rep, pq.BooleanValue(b), 1)
		return nil
	case kString: // as OpenX's JSON SerDe does
		lit := "false"
		if b {
			lit = "true"
		}
		start := len(c.arena)
		c.arena = append(c.arena, lit...)
		c.putBytes(n, rep, c.arena[start:])
		return nil
	}
	return c.mismatch(n, 't')
}

func (c *converter) fromNumber(n *field, rep int, num []byte, isInt bool) error {
	const what = "JSON number"
	switch n.kind {
	case kString: // the number's text, as OpenX's JSON SerDe does
		start := len(c.arena)
		c.arena = append(c.arena, num...)
		c.putBytes(n, rep, c.arena[start:])
		return nil
	case kInt8, kInt16, kInt32, kInt64:
		return c.putInt(n, rep, num, isInt, what)
	case kFloat, kDouble:
		return c.putFloat(n, rep, num, what)
	case kDecimal:
		return c.putDecimal(n, rep, num, what)
	case kTimestamp:
		if !isInt {
			return fieldError(n, "cannot convert non-integer JSON number to timestamp: want epoch milliseconds")
		}
		ms, ok := parseInt(num)
		if ok && n.micros {
			ok = ms <= math.MaxInt64/1000 && ms >= math.MinInt64/1000
			ms *= 1000
		}
		if !ok {
			return fieldError(n, "JSON number is out of range for timestamp")
		}
		c.put(n, rep, pq.Int64Value(ms), 8)
		return nil
	}
	return c.mismatch(n, '0')
}

func (c *converter) fromString(n *field, rep int, str []byte) error {
	const what = "JSON string"
	switch n.kind {
	case kBoolean:
		switch {
		case asciiEqualFold(str, "true"):
			c.put(n, rep, pq.BooleanValue(true), 1)
		case asciiEqualFold(str, "false"):
			c.put(n, rep, pq.BooleanValue(false), 1)
		default:
			return fieldError(n, "cannot convert JSON string to boolean: want true or false")
		}
		return nil
	case kInt8, kInt16, kInt32, kInt64:
		l, isInt := scanNumber(str)
		if l <= 0 || l != len(str) {
			return fieldError(n, "cannot convert JSON string to "+n.typeName+": not a number")
		}
		return c.putInt(n, rep, str, isInt, what)
	case kFloat, kDouble:
		if l, _ := scanNumber(str); l > 0 && l == len(str) {
			return c.putFloat(n, rep, str, what)
		}
		f, ok := nonFinite(str)
		if !ok {
			return fieldError(n, "cannot convert JSON string to "+n.typeName+": not a number")
		}
		if n.kind == kFloat {
			c.put(n, rep, pq.FloatValue(float32(f)), 4)
		} else {
			c.put(n, rep, pq.DoubleValue(f), 8)
		}
		return nil
	case kDecimal:
		if l, _ := scanNumber(str); l <= 0 || l != len(str) {
			return fieldError(n, "cannot convert JSON string to "+n.typeName+": not a number")
		}
		return c.putDecimal(n, rep, str, what)
	case kDate:
		d, ok := parseDate(str)
		if !ok {
			return fieldError(n, "cannot convert JSON string to date: want yyyy-MM-dd")
		}
		c.put(n, rep, pq.Int32Value(d), 4)
		return nil
	case kTimestamp:
		sec, nsec, ok := parseTimestamp(str)
		if !ok {
			return fieldError(n, "cannot convert JSON string to timestamp: want RFC 3339 or yyyy-MM-dd HH:mm:ss[.fffffffff]")
		}
		v := sec*1000 + nsec/1e6
		if n.micros {
			v = sec*1e6 + nsec/1e3
		}
		c.put(n, rep, pq.Int64Value(v), 8)
		return nil
	}
	return c.mismatch(n, '"')
}

func (c *converter) putInt(n *field, rep int, num []byte, isInt bool, what string) error {
	if !isInt {
		return fieldError(n, "cannot convert non-integer "+what+" to "+n.typeName)
	}
	v, ok := parseInt(num)
	switch n.kind {
	case kInt8:
		ok = ok && v >= math.MinInt8 && v <= math.MaxInt8
	case kInt16:
		ok = ok && v >= math.MinInt16 && v <= math.MaxInt16
	case kInt32:
		ok = ok && v >= math.MinInt32 && v <= math.MaxInt32
	}
	if !ok {
		return fieldError(n, what+" is out of range for "+n.typeName)
	}
	if n.kind == kInt64 {
		c.put(n, rep, pq.Int64Value(v), 8)
	} else {
		c.put(n, rep, pq.Int32Value(int32(v)), 4)
	}
	return nil
}

func (c *converter) putFloat(n *field, rep int, num []byte, what string) error {
	bitSize := 64
	if n.kind == kFloat {
		bitSize = 32
	}
	f, err := strconv.ParseFloat(string(num), bitSize)
	if err != nil {
		return fieldError(n, what+" is out of range for "+n.typeName)
	}
	if n.kind == kFloat {
		c.put(n, rep, pq.FloatValue(float32(f)), 4)
	} else {
		c.put(n, rep, pq.DoubleValue(f), 8)
	}
	return nil
}

func (c *converter) putDecimal(n *field, rep int, num []byte, what string) error {
	d, ok := parseDecimal(num, n.precision, n.scale)
	if !ok {
		return fieldError(n, what+" does not fit "+n.typeName)
	}
	switch {
	case n.precision <= 9:
		c.put(n, rep, pq.Int32Value(int32(d.int64())), 4)
	case n.precision <= 18:
		c.put(n, rep, pq.Int64Value(d.int64()), 8)
	default:
		start := len(c.arena)
		c.arena = d.appendBigEndian(c.arena, n.flbaLen)
		c.put(n, rep, pq.FixedLenByteArrayValue(c.arena[start:]), int64(n.flbaLen))
	}
	return nil
}

// put stages a present value of leaf n.
func (c *converter) put(n *field, rep int, v pq.Value, size int64) {
	c.vals[n.col] = append(c.vals[n.col], v.Level(rep, n.def, n.col))
	c.values++
	c.size += size
}

// putBytes stages a present string or binary value of leaf n.
func (c *converter) putBytes(n *field, rep int, b []byte) {
	c.put(n, rep, pq.ByteArrayValue(b), 4+int64(len(b)))
}

// nulls stages a null in each leaf column of [first, end), defined up to
// level def.
func (c *converter) nulls(first, end, rep, def int) {
	for col := first; col < end; col++ {
		c.vals[col] = append(c.vals[col], pq.Value{}.Level(rep, def, col))
	}
	c.values += end - first
}

// mismatch reports a JSON value, whose first byte is ch, that column n
// cannot hold.
func (c *converter) mismatch(n *field, ch byte) error {
	var kind string
	switch {
	case ch == '"':
		kind = "string"
	case ch == '{':
		kind = "object"
	case ch == '[':
		kind = "array"
	case ch == 't' || ch == 'f':
		kind = "boolean"
	case ch == '-' || isDigit(ch):
		kind = "number"
	default:
		return c.sc.syntaxError()
	}
	return fieldError(n, "cannot convert JSON "+kind+" to "+n.typeName)
}

func fieldError(n *field, msg string) error {
	return &ConversionError{Column: n.path, Message: fmt.Sprintf("column %q: %s", n.path, msg)}
}

// nonFinite parses NaN or an infinity, optionally signed and in any case,
// which float and double columns accept in strings as Hive does.
func nonFinite(s []byte) (float64, bool) {
	sign := 1
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch {
	case asciiEqualFold(s, "nan"):
		return math.NaN(), true
	case asciiEqualFold(s, "inf"), asciiEqualFold(s, "infinity"):
		return math.Inf(sign), true
	}
	return 0, false
}

// asciiEqualFold reports whether b equals the lower-case ASCII word,
// ignoring case.
func asciiEqualFold(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != word[i] {
			return false
		}
	}
	return true
}
