// Package clickhouse is Hydrant's ClickHouse sink: it turns a batch of JSON
// records into rows of one table and inserts them over ClickHouse's native
// protocol (clickhouse-go v2), in one INSERT per batch.
//
// # Records to rows
//
// Each record must be one JSON object. Each configured Column takes the
// value of one field: by default the top-level field of the column's name,
// or the field a dotted Path names (.user.id; ."a.b" for a name holding a
// dot; . for the whole record, as JSON text). Values convert as follows:
//
//   - String: a JSON string as its text; any other value as its JSON text
//     (12.50, true, {"a":1}). FixedString(N) the same, at most N bytes,
//     padded with zero bytes as ClickHouse does.
//   - UInt8 … Int64: a JSON number, or a string holding one, that is whole
//     (2, 2.0, 2e3) and in the type's range; true and false are 1 and 0.
//   - Float32, Float64: a number or a string holding one (also "nan",
//     "inf"); true and false are 1 and 0.
//   - Date: an RFC 3339 date (2024-05-01) or date-time, whose date is taken
//     as written; or epoch seconds, or milliseconds from 1e11 up, as a
//     number or a string, whose date is taken in UTC.
//   - DateTime: an RFC 3339 date-time with Z or an offset (a space may
//     replace the T; fractions of a second are dropped), or epoch seconds
//     or milliseconds. A date-time without an offset is read in the
//     column's zone, DateTime('Europe/Berlin'), and rejected for a
//     DateTime without one rather than guessed at.
//   - UUID: a string in any form github.com/google/uuid parses.
//   - Nullable(T): JSON null or a missing field is NULL; otherwise as T.
//   - Array(T): a JSON array whose elements convert as T; an element may be
//     null only if T is Nullable.
//   - LowCardinality(T): as T.
//
// A missing field, or JSON null, in a column that is not Nullable gets the
// type's zero value ("", 0, 1970-01-01, []), as ClickHouse's JSONEachRow
// fills omitted fields, unless the Column is Required. A field no column
// maps is ignored, or, with UnknownFields "reject", rejects its record; so
// does any field inside an object only some of whose fields are mapped.
// A repeated key counts once, the last one, as in encoding/json.
//
// Paths are walked over the record's bytes by a small JSON scanner of this
// package, which reads only the fields a column maps and allocates nothing
// per record; a jq query (gojq) per record would cost several times more
// for what a dotted path already expresses. Decimal, Enum, Tuple, Map and
// the newer types are not converted: map such fields to String columns.
//
// # Inserts
//
// Insert converts a batch and sends every row that converted in one INSERT
// with an explicit column list (INSERT INTO db.t (c1, c2, …)), a column at
// a time, as one block of ClickHouse's native protocol; a MergeTree table
// writes one part per partition the block touches. A batch of more than
// chunkRows records is converted by GOMAXPROCS goroutines while the
// driver copies the converted chunks into the block. Every
// INSERT makes parts that the server merges in the background, and a table
// that is given parts faster than it merges them refuses inserts with "too
// many parts" (code 252, retryable); so batches should be large (tens of
// thousands of rows, or at least one per second per table), which the
// delivery stream's buffering hints decide. Columns of the table left out
// of Columns get their DEFAULT expressions.
//
// Rows that do not convert are returned as Rejected, with the reason, and
// are not inserted; the caller writes them to the error output.
//
// # Delivery guarantees
//
// Insert's error is an *Error saying whether it is permanent. When Insert
// returns an error, no row of the call is known to have been inserted, and
// the caller retries the whole call. That gives at-least-once delivery,
// not exactly-once: an INSERT that failed after the server received the
// block (the connection dropped while it was being committed) may have been
// inserted, and its retry inserts the rows again. ClickHouse deduplicates a
// repeated block only in Replicated*MergeTree tables (insert_deduplicate, on
// by default, over the last replicated_deduplication_window blocks, which
// needs ZooKeeper): there a retry of the same records in the same order,
// which this package turns into the same block, is dropped by the server
// (as documented; there is no ZooKeeper here to test it). Plain MergeTree
// tables in ClickHouse 18.16 have no deduplication (the
// non_replicated_deduplication_window and insert_deduplication_token
// settings came in 20.x and 22.x); deduplicate at query time if the
// table needs it (ReplacingMergeTree, or a key and argMax).
//
// # Connections
//
// New reads the table's columns to check Columns against them, creating
// the table first with CreateTable. A server it cannot reach is not an
// error: Hydrant starts, logs a warning, and the first Insert connects
// and checks the table instead; so a ClickHouse that starts after Hydrant
// delays delivery but loses nothing. The table's columns are read again
// after an insert fails because the table changed.
//
// # ClickHouse 18.16
//
// Debian bookworm's ClickHouse is 18.16 (protocol revision 54412); the
// sink works with it and with later servers. With 18.16: no Bool,
// DateTime64, Map, IPv4 or JSON types; LowCardinality needs the setting
// allow_experimental_low_cardinality_type=1 to create a table; settings
// travel as numbers, so Settings holds integers only; the HTTP interface
// of clickhouse-go does not work, the native protocol does. 18.16 stores
// the whole range of Date (to 2149-06-06) and DateTime (to 2106-02-07
// 06:28:15 UTC) but prints dates after 2106-02-07 and times after
// 2105-12-31 as 1970's, and the zero Date and DateTime as 0000-00-00. An
// INSERT whose connection breaks keeps the blocks the server had received
// (it commits them as it closes the query): one reason the sink sends a
// batch as one block.
package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults of Config.
const (
	DefaultDatabase     = "default"
	DefaultUser         = "default"
	DefaultCompression  = "lz4"
	DefaultEngine       = "MergeTree() ORDER BY tuple()"
	DefaultDialTimeout  = 10 * time.Second
	DefaultQueryTimeout = 5 * time.Minute
	DefaultMaxOpenConns = 4
)

