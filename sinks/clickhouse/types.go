package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// kind is a ClickHouse type family the sink converts JSON into.
type kind uint8

const (
	kString kind = iota
	kFixedString
	kUInt8
	kUInt16
	kUInt32
	kUInt64
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kDate
	kDateTime
	kUUID
	kNullable
	kArray
	kLowCardinality
)

// scalarKinds maps the names of the types without parameters.
var scalarKinds = map[string]kind{
	"String": kString,
	"UInt8":  kUInt8, "UInt16": kUInt16, "UInt32": kUInt32, "UInt64": kUInt64,
	"Int8": kInt8, "Int16": kInt16, "Int32": kInt32, "Int64": kInt64,
	"Float32": kFloat32, "Float64": kFloat64,
	"Date": kDate, "DateTime": kDateTime, "UUID": kUUID,
}

// SupportedTypes lists the column types the sink converts JSON into, for
// messages and docs.
const SupportedTypes = "String, FixedString(N), UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, " +
	"Float32, Float64, Date, DateTime, DateTime('zone'), UUID, Nullable(T), Array(T), LowCardinality(T)"

// chType is a parsed ClickHouse column type.
type chType struct {
	kind kind
	n    int            // FixedString's size
	tz   string         // DateTime's time zone; "" is the server's
	loc  *time.Location // tz loaded; nil when tz is ""
	elem *chType        // of Nullable, Array, LowCardinality
}

// String returns the type as ClickHouse spells it in system.columns, so
// that a declared type and the table's compare as strings.
func (t *chType) String() string {
	switch t.kind {
	case kFixedString:
		return "FixedString(" + strconv.Itoa(t.n) + ")"
	case kDateTime:
		if t.tz != "" {
			return "DateTime('" + t.tz + "')"
		}
		return "DateTime"
	case kNullable:
		return "Nullable(" + t.elem.String() + ")"
	case kArray:
		return "Array(" + t.elem.String() + ")"
	case kLowCardinality:
		return "LowCardinality(" + t.elem.String() + ")"
	}
	return kindNames[t.kind]
}

var kindNames = [...]string{
	kString: "String", kFixedString: "FixedString",
	kUInt8: "UInt8", kUInt16: "UInt16", kUInt32: "UInt32", kUInt64: "UInt64",
	kInt8: "Int8", kInt16: "Int16", kInt32: "Int32", kInt64: "Int64",
	kFloat32: "Float32", kFloat64: "Float64",
	kDate: "Date", kDateTime: "DateTime", kUUID: "UUID",
	kNullable: "Nullable", kArray: "Array", kLowCardinality: "LowCardinality",
}

// holdsText reports whether any JSON value converts to t: a String,
// maybe Nullable or LowCardinality.
func (t *chType) holdsText() bool {
	switch t.kind {
	case kString:
		return true
	case kNullable, kLowCardinality:
		return t.elem.holdsText()
	}
	return false
}

// nullable reports whether a missing or null value is stored as NULL.
func (t *chType) nullable() bool {
	if t.kind == kLowCardinality {
		return t.elem.nullable()
	}
	return t.kind == kNullable
}

// parseType parses a column type, such as Array(Nullable(Int32)) or
// DateTime('Europe/Berlin'). Types the sink cannot convert into are
// errors naming the supported ones.
func parseType(s string) (*chType, error) {
	p := typeParser{s: s}
	t, err := p.parse(0)
	if err == nil {
		p.space()
		if p.i < len(p.s) {
			err = fmt.Errorf("unexpected %q after the type", p.s[p.i:])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("type %q: %w", s, err)
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *typeParser) ident() string {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *typeParser) consume(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *typeParser) parse(depth int) (*chType, error) {
	if depth > 8 {
		return nil, fmt.Errorf("nested too deeply")
	}
	name := p.ident()
	if name == "" {
		return nil, fmt.Errorf("want a type name at offset %d", p.i)
	}
	if k, ok := scalarKinds[name]; ok {
		t := &chType{kind: k}
		if k == kDateTime && p.consume('(') {
			tz, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if !p.consume(')') {
				return nil, fmt.Errorf("want ) after the time zone of DateTime")
			}
			loc, err := time.LoadLocation(tz)
			if err != nil {
				return nil, fmt.Errorf("unknown time zone %q: %w", tz, err)
			}
			t.tz, t.loc = tz, loc
		}
		return t, nil
	}
	switch name {
	case "FixedString":
		if !p.consume('(') {
			return nil, fmt.Errorf("FixedString needs a size: FixedString(N)")
		}
		p.space()
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		n, err := strconv.Atoi(p.s[start:p.i])
		if err != nil || n < 1 || n > 1<<20 {
			return nil, fmt.Errorf("FixedString needs a size from 1 to %d", 1<<20)
		}
		if !p.consume(')') {
			return nil, fmt.Errorf("want ) after the size of FixedString")
		}
		return &chType{kind: kFixedString, n: n}, nil
	case "Nullable", "Array", "LowCardinality":
		if !p.consume('(') {
			return nil, fmt.Errorf("%s needs a type: %s(T)", name, name)
		}
		elem, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.consume(')') {
			return nil, fmt.Errorf("want ) after %s(%s", name, elem)
		}
		t := &chType{elem: elem}
		switch name {
		case "Nullable":
			t.kind = kNullable
			if elem.kind == kNullable || elem.kind == kArray || elem.kind == kLowCardinality {
				return nil, fmt.Errorf("Nullable(%s) is not allowed by ClickHouse: only a plain type can be Nullable", elem)
			}
		case "Array":
			t.kind = kArray
			if elem.kind == kLowCardinality {
				return nil, fmt.Errorf("Array(LowCardinality(…)) is not supported: use Array(%s)", elem.elem)
			}
		case "LowCardinality":
			t.kind = kLowCardinality
			inner := elem
			if inner.kind == kNullable {
				inner = inner.elem
			}
			if inner.kind == kArray || inner.kind == kLowCardinality || inner.kind == kUUID {
				return nil, fmt.Errorf("LowCardinality(%s) is not supported: LowCardinality takes a string, number or date type", elem)
			}
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s is not a type the sink converts JSON into (supported: %s); map the field to a String column instead", name, SupportedTypes)
}

// quoted reads a single-quoted string, as in DateTime('UTC').
func (p *typeParser) quoted() (string, error) {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '\'' {
		return "", fmt.Errorf("want a quoted time zone, as in DateTime('UTC')")
	}
	end := strings.IndexByte(p.s[p.i+1:], '\'')
	if end < 0 {
		return "", fmt.Errorf("unterminated quoted time zone")
	}
	s := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return s, nil
}
