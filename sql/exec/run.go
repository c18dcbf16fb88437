package exec

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hydrantio/hydrant/sql"
)

// Input is the records of one source table, in arrival order.
type Input struct {
	Table string    // a source table of the application
	Name  string    // where the records come from, for the error stream (a file name)
	R     io.Reader // JSON lines, or CSV for a table with format=csv
}

// Output is where a run writes. Sinks holds one writer per sink table
// (SinkTables), by table name; Errors receives the error stream.
type Output struct {
	Sinks  map[string]io.Writer
	Errors io.Writer
}

// Stats counts what a run read and wrote.
type Stats struct {
	Records map[string]int64 // records read, by source table
	Late    map[string]int64 // late records, by source table or view
	Errors  int64            // records on the error stream, late ones included
	Rows    map[string]int64 // rows written, by sink table
}

// SinkTables is the tables app's queries write, in declaration order.
func SinkTables(app *sql.App) []*sql.Table {
	var ts []*sql.Table
	for _, t := range app.Tables {
		if t.Written {
			ts = append(ts, t)
		}
	}
	return ts
}

// Source returns the source table called name, or an error saying why name
// cannot be an input.
func Source(app *sql.App, name string) (*sql.Table, error) {
	var sources []string
	var found *sql.Table
	for _, t := range app.Tables {
		if t.Read && !t.Reference() {
			sources = append(sources, t.Name)
		}
		if strings.EqualFold(t.Name, name) {
			found = t
		}
	}
	list := strings.Join(sources, ", ")
	if list == "" {
		list = "none"
	}
	switch {
	case found == nil:
		for _, v := range app.Views {
			if strings.EqualFold(v.Name, name) {
				return nil, fmt.Errorf("%s is a view, computed by the application; inputs are source tables (%s)", v.Name, list)
			}
		}
		return nil, fmt.Errorf("unknown table %s; the application's source tables are %s", name, list)
	case found.Reference():
		return nil, fmt.Errorf("%s is a reference table (ENGINE = %s), which sql run does not read yet; inputs are source tables (%s)", found.Name, found.Engine, list)
	case found.Written && !found.Read:
		return nil, fmt.Errorf("table %s is not a source: it is a sink, written by the application; the application's source tables are %s", found.Name, list)
	case !found.Read:
		return nil, fmt.Errorf("table %s is not a source: no query reads it; the application's source tables are %s", found.Name, list)
	}
	return found, nil
}

// operator is a step of a query's pipeline. push hands it a row; advance
// tells it the watermark of its input has reached wm (math.MaxInt64 at the
// end of the input). Both run on the run's one goroutine.
type operator interface {
	push(row []any)
	advance(wm Timestamp)
}

// stream is a source table or a view as its queries see it: it checks
// each row's event time against the watermark, sends late rows to the error
// stream, fans rows out to its queries and advances their watermark.
type stream struct {
	name      string
	columns   []string
	tsIdx     int // -1: no event time
	lateness  int64
	max       Timestamp
	seen      bool
	consumers []operator
	r         *runner
}

func (s *stream) watermark() Timestamp {
	if !s.seen {
		return math.MinInt64
	}
	return s.max - Timestamp(s.lateness)
}

// push accepts one row; raw is the record as read, "" for a view's row.
func (s *stream) push(row []any, raw string) {
	if s.tsIdx >= 0 {
		t, ok := row[s.tsIdx].(Timestamp)
		if !ok {
			s.r.report(s.name, raw, row, s.columns, "event time "+s.columns[s.tsIdx]+" is NULL")
			return
		}
		if wm := s.watermark(); t < wm {
			s.r.stats.Late[s.name]++
			s.r.report(s.name, raw, row, s.columns, fmt.Sprintf("late: event time %s is before the watermark %s (allowed lateness %dms)", t, wm, s.lateness))
			return
		}
		for _, c := range s.consumers {
			c.push(row)
		}
		old := s.watermark()
		if !s.seen || t > s.max {
			s.max, s.seen = t, true
		}
		if wm := s.watermark(); wm > old {
			s.advance(wm)
		}
		return
	}
	for _, c := range s.consumers {
		c.push(row)
	}
}

func (s *stream) advance(wm Timestamp) {
	for _, c := range s.consumers {
		c.advance(wm)
	}
}

