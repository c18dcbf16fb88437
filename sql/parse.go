package sql

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // parser.New panics without a value driver
)

// Parse parses and checks the application file src (name is used for the
// App's name only). The error, if any, is an ErrorList of every *Error found.
func Parse(name string, src []byte) (*App, error) {
	s := &source{text: string(src)}
	app := &App{Name: name}
	stmts, err := parseStatements(s)
	if err != nil {
		return nil, err
	}
	a := &analyzer{src: s, app: app}
	for _, st := range stmts {
		a.statement(st)
	}
	if err := s.sorted(); err != nil {
		return nil, err
	}
	return app, nil
}

// stmt is one parsed statement and where it starts in the source.
type stmt struct {
	node  ast.StmtNode
	start int // offset of the statement's first keyword
	end   int
}

func newParser() *parser.Parser {
	p := parser.New()
	p.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat)
	return p
}

// parseStatements runs the tidb parser (a new one per call: parsers are not
// safe for concurrent use) and locates each statement in the source.
func parseStatements(s *source) (stmts []stmt, err error) {
	defer func() {
		// The tidb parser is not ours; a panic in it must not take the caller down.
		if r := recover(); r != nil {
			s.errorf(0, "the SQL parser failed on this input: %v", r)
			stmts, err = nil, s.sorted()
		}
	}()
	nodes, _, perr := newParser().Parse(s.text, "", "")
	if perr != nil {
		s.errs = append(s.errs, syntaxError(s, perr))
		return nil, s.sorted()
	}
	cursor := 0
	for _, n := range nodes {
		text := n.Text()
		start := cursor
		if i := strings.Index(s.text[cursor:], text); i >= 0 && text != "" {
			start = cursor + i
			cursor = start + len(text)
		}
		stmts = append(stmts, stmt{node: n, start: s.skipSpace(start), end: cursor})
	}
	return stmts, nil
}

var syntaxErrorRE = regexp.MustCompile(`(?s)^line \d+ column \d+ near "(.*)$`)

// syntaxError positions a tidb syntax error. Its "near" text is the source
// from the offending token to the end (cut at 2048 bytes), which gives the
// token's offset exactly; tidb's own line and column point past the token.
func syntaxError(s *source, err error) *Error {
	msg := err.Error()
	m := syntaxErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return s.newError(0, "syntax error: "+strings.TrimSpace(msg))
	}
	rest := m[1]
	off := -1
	if i := strings.LastIndex(rest, "(total length "); i >= 0 {
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest[i+len("(total length "):]), ")")); err == nil && n <= len(s.text) {
			off = len(s.text) - n
		}
	}
	for i := 0; off < 0 && i <= len(s.text); i++ {
		if strings.HasPrefix(rest, s.text[i:]+`"`) {
			off = i
		}
	}
	if off < 0 {
		off = len(s.text)
	}
	e := s.newError(off, "")
	if off >= len(s.text) || s.skipSpace(off) >= len(s.text) {
		e.Message = "syntax error: unexpected end of input"
	} else {
		e.Message = fmt.Sprintf("syntax error near %q", e.Near)
	}
	return e
}

// analyzer turns statements into the application model, recording errors
// in src as it goes; it keeps going after an error to report them all.
type analyzer struct {
	src *source
	app *App
}

func (a *analyzer) statement(st stmt) {
	switch n := st.node.(type) {
	case *ast.CreateTableStmt:
		a.createTable(st, n)
	case *ast.CreateViewStmt:
		a.createView(st, n)
	case *ast.InsertStmt:
		a.insert(st, n)
	case *ast.SelectStmt, *ast.SetOprStmt:
		a.src.errorf(st.start, "a query must feed a sink or a view: write INSERT INTO sink SELECT … or CREATE VIEW name AS SELECT …")
	default:
		a.src.errorf(st.start, "statement %q is not supported in an application (only CREATE TABLE, CREATE VIEW and INSERT INTO … SELECT)", a.src.tokenAt(st.start))
	}
}

func (a *analyzer) line(off int) int { return a.src.newError(off, "").Line }

// nameTaken reports (and records an error) when name is already a table or view.
func (a *analyzer) nameTaken(off int, name string) bool {
	if a.app.table(name) != nil || a.app.view(name) != nil {
		a.src.errorf(off, "%s is already declared", name)
		return true
	}
	return false
}

