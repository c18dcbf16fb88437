package clickhouse

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/hydrantio/hydrant/record"
)

// plan is how records become rows of one table: the columns inserted, in
// the order of the INSERT's column list, and a tree of the JSON paths that
// feed them. It is made from the config and the table's columns, and
// shared by concurrent Inserts.
type plan struct {
	cols   []planCol
	root   *node
	reject bool   // unknown fields reject the record
	insert string // INSERT INTO `db`.`t` (`c1`, `c2`, …)
	bufs   sync.Pool
}

type planCol struct {
	name     string
	typ      *chType
	required bool
	path     string   // as configured, or "."+name, for messages
	segs     []string // the field names of path; none for the whole record
}

// node is an object in the records: the columns its value feeds, and the
// fields below it that feed others.
type node struct {
	id       int    // index in batchBuf.first and .follow
	key      string // the field's name
	path     string // ".user.id"; "" for the record itself
	cols     []int
	children map[string]*node
}

// batchBuf holds one batch's columns while records are converted.
type batchBuf struct {
	cols  []column
	seen  []int // 1 + the row in which each column got a value
	key   []byte
	nrows int
	// first and follow, by node id, are the field that came first in an
	// object and the one that came after a field in the last record:
	// records of a stream mostly share their layout, and comparing a key
	// with the expected one is cheaper than a map lookup.
	first, follow []*node
}

func newPlan(insertPrefix string, cols []planCol, reject bool) *plan {
	p := &plan{cols: cols, root: &node{}, reject: reject}
	nodes := 1
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
		n := p.root
		for _, seg := range c.segs {
			child := n.children[seg]
			if child == nil {
				if n.children == nil {
					n.children = make(map[string]*node)
				}
				child = &node{id: nodes, key: seg, path: n.path + "." + pathSegment(seg)}
				nodes++
				n.children[seg] = child
			}
			n = child
		}
		n.cols = append(n.cols, i)
	}
	if len(p.root.cols) > 0 {
		p.reject = false // a column holds the whole record: no field is unknown
	}
	p.insert = insertPrefix + " (" + strings.Join(names, ", ") + ")"
	p.bufs.New = func() any {
		b := &batchBuf{cols: make([]column, len(cols)), seen: make([]int, len(cols)), first: make([]*node, nodes), follow: make([]*node, nodes)}
		for i, c := range cols {
			b.cols[i] = newColumn(c.typ, false)
		}
		return b
	}
	return p
}

// getBuf returns an empty batch buffer; putBuf gives it back.
func (p *plan) getBuf() *batchBuf { return p.bufs.Get().(*batchBuf) }

func (p *plan) putBuf(b *batchBuf) {
	for _, c := range b.cols {
		c.truncate(0)
	}
	clear(b.seen)
	b.nrows = 0
	p.bufs.Put(b)
}

// convertChunk converts recs into rows of b, in order; first is the index
// of recs[0] in the Insert's records.
func (p *plan) convertChunk(b *batchBuf, recs []record.Record, first int) []Rejected {
	var rejected []Rejected
	for i := range recs {
		if err := p.add(b, recs[i].Data); err != nil {
			rejected = append(rejected, Rejected{Index: first + i, Reason: err.Error()})
		}
	}
	return rejected
}

// add converts one record into a row of b. A record that does not convert
// adds nothing, and the error says why.
func (p *plan) add(b *batchBuf, data []byte) error {
	err := p.addRow(b, data)
	if err != nil {
		for i, c := range b.cols {
			if c.rows() > b.nrows {
				c.truncate(b.nrows)
			}
			if b.seen[i] == b.nrows+1 {
				b.seen[i] = 0 // the next record is row nrows+1 too
			}
		}
		return err
	}
	b.nrows++
	return nil
}

func (p *plan) addRow(b *batchBuf, data []byte) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		if i < len(data) {
			if _, err := skipValue(data, i, 0); err == nil {
				return fmt.Errorf("the record is %s, not a JSON object", jsonKind(data[i:]))
			}
		}
		return errors.New("the record is not a JSON object")
	}
	end, err := p.walk(b, data, i, p.root, 1)
	if err != nil {
		return err
	}
	if skipSpace(data, end) != len(data) {
		return &syntaxError{skipSpace(data, end), "data after the JSON object"}
	}
	if len(p.root.cols) > 0 {
		if err := p.set(b, p.root, data[i:end]); err != nil {
			return err
		}
	}
	row := b.nrows + 1
	for c, seen := range b.seen {
		if seen == row {
			continue
		}
		if p.cols[c].required {
			return fmt.Errorf("field %s is missing: column %s requires it", p.cols[c].path, p.cols[c].name)
		}
		b.cols[c].addNull()
		b.seen[c] = row
	}
	return nil
}

