package parquet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	pq "github.com/parquet-go/parquet-go"
)

// Column declares one column, with the Hive/Glue type names that Firehose
// schemas use.
type Column struct {
	// Name is the Parquet column name. JSON fields match it
	// case-insensitively, as Firehose's deserializers do.
	Name string
	// Type is one of string, boolean, tinyint, smallint, int (or integer),
	// bigint, float, double, decimal(p,s), date, timestamp, binary, struct,
	// array and map. Case and surrounding spaces are ignored.
	Type string
	// Optional columns may be null or missing; a missing or null required
	// column makes the record fail conversion.
	Optional bool
	// Fields are the members of a struct, in file order.
	Fields []Column
	// Element is the element of an array, or the value of a map (whose keys
	// are strings). Its Name is ignored; its Optional says whether elements
	// may be null (Hive's and Glue's always may).
	Element *Column
	// TimestampUnit is the unit a timestamp is stored in: "millis" (the
	// default when empty) or "micros".
	TimestampUnit string
}

// Schema is the table a record is converted to: its columns, in file order.
type Schema struct {
	Columns []Column
}

// FieldError is the error of Schema.Validate and Options.Validate: it names
// the offending field by its dotted path, such as
// "columns[2].fields[0].type", and says what to change.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

const (
	// maxDepth bounds the nesting of structs, arrays and maps. Each level
	// adds at most three definition levels, and Parquet (and parquet-go)
	// stores levels in a byte.
	maxDepth = 64
	// maxLeafColumns is parquet-go's limit on the number of leaf columns.
	maxLeafColumns = pq.MaxColumnIndex
	// maxDecimalPrecision is the largest precision Hive and Glue allow.
	maxDecimalPrecision = 38
)

// typeNames lists the accepted type names for error messages.
const typeNames = "string, boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), date, timestamp, binary, struct, array, map"

// Validate checks the schema and returns a *FieldError for the first problem
// found, or nil.
func (s *Schema) Validate() error {
	if len(s.Columns) == 0 {
		return &FieldError{Field: "columns", Message: "at least one column is required"}
	}
	leaves := 0
	if err := validateFields(s.Columns, "columns", 1, &leaves); err != nil {
		return err
	}
	if leaves > maxLeafColumns {
		return &FieldError{Field: "columns", Message: fmt.Sprintf("the schema has %d leaf columns; at most %d are supported", leaves, maxLeafColumns)}
	}
	return nil
}

func validateFields(cols []Column, path string, depth int, leaves *int) error {
	seen := make(map[string]int, len(cols))
	for i := range cols {
		p := path + "[" + strconv.Itoa(i) + "]"
		c := &cols[i]
		switch {
		case c.Name == "":
			return &FieldError{Field: p + ".name", Message: "name is required"}
		case !utf8.ValidString(c.Name):
			return &FieldError{Field: p + ".name", Message: "name is not valid UTF-8"}
		}
		key := strings.ToLower(c.Name)
		if j, dup := seen[key]; dup {
			return &FieldError{Field: p + ".name", Message: fmt.Sprintf("name %q repeats %s[%d] (names are case-insensitive, as JSON fields match them)", c.Name, path, j)}
		}
		seen[key] = i
		if err := validateColumn(c, p, depth, leaves); err != nil {
			return err
		}
	}
	return nil
}