// Config says where the table is and how records map onto it.
type Config struct {
	// Addrs are the servers' native-protocol addresses, host:port (port
	// 9000, or 9440 with TLS). They are tried in order: the first that
	// answers takes the inserts.
	Addrs []string
	// Database holds the table; empty means "default".
	Database string
	// Table is the table inserted into.
	Table string
	// User and Password authenticate; an empty User is "default".
	User string
	// Password is never written out with the rest of the config.
	Password string `json:"-"`
	// TLS connects with TLS (ClickHouse's tcp_port_secure), verifying the
	// server's certificate against the system's CAs and CAFile's.
	TLS bool
	// CAFile names a PEM file of CA certificates trusted besides the
	// system's: for a server whose certificate a private CA signed.
	CAFile string
	// InsecureSkipVerify accepts any certificate, which lets anyone on
	// the path read and change the traffic, the password included. It is
	// for tests only; use CAFile for a private CA.
	InsecureSkipVerify bool
	// Compression compresses the blocks sent: "none", "lz4" (the default,
	// as clickhouse-client) or "zstd".
	Compression string
	// Columns are the table's columns rows are inserted into, and where
	// their values come from. Empty means every column of the table that
	// can be inserted (not MATERIALIZED or ALIAS), each from the
	// top-level field of its name.
	Columns []Column
	// UnknownFields is what a field no column maps does to its record:
	// "ignore" (the default) or "reject".
	UnknownFields string
	// CreateTable creates the table from Columns, which must then all
	// have a Type, if it does not exist. An existing table is used as it
	// is, and checked against Columns.
	CreateTable bool
	// Engine is the ENGINE clause of the table CreateTable creates;
	// empty means DefaultEngine, MergeTree() ORDER BY tuple(). ClickHouse
	// 18.16 accepts this form and the old MergeTree(date, key, 8192).
	Engine string
	// Settings are ClickHouse settings sent with every query, such as
	// insert_quorum or max_memory_usage. Values are integers (booleans
	// as 0 and 1): ClickHouse 18.16's protocol carries settings as
	// numbers.
	Settings map[string]int
	// DialTimeout bounds connecting to one server, and taking a
	// connection from the pool; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// QueryTimeout bounds each read from the server, such as waiting for
	// an INSERT to be acknowledged; 0 means DefaultQueryTimeout.
	QueryTimeout time.Duration
	// MaxOpenConns bounds the connections open at once, and so the
	// inserts in flight; 0 means DefaultMaxOpenConns.
	MaxOpenConns int
}

