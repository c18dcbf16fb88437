package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hydrantio/hydrant/sql"
)

// pathStep is one step of a JSON path: an object member, or an array
// index when index >= 0.
type pathStep struct {
	name  string
	index int
}

// parsePath reads the JSON paths the front end accepts: $.a, $."a b", $[0],
// in any sequence.
func parsePath(p string) ([]pathStep, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("JSON path %q must start with $", p)
	}
	var steps []pathStep
	s := p[1:]
	for s != "" {
		switch {
		case strings.HasPrefix(s, `."`):
			end := strings.IndexByte(s[2:], '"')
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: unterminated quoted name", p)
			}
			steps = append(steps, pathStep{name: s[2 : 2+end], index: -1})
			s = s[3+end:]
		case s[0] == '.':
			end := strings.IndexAny(s[1:], ".[")
			if end < 0 {
				end = len(s) - 1
			}
			if end == 0 {
				return nil, fmt.Errorf("JSON path %q: empty name", p)
			}
			steps = append(steps, pathStep{name: s[1 : 1+end], index: -1})
			s = s[1+end:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("JSON path %q: unterminated index", p)
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("JSON path %q: bad index %q", p, s[1:end])
			}
			steps = append(steps, pathStep{index: n})
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("JSON path %q: unexpected %q", p, s)
		}
	}
	return steps, nil
}

// lookup follows path in a decoded document; found is false when a step
// is missing.
func lookup(doc any, path []pathStep) (v any, found bool) {
	v = doc
	for _, st := range path {
		switch x := v.(type) {
		case map[string]any:
			if st.index >= 0 {
				return nil, false
			}
			if v, found = x[st.name]; !found {
				return nil, false
			}
		case []any:
			if st.index < 0 || st.index >= len(x) {
				return nil, false
			}
			v = x[st.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// decoder turns a table's records into rows of its declared column types.
type decoder struct {
	table *sql.Table
	paths [][]pathStep // per column; nil: the field named like the column
}

func newDecoder(t *sql.Table) (*decoder, error) {
	d := &decoder{table: t, paths: make([][]pathStep, len(t.Columns))}
	for i, c := range t.Columns {
		if c.Path == "" {
			continue
		}
		p, err := parsePath(c.Path)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err)
		}
		d.paths[i] = p
	}
	return d, nil
}

// decodeJSON decodes one JSON object.
func (d *decoder) decodeJSON(line []byte) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON: more than one value on the line")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	row := make([]any, len(d.table.Columns))
	for i, c := range d.table.Columns {
		var v any
		var found bool
		if d.paths[i] != nil {
			v, found = lookup(doc, d.paths[i])
		} else if v, found = obj[c.Name]; !found {
			for k, x := range obj {
				if strings.EqualFold(k, c.Name) {
					v, found = x, true
					break
				}
			}
		}
		if c.Type == sql.TypeJSON {
			if found && v != nil {
				row[i] = JSON{v}
			}
		} else if v != nil {
			switch v.(type) {
			case map[string]any, []any:
				return nil, fmt.Errorf("column %s: want %s, got a JSON %s", c.Name, c.Type, map[bool]string{true: "object", false: "array"}[isMap(v)])
			}
			if n, ok := v.(json.Number); ok && c.Type == sql.TypeInt64 {
				if _, err := n.Int64(); err != nil {
					return nil, fmt.Errorf("column %s: %s is not an integer", c.Name, n)
				}
			}
			x, err := convert(jsonScalar(v), c.Type)
			if err != nil {
				return nil, fmt.Errorf("column %s: %v", c.Name, err)
			}
			row[i] = x
		}
		if row[i] == nil && c.NotNull {
			return nil, fmt.Errorf("column %s is NOT NULL but the record has no value for it", c.Name)
		}
	}
	return row, nil
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// decodeCSV decodes one CSV record: the declared columns in order. An empty
// field is NULL, except in a string column, where it is the empty string.
func (d *decoder) decodeCSV(fields []string) ([]any, error) {
	cols := d.table.Columns
	if len(fields) != len(cols) {
		return nil, fmt.Errorf("%d fields, table %s has %d columns", len(fields), d.table.Name, len(cols))
	}
	row := make([]any, len(cols))
	for i, c := range cols {
		f := fields[i]
		if f != "" || c.Type == sql.TypeString {
			x, err := convert(f, c.Type)
			if err != nil {
				return nil, fmt.Errorf("column %s: %v", c.Name, err)
			}
			row[i] = x
		}
		if row[i] == nil && c.NotNull {
			return nil, fmt.Errorf("column %s is NOT NULL but the field is empty", c.Name)
		}
	}
	return row, nil
}

// encoder writes a sink table's rows as JSON objects: one member per
// column, at the column's JSON path when it has one, in declared order.
type encoder struct {
	table *sql.Table
	paths [][]pathStep
}

func newEncoder(t *sql.Table) (*encoder, error) {
	d, err := newDecoder(t)
	if err != nil {
		return nil, err
	}
	return &encoder{table: t, paths: d.paths}, nil
}

// appendRow appends row (in the table's column order) and a newline.
func (e *encoder) appendRow(dst []byte, row []any) []byte {
	o := newObject()
	for i, c := range e.table.Columns {
		p := e.paths[i]
		if p == nil || p[0].index >= 0 { // a row is an object, not an array
			p = []pathStep{{name: c.Name, index: -1}}
		}
		setPath(o, p, row[i])
	}
	return append(o.appendJSON(dst), '\n')
}

// setPath stores v at path p below o, creating objects and arrays on the way.
func setPath(o *object, p []pathStep, v any) {
	var cur any = o
	var put func(any) // stores a replacement for cur in its parent
	for i, st := range p {
		last := i == len(p)-1
		if st.index < 0 {
			obj, ok := cur.(*object)
			if !ok {
				obj = newObject()
				put(obj)
			}
			if last {
				obj.set(st.name, v)
				return
			}
			next, _ := obj.get(st.name)
			name := st.name
			cur, put = next, func(x any) { obj.set(name, x) }
			if next == nil {
				obj.set(name, nil)
			}
			continue
		}
		arr, _ := cur.([]any)
		for len(arr) <= st.index {
			arr = append(arr, nil)
		}
		if put != nil {
			put(arr)
		}
		if last {
			arr[st.index] = v
			return
		}
		idx := st.index
		cur, put = arr[idx], func(x any) { arr[idx] = x }
	}
}
