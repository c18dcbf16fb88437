package sql

import (
	"fmt"
	"strings"
	"time"
)

// App is a parsed and checked SQL application: its tables, its views and the
// queries that feed its sinks.
type App struct {
	Name    string
	Tables  []*Table
	Views   []*View
	Queries []*Query
}

// Engine says where a table's records live.
type Engine string

const (
	EngineStream Engine = "stream" // a delivery stream: a source when read, a sink when written
	EngineFile   Engine = "file"   // a reference table loaded from a local file
	EngineS3     Engine = "s3"     // a reference table loaded from an S3 object
)

// Table is a CREATE TABLE: a stream (source or sink) or a reference table.
type Table struct {
	Name       string
	Engine     Engine
	Connection Connection
	Columns    []*Column
	// Watermark is nil for tables without a watermark column; such a
	// table has no event time and cannot feed event-time windows.
	Watermark *Watermark
	Line      int

	// Read and Written say how the application's queries use the table.
	Read, Written bool
}

// Reference reports whether t is a reference table (file or S3).
func (t *Table) Reference() bool { return t.Engine != EngineStream }

// Column is a declared column.
type Column struct {
	Name       string
	Type       Type
	SQLType    string // as declared, e.g. VARCHAR(64)
	NotNull    bool
	PrimaryKey bool
	// Path is the JSON path the column is read from and written to, given
	// as the column's COMMENT ('$.user.id'); empty means the top-level
	// field named like the column.
	Path string
}

// Watermark is a table's event time: the watermark trails the largest event
// time seen by Lateness, and records older than the watermark are late.
type Watermark struct {
	Column   string // the event-time column, a timestamp
	Lateness time.Duration
}

// Connection is a table's parsed CONNECTION string: 'target?key=value&…'.
type Connection struct {
	Target  string        // the stream name, file path or s3://bucket/key
	Format  string        // json or csv
	Refresh time.Duration // reference tables: how often the data is reloaded
}

// View is a CREATE VIEW: an intermediate stream computed by Query.
type View struct {
	Name    string
	Columns []OutColumn
	// Watermark is the view's event time, inherited from its input.
	Watermark *Watermark
	Query     *Query
}

// Query is one continuous query: an INSERT INTO a sink or a view's SELECT.
type Query struct {
	Kind   string // "INSERT" or "VIEW"
	Target string // the sink table or the view
	Line   int
	Plan   Node
}

func (a *App) table(name string) *Table {
	for _, t := range a.Tables {
		if strings.EqualFold(t.Name, name) {
			return t
		}
	}
	return nil
}

func (a *App) view(name string) *View {
	for _, v := range a.Views {
		if strings.EqualFold(v.Name, name) {
			return v
		}
	}
	return nil
}

func findColumn(cols []*Column, name string) int {
	for i, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// Summary describes app's tables and queries in a few lines.
func Summary(app *App) string {
	var b strings.Builder
	for _, t := range app.Tables {
		role := "reference table"
		switch {
		case t.Engine != EngineStream:
		case t.Read && t.Written:
			role = "source and sink"
		case t.Read:
			role = "source"
		case t.Written:
			role = "sink"
		default:
			role = "unused stream"
		}
		fmt.Fprintf(&b, "table %s: %s, %s %q (%s), %d columns", t.Name, role, t.Engine, t.Connection.Target, t.Connection.Format, len(t.Columns))
		if t.Watermark != nil {
			fmt.Fprintf(&b, ", event time %s, lateness %s", t.Watermark.Column, fmtDuration(t.Watermark.Lateness))
		}
		if t.Connection.Refresh > 0 {
			fmt.Fprintf(&b, ", refreshed every %s", fmtDuration(t.Connection.Refresh))
		}
		b.WriteString("\n")
	}
	for _, v := range app.Views {
		fmt.Fprintf(&b, "view %s: %d columns\n", v.Name, len(v.Columns))
	}
	for i, q := range app.Queries {
		fmt.Fprintf(&b, "query %d (line %d): %s %s\n", i+1, q.Line, q.Kind, q.Target)
	}
	return b.String()
}