// Column is one column of the table and the field it takes its value from.
type Column struct {
	// Name is the column's name in the table.
	Name string
	// Type is the column's ClickHouse type (one of SupportedTypes, such
	// as Nullable(String) or Array(Int32)). Empty means the table's; with
	// CreateTable it is required. A Type that is not the table's is an
	// error.
	Type string
	// Path is the field the value comes from, as a dotted path: .user.id,
	// ."user.name" for a name holding a dot, . for the whole record as
	// JSON text. Empty means the top-level field named Name.
	Path string
	// Required rejects a record whose field is missing or null, instead
	// of storing NULL or the type's zero value.
	Required bool
}

// Validate checks the config without the network: the addresses, the
// names, the types and paths of the columns, and the options that go
// together. New calls it; the CA file is read by New.
func (c Config) Validate() error {
	if len(c.Addrs) == 0 {
		return errors.New("clickhouse: no server address: set addrs to the native-protocol host:port of each server, such as 127.0.0.1:9000")
	}
	for _, a := range c.Addrs {
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			return fmt.Errorf("clickhouse: invalid address %q: want host:port of the native protocol, such as 127.0.0.1:9000 (not an http:// URL: the sink does not use the HTTP port)", a)
		}
	}
	if c.Table == "" {
		return errors.New("clickhouse: no table: set table to the table rows are inserted into")
	}
	for what, name := range map[string]string{"database": c.Database, "table": c.Table, "user": c.User} {
		if strings.ContainsAny(name, "\x00\n") {
			return fmt.Errorf("clickhouse: the %s name %q holds a NUL or newline", what, name)
		}
	}
	switch c.Compression {
	case "", "none", "lz4", "zstd":
	default:
		return fmt.Errorf("clickhouse: unknown compression %q: want none, lz4 or zstd", c.Compression)
	}
	switch c.UnknownFields {
	case "", "ignore", "reject":
	default:
		return fmt.Errorf("clickhouse: unknown_fields is %q: want ignore or reject", c.UnknownFields)
	}
	if !c.TLS && c.CAFile != "" {
		return errors.New("clickhouse: a CA file is set but TLS is off: turn TLS on (and use the server's secure port, 9440 by default), or remove the CA file")
	}
	if !c.TLS && c.InsecureSkipVerify {
		return errors.New("clickhouse: TLS verification is turned off but TLS is off too: turn TLS on, or remove insecure_skip_verify")
	}
	if c.DialTimeout < 0 || c.QueryTimeout < 0 || c.MaxOpenConns < 0 {
		return errors.New("clickhouse: dial_timeout, query_timeout and max_open_conns must not be negative")
	}
	if c.Engine != "" && !c.CreateTable {
		return errors.New("clickhouse: an engine is set but create_table is off: the engine is used only to create the table")
	}
	if c.CreateTable && len(c.Columns) == 0 {
		return errors.New("clickhouse: create_table needs the columns, each with a type")
	}
	for k := range c.Settings {
		if k == "" || strings.ContainsAny(k, " \t\n\x00=") {
			return fmt.Errorf("clickhouse: invalid setting name %q", k)
		}
	}
	seen := make(map[string]bool, len(c.Columns))
	for i, col := range c.Columns {
		if col.Name == "" {
			return fmt.Errorf("clickhouse: column %d has no name", i+1)
		}
		if seen[col.Name] {
			return fmt.Errorf("clickhouse: column %q is listed twice", col.Name)
		}
		seen[col.Name] = true
		if col.Type == "" && c.CreateTable {
			return fmt.Errorf("clickhouse: column %q has no type, which create_table needs", col.Name)
		}
		if col.Type != "" {
			if _, err := parseType(col.Type); err != nil {
				return fmt.Errorf("clickhouse: column %q: %w", col.Name, err)
			}
		}
		if col.Path != "" {
			if _, err := parsePath(col.Path); err != nil {
				return fmt.Errorf("clickhouse: column %q: %w", col.Name, err)
			}
		}
	}
	return nil
}