func validateColumn(c *Column, path string, depth int, leaves *int) error {
	if depth > maxDepth {
		return &FieldError{Field: path, Message: fmt.Sprintf("nesting is deeper than %d levels", maxDepth)}
	}
	t, err := parseType(c.Type)
	if err != nil {
		return &FieldError{Field: path + ".type", Message: err.Error()}
	}
	if c.TimestampUnit != "" && t.kind != kTimestamp {
		return &FieldError{Field: path + ".timestamp_unit", Message: fmt.Sprintf("timestamp_unit applies to timestamp columns only, not %s", t.name)}
	}
	if t.kind == kTimestamp {
		if _, err := parseUnit(c.TimestampUnit); err != nil {
			return &FieldError{Field: path + ".timestamp_unit", Message: err.Error()}
		}
	}
	if t.kind != kStruct && len(c.Fields) > 0 {
		return &FieldError{Field: path + ".fields", Message: fmt.Sprintf("fields apply to struct columns only, not %s", t.name)}
	}
	if t.kind != kList && t.kind != kMap && c.Element != nil {
		return &FieldError{Field: path + ".element", Message: fmt.Sprintf("element applies to array and map columns only, not %s", t.name)}
	}
	switch t.kind {
	case kStruct:
		if len(c.Fields) == 0 {
			return &FieldError{Field: path + ".fields", Message: "a struct needs at least one field"}
		}
		return validateFields(c.Fields, path+".fields", depth+1, leaves)
	case kList, kMap:
		if c.Element == nil {
			what := "the type of the array's elements"
			if t.kind == kMap {
				what = "the type of the map's values (keys are strings)"
			}
			return &FieldError{Field: path + ".element", Message: "element is required: declare " + what}
		}
		if t.kind == kMap {
			*leaves++ // the key column
		}
		return validateColumn(c.Element, path+".element", depth+1, leaves)
	default:
		*leaves++
		return nil
	}
}

// kind is the conversion a column applies.
type kind uint8

const (
	kString kind = iota
	kBoolean
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat
	kDouble
	kDecimal
	kDate
	kTimestamp
	kBinary
	kStruct
	kList
	kMap
)

// colType is a parsed Column.Type.
type colType struct {
	kind      kind
	name      string // canonical name, for messages
	precision int    // decimal
	scale     int    // decimal
}

func parseType(s string) (colType, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "":
		return colType{}, fmt.Errorf("type is required; want one of %s", typeNames)
	case "string":
		return colType{kind: kString, name: name}, nil
	case "boolean":
		return colType{kind: kBoolean, name: name}, nil
	case "tinyint":
		return colType{kind: kInt8, name: name}, nil
	case "smallint":
		return colType{kind: kInt16, name: name}, nil
	case "int", "integer":
		return colType{kind: kInt32, name: "int"}, nil
	case "bigint":
		return colType{kind: kInt64, name: name}, nil
	case "float":
		return colType{kind: kFloat, name: name}, nil
	case "double":
		return colType{kind: kDouble, name: name}, nil
	case "date":
		return colType{kind: kDate, name: name}, nil
	case "timestamp":
		return colType{kind: kTimestamp, name: name}, nil
	case "binary":
		return colType{kind: kBinary, name: name}, nil
	case "struct":
		return colType{kind: kStruct, name: name}, nil
	case "array":
		return colType{kind: kList, name: name}, nil
	case "map":
		return colType{kind: kMap, name: name}, nil
	}
	if strings.HasPrefix(name, "decimal") {
		return parseDecimalType(s, strings.TrimSpace(name[len("decimal"):]))
	}
	if strings.ContainsAny(name, "<>") {
		return colType{}, fmt.Errorf("type %q is a Hive type expression; declare nested types as type struct, array or map with fields or element", s)
	}
	return colType{}, fmt.Errorf("unknown type %q; want one of %s", s, typeNames)
}

// parseDecimalType parses the "(p,s)" or "(p)" after "decimal"; Hive's
// plain "decimal" is decimal(10,0).
func parseDecimalType(orig, args string) (colType, error) {
	bad := fmt.Errorf("invalid decimal type %q; want decimal(p,s) with 1 <= p <= %d and 0 <= s <= p", orig, maxDecimalPrecision)
	p, s := 10, 0
	if args != "" {
		if args[0] != '(' || args[len(args)-1] != ')' {
			return colType{}, bad
		}
		ps, ss, hasScale := strings.Cut(args[1:len(args)-1], ",")
		var err error
		if p, err = strconv.Atoi(strings.TrimSpace(ps)); err != nil {
			return colType{}, bad
		}
		if hasScale {
			if s, err = strconv.Atoi(strings.TrimSpace(ss)); err != nil {
				return colType{}, bad
			}
		}
	}
	if p < 1 || p > maxDecimalPrecision || s < 0 || s > p {
		return colType{}, bad
	}
	return colType{kind: kDecimal, name: "decimal(" + strconv.Itoa(p) + "," + strconv.Itoa(s) + ")", precision: p, scale: s}, nil
}