func (a *analyzer) createTable(st stmt, n *ast.CreateTableStmt) {
	nameOff := a.src.findIdents(st.start, st.end, st.start, "TABLE", n.Table.Name.O)
	switch {
	case n.Select != nil || n.ReferTable != nil:
		a.src.errorf(st.start, "CREATE TABLE … AS SELECT and LIKE are not supported: declare the columns, and use CREATE VIEW for a query")
		return
	case n.Partition != nil || len(n.Constraints) > 0 && !onlyPrimaryKey(n.Constraints):
		a.src.errorf(st.start, "only columns, one PRIMARY KEY, ENGINE and CONNECTION are supported in CREATE TABLE")
		return
	case n.Table.Schema.O != "":
		a.src.errorf(nameOff, "table names cannot be qualified")
		return
	}
	if a.nameTaken(nameOff, n.Table.Name.O) {
		return
	}
	t := &Table{Name: n.Table.Name.O, Line: a.line(st.start)}
	var engine, conn string
	var connOff = st.start
	for _, o := range n.Options {
		switch o.Tp {
		case ast.TableOptionEngine:
			engine = o.StrValue
		case ast.TableOptionConnection:
			conn = o.StrValue
			connOff = a.valueAfter(st, "CONNECTION")
		case ast.TableOptionComment:
		default:
			a.src.errorf(st.start, "table %s: only the ENGINE, CONNECTION and COMMENT table options are supported", t.Name)
			return
		}
	}
	engOff := a.valueAfter(st, "ENGINE")
	switch Engine(strings.ToLower(engine)) {
	case EngineStream, EngineFile, EngineS3:
		t.Engine = Engine(strings.ToLower(engine))
	case "":
		a.src.errorf(nameOff, "table %s needs ENGINE = stream, file or s3", t.Name)
		return
	default:
		a.src.errorf(engOff, "table %s: unknown ENGINE %q (want stream, file or s3)", t.Name, engine)
		return
	}
	if conn == "" {
		a.src.errorf(nameOff, "table %s needs a CONNECTION = '…' naming its %s", t.Name, map[Engine]string{EngineStream: "stream", EngineFile: "file", EngineS3: "S3 object"}[t.Engine])
		return
	}
	c, err := parseConnection(t.Engine, conn)
	if err != nil {
		a.src.errorf(connOff, "table %s: %v", t.Name, err)
		return
	}
	t.Connection = c
	if !a.columns(st, t, n) {
		return
	}
	a.app.Tables = append(a.app.Tables, t)
}

func onlyPrimaryKey(cs []*ast.Constraint) bool {
	return len(cs) == 1 && cs[0].Tp == ast.ConstraintPrimaryKey
}

func (a *analyzer) columns(st stmt, t *Table, n *ast.CreateTableStmt) bool {
	ok := true
	var wm *ast.ColumnDef
	off := st.start
	for _, cd := range n.Cols {
		colOff := a.src.findIdents(off, st.end, off, cd.Name.Name.O)
		off = a.src.tokenEnd(colOff)
		if strings.EqualFold(cd.Name.Name.O, "watermark") {
			if wm != nil {
				a.src.errorf(colOff, "table %s has two watermark columns", t.Name)
				ok = false
			}
			wm = cd
			if !a.watermark(colOff, t, cd) {
				ok = false
			}
			continue
		}
		if findColumn(t.Columns, cd.Name.Name.O) >= 0 {
			a.src.errorf(colOff, "column %s is declared twice", cd.Name.Name.O)
			ok = false
			continue
		}
		c, err := newColumn(cd)
		if err != nil {
			a.src.errorf(colOff, "column %s: %v", cd.Name.Name.O, err)
			ok = false
			continue
		}
		if c.Path != "" && t.Connection.Format != "json" {
			a.src.errorf(colOff, "column %s: a JSON path (COMMENT '%s') needs format=json", c.Name, c.Path)
			ok = false
		}
		t.Columns = append(t.Columns, c)
	}
	for _, cs := range n.Constraints {
		for _, k := range cs.Keys {
			i := findColumn(t.Columns, k.Column.Name.O)
			if i < 0 {
				a.src.errorf(a.src.findIdents(st.start, st.end, st.start, "PRIMARY", "KEY", k.Column.Name.O), "PRIMARY KEY names unknown column %s", k.Column.Name.O)
				ok = false
				continue
			}
			t.Columns[i].PrimaryKey = true
		}
	}
	if len(t.Columns) == 0 && ok {
		a.src.errorf(st.start, "table %s has no columns", t.Name)
		return false
	}
	keys := 0
	for _, c := range t.Columns {
		if c.PrimaryKey {
			keys++
		}
	}
	if t.Engine == EngineStream && keys > 0 {
		a.src.errorf(st.start, "table %s: a stream has no PRIMARY KEY; only reference tables (ENGINE = file or s3) do", t.Name)
		ok = false
	}
	if t.Reference() {
		if keys != 1 {
			a.src.errorf(st.start, "reference table %s needs exactly one PRIMARY KEY column, the join key", t.Name)
			ok = false
		}
		if t.Watermark != nil {
			a.src.errorf(st.start, "reference table %s cannot have a watermark", t.Name)
			ok = false
		}
	}
	return ok
}

