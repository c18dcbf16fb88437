package partition

import (
	"errors"
	"fmt"

	"github.com/itchyny/gojq"
)

// This file looks at a parsed query without running it, for three
// things: the partition key names it produces (Query.Keys), mistakes that
// would fail every record (checkStatic), and which parts of a record it
// reads (projection), so that Extract decodes only those.

// outputObject returns the object construction whose value q outputs, or
// nil if q's output is not visibly one: {a: .x}, .x | {a: .y}, ({a: .x}),
// . as $r | {a: $r.x}.
func outputObject(q *gojq.Query) *gojq.Object {
	for q != nil {
		if q.Term == nil {
			if q.Op != gojq.OpPipe {
				return nil
			}
			q = q.Right
			continue
		}
		t := q.Term
		if len(t.SuffixList) > 0 {
			return nil
		}
		switch t.Type {
		case gojq.TermTypeObject:
			return t.Object
		case gojq.TermTypeQuery:
			q = t.Query
		default:
			return nil
		}
	}
	return nil
}

// literalKeys returns the keys of o in order, without duplicates, or nil
// if a key is computed.
func literalKeys(o *gojq.Object) []string {
	keys := make([]string, 0, len(o.KeyVals))
	seen := make(map[string]bool, len(o.KeyVals))
	for _, kv := range o.KeyVals {
		var k string
		switch {
		case kv.Key != "" && kv.Key[0] == '$':
			k = kv.Key[1:] // {$x} is {x: $x}; {$x: v} is invalid jq
		case kv.Key != "":
			k = kv.Key
		case kv.KeyString != nil && kv.KeyString.Queries == nil:
			k = kv.KeyString.Str
		default:
			return nil
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// checkStatic rejects queries whose output can be seen, without running
// them, never to be usable partition keys.
func checkStatic(q *gojq.Query) error {
	if o := outputObject(q); o != nil {
		if len(o.KeyVals) == 0 {
			return errors.New("it always outputs an empty object, without partition keys")
		}
		for _, kv := range o.KeyVals {
			if kv.Val == nil {
				continue
			}
			if what := evidentKind(kv.Val); what == "null" || what == "an object" || what == "an array" {
				return fmt.Errorf("the value of key %s is always %s, not a string, number or boolean", keySource(kv), what)
			}
		}
		return nil
	}
	if what := evidentKind(q); what != "" {
		return fmt.Errorf("it always outputs %s, not an object of partition keys", what)
	}
	return nil
}

// keySource returns the key of kv as written in the query.
func keySource(kv *gojq.ObjectKeyVal) string {
	switch {
	case kv.Key != "":
		return kv.Key
	case kv.KeyString != nil:
		return kv.KeyString.String()
	default:
		return "(" + kv.KeyQuery.String() + ")"
	}
}

// evidentKind describes the value q always outputs, if its syntax shows
// it: a literal, or an array or object construction.
func evidentKind(q *gojq.Query) string {
	if q.Term == nil || len(q.Term.SuffixList) > 0 {
		return ""
	}
	switch q.Term.Type {
	case gojq.TermTypeNull:
		return "null"
	case gojq.TermTypeTrue, gojq.TermTypeFalse:
		return "a boolean"
	case gojq.TermTypeNumber:
		return "a number"
	case gojq.TermTypeString:
		return "a string"
	case gojq.TermTypeArray:
		return "an array"
	case gojq.TermTypeObject:
		return "an object"
	case gojq.TermTypeQuery:
		return evidentKind(q.Term.Query)
	}
	return ""
}

// projection returns the parts of its input that q can read, as a *field
// for the parser: nil when q may read all of it.
//
// The analysis is conservative. It follows what reads the input in a
// known way (paths like .a.b and .["a"], object and array construction,
// operators, if, try, string interpolation, and the left side of a pipe,
// whose right side reads only what the left side outputs) and gives up,
// selecting everything, on anything else: function calls, which may
// read the whole input (keys, tostring, has, getpath, …), .., reduce,
// foreach, assignments, and function definitions.
func projection(q *gojq.Query) *field {
	a := &analysis{root: &pathNode{}}
	a.query(q)
	if a.whole || a.root.whole {
		return nil
	}
	return a.root.field()
}

// pathNode is a tree of the paths read from the input. A node is whole
// when everything under it is read.
type pathNode struct {
	whole bool
	sub   map[string]*pathNode
}

func (n *pathNode) child(key string) *pathNode {
	if n.sub == nil {
		n.sub = make(map[string]*pathNode)
	}
	c := n.sub[key]
	if c == nil {
		c = &pathNode{}
		n.sub[key] = c
	}
	return c
}

// field converts the subtree read below n, which is not whole.
func (n *pathNode) field() *field {
	f := &field{sub: make(map[string]*field, len(n.sub))}
	for k, c := range n.sub {
		if c.whole || len(c.sub) == 0 {
			f.sub[k] = nil
		} else {
			f.sub[k] = c.field()
		}
	}
	return f
}

type analysis struct {
	root  *pathNode
	whole bool // gave up: the whole input may be read
}

// query records what q reads of the input, which is the record.
func (a *analysis) query(q *gojq.Query) {
	if q == nil || a.whole {
		return
	}
	if q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 {
		a.whole = true
		return
	}
	if q.Term != nil {
		a.term(q.Term)
		return
	}
	switch q.Op {
	case gojq.OpPipe:
		a.query(q.Left)
		if len(q.Patterns) > 0 {
			// In "e as $x | body", body runs on the same input as e.
			for _, p := range q.Patterns {
				if !simplePattern(p) {
					a.whole = true
					return
				}
			}
			a.query(q.Right)
		}
	case gojq.OpComma, gojq.OpAdd, gojq.OpSub, gojq.OpMul, gojq.OpDiv, gojq.OpMod,
		gojq.OpEq, gojq.OpNe, gojq.OpGt, gojq.OpLt, gojq.OpGe, gojq.OpLe,
		gojq.OpAnd, gojq.OpOr, gojq.OpAlt:
		a.query(q.Left)
		a.query(q.Right)
	default: // assignments output the modified input
		a.whole = true
	}
}

// simplePattern reports whether destructuring with p evaluates no
// expression: object patterns may hold ones, such as {(.k): $v}.
func simplePattern(p *gojq.Pattern) bool {
	for _, e := range p.Array {
		if !simplePattern(e) {
			return false
		}
	}
	for _, o := range p.Object {
		if o.KeyQuery != nil || o.KeyString != nil && o.KeyString.Queries != nil {
			return false
		}
		if o.Val != nil && !simplePattern(o.Val) {
			return false
		}
	}
	return true
}

func (a *analysis) term(t *gojq.Term) {
	// node is the part of the input t's value is, while t is a path
	// (., .a, .a.b, .["a"]); nil once it is something else.
	var node *pathNode
	switch t.Type {
	case gojq.TermTypeIdentity:
		node = a.root
	case gojq.TermTypeIndex:
		node = a.index(a.root, t.Index)
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
	case gojq.TermTypeString:
		a.str(t.Str)
	case gojq.TermTypeFormat:
		if t.Str == nil { // @base64 formats the whole input
			a.whole = true
			return
		}
		a.str(t.Str)
	case gojq.TermTypeFunc:
		if !inputFree(t.Func) {
			a.whole = true
			return
		}
	case gojq.TermTypeObject:
		for _, kv := range t.Object.KeyVals {
			switch {
			case kv.Key != "" && kv.Key[0] == '$':
			case kv.Key != "":
				if kv.Val == nil { // {a} is {a: .a}
					a.root.child(kv.Key).whole = true
				}
			case kv.KeyString != nil:
				if kv.KeyString.Queries == nil {
					if kv.Val == nil { // {"a"} is {"a": .a}
						a.root.child(kv.KeyString.Str).whole = true
					}
				} else {
					a.str(kv.KeyString)
					if kv.Val == nil {
						a.whole = true
						return
					}
				}
			default:
				a.query(kv.KeyQuery)
			}
			a.query(kv.Val)
		}
	case gojq.TermTypeArray:
		a.query(t.Array.Query)
	case gojq.TermTypeUnary:
		a.term(t.Unary.Term)
	case gojq.TermTypeIf:
		if t.If.Else == nil { // if c then x end outputs . when c is false
			a.whole = true
			return
		}
		a.query(t.If.Cond)
		a.query(t.If.Then)
		for _, e := range t.If.Elif {
			a.query(e.Cond)
			a.query(e.Then)
		}
		a.query(t.If.Else)
	case gojq.TermTypeTry:
		a.query(t.Try.Body) // the catch body's input is the error
	case gojq.TermTypeQuery:
		a.query(t.Query)
	default: // .., reduce, foreach, label, break
		a.whole = true
		return
	}
	for _, s := range t.SuffixList {
		switch {
		case s.Optional:
		case s.Iter:
			node = a.readWhole(node)
		default:
			node = a.index(node, s.Index)
		}
	}
	a.readWhole(node)
}

// index records an index into node (nil if not a path of the input):
// .a and .["a"] extend the path; other indices and slices read all of
// node, and their expressions read the term's input, which is the record.
func (a *analysis) index(node *pathNode, x *gojq.Index) *pathNode {
	key, literal := x.Name, x.Name != ""
	switch {
	case x.Str != nil && x.Str.Queries == nil: // ."a"
		key, literal = x.Str.Str, true
	case x.Start != nil && x.End == nil && !x.IsSlice && x.Start.Term != nil && // .["a"]
		x.Start.Term.Type == gojq.TermTypeString && x.Start.Term.Str.Queries == nil && len(x.Start.Term.SuffixList) == 0:
		key, literal = x.Start.Term.Str.Str, true
	}
	if literal && !x.IsSlice && x.End == nil {
		if node == nil {
			return nil
		}
		return node.child(key)
	}
	if x.Str != nil {
		a.str(x.Str)
	}
	a.query(x.Start)
	a.query(x.End)
	return a.readWhole(node)
}

// readWhole records that all of node is read, and returns nil: what
// follows is no longer a path of the input.
func (a *analysis) readWhole(node *pathNode) *pathNode {
	if node != nil {
		node.whole = true
	}
	return nil
}

func (a *analysis) str(s *gojq.String) {
	for _, q := range s.Queries {
		a.query(q)
	}
}

// inputFree reports whether calling f reads nothing of its input:
// variables, and builtins that ignore their input and have no arguments.
// A variable can hold a value read from the input only through a binding
// the analysis has followed already.
func inputFree(f *gojq.Func) bool {
	if len(f.Args) > 0 {
		return false
	}
	if f.Name != "" && f.Name[0] == '$' {
		return true
	}
	switch f.Name {
	case "empty", "now", "nan", "infinite":
		return true
	}
	return false
}
