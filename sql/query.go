package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func (a *analyzer) createView(st stmt, n *ast.CreateViewStmt) {
	nameOff := a.src.findIdents(st.start, st.end, st.start, "VIEW", n.ViewName.Name.O)
	sel, ok := n.Select.(*ast.SelectStmt)
	if !ok {
		a.src.errorf(a.src.findIdents(st.start, st.end, st.start, "UNION"), "a view must be a single SELECT (UNION is not supported yet)")
		return
	}
	if len(n.Cols) > 0 {
		a.src.errorf(nameOff, "a view's column list is not supported: name the columns with AS in the SELECT")
		return
	}
	if a.nameTaken(nameOff, n.ViewName.Name.O) {
		return
	}
	v := &View{Name: n.ViewName.Name.O}
	q := &Query{Kind: "VIEW", Target: v.Name, Line: a.line(st.start)}
	plan, wm, ok := a.selectPlan(st, sel, true)
	if !ok {
		return
	}
	v.Columns, v.Watermark, v.Query = plan.Output(), wm, q
	q.Plan = &Sink{Input: plan, View: v, Columns: v.Columns}
	a.app.Views = append(a.app.Views, v)
	a.app.Queries = append(a.app.Queries, q)
}

func (a *analyzer) insert(st stmt, n *ast.InsertStmt) {
	switch {
	case n.IsReplace:
		a.src.errorf(st.start, "REPLACE is not supported: streams are append-only; write INSERT INTO sink SELECT …")
		return
	case n.Select == nil:
		a.src.errorf(st.start, "INSERT … VALUES is not supported: a sink is fed by INSERT INTO sink SELECT …")
		return
	case len(n.OnDuplicate) > 0 || n.Setlist:
		a.src.errorf(st.start, "INSERT … ON DUPLICATE KEY UPDATE and SET are not supported")
		return
	}
	tn, ok := singleTable(n.Table.TableRefs)
	if !ok {
		a.src.errorf(st.start, "INSERT INTO names one sink table")
		return
	}
	nameOff := a.src.findIdents(st.start, st.end, st.start, "INTO", tn.Name.O)
	t := a.app.table(tn.Name.O)
	if t == nil {
		if a.app.view(tn.Name.O) != nil {
			a.src.errorf(nameOff, "cannot INSERT INTO view %s: a view is defined by its SELECT", tn.Name.O)
		} else {
			a.src.errorf(nameOff, "unknown sink table %s: declare it with CREATE TABLE %s (…) ENGINE = stream CONNECTION = '…'", tn.Name.O, tn.Name.O)
		}
		return
	}
	if t.Reference() {
		a.src.errorf(nameOff, "cannot INSERT INTO reference table %s (ENGINE = %s); sinks are streams", t.Name, t.Engine)
		return
	}
	sel, ok := n.Select.(*ast.SelectStmt)
	if !ok {
		a.src.errorf(a.src.findIdents(st.start, st.end, st.start, "UNION"), "INSERT INTO … must be fed by a single SELECT (UNION is not supported yet)")
		return
	}
	t.Written = true
	q := &Query{Kind: "INSERT", Target: t.Name, Line: a.line(st.start)}
	plan, _, ok := a.selectPlan(st, sel, false)
	if !ok {
		return
	}
	if readsTable(plan, t) {
		a.src.errorf(nameOff, "INSERT INTO %s reads %s too, which would feed its own output back into itself", t.Name, t.Name)
		return
	}
	// The sink's columns in the order the SELECT fills them.
	cols := make([]*Column, 0, len(t.Columns))
	if len(n.Columns) > 0 {
		off := nameOff
		for _, c := range n.Columns {
			coff := a.src.findIdents(off, st.end, off, c.Name.O)
			off = a.src.tokenEnd(coff)
			i := findColumn(t.Columns, c.Name.O)
			if i < 0 {
				a.src.errorf(coff, "sink %s has no column %s", t.Name, c.Name.O)
				return
			}
			cols = append(cols, t.Columns[i])
		}
		for _, c := range t.Columns {
			if c.NotNull && !containsColumn(cols, c) {
				a.src.errorf(nameOff, "INSERT INTO %s leaves NOT NULL column %s empty", t.Name, c.Name)
				return
			}
		}
	} else {
		cols = append(cols, t.Columns...)
	}
	out := plan.Output()
	if len(out) != len(cols) {
		a.src.errorf(a.selectOffset(st, sel), "INSERT INTO %s: the SELECT gives %d columns, the sink takes %d", t.Name, len(out), len(cols))
		return
	}
	sinkCols := make([]OutColumn, len(cols))
	for i, c := range cols {
		if !assignable(out[i].Type, c.Type) {
			off := a.fieldOffset(st, sel, i)
			a.src.errorf(off, "INSERT INTO %s: column %d (%s) is %s, but sink column %s is %s (%s); convert it with CAST",
				t.Name, i+1, out[i].Name, out[i].Type, c.Name, c.SQLType, c.Type)
		}
		sinkCols[i] = OutColumn{Name: c.Name, Type: c.Type}
		if strings.HasPrefix(out[i].Name, "$") {
			out[i].Name = c.Name // an unnamed expression takes the sink column's name
		}
	}
	q.Plan = &Sink{Input: plan, Table: t, Columns: sinkCols}
	a.app.Queries = append(a.app.Queries, q)
}