// parseUnit parses Column.TimestampUnit and reports whether it is micros.
func parseUnit(u string) (micros bool, err error) {
	switch strings.ToLower(strings.TrimSpace(u)) {
	case "", "millis":
		return false, nil
	case "micros":
		return true, nil
	}
	return false, fmt.Errorf("unknown timestamp unit %q; want millis or micros", u)
}

// field is a compiled Column: the node that conversion walks, with its
// Parquet levels resolved. A Writer owns its tree, whose scratch state (seen)
// is reused record after record.
type field struct {
	kind     kind
	typeName string // for messages
	path     string // for messages: a.b, a[] for an array element, a{} for a map value
	optional bool

	// def is the definition level of this node when it is present; a null
	// optional node is written at def-1.
	def int
	// rep is the repetition level of the repeated group of an array or map.
	rep int
	// col is the leaf column index; [first, end) are the leaf columns under
	// this node.
	col, first, end int

	// struct
	fields []*field
	names  nameTable
	seen   []bool

	// array element, map value; key is the map key
	elem, key *field

	// decimal
	precision, scale int
	flbaLen          int // fixed length of decimal(p>18)

	micros bool // timestamp
}

// compiled is the result of compiling a Schema.
type compiled struct {
	root   *field
	node   pq.Node
	leaves int // leaf columns
}

// compile builds the conversion tree and the Parquet schema. The schema must
// be valid.
func compile(s *Schema) *compiled {
	c := &compiled{}
	root := &field{kind: kStruct, typeName: "struct"}
	nodes := make([]pq.Field, len(s.Columns))
	root.fields = make([]*field, len(s.Columns))
	for i := range s.Columns {
		f, n := c.column(&s.Columns[i], s.Columns[i].Name, 0, 0)
		root.fields[i] = f
		nodes[i] = namedNode(s.Columns[i].Name, n)
	}
	root.end = c.leaves
	root.names, root.seen = newNameTable(s.Columns), make([]bool, len(s.Columns))
	c.root = root
	c.node = newGroup(nodes)
	return c
}

// nameTable finds a struct's fields by lower-cased name: an open-addressing
// hash table, which beats a map here because lookup hashes the key while
// lower-casing it.
type nameTable struct {
	slots []int32  // position in names + 1; 0 is empty
	names []string // lower-cased
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// hashName is FNV-1a, as lookup computes it.
func hashName(s string) uint32 {
	h := uint32(fnvOffset)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * fnvPrime
	}
	return h
}

func newNameTable(cols []Column) nameTable {
	size := 4
	for size < 2*len(cols) {
		size *= 2
	}
	t := nameTable{slots: make([]int32, size), names: make([]string, len(cols))}
	for i := range cols {
		name := strings.ToLower(cols[i].Name)
		t.names[i] = name
		j := hashName(name) & uint32(size-1)
		for t.slots[j] != 0 {
			j = (j + 1) & uint32(size-1)
		}
		t.slots[j] = int32(i + 1)
	}
	return t
}

