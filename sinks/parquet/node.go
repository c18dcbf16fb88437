package parquet

import (
	"reflect"
	"strings"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// groupNode is a Parquet group whose fields keep the order they were
// declared in. parquet-go's own Group is a map and sorts its fields by name;
// Firehose writes columns in the order of the table, and so do we.
type groupNode struct {
	fields []pq.Field
	typ    pq.Type // a plain group, LIST or MAP
}

func newGroup(fields []pq.Field) pq.Node { return &groupNode{fields: fields, typ: pq.Group{}.Type()} }

// newList returns the LIST group of a standard three-level list.
func newList(fields []pq.Field) pq.Node {
	// The type of parquet-go's LIST node does not depend on the element.
	return &groupNode{fields: fields, typ: pq.List(pq.Leaf(pq.BooleanType)).Type()}
}

// newMap returns the MAP group of a map.
func newMap(fields []pq.Field) pq.Node {
	return &groupNode{fields: fields, typ: pq.Map(pq.String(), pq.Leaf(pq.BooleanType)).Type()}
}

func (g *groupNode) ID() int                            { return 0 }
func (g *groupNode) Type() pq.Type                      { return g.typ }
func (g *groupNode) Optional() bool                     { return false }
func (g *groupNode) Repeated() bool                     { return false }
func (g *groupNode) Required() bool                     { return true }
func (g *groupNode) Leaf() bool                         { return false }
func (g *groupNode) Fields() []pq.Field                 { return g.fields }
func (g *groupNode) Encoding() encoding.Encoding        { return nil }
func (g *groupNode) Compression() compress.Codec        { return nil }
func (g *groupNode) String() string                     { return nodeString(g) }
func (g *groupNode) GoType() reflect.Type               { return g.group().GoType() }
func (g *groupNode) group() pq.Group                    { return groupOf(g.fields) }
func (f *namedField) Name() string                      { return f.name }
func (f *namedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// groupOf returns the fields as a parquet-go Group, for GoType: the writer
// never reflects on Go values, so only the shape matters.
func groupOf(fields []pq.Field) pq.Group {
	m := make(pq.Group, len(fields))
	for _, f := range fields {
		m[f.Name()] = f
	}
	return m
}

func nodeString(n pq.Node) string {
	var b strings.Builder
	_ = pq.PrintSchema(&b, "", n)
	return b.String()
}

// namedField names a node in its parent group.
type namedField struct {
	pq.Node
	name string
}

func namedNode(name string, n pq.Node) pq.Field { return &namedField{Node: n, name: name} }
