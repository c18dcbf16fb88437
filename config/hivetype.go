package config

import (
	"fmt"
	"strings"

	"github.com/hydrantio/hydrant/sinks/parquet"
)

// parseHiveType reads a column type written as Hive and AWS Glue write
// them (bigint, decimal(10,2), array<string>, struct<a:int,b:array<double>>,
// map<string,int>) into the Type, Fields and Element of a parquet.Column.
// Fields inside struct, array and map types are optional, as in Hive.
// Whether a primitive type name exists is left to parquet.Schema.Validate,
// so there is one list of them.
func parseHiveType(s string) (parquet.Column, error) {
	p := hiveParser{src: s}
	c, err := p.typ(0)
	if err != nil {
		return c, err
	}
	p.space()
	if p.pos != len(p.src) {
		return c, p.errorf("unexpected %q after the type", p.src[p.pos:])
	}
	return c, nil
}

type hiveParser struct {
	src string
	pos int
}

func (p *hiveParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid type %q at column %d: %s", p.src, p.pos+1, fmt.Sprintf(format, args...))
}

func (p *hiveParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// word reads a name: letters, digits and underscores.
func (p *hiveParser) word() string {
	p.space()
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *hiveParser) accept(c byte) bool {
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *hiveParser) expect(c byte) error {
	if !p.accept(c) {
		if p.pos >= len(p.src) {
			return p.errorf("expected %q, found the end", c)
		}
		return p.errorf("expected %q, found %q", c, p.src[p.pos])
	}
	return nil
}

const maxHiveDepth = 32

func (p *hiveParser) typ(depth int) (parquet.Column, error) {
	if depth > maxHiveDepth {
		return parquet.Column{}, p.errorf("nested more than %d levels deep", maxHiveDepth)
	}
	name := strings.ToLower(p.word())
	if name == "" {
		if p.pos >= len(p.src) {
			return parquet.Column{}, p.errorf("expected a type name, found the end")
		}
		return parquet.Column{}, p.errorf("expected a type name, found %q", p.src[p.pos])
	}
	switch name {
	case "array":
		if err := p.expect('<'); err != nil {
			return parquet.Column{}, err
		}
		elem, err := p.typ(depth + 1)
		if err != nil {
			return elem, err
		}
		elem.Optional = true
		if err := p.expect('>'); err != nil {
			return parquet.Column{}, err
		}
		return parquet.Column{Type: "array", Element: &elem}, nil
	case "map":
		if err := p.expect('<'); err != nil {
			return parquet.Column{}, err
		}
		key, err := p.typ(depth + 1)
		if err != nil {
			return key, err
		}
		if key.Type != "string" {
			return parquet.Column{}, p.errorf("map keys must be string, not %s", formatHiveType(key))
		}
		if err := p.expect(','); err != nil {
			return parquet.Column{}, err
		}
		val, err := p.typ(depth + 1)
		if err != nil {
			return val, err
		}
		val.Optional = true
		if err := p.expect('>'); err != nil {
			return parquet.Column{}, err
		}
		return parquet.Column{Type: "map", Element: &val}, nil
	case "struct":
		if err := p.expect('<'); err != nil {
			return parquet.Column{}, err
		}
		var fields []parquet.Column
		for {
			fname := p.word()
			if fname == "" {
				return parquet.Column{}, p.errorf("expected a field name")
			}
			if err := p.expect(':'); err != nil {
				return parquet.Column{}, err
			}
			f, err := p.typ(depth + 1)
			if err != nil {
				return f, err
			}
			f.Name, f.Optional = fname, true
			fields = append(fields, f)
			if !p.accept(',') {
				break
			}
		}
		if err := p.expect('>'); err != nil {
			return parquet.Column{}, err
		}
		return parquet.Column{Type: "struct", Fields: fields}, nil
	case "decimal":
		if !p.accept('(') {
			return parquet.Column{Type: "decimal(10,0)"}, nil // Hive's default
		}
		prec := p.word()
		if err := p.expect(','); err != nil {
			return parquet.Column{}, err
		}
		scale := p.word()
		if err := p.expect(')'); err != nil {
			return parquet.Column{}, err
		}
		return parquet.Column{Type: "decimal(" + prec + "," + scale + ")"}, nil
	case "char", "varchar":
		// Parquet has no length-limited strings; Hive stores them as strings.
		if p.accept('(') {
			p.word()
			if err := p.expect(')'); err != nil {
				return parquet.Column{}, err
			}
		}
		return parquet.Column{Type: "string"}, nil
	}
	return parquet.Column{Type: name}, nil
}

// formatHiveType writes c's type back as a Hive type.
func formatHiveType(c parquet.Column) string {
	switch c.Type {
	case "array":
		if c.Element == nil {
			return "array<?>"
		}
		return "array<" + formatHiveType(*c.Element) + ">"
	case "map":
		if c.Element == nil {
			return "map<string,?>"
		}
		return "map<string," + formatHiveType(*c.Element) + ">"
	case "struct":
		parts := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			parts[i] = f.Name + ":" + formatHiveType(f)
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	}
	return c.Type
}