// find returns the position of the lower-cased name, whose hash is h.
func (t *nameTable) find(h uint32, name []byte) (int, bool) {
	mask := uint32(len(t.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		s := t.slots[j]
		if s == 0 {
			return 0, false
		}
		if t.names[s-1] == string(name) {
			return int(s - 1), true
		}
	}
}

// column compiles col, whose parent is present at definition level def and
// repeats at repetition level rep, and returns the node for it.
func (c *compiled) column(col *Column, path string, def, rep int) (*field, pq.Node) {
	t, _ := parseType(col.Type)
	f := &field{kind: t.kind, typeName: t.name, path: path, optional: col.Optional, def: def, rep: rep, first: c.leaves}
	if f.optional {
		f.def++
	}
	var n pq.Node
	switch t.kind {
	case kStruct:
		nodes := make([]pq.Field, len(col.Fields))
		f.fields = make([]*field, len(col.Fields))
		for i := range col.Fields {
			child, cn := c.column(&col.Fields[i], path+"."+col.Fields[i].Name, f.def, rep)
			f.fields[i] = child
			nodes[i] = namedNode(col.Fields[i].Name, cn)
		}
		f.names, f.seen = newNameTable(col.Fields), make([]bool, len(col.Fields))
		n = newGroup(nodes)
	case kList:
		// Standard three-level list: <list> (LIST) { repeated list { element } }.
		f.rep = rep + 1
		elem, en := c.column(col.Element, path+"[]", f.def+1, f.rep)
		f.elem = elem
		n = newList([]pq.Field{
			namedNode("list", pq.Repeated(newGroup([]pq.Field{namedNode("element", en)}))),
		})
	case kMap:
		// <map> (MAP) { repeated key_value { required key (STRING); value } }.
		f.rep = rep + 1
		key, kn := c.column(&Column{Type: "string"}, path+"{key}", f.def+1, f.rep)
		val, vn := c.column(col.Element, path+"{}", f.def+1, f.rep)
		f.key, f.elem = key, val
		n = newMap([]pq.Field{
			namedNode("key_value", pq.Repeated(newGroup([]pq.Field{
				namedNode("key", kn),
				namedNode("value", vn),
			}))),
		})
	default:
		f.col = c.leaves
		c.leaves++
		n = leafNode(t, col, f)
	}
	f.end = c.leaves
	if f.optional {
		n = pq.Optional(n)
	}
	return f, n
}

// leafNode returns the Parquet node of a leaf column and records the
// decimal and timestamp details in f.
func leafNode(t colType, col *Column, f *field) pq.Node {
	switch t.kind {
	case kString:
		return pq.String()
	case kBoolean:
		return pq.Leaf(pq.BooleanType)
	case kInt8:
		return pq.Int(8)
	case kInt16:
		return pq.Int(16)
	case kInt32:
		return pq.Leaf(pq.Int32Type)
	case kInt64:
		return pq.Leaf(pq.Int64Type)
	case kFloat:
		return pq.Leaf(pq.FloatType)
	case kDouble:
		return pq.Leaf(pq.DoubleType)
	case kDecimal:
		f.precision, f.scale = t.precision, t.scale
		switch {
		case t.precision <= 9:
			return pq.Decimal(t.scale, t.precision, pq.Int32Type)
		case t.precision <= 18:
			return pq.Decimal(t.scale, t.precision, pq.Int64Type)
		default:
			f.flbaLen = decimalBytes(t.precision)
			return pq.Decimal(t.scale, t.precision, pq.FixedLenByteArrayType(f.flbaLen))
		}
	case kDate:
		return pq.Date()
	case kTimestamp:
		f.micros, _ = parseUnit(col.TimestampUnit)
		if f.micros {
			return pq.Timestamp(pq.Microsecond)
		}
		return pq.Timestamp(pq.Millisecond)
	case kBinary:
		return pq.Leaf(pq.ByteArrayType)
	}
	panic("parquet: leafNode called on " + t.name)
}

// decimalBytes is the smallest number of bytes whose two's complement holds
// every unscaled value of the given precision.
func decimalBytes(precision int) int {
	// 10^precision - 1 < 2^(8n-1)  <=>  precision*log2(10) < 8n-1.
	n := 1
	for float64(8*n-1) < float64(precision)*3.321928094887362 {
		n++
	}
	return n
}
