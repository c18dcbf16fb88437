package sql

import (
	"fmt"
	"strings"
	"time"
)

// Node is an operator of a query's logical plan. Data flows from the
// leaves (Scan) to the root (Sink).
type Node interface {
	// Output is the columns the operator produces.
	Output() []OutColumn
	// Inputs is the operators it reads from.
	Inputs() []Node
}

// OutColumn is a column produced by an operator.
type OutColumn struct {
	Name string
	Type Type
}

// Scan reads a source stream, or the output of a view.
type Scan struct {
	Table *Table // nil when View is set
	View  *View
	Alias string
	// Watermark is the input's event time, nil when it has none.
	Watermark *Watermark
	Columns   []OutColumn
}

// Filter keeps the rows for which Cond is true.
type Filter struct {
	Input Node
	Cond  *Expr
}

// Project computes one output column per expression.
type Project struct {
	Input   Node
	Exprs   []*Expr
	Columns []OutColumn
}

// WindowAggregate groups rows by window and Keys, computes Aggregates per
// group, and emits Exprs (over keys, aggregates and window bounds) once per
// group when the window closes; Having, if set, filters the groups.
type WindowAggregate struct {
	Input      Node
	Window     Window
	Keys       []*Expr
	Aggregates []*Aggregate
	Having     *Expr
	Exprs      []*Expr
	Columns    []OutColumn
}

// Sink writes its input to a sink table or into a view.
type Sink struct {
	Input   Node
	Table   *Table // nil for a view
	View    *View
	Columns []OutColumn
}

func (n *Scan) Output() []OutColumn            { return n.Columns }
func (n *Filter) Output() []OutColumn          { return n.Input.Output() }
func (n *Project) Output() []OutColumn         { return n.Columns }
func (n *WindowAggregate) Output() []OutColumn { return n.Columns }
func (n *Sink) Output() []OutColumn            { return n.Columns }

func (n *Scan) Inputs() []Node            { return nil }
func (n *Filter) Inputs() []Node          { return []Node{n.Input} }
func (n *Project) Inputs() []Node         { return []Node{n.Input} }
func (n *WindowAggregate) Inputs() []Node { return []Node{n.Input} }
func (n *Sink) Inputs() []Node            { return []Node{n.Input} }

// WindowKind is TUMBLE, HOP or SESSION.
type WindowKind string

const (
	Tumble  WindowKind = "TUMBLE"
	Hop     WindowKind = "HOP"
	Session WindowKind = "SESSION"
)

// Window is a GROUP BY window.
type Window struct {
	Kind WindowKind
	// TimeColumn is the input's event-time column, or empty for
	// processing time (PROCTIME()).
	TimeColumn string
	Size       time.Duration // TUMBLE, HOP
	Slide      time.Duration // HOP
	Gap        time.Duration // SESSION
	Lateness   time.Duration // the input's allowed lateness
}

func (w Window) String() string {
	t := w.TimeColumn
	if t == "" {
		t = "PROCTIME()"
	}
	switch w.Kind {
	case Hop:
		return fmt.Sprintf("HOP(%s, slide %s, size %s)", t, fmtDuration(w.Slide), fmtDuration(w.Size))
	case Session:
		return fmt.Sprintf("SESSION(%s, gap %s)", t, fmtDuration(w.Gap))
	}
	return fmt.Sprintf("TUMBLE(%s, size %s)", t, fmtDuration(w.Size))
}

// Aggregate is one aggregate function of a WindowAggregate.
type Aggregate struct {
	Func     string // COUNT, SUM, AVG, MIN, MAX, APPROX_COUNT_DISTINCT, APPROX_PERCENTILE
	Distinct bool
	Args     []*Expr // empty for COUNT(*)
	Type     Type
}

func (a *Aggregate) String() string {
	var b strings.Builder
	b.WriteString(a.Func + "(")
	if a.Distinct {
		b.WriteString("DISTINCT ")
	}
	if len(a.Args) == 0 {
		b.WriteString("*")
	}
	for i, x := range a.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x.String())
	}
	b.WriteString(")")
	return b.String()
}

// ExprKind says what an Expr is.
type ExprKind uint8

const (
	ExprColumn      ExprKind = iota // input column Index
	ExprLiteral                     // Value
	ExprCall                        // function or operator Name over Args
	ExprCast                        // CAST(Args[0] AS Type)
	ExprKey                         // grouping key Index (in WindowAggregate.Exprs)
	ExprAggregate                   // aggregate Index (in WindowAggregate.Exprs)
	ExprWindowStart                 // the window's start
	ExprWindowEnd                   // the window's end
)

// Expr is a typed scalar expression. Calls are named in upper case:
// operators by their SQL symbol (+, =, AND, NOT, LIKE, IS NULL, IN, BETWEEN,
// CASE), functions by their name.
type Expr struct {
	Kind  ExprKind
	Name  string // column, function or operator name
	Index int
	Value any // ExprLiteral: nil, int64, float64, string (also decimals, as text), bool
	Args  []*Expr
	Type  Type
}

