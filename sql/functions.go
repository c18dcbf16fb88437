package sql

import (
	"fmt"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// scalarFunc describes a supported scalar function: its argument count and
// its result type given the argument types.
type scalarFunc struct {
	min, max int // max < 0: any number
	result   func(args []*Expr) Type
}

func fixed(t Type) func([]*Expr) Type { return func([]*Expr) Type { return t } }

func firstArg(args []*Expr) Type {
	for _, a := range args {
		if a.Type != TypeNull {
			return a.Type
		}
	}
	return TypeNull
}

var scalarFuncs = map[string]scalarFunc{
	"concat": {1, -1, fixed(TypeString)}, "concat_ws": {2, -1, fixed(TypeString)},
	"upper": {1, 1, fixed(TypeString)}, "lower": {1, 1, fixed(TypeString)}, "ucase": {1, 1, fixed(TypeString)}, "lcase": {1, 1, fixed(TypeString)},
	"substring": {2, 3, fixed(TypeString)}, "substr": {2, 3, fixed(TypeString)}, "left": {2, 2, fixed(TypeString)}, "right": {2, 2, fixed(TypeString)},
	"trim": {1, 3, fixed(TypeString)}, "ltrim": {1, 1, fixed(TypeString)}, "rtrim": {1, 1, fixed(TypeString)},
	"replace": {3, 3, fixed(TypeString)}, "lpad": {3, 3, fixed(TypeString)}, "rpad": {3, 3, fixed(TypeString)}, "reverse": {1, 1, fixed(TypeString)},
	"length": {1, 1, fixed(TypeInt64)}, "char_length": {1, 1, fixed(TypeInt64)}, "locate": {2, 3, fixed(TypeInt64)}, "instr": {2, 2, fixed(TypeInt64)},
	"regexp_like": {2, 3, fixed(TypeBool)}, "regexp_replace": {3, 3, fixed(TypeString)}, "regexp_substr": {2, 2, fixed(TypeString)},
	"abs": {1, 1, firstArg}, "ceil": {1, 1, fixed(TypeInt64)}, "ceiling": {1, 1, fixed(TypeInt64)}, "floor": {1, 1, fixed(TypeInt64)},
	"round": {1, 2, firstArg}, "truncate": {2, 2, firstArg}, "mod": {2, 2, firstArg}, "sign": {1, 1, fixed(TypeInt64)},
	"sqrt": {1, 1, fixed(TypeFloat64)}, "pow": {2, 2, fixed(TypeFloat64)}, "power": {2, 2, fixed(TypeFloat64)},
	"exp": {1, 1, fixed(TypeFloat64)}, "ln": {1, 1, fixed(TypeFloat64)}, "log": {1, 2, fixed(TypeFloat64)}, "log10": {1, 1, fixed(TypeFloat64)}, "log2": {1, 1, fixed(TypeFloat64)},
	"greatest": {2, -1, firstArg}, "least": {2, -1, firstArg},
	"coalesce": {1, -1, firstArg}, "ifnull": {2, 2, firstArg}, "nullif": {2, 2, firstArg},
	"if": {3, 3, func(a []*Expr) Type { return firstArg(a[1:]) }},
	"from_unixtime": {1, 2, func(a []*Expr) Type {
		if len(a) == 2 {
			return TypeString
		}
		return TypeTimestamp
	}},
	"unix_timestamp": {0, 1, fixed(TypeInt64)}, "date_format": {2, 2, fixed(TypeString)},
	"now": {0, 1, fixed(TypeTimestamp)}, "current_timestamp": {0, 1, fixed(TypeTimestamp)}, "proctime": {0, 0, fixed(TypeTimestamp)},
	"year": {1, 1, fixed(TypeInt64)}, "month": {1, 1, fixed(TypeInt64)}, "day": {1, 1, fixed(TypeInt64)}, "dayofmonth": {1, 1, fixed(TypeInt64)},
	"hour": {1, 1, fixed(TypeInt64)}, "minute": {1, 1, fixed(TypeInt64)}, "second": {1, 1, fixed(TypeInt64)},
	"date_add": {3, 3, fixed(TypeTimestamp)}, "date_sub": {3, 3, fixed(TypeTimestamp)},
	"json_extract": {2, -1, fixed(TypeJSON)}, "json_unquote": {1, 1, fixed(TypeString)},
}

var windowFuncs = map[string]WindowKind{"tumble": Tumble, "hop": Hop, "session_window": Session}

// windowAccessors maps an accessor to its window kind and whether it gives the end.
var windowAccessors = map[string]struct {
	kind WindowKind
	end  bool
}{
	"tumble_start": {Tumble, false}, "tumble_end": {Tumble, true},
	"hop_start": {Hop, false}, "hop_end": {Hop, true},
	"session_start": {Session, false}, "session_end": {Session, true},
	"session_window_start": {Session, false}, "session_window_end": {Session, true},
}

func (s *scope) call(n *ast.FuncCallExpr, g *group) (*Expr, bool) {
	name := n.FnName.L
	if _, ok := windowFuncs[name]; ok {
		s.errorf(n, "%s is a window: it belongs in GROUP BY", strings.ToUpper(name))
		return nil, false
	}
	if acc, ok := windowAccessors[name]; ok {
		if g == nil || g.window == nil {
			s.errorf(n, "%s needs %s(…) in GROUP BY", strings.ToUpper(name), acc.kind)
			return nil, false
		}
		w, ok := s.window(n, acc.kind, name)
		if !ok {
			return nil, false
		}
		if w.Kind != g.window.Kind || w.TimeColumn != g.window.TimeColumn || w.Size != g.window.Size || w.Slide != g.window.Slide || w.Gap != g.window.Gap {
			s.errorf(n, "%s does not match the window in GROUP BY, %s", sqlText(n), sqlText(g.windowAST))
			return nil, false
		}
		kind := ExprWindowStart
		if acc.end {
			kind = ExprWindowEnd
		}
		return &Expr{Kind: kind, Type: TypeTimestamp}, true
	}
	f, ok := scalarFuncs[name]
	if !ok {
		s.errorf(n, "function %s is not supported", strings.ToUpper(n.FnName.O))
		return nil, false
	}
	if len(n.Args) < f.min || f.max >= 0 && len(n.Args) > f.max {
		s.errorf(n, "%s takes %s, not %d", strings.ToUpper(name), argCount(f.min, f.max), len(n.Args))
		return nil, false
	}
	var args []*Expr
	ok = true
	for _, a := range n.Args {
		if u, isUnit := a.(*ast.TimeUnitExpr); isUnit {
			args = append(args, &Expr{Kind: ExprLiteral, Value: u.Unit.String(), Type: TypeString})
			continue
		}
		if _, isTrim := a.(*ast.TrimDirectionExpr); isTrim {
			continue
		}
		x, xok := s.conv(a, g)
		ok = ok && xok
		args = append(args, x)
	}
	if !ok {
		return nil, false
	}
	return &Expr{Kind: ExprCall, Name: strings.ToUpper(name), Args: args, Type: f.result(args)}, true
}

func argCount(min, max int) string {
	switch {
	case max < 0:
		return fmt.Sprintf("at least %d arguments", min)
	case min == max && min == 1:
		return "one argument"
	case min == max:
		return fmt.Sprintf("%d arguments", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}

// window reads TUMBLE(ts, size), HOP(ts, slide, size) or SESSION_WINDOW(ts, gap)
// and their accessors.
func (s *scope) window(n *ast.FuncCallExpr, kind WindowKind, name string) (*Window, bool) {
	name = strings.ToUpper(name)
	want := map[WindowKind]string{Tumble: "(ts, '1 MINUTE')", Hop: "(ts, slide, size), as in (ts, '1 MINUTE', '5 MINUTE')", Session: "(ts, gap), as in (ts, '30 SECOND')"}[kind]
	nargs := map[WindowKind]int{Tumble: 2, Hop: 3, Session: 2}[kind]
	if len(n.Args) != nargs {
		s.errorf(n, "%s takes %d arguments: %s%s", name, nargs, name, want)
		return nil, false
	}
	w := &Window{Kind: kind}
	switch t := n.Args[0].(type) {
	case *ast.ColumnNameExpr:
		col := t.Name.Name.O
		if t.Name.Table.O != "" && !s.qualifies(t.Name.Table.O) || findOut(s.scan.Columns, col) < 0 {
			s.errorf(t, "unknown column %s in %s", t.Name.String(), s.name)
			return nil, false
		}
		wm := s.scan.Watermark
		switch {
		case wm == nil:
			s.errorf(t, "%s has no watermark, so it cannot feed an event-time window; declare watermark TIMESTAMP(3) AS (%s - INTERVAL 5 SECOND) or use PROCTIME()", s.name, col)
			return nil, false
		case !strings.EqualFold(wm.Column, col):
			s.errorf(t, "%s windows on event time: use %s, the column of %s's watermark, not %s", name, wm.Column, s.name, col)
			return nil, false
		}
		w.TimeColumn, w.Lateness = wm.Column, wm.Lateness
	case *ast.FuncCallExpr:
		if t.FnName.L != "proctime" || len(t.Args) != 0 {
			s.errorf(t, "the first argument of %s is the event-time column or PROCTIME()", name)
			return nil, false
		}
	default:
		s.errorf(n.Args[0], "the first argument of %s is the event-time column or PROCTIME()", name)
		return nil, false
	}
	durs := make([]time.Duration, 0, 2)
	for _, a := range n.Args[1:] {
		v, ok := a.(ast.ValueExpr)
		str, isStr := "", false
		if ok {
			str, isStr = v.GetValue().(string)
		}
		if !isStr {
			s.errorf(a, "%s: a duration is a string such as '1 MINUTE'", name)
			return nil, false
		}
		d, err := ParseDuration(str)
		if err != nil {
			s.errorf(a, "%s: %v", name, err)
			return nil, false
		}
		durs = append(durs, d)
	}
	switch kind {
	case Tumble:
		w.Size = durs[0]
	case Hop:
		w.Slide, w.Size = durs[0], durs[1]
		if w.Slide > w.Size {
			s.errorf(n.Args[1], "%s: the slide (%s) is longer than the size (%s), so records between windows would be lost", name, fmtDuration(w.Slide), fmtDuration(w.Size))
			return nil, false
		}
	case Session:
		w.Gap = durs[0]
	}
	return w, true
}

func findOut(cs []OutColumn, name string) int {
	for i, c := range cs {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

var aggregateFuncs = map[string]string{
	ast.AggFuncCount: "COUNT", ast.AggFuncSum: "SUM", ast.AggFuncAvg: "AVG", ast.AggFuncMin: "MIN", ast.AggFuncMax: "MAX",
	ast.AggFuncApproxCountDistinct: "APPROX_COUNT_DISTINCT", ast.AggFuncApproxPercentile: "APPROX_PERCENTILE",
}

func (s *scope) aggregateCall(n *ast.AggregateFuncExpr, g *group) (*Expr, bool) {
	name, ok := aggregateFuncs[strings.ToLower(n.F)]
	switch {
	case !ok:
		s.errorf(n, "aggregate %s is not supported (COUNT, SUM, AVG, MIN, MAX, APPROX_COUNT_DISTINCT and APPROX_PERCENTILE are)", strings.ToUpper(n.F))
		return nil, false
	case g == nil:
		s.errorf(n, "aggregate %s is not allowed here (only in SELECT and HAVING of a grouped query)", name)
		return nil, false
	case g.inAgg:
		s.errorf(n, "aggregates cannot be nested")
		return nil, false
	case n.Distinct && name != "COUNT":
		s.errorf(n, "DISTINCT is supported only in COUNT(DISTINCT …)")
		return nil, false
	case n.Order != nil:
		s.errorf(n, "ORDER BY in an aggregate is not supported")
		return nil, false
	}
	agg := &Aggregate{Func: name, Distinct: n.Distinct}
	g.inAgg = true
	defer func() { g.inAgg = false }()
	args := n.Args
	if name == "COUNT" && len(args) == 1 && !n.Distinct {
		if v, ok := args[0].(ast.ValueExpr); ok && v.GetValue() != nil {
			args = nil // COUNT(*) and COUNT(1)
		}
	}
	for _, a := range args {
		x, ok := s.conv(a, g)
		if !ok {
			return nil, false
		}
		agg.Args = append(agg.Args, x)
	}
	switch name {
	case "COUNT", "APPROX_COUNT_DISTINCT":
		agg.Type = TypeInt64
	case "SUM", "AVG":
		if len(agg.Args) != 1 || !agg.Args[0].Type.numeric() && agg.Args[0].Type != TypeNull {
			s.errorf(n, "%s needs one number", name)
			return nil, false
		}
		agg.Type = agg.Args[0].Type
		if name == "AVG" && agg.Type == TypeInt64 {
			agg.Type = TypeFloat64
		}
	case "MIN", "MAX":
		if len(agg.Args) != 1 {
			s.errorf(n, "%s takes one argument", name)
			return nil, false
		}
		agg.Type = agg.Args[0].Type
	case "APPROX_PERCENTILE":
		if len(agg.Args) != 2 || !agg.Args[0].Type.numeric() || agg.Args[1].Kind != ExprLiteral || !agg.Args[1].Type.numeric() {
			s.errorf(n, "APPROX_PERCENTILE takes a number and a constant percentage, as in APPROX_PERCENTILE(latency, 99)")
			return nil, false
		}
		agg.Type = TypeFloat64
	}
	g.aggs = append(g.aggs, agg)
	i := len(g.aggs) - 1
	return &Expr{Kind: ExprAggregate, Name: fmt.Sprintf("$agg%d", i), Index: i, Type: agg.Type}, true
}

// keyRef matches e against the GROUP BY keys.
func (s *scope) keyRef(e ast.ExprNode, g *group) (*Expr, bool) {
	if _, ok := e.(ast.ValueExpr); ok {
		return nil, false
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok {
		if c.Name.Table.O != "" && !s.qualifies(c.Name.Table.O) {
			return nil, false
		}
		i := findOut(s.scan.Columns, c.Name.Name.O)
		for k, key := range g.keys {
			if key.Kind == ExprColumn && key.Index == i {
				return &Expr{Kind: ExprKey, Name: key.Name, Index: k, Type: key.Type}, true
			}
		}
		return nil, false
	}
	text := restore(e)
	for k, key := range g.keys {
		if text != "" && g.keyText[k] == text {
			return &Expr{Kind: ExprKey, Name: key.String(), Index: k, Type: key.Type}, true
		}
	}
	return nil, false
}

// aggregate plans a grouped query: GROUP BY must hold one window.
func (s *scope) aggregate(input Node, sel *ast.SelectStmt, view bool) (Node, *Watermark, bool) {
	a := s.a
	g := &group{}
	if sel.GroupBy == nil {
		a.src.errorf(s.selOff, "aggregates over a stream need a window: add GROUP BY TUMBLE(ts, '1 MINUTE') (or HOP or SESSION_WINDOW)")
		return nil, nil, false
	}
	if sel.GroupBy.Rollup {
		a.src.errorf(a.src.findIdents(s.selOff, s.st.end, s.selOff, "ROLLUP"), "WITH ROLLUP is not supported")
		return nil, nil, false
	}
	ok := true
	for _, item := range sel.GroupBy.Items {
		if f, isCall := item.Expr.(*ast.FuncCallExpr); isCall {
			if kind, isWindow := windowFuncs[f.FnName.L]; isWindow {
				if g.window != nil {
					s.errorf(f, "GROUP BY has two windows; a query groups by one")
					ok = false
					continue
				}
				w, wok := s.window(f, kind, f.FnName.L)
				if !wok {
					ok = false
					continue
				}
				g.window, g.windowAST = w, f
				continue
			}
		}
		if _, isPos := item.Expr.(*ast.PositionExpr); isPos {
			a.src.errorf(a.src.findIdent(s.selOff, s.st.end, "GROUP"), "GROUP BY by column position is not supported; name the column")
			ok = false
			continue
		}
		if v, isValue := item.Expr.(ast.ValueExpr); isValue {
			s.errorf(item.Expr, "GROUP BY %s: group by columns or expressions, not by position or constant", v.GetDatumString())
			ok = false
			continue
		}
		k, kok := s.conv(item.Expr, nil)
		if !kok {
			ok = false
			continue
		}
		g.keys = append(g.keys, k)
		g.keyText = append(g.keyText, restore(item.Expr))
	}
	if !ok {
		return nil, nil, false
	}
	if g.window == nil {
		off := a.src.findIdents(s.selOff, s.st.end, s.selOff, "GROUP")
		a.src.errorf(off, "GROUP BY on a stream needs a window: add TUMBLE(ts, '1 MINUTE'), HOP(ts, slide, size) or SESSION_WINDOW(ts, gap)")
		return nil, nil, false
	}
	wa := &WindowAggregate{Input: input, Window: *g.window, Keys: g.keys}
	var wm *Watermark
	for i, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			a.src.errorf(s.selOff, "SELECT * cannot be used with GROUP BY; list the keys and aggregates")
			ok = false
			continue
		}
		e, eok := s.conv(f.Expr, g)
		if !eok {
			ok = false
			continue
		}
		name, nok := a.fieldName(f, e, view, s.selOff, i)
		ok = ok && nok
		if e.Kind == ExprKey && !isColumnExpr(f.Expr) && f.AsName.O == "" {
			name = e.Name
		}
		wa.Exprs = append(wa.Exprs, e)
		wa.Columns = append(wa.Columns, OutColumn{Name: name, Type: e.Type})
		// A window bound in the output is the output's event time: results
		// are emitted when the watermark passes the window's end, in order.
		if g.window.TimeColumn != "" {
			switch {
			case e.Kind == ExprWindowEnd && (wm == nil || wm.Lateness > 0):
				wm = &Watermark{Column: name}
			case e.Kind == ExprWindowStart && wm == nil && g.window.Kind != Session:
				// Starts trail the ends, which are in order, by the size.
				wm = &Watermark{Column: name, Lateness: g.window.Size}
			}
		}
	}
	if sel.Having != nil {
		h, hok := s.conv(sel.Having.Expr, g)
		switch {
		case !hok:
			ok = false
		case h.Type != TypeBool && h.Type != TypeNull:
			s.errorf(sel.Having.Expr, "HAVING must be a condition, not a %s", h.Type)
			ok = false
		default:
			wa.Having = h
		}
	}
	if !ok || !a.uniqueNames(wa.Columns, s.selOff, view) {
		return nil, nil, false
	}
	wa.Aggregates = g.aggs
	return wa, wm, true
}