// walk reads the object at data[i], feeding the columns of n's children,
// and returns the offset past it.
func (p *plan) walk(b *batchBuf, data []byte, i int, n *node, depth int) (int, error) {
	if depth > maxDepth {
		return i, &syntaxError{i, fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	var prev *node
	expect := b.first[n.id]
	for {
		if i >= len(data) || data[i] != '"' {
			return i, errAt(data, i, "a string key")
		}
		kend, escaped, err := scanString(data, i)
		if err != nil {
			return kend, err
		}
		key := data[i+1 : kend-1]
		if escaped {
			b.key = unquote(b.key[:0], data[i:kend])
			key = b.key
		}
		child := expect
		if child == nil || child.key != string(key) {
			child = n.children[string(key)]
		}
		if child != nil {
			if prev == nil {
				b.first[n.id] = child
			} else {
				b.follow[prev.id] = child
			}
			prev, expect = child, b.follow[child.id]
		}
		if child == nil && p.reject {
			return i, fmt.Errorf("field %s.%s is not mapped to a column, and unknown fields are rejected", n.path, pathSegment(excerpt(key)))
		}
		i = skipSpace(data, kend)
		if i >= len(data) || data[i] != ':' {
			return i, errAt(data, i, "':'")
		}
		v := skipSpace(data, i+1)
		switch {
		case child != nil && len(child.cols) == 0 && v < len(data) && data[v] == '{':
			i, err = p.walk(b, data, v, child, depth+1)
		default:
			i, err = skipValue(data, v, depth)
			if err == nil && child != nil {
				err = p.set(b, child, data[v:i])
			}
		}
		if err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		return i, errAt(data, i, "',' or '}'")
	}
}

// set feeds v, the value at n's path, to n's columns, and its fields to
// the columns of n's children.
func (p *plan) set(b *batchBuf, n *node, v []byte) error {
	row := b.nrows + 1
	for _, c := range n.cols {
		col := b.cols[c]
		if b.seen[c] == row {
			// A repeated key: the last one wins, as in encoding/json.
			col.truncate(b.nrows)
		}
		b.seen[c] = row
		if v[0] == 'n' {
			if p.cols[c].required {
				return fmt.Errorf("field %s is null: column %s requires a value", n.path, p.cols[c].name)
			}
			col.addNull()
			continue
		}
		if err := col.add(v); err != nil {
			return fmt.Errorf("field %s: cannot convert %s to %s for column %s: %w", n.path, jsonKind(v), p.cols[c].typ, p.cols[c].name, err)
		}
	}
	if n.children == nil || n == p.root {
		return nil
	}
	switch v[0] {
	case '{':
		_, err := p.walk(b, v, 0, n, 1)
		return err
	case 'n':
		return nil
	}
	if len(n.cols) == 0 {
		return fmt.Errorf("field %s is %s, but columns map fields inside it: want an object", n.path, jsonKind(v))
	}
	return nil
}

// parsePath splits a column's path into field names: .user.id is
// [user id]; a quoted segment holds any name, as ."user.name" or
// ."a \"b\"". "." alone is the whole record.
func parsePath(path string) ([]string, error) {
	if path == "." {
		return nil, nil
	}
	var segs []string
	for i := 0; i < len(path); {
		if path[i] != '.' {
			return nil, pathError(path)
		}
		i++
		if i < len(path) && path[i] == '"' {
			end, _, err := scanString([]byte(path), i)
			if err != nil {
				return nil, pathError(path)
			}
			segs = append(segs, string(unquote(nil, []byte(path[i:end]))))
			i = end
			continue
		}
		start := i
		for i < len(path) && path[i] != '.' && path[i] != '"' && path[i] != '[' && path[i] != ' ' {
			i++
		}
		if i == start || i < len(path) && path[i] != '.' {
			return nil, pathError(path)
		}
		segs = append(segs, path[start:i])
	}
	if len(segs) == 0 {
		return nil, pathError(path)
	}
	return segs, nil
}

func pathError(path string) error {
	return fmt.Errorf("invalid path %q: want a dotted path of field names, such as .user.id or .\"user.name\" (or . for the whole record); jq filters, array indexes and wildcards are not supported", path)
}

// pathSegment writes a field name as a path segment, quoted if needed.
func pathSegment(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '.' || c == '"' || c == '[' || c == ' ' || c < 0x20 || c == '\\' {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// quoteIdent quotes a database, table or column name for ClickHouse.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer("\\", "\\\\", "`", "\\`").Replace(s) + "`"
}