var infixOps = map[string]bool{"+": true, "-": true, "*": true, "/": true, "%": true, "DIV": true,
	"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true, "<=>": true, "AND": true, "OR": true, "XOR": true,
	"LIKE": true, "NOT LIKE": true, "REGEXP": true, "NOT REGEXP": true}

func (e *Expr) String() string {
	switch e.Kind {
	case ExprColumn, ExprKey:
		return e.Name
	case ExprAggregate:
		return e.Name
	case ExprWindowStart:
		return "WINDOW_START"
	case ExprWindowEnd:
		return "WINDOW_END"
	case ExprLiteral:
		switch v := e.Value.(type) {
		case nil:
			return "NULL"
		case string:
			if e.Type == TypeDecimal {
				return v
			}
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			return fmt.Sprint(v)
		}
	case ExprCast:
		return fmt.Sprintf("CAST(%s AS %s)", e.Args[0], e.Type)
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = a.String()
	}
	switch {
	case infixOps[e.Name] && len(args) == 2:
		return "(" + args[0] + " " + e.Name + " " + args[1] + ")"
	case (e.Name == "NOT" || e.Name == "-") && len(args) == 1:
		return e.Name + " " + args[0]
	case strings.HasPrefix(e.Name, "IS ") || strings.HasPrefix(e.Name, "IS NOT"):
		return "(" + args[0] + " " + e.Name + ")"
	}
	return e.Name + "(" + strings.Join(args, ", ") + ")"
}

// Explain prints the plans of app's queries, one tree per query.
func Explain(app *App) string {
	var b strings.Builder
	for i, q := range app.Queries {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "query %d (line %d): %s %s\n", i+1, q.Line, q.Kind, q.Target)
		explainNode(&b, q.Plan, "  ")
	}
	return b.String()
}

func explainNode(b *strings.Builder, n Node, indent string) {
	line := func(format string, args ...any) {
		fmt.Fprintf(b, indent+"  "+format+"\n", args...)
	}
	switch n := n.(type) {
	case *Sink:
		if n.Table != nil {
			fmt.Fprintf(b, "%sSink %s (stream %q, %s)\n", indent, n.Table.Name, n.Table.Connection.Target, n.Table.Connection.Format)
		} else {
			fmt.Fprintf(b, "%sView %s\n", indent, n.View.Name)
		}
		line("columns: %s", fmtColumns(n.Columns))
	case *Project:
		fmt.Fprintf(b, "%sProject\n", indent)
		line("exprs: %s", fmtExprs(n.Exprs, n.Columns))
	case *Filter:
		fmt.Fprintf(b, "%sFilter %s\n", indent, n.Cond)
	case *WindowAggregate:
		fmt.Fprintf(b, "%sWindowAggregate %s\n", indent, n.Window)
		if n.Window.TimeColumn != "" {
			line("event time: %s, lateness %s", n.Window.TimeColumn, fmtDuration(n.Window.Lateness))
		} else {
			line("processing time")
		}
		if len(n.Keys) > 0 {
			keys := make([]string, len(n.Keys))
			for i, k := range n.Keys {
				keys[i] = k.String()
			}
			line("keys: %s", strings.Join(keys, ", "))
		}
		if len(n.Aggregates) > 0 {
			aggs := make([]string, len(n.Aggregates))
			for i, a := range n.Aggregates {
				aggs[i] = fmt.Sprintf("$agg%d = %s %s", i, a, a.Type)
			}
			line("aggregates: %s", strings.Join(aggs, ", "))
		}
		if n.Having != nil {
			line("having: %s", n.Having)
		}
		line("exprs: %s", fmtExprs(n.Exprs, n.Columns))
	case *Scan:
		switch {
		case n.Table != nil:
			fmt.Fprintf(b, "%sScan %s (stream %q, %s)\n", indent, n.Table.Name, n.Table.Connection.Target, n.Table.Connection.Format)
		default:
			fmt.Fprintf(b, "%sScan view %s\n", indent, n.View.Name)
		}
		if n.Watermark != nil {
			line("event time: %s, lateness %s", n.Watermark.Column, fmtDuration(n.Watermark.Lateness))
		} else {
			line("no event time")
		}
		line("columns: %s", fmtColumns(n.Columns))
	}
	for _, in := range n.Inputs() {
		explainNode(b, in, indent+"  ")
	}
}

func fmtColumns(cs []OutColumn) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Name + " " + c.Type.String()
	}
	return strings.Join(s, ", ")
}

func fmtExprs(es []*Expr, cs []OutColumn) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.String()
		if i < len(cs) && cs[i].Name != s[i] {
			s[i] += " AS " + cs[i].Name
		}
	}
	return strings.Join(s, ", ")
}

// fmtDuration prints 90s as 1m30s and 1h as 1h, without Go's trailing zero units.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