// query is one compiled query.
type query struct {
	r     *runner
	num   int
	line  int
	from  string   // the stream it reads
	input []string // the column names of that stream
	ev    *evaluator
}

type filterOp struct {
	q    *query
	cond *sql.Expr
	next operator
}

func (o *filterOp) push(row []any) {
	v, err := o.q.ev.eval(o.cond, &env{row: row})
	if err != nil {
		o.q.r.reportRow(o.q.from, row, o.q.input, err.Error())
		return
	}
	if truth(v) {
		o.next.push(row)
	}
}
func (o *filterOp) advance(wm Timestamp) { o.next.advance(wm) }

type projectOp struct {
	q     *query
	exprs []*sql.Expr
	next  operator
}

func (o *projectOp) push(row []any) {
	out := make([]any, len(o.exprs))
	en := &env{row: row}
	for i, e := range o.exprs {
		v, err := o.q.ev.eval(e, en)
		if err != nil {
			o.q.r.reportRow(o.q.from, row, o.q.input, err.Error())
			return
		}
		out[i] = v
	}
	o.next.push(out)
}
func (o *projectOp) advance(wm Timestamp) { o.next.advance(wm) }

// tableSink writes rows to a sink table, in the table's column order.
type tableSink struct {
	r     *runner
	table *sql.Table
	pos   []int // table column i takes row[pos[i]], or NULL when pos[i] < 0
	enc   *encoder
	w     *bufio.Writer
	buf   []byte
	full  []any
}

func (o *tableSink) push(row []any) {
	for i, c := range o.table.Columns {
		o.full[i] = nil
		if p := o.pos[i]; p >= 0 {
			// The front end admits only widening (int64 to float64,
			// decimal or bool); anything else was CAST already.
			o.full[i] = row[p]
			if v, err := convert(row[p], c.Type); err == nil {
				o.full[i] = v
			}
		}
	}
	o.buf = o.enc.appendRow(o.buf[:0], o.full)
	if _, err := o.w.Write(o.buf); err != nil && o.r.err == nil {
		o.r.err = fmt.Errorf("cannot write sink %s: %w", o.table.Name, err)
	}
	o.r.stats.Rows[o.table.Name]++
}
func (o *tableSink) advance(Timestamp) {}

// viewSink feeds a view's stream.
type viewSink struct{ s *stream }

func (o *viewSink) push(row []any)       { o.s.push(row, "") }
func (o *viewSink) advance(wm Timestamp) {}

// runner holds a run's state; everything runs on the caller's goroutine.
type runner struct {
	app     *sql.App
	streams map[string]*stream // by lower-case name
	order   []*stream          // tables then views, in declaration order
	sinks   map[string]*bufio.Writer
	errs    *bufio.Writer
	stats   Stats
	err     error // the first write error
}

func newStream(r *runner, name string, cols []sql.OutColumn, wm *sql.Watermark) *stream {
	s := &stream{name: name, tsIdx: -1, r: r}
	for i, c := range cols {
		s.columns = append(s.columns, c.Name)
		if wm != nil && strings.EqualFold(c.Name, wm.Column) {
			s.tsIdx, s.lateness = i, wm.Lateness.Milliseconds()
		}
	}
	return s
}

// Run runs app over inputs in event time and writes each sink's rows and
// the error stream to out. Inputs are read one record at a time in turn, in
// the order given (round robin; an input that ends drops out), and each
// stream's watermark — the largest event time seen minus the allowed
// lateness — advances after every record, so a run is deterministic. At the
// end of the input every open window closes and is emitted.
func Run(ctx context.Context, app *sql.App, inputs []Input, out Output) (*Stats, error) {
	r, err := newRunner(app, out)
	if err != nil {
		return nil, err
	}
	readers, err := r.readers(inputs)
	if err != nil {
		return nil, err
	}
	for n := 0; len(readers) > 0; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		live := readers[:0]
		for _, in := range readers {
			more, err := in.next()
			if err != nil {
				return nil, err
			}
			if more {
				live = append(live, in)
			}
		}
		readers = live
		if r.err != nil {
			return nil, r.err
		}
	}
	for _, s := range r.order { // end of input: every window closes
		s.advance(math.MaxInt64)
	}
	for _, t := range SinkTables(app) {
		if err := r.sinks[t.Name].Flush(); err != nil {
			return nil, fmt.Errorf("cannot write sink %s: %w", t.Name, err)
		}
	}
	if err := r.errs.Flush(); err != nil {
		return nil, fmt.Errorf("cannot write the error stream: %w", err)
	}
	return &r.stats, r.err
}