func containsColumn(cs []*Column, c *Column) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func singleTable(j *ast.Join) (*ast.TableName, bool) {
	if j == nil || j.Right != nil {
		return nil, false
	}
	ts, ok := j.Left.(*ast.TableSource)
	if !ok {
		return nil, false
	}
	tn, ok := ts.Source.(*ast.TableName)
	return tn, ok && tn.Schema.O == ""
}

func (a *analyzer) selectOffset(st stmt, sel *ast.SelectStmt) int {
	return a.src.findIdents(st.start, st.end, st.start, "SELECT")
}

func (a *analyzer) fieldOffset(st stmt, sel *ast.SelectStmt, i int) int {
	if sel.Fields != nil && i < len(sel.Fields.Fields) && sel.Fields.Fields[i].Expr != nil {
		return a.exprOffset(sel.Fields.Fields[i].Expr, a.selectOffset(st, sel))
	}
	return a.selectOffset(st, sel)
}

// selectPlan checks sel and plans it. A view's output columns must be named.
func (a *analyzer) selectPlan(st stmt, sel *ast.SelectStmt, view bool) (Node, *Watermark, bool) {
	selOff := a.selectOffset(st, sel)
	if sel.Fields != nil && len(sel.Fields.Fields) > 0 {
		f := sel.Fields.Fields[0]
		if c, ok := f.Expr.(*ast.ColumnNameExpr); ok && c.Name.Table.O == "" && c.Name.Name.L == "stream" && f.AsName.O != "" {
			a.src.errorf(a.exprOffset(c, selOff), "SELECT STREAM is not supported (the parser reads STREAM as a column named %s): every query is continuous, write SELECT %s", f.AsName.O, f.AsName.O)
			return nil, nil, false
		}
	}
	if sel.From == nil {
		a.src.errorf(selOff, "a query needs FROM a source stream or view")
		return nil, nil, false
	}
	if !a.checkFullAlias(st, sel.From.TableRefs) {
		return nil, nil, false
	}
	fromOff := a.src.findIdents(selOff, st.end, selOff, "FROM")
	switch {
	case sel.Distinct:
		a.src.errorf(selOff, "SELECT DISTINCT is not supported yet; use GROUP BY with a window")
		return nil, nil, false
	case sel.With != nil:
		a.src.errorf(st.start, "WITH is not supported; use CREATE VIEW")
		return nil, nil, false
	case sel.From.TableRefs.Right != nil:
		a.src.errorf(fromOff, "joins are not supported yet")
		return nil, nil, false
	case sel.OrderBy != nil:
		a.src.errorf(a.src.findIdents(selOff, st.end, selOff, "ORDER"), "ORDER BY is not supported in a continuous query")
		return nil, nil, false
	case sel.Limit != nil:
		a.src.errorf(a.src.findIdents(selOff, st.end, selOff, "LIMIT"), "LIMIT is not supported in a continuous query")
		return nil, nil, false
	case sel.WindowSpecs != nil:
		a.src.errorf(a.src.findIdents(selOff, st.end, selOff, "WINDOW"), "named windows are not supported")
		return nil, nil, false
	case sel.LockInfo != nil || sel.SelectIntoOpt != nil:
		a.src.errorf(selOff, "SELECT … FOR UPDATE and INTO are not supported")
		return nil, nil, false
	}
	ts, ok := sel.From.TableRefs.Left.(*ast.TableSource)
	if !ok {
		a.src.errorf(fromOff, "FROM must name one source stream or view")
		return nil, nil, false
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		a.src.errorf(a.src.skipSpace(a.src.tokenEnd(fromOff)), "subqueries in FROM are not supported yet; use CREATE VIEW")
		return nil, nil, false
	}
	nameOff := a.src.findIdents(fromOff, st.end, fromOff, tn.Name.O)
	scan := &Scan{Alias: ts.AsName.O}
	if t := a.app.table(tn.Name.O); t != nil && tn.Schema.O == "" {
		if t.Reference() {
			a.src.errorf(nameOff, "%s is a reference table; it can be joined with a stream (not supported yet) but not read alone", t.Name)
			return nil, nil, false
		}
		t.Read = true
		scan.Table, scan.Watermark = t, t.Watermark
		for _, c := range t.Columns {
			scan.Columns = append(scan.Columns, OutColumn{Name: c.Name, Type: c.Type})
		}
	} else if v := a.app.view(tn.Name.O); v != nil && tn.Schema.O == "" {
		scan.View, scan.Watermark, scan.Columns = v, v.Watermark, v.Columns
	} else {
		a.src.errorf(nameOff, "unknown table or view %s", tn.Name.String())
		return nil, nil, false
	}
	sc := &scope{a: a, st: st, scan: scan, name: tn.Name.O, selOff: selOff}
	var plan Node = scan
	if sel.Where != nil {
		cond, ok := sc.conv(sel.Where, nil)
		if !ok {
			return nil, nil, false
		}
		if cond.Type != TypeBool && cond.Type != TypeNull {
			a.src.errorf(a.exprOffset(sel.Where, selOff), "WHERE must be a condition, not a %s", cond.Type)
			return nil, nil, false
		}
		plan = &Filter{Input: plan, Cond: cond}
	}
	if sel.GroupBy != nil || sel.Having != nil || hasAggregate(sel.Fields) {
		return sc.aggregate(plan, sel, view)
	}
	proj := &Project{Input: plan}
	ok = true
	var wm *Watermark
	for i, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			if f.WildCard.Table.O != "" && !sc.qualifies(f.WildCard.Table.O) {
				a.src.errorf(selOff, "unknown table %s in %s.*", f.WildCard.Table.O, f.WildCard.Table.O)
				ok = false
				continue
			}
			for j, c := range scan.Columns {
				proj.Exprs = append(proj.Exprs, &Expr{Kind: ExprColumn, Name: c.Name, Index: j, Type: c.Type})
				proj.Columns = append(proj.Columns, c)
				if scan.Watermark != nil && strings.EqualFold(c.Name, scan.Watermark.Column) && wm == nil {
					wm = &Watermark{Column: c.Name, Lateness: scan.Watermark.Lateness}
				}
			}
			continue
		}
		e, eok := sc.conv(f.Expr, nil)
		if !eok {
			ok = false
			continue
		}
		name, nok := a.fieldName(f, e, view, selOff, i)
		ok = ok && nok
		proj.Exprs = append(proj.Exprs, e)
		proj.Columns = append(proj.Columns, OutColumn{Name: name, Type: e.Type})
		if e.Kind == ExprColumn && scan.Watermark != nil && strings.EqualFold(e.Name, scan.Watermark.Column) && wm == nil {
			wm = &Watermark{Column: name, Lateness: scan.Watermark.Lateness}
		}
	}
	if !ok || !a.uniqueNames(proj.Columns, selOff, view) {
		return nil, nil, false
	}
	return proj, wm, true
}