func newColumn(cd *ast.ColumnDef) (*Column, error) {
	typ, err := columnType(cd)
	if err != nil {
		return nil, err
	}
	c := &Column{Name: cd.Name.Name.O, Type: typ, SQLType: strings.ToUpper(cd.Tp.String())}
	for _, o := range cd.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.NotNull = true
		case ast.ColumnOptionNull:
		case ast.ColumnOptionPrimaryKey:
			c.PrimaryKey, c.NotNull = true, true
		case ast.ColumnOptionComment:
			p, err := commentPath(o.Expr)
			if err != nil {
				return nil, err
			}
			c.Path = p
		case ast.ColumnOptionGenerated:
			return nil, fmt.Errorf("computed columns are not supported (only the watermark column is computed)")
		default:
			return nil, fmt.Errorf("only NOT NULL, PRIMARY KEY and COMMENT '$.json.path' are supported on a column")
		}
	}
	return c, nil
}

var jsonPathRE = regexp.MustCompile(`^\$(\.[A-Za-z_][A-Za-z0-9_]*|\."[^"]+"|\[[0-9]+\])+$`)

func commentPath(e ast.ExprNode) (string, error) {
	v, ok := e.(ast.ValueExpr)
	if !ok {
		return "", fmt.Errorf("COMMENT must be a string")
	}
	p, ok := v.GetValue().(string)
	if !ok {
		return "", fmt.Errorf("COMMENT must be a string")
	}
	if !jsonPathRE.MatchString(p) {
		return "", fmt.Errorf("COMMENT %q is not a JSON path such as '$.user.id' or '$.items[0]'", p)
	}
	return p, nil
}

func columnType(cd *ast.ColumnDef) (Type, error) {
	ft := cd.Tp
	switch ft.GetType() {
	case mysql.TypeTiny:
		if ft.GetFlen() == 1 {
			return TypeBool, nil
		}
		return TypeInt64, nil
	case mysql.TypeShort, mysql.TypeInt24, mysql.TypeLong, mysql.TypeLonglong, mysql.TypeYear:
		return TypeInt64, nil
	case mysql.TypeFloat, mysql.TypeDouble:
		return TypeFloat64, nil
	case mysql.TypeNewDecimal:
		return TypeDecimal, nil
	case mysql.TypeVarchar, mysql.TypeVarString, mysql.TypeString, mysql.TypeBlob, mysql.TypeTinyBlob,
		mysql.TypeMediumBlob, mysql.TypeLongBlob, mysql.TypeEnum, mysql.TypeSet:
		return TypeString, nil
	case mysql.TypeTimestamp, mysql.TypeDatetime, mysql.TypeDate:
		return TypeTimestamp, nil
	case mysql.TypeJSON:
		return TypeJSON, nil
	}
	return 0, fmt.Errorf("type %s is not supported", strings.ToUpper(ft.String()))
}

// watermark reads `watermark TIMESTAMP(3) AS (ts - INTERVAL n unit)`.
func (a *analyzer) watermark(off int, t *Table, cd *ast.ColumnDef) bool {
	var gen ast.ExprNode
	for _, o := range cd.Options {
		if o.Tp == ast.ColumnOptionGenerated {
			gen = o.Expr
		}
	}
	if gen == nil {
		a.src.errorf(off, "the watermark column must be computed: watermark TIMESTAMP(3) AS (ts - INTERVAL 5 SECOND)")
		return false
	}
	if t.Engine != EngineStream {
		a.src.errorf(off, "reference table %s cannot have a watermark", t.Name)
		return false
	}
	exprOff := a.exprOffset(gen, off)
	col, lateness, err := watermarkExpr(gen)
	if err != nil {
		a.src.errorf(exprOff, "watermark of %s: %v", t.Name, err)
		return false
	}
	i := findColumn(t.Columns, col)
	if i < 0 {
		a.src.errorf(exprOff, "watermark of %s: unknown column %s (declare it before the watermark)", t.Name, col)
		return false
	}
	if t.Columns[i].Type != TypeTimestamp {
		a.src.errorf(exprOff, "watermark of %s: event-time column %s must be a TIMESTAMP, not %s", t.Name, col, t.Columns[i].SQLType)
		return false
	}
	t.Watermark = &Watermark{Column: t.Columns[i].Name, Lateness: lateness}
	return true
}