// Check reports whether Run supports every query of app.
func Check(app *sql.App) error {
	out := Output{Sinks: map[string]io.Writer{}, Errors: io.Discard}
	for _, t := range SinkTables(app) {
		out.Sinks[t.Name] = io.Discard
	}
	_, err := newRunner(app, out)
	return err
}

// newRunner compiles app's queries.
func newRunner(app *sql.App, out Output) (*runner, error) {
	r := &runner{app: app, streams: map[string]*stream{}, sinks: map[string]*bufio.Writer{},
		stats: Stats{Records: map[string]int64{}, Late: map[string]int64{}, Rows: map[string]int64{}}}
	if out.Errors == nil {
		return nil, errors.New("no writer for the error stream")
	}
	r.errs = bufio.NewWriter(out.Errors)
	for _, t := range SinkTables(app) {
		w, ok := out.Sinks[t.Name]
		if !ok {
			return nil, fmt.Errorf("no writer for sink table %s", t.Name)
		}
		r.sinks[t.Name] = bufio.NewWriter(w)
	}
	for _, t := range app.Tables {
		cols := make([]sql.OutColumn, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = sql.OutColumn{Name: c.Name, Type: c.Type}
		}
		s := newStream(r, t.Name, cols, t.Watermark)
		r.streams[strings.ToLower(t.Name)], r.order = s, append(r.order, s)
	}
	for _, v := range app.Views {
		s := newStream(r, v.Name, v.Columns, v.Watermark)
		r.streams[strings.ToLower(v.Name)], r.order = s, append(r.order, s)
	}
	for i, q := range app.Queries {
		if err := r.compile(i+1, q); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// compile builds the operators of q and attaches them to the stream it reads.
func (r *runner) compile(num int, q *sql.Query) error {
	cq := &query{r: r, num: num, line: q.Line, ev: newEvaluator()}
	sink := q.Plan.(*sql.Sink)
	var next operator
	if sink.Table != nil {
		t := sink.Table
		ts := &tableSink{r: r, table: t, pos: make([]int, len(t.Columns)), w: r.sinks[t.Name], full: make([]any, len(t.Columns))}
		for i, c := range t.Columns {
			ts.pos[i] = -1
			for j, sc := range sink.Columns {
				if strings.EqualFold(sc.Name, c.Name) {
					ts.pos[i] = j
				}
			}
		}
		enc, err := newEncoder(t)
		if err != nil {
			return err
		}
		ts.enc, next = enc, ts
	} else {
		next = &viewSink{s: r.streams[strings.ToLower(sink.View.Name)]}
	}
	node := sink.Input
	for {
		switch n := node.(type) {
		case *sql.Project:
			next, node = &projectOp{q: cq, exprs: n.Exprs, next: next}, n.Input
			continue
		case *sql.Filter:
			next, node = &filterOp{q: cq, cond: n.Cond, next: next}, n.Input
			continue
		case *sql.WindowAggregate:
			w, err := newWindowOp(cq, n, next)
			if err != nil {
				return err
			}
			next, node = w, n.Input
			continue
		case *sql.Scan:
			name := ""
			if n.Table != nil {
				name = n.Table.Name
			} else {
				name = n.View.Name
			}
			s := r.streams[strings.ToLower(name)]
			cq.from, cq.input = s.name, s.columns
			s.consumers = append(s.consumers, next)
			return nil
		default:
			return fmt.Errorf("query %d (line %d): sql run does not support %T yet", num, q.Line, n)
		}
	}
}

// report writes one record to the error stream: the table, where the
// record came from, the record and the reason.
func (r *runner) report(table, raw string, row []any, cols []string, reason string) {
	if raw == "" && row != nil {
		o := newObject()
		for i, c := range cols {
			o.set(c, row[i])
		}
		raw = string(o.appendJSON(nil))
	}
	r.reportRaw(table, "", 0, raw, reason)
}

func (r *runner) reportRow(table string, row []any, cols []string, reason string) {
	r.report(table, "", row, cols, reason)
}

func (r *runner) reportGroup(q *query, g *group, en *env, reason string) {
	o := newObject()
	o.set("window_start", g.start)
	o.set("window_end", g.end)
	o.set("keys", g.keys)
	r.reportRaw(q.from, "", 0, string(o.appendJSON(nil)), fmt.Sprintf("query %d (line %d): %s", q.num, q.line, reason))
}

func (r *runner) reportRaw(table, file string, line int, raw, reason string) {
	o := newObject()
	o.set("table", table)
	if file != "" {
		o.set("file", file)
		o.set("line", int64(line))
	}
	o.set("record", raw)
	o.set("reason", reason)
	r.stats.Errors++
	if _, err := r.errs.Write(append(o.appendJSON(nil), '\n')); err != nil && r.err == nil {
		r.err = fmt.Errorf("cannot write the error stream: %w", err)
	}
}

// reader yields one input's records.
type reader struct {
	r      *runner
	in     Input
	s      *stream
	dec    *decoder
	lines  *bufio.Scanner // format=json
	csv    *csv.Reader    // format=csv
	lineNo int
}

func (r *runner) readers(inputs []Input) ([]*reader, error) {
	var out []*reader
	seen := map[string]bool{}
	for _, in := range inputs {
		t, err := Source(r.app, in.Table)
		if err != nil {
			return nil, err
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("two inputs for table %s; give each source table one input", t.Name)
		}
		seen[t.Name] = true
		dec, err := newDecoder(t)
		if err != nil {
			return nil, err
		}
		rd := &reader{r: r, in: in, s: r.streams[strings.ToLower(t.Name)], dec: dec}
		rd.in.Table = t.Name
		if t.Connection.Format == "csv" {
			rd.csv = csv.NewReader(in.R)
			rd.csv.FieldsPerRecord = -1
		} else {
			rd.lines = bufio.NewScanner(in.R)
			rd.lines.Buffer(make([]byte, 64*1024), 16<<20)
		}
		r.stats.Records[t.Name] += 0
		out = append(out, rd)
	}
	return out, nil
}

// next reads and processes one record; more is false at the end of input.
func (rd *reader) next() (more bool, err error) {
	table := rd.in.Table
	if rd.csv != nil {
		fields, err := rd.csv.Read()
		if err == io.EOF {
			return false, nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			rd.r.stats.Records[table]++
			rd.r.reportRaw(table, rd.in.Name, perr.Line, "", "not CSV: "+perr.Err.Error())
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("cannot read %s: %w", rd.in.Name, err)
		}
		line, _ := rd.csv.FieldPos(0)
		rd.r.stats.Records[table]++
		row, derr := rd.dec.decodeCSV(fields)
		raw := csvLine(fields)
		if derr != nil {
			rd.r.reportRaw(table, rd.in.Name, line, raw, derr.Error())
			return true, nil
		}
		rd.push(row, raw, line)
		return true, nil
	}
	for rd.lines.Scan() {
		rd.lineNo++
		b := bytes.TrimSpace(rd.lines.Bytes())
		if len(b) == 0 {
			continue
		}
		rd.r.stats.Records[table]++
		row, derr := rd.dec.decodeJSON(b)
		if derr != nil {
			rd.r.reportRaw(table, rd.in.Name, rd.lineNo, string(b), derr.Error())
			return true, nil
		}
		rd.push(row, string(b), rd.lineNo)
		return true, nil
	}
	if err := rd.lines.Err(); err != nil {
		return false, fmt.Errorf("cannot read %s: %w", rd.in.Name, err)
	}
	return false, nil
}

// push hands a decoded record to its stream, reporting the file and line
// of a late record.
func (rd *reader) push(row []any, raw string, line int) {
	s := rd.s
	if s.tsIdx >= 0 {
		if t, ok := row[s.tsIdx].(Timestamp); ok && t < s.watermark() {
			s.r.stats.Late[s.name]++
			rd.r.reportRaw(s.name, rd.in.Name, line, raw, fmt.Sprintf("late: event time %s is before the watermark %s (allowed lateness %dms)", t, s.watermark(), s.lateness))
			return
		}
	}
	s.push(row, raw)
}

func csvLine(fields []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(fields)
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}
