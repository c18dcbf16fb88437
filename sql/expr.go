package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
)

// scope converts a query's expressions over its one input.
type scope struct {
	a      *analyzer
	st     stmt
	scan   *Scan
	name   string // the input's table or view name
	selOff int
}

// group is the state of a grouped query: its window, keys and aggregates.
type group struct {
	window    *Window
	windowAST *ast.FuncCallExpr
	keys      []*Expr
	keyText   []string
	aggs      []*Aggregate
	inAgg     bool
}

func (s *scope) qualifies(q string) bool {
	return strings.EqualFold(q, s.name) || s.scan.Alias != "" && strings.EqualFold(q, s.scan.Alias)
}

func (s *scope) errorf(n ast.Node, format string, args ...any) {
	s.a.src.errorf(s.a.exprOffset(n, s.selOff), format, args...)
}

var binaryOps = map[opcode.Op]string{
	opcode.LogicAnd: "AND", opcode.LogicOr: "OR", opcode.LogicXor: "XOR",
	opcode.GE: ">=", opcode.LE: "<=", opcode.EQ: "=", opcode.NE: "!=", opcode.LT: "<", opcode.GT: ">", opcode.NullEQ: "<=>",
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.Mod: "%", opcode.IntDiv: "DIV",
}

// conv converts e; g is nil outside grouped queries.
func (s *scope) conv(e ast.ExprNode, g *group) (*Expr, bool) {
	if g != nil && !g.inAgg {
		if k, ok := s.keyRef(e, g); ok {
			return k, true
		}
	}
	switch n := e.(type) {
	case *ast.ParenthesesExpr:
		return s.conv(n.Expr, g)
	case ast.ParamMarkerExpr:
		s.errorf(n, "parameter markers (?) are not supported")
		return nil, false
	case ast.ValueExpr:
		return literal(n.GetValue()), true
	case *ast.ColumnNameExpr:
		c := n.Name
		if c.Schema.O != "" || c.Table.O != "" && !s.qualifies(c.Table.O) {
			s.errorf(n, "unknown table %s in %s", c.Table.O, c.String())
			return nil, false
		}
		for i, col := range s.scan.Columns {
			if strings.EqualFold(col.Name, c.Name.O) {
				if g != nil && !g.inAgg {
					s.errorf(n, "column %s must be in GROUP BY or inside an aggregate such as COUNT or MAX", c.Name.O)
					return nil, false
				}
				return &Expr{Kind: ExprColumn, Name: col.Name, Index: i, Type: col.Type}, true
			}
		}
		s.errorf(n, "unknown column %s in %s", c.Name.O, s.name)
		return nil, false
	case *ast.BinaryOperationExpr:
		op, ok := binaryOps[n.Op]
		if !ok {
			s.errorf(n, "operator %s is not supported", n.Op)
			return nil, false
		}
		l, lok := s.conv(n.L, g)
		r, rok := s.conv(n.R, g)
		if !lok || !rok {
			return nil, false
		}
		return s.binary(n, op, l, r)
	case *ast.UnaryOperationExpr:
		x, ok := s.conv(n.V, g)
		if !ok {
			return nil, false
		}
		switch n.Op {
		case opcode.Not, opcode.Not2:
			return s.want(n, "NOT", TypeBool, []*Expr{x}, TypeBool)
		case opcode.Minus:
			if !x.Type.numeric() && x.Type != TypeNull {
				s.errorf(n, "- needs a number, not %s", x.Type)
				return nil, false
			}
			return &Expr{Kind: ExprCall, Name: "-", Args: []*Expr{x}, Type: x.Type}, true
		case opcode.Plus:
			return x, true
		}
		s.errorf(n, "operator %s is not supported", n.Op)
		return nil, false
	case *ast.IsNullExpr:
		x, ok := s.conv(n.Expr, g)
		name := "IS NULL"
		if n.Not {
			name = "IS NOT NULL"
		}
		return &Expr{Kind: ExprCall, Name: name, Args: []*Expr{x}, Type: TypeBool}, ok
	case *ast.IsTruthExpr:
		x, ok := s.conv(n.Expr, g)
		if !ok {
			return nil, false
		}
		name := map[bool]string{true: "IS TRUE", false: "IS FALSE"}[n.True != 0]
		if n.Not {
			name = strings.Replace(name, "IS", "IS NOT", 1)
		}
		return s.want(n, name, TypeBool, []*Expr{x}, TypeBool)
	case *ast.PatternLikeOrIlikeExpr:
		x, ok1 := s.conv(n.Expr, g)
		p, ok2 := s.conv(n.Pattern, g)
		if !ok1 || !ok2 {
			return nil, false
		}
		name := "LIKE"
		if !n.IsLike {
			name = "ILIKE"
		}
		if n.Not {
			name = "NOT " + name
		}
		return s.want(n, name, TypeString, []*Expr{x, p}, TypeBool)
	case *ast.PatternRegexpExpr:
		x, ok1 := s.conv(n.Expr, g)
		p, ok2 := s.conv(n.Pattern, g)
		if !ok1 || !ok2 {
			return nil, false
		}
		name := "REGEXP"
		if n.Not {
			name = "NOT REGEXP"
		}
		return s.want(n, name, TypeString, []*Expr{x, p}, TypeBool)
	case *ast.PatternInExpr:
		if n.Sel != nil {
			s.errorf(n, "IN (SELECT …) is not supported")
			return nil, false
		}
		args, ok := s.convAll(append([]ast.ExprNode{n.Expr}, n.List...), g)
		if !ok {
			return nil, false
		}
		name := "IN"
		if n.Not {
			name = "NOT IN"
		}
		return s.comparable(n, name, args)
	case *ast.BetweenExpr:
		args, ok := s.convAll([]ast.ExprNode{n.Expr, n.Left, n.Right}, g)
		if !ok {
			return nil, false
		}
		name := "BETWEEN"
		if n.Not {
			name = "NOT BETWEEN"
		}
		return s.comparable(n, name, args)
	case *ast.CaseExpr:
		return s.caseExpr(n, g)
	case *ast.FuncCastExpr:
		x, ok := s.conv(n.Expr, g)
		if !ok {
			return nil, false
		}
		t, err := columnType(&ast.ColumnDef{Tp: n.Tp})
		if err != nil {
			s.errorf(n, "CAST: %v", err)
			return nil, false
		}
		return &Expr{Kind: ExprCast, Args: []*Expr{x}, Type: t}, true
	case *ast.AggregateFuncExpr:
		return s.aggregateCall(n, g)
	case *ast.FuncCallExpr:
		return s.call(n, g)
	case *ast.WindowFuncExpr:
		s.errorf(n, "OVER windows are not supported yet; use GROUP BY TUMBLE, HOP or SESSION_WINDOW")
		return nil, false
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr:
		s.errorf(n, "subqueries are not supported")
		return nil, false
	case *ast.DefaultExpr:
		s.errorf(n, "DEFAULT is not supported")
		return nil, false
	case *ast.VariableExpr:
		s.errorf(n, "variables are not supported")
		return nil, false
	}
	s.errorf(e, "this expression is not supported: %s", sqlText(e))
	return nil, false
}