// Rejected is a record that did not convert into a row, and was not
// inserted.
type Rejected struct {
	// Index is the record's index in the slice given to Insert.
	Index int
	// Reason names the field, the column and what was wrong.
	Reason string
}

// Sink inserts batches of records into one table. It is safe for
// concurrent use.
type Sink struct {
	cfg    Config
	table  string // db.table, for messages
	conn   driver.Conn
	logger *slog.Logger

	mu     sync.Mutex // serialises reading the table's columns
	plan   atomic.Pointer[plan]
	closed atomic.Bool
}

// New returns a sink for the table cfg names. It connects, creates the
// table if cfg.CreateTable says so, and checks cfg.Columns against the
// table's columns, waiting at most cfg.DialTimeout (and ctx). It returns
// an error for an invalid config, or a permanent *Error from a server that
// answered (no such table or column, a type that is not the table's, a
// wrong password); a server it cannot reach is logged, and the first
// Insert tries again.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Sink, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.User == "" {
		cfg.User = DefaultUser
	}
	if cfg.Compression == "" {
		cfg.Compression = DefaultCompression
	}
	if cfg.Engine == "" {
		cfg.Engine = DefaultEngine
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxOpenConns == 0 {
		cfg.MaxOpenConns = DefaultMaxOpenConns
	}
	opts := &clickhouse.Options{
		Protocol:         clickhouse.Native,
		Addr:             cfg.Addrs,
		Auth:             clickhouse.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.QueryTimeout,
		MaxOpenConns:     cfg.MaxOpenConns,
		MaxIdleConns:     cfg.MaxOpenConns,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		ClientInfo:       clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "hydrant", Version: "1"}}},
	}
	switch cfg.Compression {
	case "lz4":
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	case "zstd":
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionZSTD}
	}
	if len(cfg.Settings) > 0 {
		opts.Settings = make(clickhouse.Settings, len(cfg.Settings))
		for k, v := range cfg.Settings {
			opts.Settings[k] = v
		}
	}
	if cfg.TLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
		if cfg.InsecureSkipVerify {
			logger.Warn("TLS certificates of the clickhouse servers are not verified: for tests only", "addrs", cfg.Addrs)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: cannot create the client: %w", err)
	}
	s := &Sink{cfg: cfg, table: cfg.Database + "." + cfg.Table, conn: conn, logger: logger}
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := s.getPlan(ctx); err != nil {
		if IsPermanent(err) {
			conn.Close()
			return nil, err
		}
		logger.Warn("clickhouse table not checked: the server did not answer; the first insert checks it", "table", s.table, "addrs", cfg.Addrs, "err", err)
	}
	return s, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.CAFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: cannot read the CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("clickhouse: the CA file %s holds no PEM certificate: want one or more -----BEGIN CERTIFICATE----- blocks", cfg.CAFile)
	}
	tc.RootCAs = pool
	return tc, nil
}

// Table returns the table inserted into, as database.table.
func (s *Sink) Table() string { return s.table }

// failed forgets the table's columns after a permanent error, which may
// come from a table that changed, so that the next insert reads them
// again.
func (s *Sink) failed(p *plan, err error) error {
	if IsPermanent(err) {
		s.plan.CompareAndSwap(p, nil)
	}
	return err
}

// Close closes the connections. Inserts in flight fail.
func (s *Sink) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.conn.Close()
}