// checkFullAlias rejects `a FULL JOIN b`, which this grammar reads as table
// a with alias FULL joined to b.
func (a *analyzer) checkFullAlias(st stmt, n ast.ResultSetNode) bool {
	switch n := n.(type) {
	case *ast.Join:
		if !a.checkFullAlias(st, n.Left) {
			return false
		}
		if n.Right != nil {
			return a.checkFullAlias(st, n.Right)
		}
	case *ast.TableSource:
		if n.AsName.L == "full" {
			off := a.src.findIdents(st.start, st.end, st.start, "FULL")
			a.src.errorf(off, "FULL JOIN is not supported (the parser reads FULL as an alias of the table before it); use another join or another alias")
			return false
		}
	}
	return true
}

func (a *analyzer) fieldName(f *ast.SelectField, e *Expr, view bool, selOff, i int) (string, bool) {
	switch {
	case f.AsName.O != "":
		return f.AsName.O, true
	case e.Kind == ExprColumn || e.Kind == ExprKey && isColumnExpr(f.Expr):
		return e.Name, true
	case view:
		a.src.errorf(a.exprOffset(f.Expr, selOff), "a view's computed column needs a name: add AS name")
		return "", false
	}
	return fmt.Sprintf("$%d", i+1), true
}

func isColumnExpr(e ast.ExprNode) bool {
	_, ok := e.(*ast.ColumnNameExpr)
	return ok
}

func (a *analyzer) uniqueNames(cs []OutColumn, off int, view bool) bool {
	if !view {
		return true
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[strings.ToLower(c.Name)] {
			a.src.errorf(off, "the view has two columns named %s; rename one with AS", c.Name)
			return false
		}
		seen[strings.ToLower(c.Name)] = true
	}
	return true
}

func hasAggregate(fl *ast.FieldList) bool {
	if fl == nil {
		return false
	}
	found := false
	for _, f := range fl.Fields {
		if f.Expr != nil {
			f.Expr.Accept(visitFunc(func(n ast.Node) bool {
				if _, ok := n.(*ast.AggregateFuncExpr); ok {
					found = true
				}
				return !found
			}))
		}
	}
	return found
}

// visitFunc visits nodes while f returns true.
type visitFunc func(ast.Node) bool

func (f visitFunc) Enter(n ast.Node) (ast.Node, bool) { return n, !f(n) }
func (f visitFunc) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// readsTable reports whether plan reads t, directly or through views.
func readsTable(plan Node, t *Table) bool {
	if sc, ok := plan.(*Scan); ok {
		if sc.Table == t {
			return true
		}
		if sc.View != nil && sc.View.Query != nil && sc.View.Query.Plan != nil {
			return readsTable(sc.View.Query.Plan, t)
		}
	}
	for _, in := range plan.Inputs() {
		if readsTable(in, t) {
			return true
		}
	}
	return false
}