func (s *scope) convAll(es []ast.ExprNode, g *group) ([]*Expr, bool) {
	out := make([]*Expr, len(es))
	ok := true
	for i, e := range es {
		x, xok := s.conv(e, g)
		out[i], ok = x, ok && xok
	}
	return out, ok
}

func literal(v any) *Expr {
	e := &Expr{Kind: ExprLiteral}
	switch x := v.(type) {
	case nil:
		e.Type = TypeNull
	case int64:
		e.Value, e.Type = x, TypeInt64
	case uint64:
		if x > 1<<63-1 {
			e.Value, e.Type = float64(x), TypeFloat64
		} else {
			e.Value, e.Type = int64(x), TypeInt64
		}
	case float64:
		e.Value, e.Type = x, TypeFloat64
	case float32:
		e.Value, e.Type = float64(x), TypeFloat64
	case string:
		e.Value, e.Type = x, TypeString
	case []byte:
		e.Value, e.Type = string(x), TypeString
	case bool:
		e.Value, e.Type = x, TypeBool
	case fmt.Stringer: // decimal literals
		e.Value, e.Type = x.String(), TypeDecimal
	default:
		e.Value, e.Type = fmt.Sprint(x), TypeString
	}
	return e
}

// want checks that every arg has type in (or is NULL) and builds a call.
func (s *scope) want(n ast.Node, name string, in Type, args []*Expr, out Type) (*Expr, bool) {
	for _, x := range args {
		if x.Type != in && x.Type != TypeNull && !(in == TypeBool && x.Type == TypeInt64) {
			s.errorf(n, "%s needs %s operands, not %s", name, in, x.Type)
			return nil, false
		}
	}
	return &Expr{Kind: ExprCall, Name: name, Args: args, Type: out}, true
}