func watermarkExpr(e ast.ExprNode) (string, time.Duration, error) {
	const want = "want (ts) or (ts - INTERVAL 5 SECOND)"
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	if c, ok := e.(*ast.ColumnNameExpr); ok {
		return c.Name.Name.O, 0, nil
	}
	f, ok := e.(*ast.FuncCallExpr)
	if !ok || f.FnName.L != "date_sub" || len(f.Args) != 3 {
		return "", 0, fmt.Errorf("%s", want)
	}
	c, ok := f.Args[0].(*ast.ColumnNameExpr)
	if !ok {
		return "", 0, fmt.Errorf("%s", want)
	}
	n, ok := intValue(f.Args[1])
	u, ok2 := f.Args[2].(*ast.TimeUnitExpr)
	if !ok || !ok2 || n < 0 {
		return "", 0, fmt.Errorf("%s", want)
	}
	d, err := unitDuration(u.Unit.String())
	if err != nil {
		return "", 0, err
	}
	if n > int64(1<<62)/int64(d) {
		return "", 0, fmt.Errorf("lateness is too long")
	}
	return c.Name.Name.O, time.Duration(n) * d, nil
}

func intValue(e ast.ExprNode) (int64, bool) {
	v, ok := e.(ast.ValueExpr)
	if !ok {
		return 0, false
	}
	switch x := v.GetValue().(type) {
	case int64:
		return x, true
	case uint64:
		if x <= 1<<62 {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// parseConnection parses 'target?format=json&refresh=300s'.
func parseConnection(eng Engine, s string) (Connection, error) {
	target, query, _ := strings.Cut(s, "?")
	c := Connection{Target: target, Format: "json"}
	if target == "" {
		return c, fmt.Errorf("CONNECTION %q names no %s", s, map[Engine]string{EngineStream: "stream", EngineFile: "file", EngineS3: "object"}[eng])
	}
	if eng == EngineS3 && !strings.HasPrefix(target, "s3://") {
		return c, fmt.Errorf("CONNECTION %q: an s3 table's target is s3://bucket/key", s)
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return c, fmt.Errorf("CONNECTION %q: %v", s, err)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return c, fmt.Errorf("CONNECTION %q: %s given twice", s, k)
		}
		switch k {
		case "format":
			if v[0] != "json" && v[0] != "csv" {
				return c, fmt.Errorf("CONNECTION %q: unknown format %q (want json or csv)", s, v[0])
			}
			c.Format = v[0]
		case "refresh":
			if eng == EngineStream {
				return c, fmt.Errorf("CONNECTION %q: refresh is for reference tables (ENGINE = file or s3)", s)
			}
			d, err := time.ParseDuration(v[0])
			if err != nil || d <= 0 {
				return c, fmt.Errorf("CONNECTION %q: refresh %q is not a positive duration such as 300s", s, v[0])
			}
			c.Refresh = d
		default:
			return c, fmt.Errorf("CONNECTION %q: unknown parameter %q (want format or refresh)", s, k)
		}
	}
	return c, nil
}

// exprOffset is e's offset in the source, or fallback where the parser did
// not record one.
func (a *analyzer) exprOffset(e ast.Node, fallback int) int {
	if e == nil {
		return fallback
	}
	if off := e.OriginTextPosition(); off > 0 && off <= len(a.src.text) {
		return off
	}
	return fallback
}

// valueAfter is the offset of the value of table option kw (after its optional
// =), or the statement's start.
func (a *analyzer) valueAfter(st stmt, kw string) int {
	off := a.src.findIdent(st.start, st.end, kw)
	if off < 0 {
		return st.start
	}
	off = a.src.skipSpace(a.src.tokenEnd(off))
	if off < len(a.src.text) && a.src.text[off] == '=' {
		off = a.src.skipSpace(off + 1)
	}
	return off
}