// getPlan returns the plan, reading the table's columns (and creating
// the table) if that has not been done.
func (s *Sink) getPlan(ctx context.Context) (*plan, error) {
	if p := s.plan.Load(); p != nil {
		return p, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.plan.Load(); p != nil {
		return p, nil
	}
	p, err := s.readTable(ctx)
	if err != nil {
		return nil, err
	}
	s.plan.Store(p)
	return p, nil
}

// tableColumn is a column as system.columns describes it.
type tableColumn struct {
	name, typ, defaultKind string
}

func (s *Sink) readTable(ctx context.Context) (*plan, error) {
	if err := s.conn.Ping(ctx); err != nil {
		return nil, s.classify("connect", err)
	}
	v, err := s.conn.ServerVersion()
	if err != nil {
		return nil, s.classify("connect", err)
	}
	ident := quoteIdent(s.cfg.Database) + "." + quoteIdent(s.cfg.Table)
	if s.cfg.CreateTable {
		defs := make([]string, len(s.cfg.Columns))
		for i, c := range s.cfg.Columns {
			t, _ := parseType(c.Type) // validated
			defs[i] = quoteIdent(c.Name) + " " + t.String()
		}
		q := "CREATE TABLE IF NOT EXISTS " + ident + " (" + strings.Join(defs, ", ") + ") ENGINE = " + s.cfg.Engine
		if err := s.conn.Exec(ctx, q); err != nil {
			return nil, s.classify("create table", err)
		}
	}
	rows, err := s.conn.Query(ctx, "SELECT name, type, default_kind FROM system.columns WHERE database = ? AND table = ?", s.cfg.Database, s.cfg.Table)
	if err != nil {
		return nil, s.classify("read columns", err)
	}
	var table []tableColumn
	for rows.Next() {
		var c tableColumn
		if err := rows.Scan(&c.name, &c.typ, &c.defaultKind); err != nil {
			rows.Close()
			return nil, s.classify("read columns", err)
		}
		table = append(table, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.classify("read columns", err)
	}
	if len(table) == 0 {
		return nil, &Error{Op: "read columns", Table: s.table, Code: 60, Permanent: true,
			Err: fmt.Errorf("table %s does not exist on %s: create it, or set create_table with typed columns", s.table, strings.Join(s.cfg.Addrs, ", "))}
	}
	cols, err := s.columns(table)
	if err != nil {
		return nil, &Error{Op: "read columns", Table: s.table, Permanent: true, Err: err}
	}
	p := newPlan("INSERT INTO "+ident, cols, s.cfg.UnknownFields == "reject")
	s.logger.Info("clickhouse table ready", "table", s.table, "columns", len(cols), "server", v.String())
	return p, nil
}

// columns matches the configured columns with the table's.
func (s *Sink) columns(table []tableColumn) ([]planCol, error) {
	byName := make(map[string]tableColumn, len(table))
	for _, c := range table {
		byName[c.name] = c
	}
	var cols []planCol
	if len(s.cfg.Columns) == 0 {
		for _, c := range table {
			if c.defaultKind == "MATERIALIZED" || c.defaultKind == "ALIAS" {
				continue
			}
			t, err := parseType(c.typ)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w; or list the columns to insert, leaving this one to its default", c.name, err)
			}
			cols = append(cols, planCol{name: c.name, typ: t, path: "." + pathSegment(c.name), segs: []string{c.name}})
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("table %s has no column an INSERT can write", s.table)
		}
		return cols, nil
	}
	for _, c := range s.cfg.Columns {
		tc, ok := byName[c.Name]
		if !ok {
			names := make([]string, len(table))
			for i, t := range table {
				names[i] = t.name
			}
			return nil, fmt.Errorf("table %s has no column %q (it has %s)", s.table, c.Name, strings.Join(names, ", "))
		}
		if tc.defaultKind == "MATERIALIZED" || tc.defaultKind == "ALIAS" {
			return nil, fmt.Errorf("column %s of %s is %s: ClickHouse computes it, an INSERT cannot write it; remove it from the columns", c.Name, s.table, tc.defaultKind)
		}
		t, err := parseType(tc.typ)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if c.Type != "" {
			want, _ := parseType(c.Type) // validated
			if want.String() != t.String() {
				return nil, fmt.Errorf("column %s is %s in the config but %s in table %s: declare %s, or leave the type out to take the table's", c.Name, want, t, s.table, t)
			}
		}
		pc := planCol{name: c.Name, typ: t, required: c.Required, path: c.Path}
		if c.Path == "" {
			pc.path, pc.segs = "."+pathSegment(c.Name), []string{c.Name}
		} else {
			pc.segs, _ = parsePath(c.Path) // validated
		}
		if pc.segs == nil && !t.holdsText() {
			return nil, fmt.Errorf("column %s takes the whole record (path .), which only a String column can hold, not %s", c.Name, t)
		}
		cols = append(cols, pc)
	}
	return cols, nil
}