func comparableTypes(a, b Type) bool {
	return a == b || a == TypeNull || b == TypeNull || a.numeric() && b.numeric() ||
		a == TypeTimestamp && b == TypeString || a == TypeString && b == TypeTimestamp ||
		a == TypeBool && b == TypeInt64 || a == TypeInt64 && b == TypeBool
}

func (s *scope) comparable(n ast.Node, name string, args []*Expr) (*Expr, bool) {
	for _, x := range args[1:] {
		if !comparableTypes(args[0].Type, x.Type) {
			s.errorf(n, "%s compares %s with %s", name, args[0].Type, x.Type)
			return nil, false
		}
	}
	return &Expr{Kind: ExprCall, Name: name, Args: args, Type: TypeBool}, true
}

func numericResult(a, b Type) Type {
	switch {
	case a == TypeFloat64 || b == TypeFloat64:
		return TypeFloat64
	case a == TypeDecimal || b == TypeDecimal:
		return TypeDecimal
	case a == TypeNull:
		return b
	}
	return a
}

func (s *scope) binary(n ast.Node, op string, l, r *Expr) (*Expr, bool) {
	args := []*Expr{l, r}
	switch op {
	case "AND", "OR", "XOR":
		return s.want(n, op, TypeBool, args, TypeBool)
	case "=", "!=", "<", "<=", ">", ">=", "<=>":
		return s.comparable(n, op, args)
	}
	for _, x := range args {
		if !x.Type.numeric() && x.Type != TypeNull {
			s.errorf(n, "%s needs numbers, not %s (use || or CONCAT to join strings)", op, x.Type)
			return nil, false
		}
	}
	t := numericResult(l.Type, r.Type)
	switch op {
	case "/":
		if t == TypeInt64 {
			t = TypeFloat64
		}
	case "DIV":
		t = TypeInt64
	}
	return &Expr{Kind: ExprCall, Name: op, Args: args, Type: t}, true
}

func (s *scope) caseExpr(n *ast.CaseExpr, g *group) (*Expr, bool) {
	var args []*Expr
	var operand *Expr
	ok := true
	if n.Value != nil {
		operand, ok = s.conv(n.Value, g)
		args = append(args, operand)
	}
	result := TypeNull
	addResult := func(e ast.ExprNode) {
		x, xok := s.conv(e, g)
		if !xok {
			ok = false
			return
		}
		args = append(args, x)
		switch {
		case result == TypeNull:
			result = x.Type
		case x.Type == TypeNull || x.Type == result:
		case result.numeric() && x.Type.numeric():
			result = numericResult(result, x.Type)
		default:
			s.errorf(e, "CASE results mix %s and %s", result, x.Type)
			ok = false
		}
	}
	for _, w := range n.WhenClauses {
		c, cok := s.conv(w.Expr, g)
		if !cok {
			ok = false
			continue
		}
		if operand == nil && c.Type != TypeBool && c.Type != TypeInt64 && c.Type != TypeNull {
			s.errorf(w.Expr, "WHEN needs a condition, not %s", c.Type)
			ok = false
		}
		args = append(args, c)
		addResult(w.Result)
	}
	if n.ElseClause != nil {
		addResult(n.ElseClause)
	}
	if !ok {
		return nil, false
	}
	name := "CASE"
	if operand != nil {
		name = "CASE_VALUE"
	}
	return &Expr{Kind: ExprCall, Name: name, Args: args, Type: result}, true
}

// sqlText renders n as SQL for a message.
func sqlText(n ast.Node) string {
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.RestoreStringSingleQuotes|format.RestoreKeyWordUppercase|format.RestoreStringWithoutCharset, &b)); err != nil {
		return "the expression"
	}
	return b.String()
}

// restore renders n as normalised SQL, to compare expressions.
func restore(n ast.Node) string {
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags|format.RestoreNameLowercase|format.RestoreStringWithoutCharset, &b)); err != nil {
		return ""
	}
	return b.String()
}
