package clickhouse

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

// These tests run against a real ClickHouse (HYDRANT_CLICKHOUSE), each on
// its own server with its own temp dir.

func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recs(data ...string) []record.Record {
	out := make([]record.Record, len(data))
	for i, d := range data {
		out[i] = record.Record{Offset: uint64(i), Data: []byte(d)}
	}
	return out
}

func insert(t *testing.T, s *Sink, rs []record.Record) []Rejected {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rej, err := s.Insert(ctx, rs)
	if err != nil {
		t.Fatalf("Insert(%d records): %v", len(rs), err)
	}
	return rej
}

// event is one generated record of the 100k test and the row it becomes.
type event struct {
	json []byte
	bad  bool   // does not convert
	row  string // what the checksum query concatenates for its row
}

// eventColumns is the table of the 100k test.
var eventColumns = []Column{
	{Name: "id", Type: "UInt64", Required: true},
	{Name: "user", Type: "String", Path: ".user.name"},
	{Name: "user_id", Type: "UInt32", Path: ".user.id"},
	{Name: "n", Type: "Int32"},
	{Name: "amount", Type: "Float64"},
	{Name: "ts", Type: "DateTime"},
	{Name: "day", Type: "Date"},
	{Name: "tags", Type: "Array(String)"},
	{Name: "note", Type: "Nullable(String)"},
}

// eventChecksum is the query the checksum of genEvents' rows matches: the
// sum of the first 8 bytes of each row's MD5, little-endian, mod 2^64.
// Floats go in as their bytes (reinterpretAsString drops trailing zero
// bytes, which toFixedString puts back).
const eventChecksum = `SELECT count(), sum(reinterpretAsUInt64(MD5(concat(
	toString(id), '|', user, '|', toString(user_id), '|', toString(n), '|', hex(toFixedString(reinterpretAsString(amount), 8)), '|',
	toString(toUInt32(ts)), '|', toString(day), '|', arrayStringConcat(tags, ','), '|', ifNull(note, 'null')))))
	FROM %s`

// genEvents makes n records from seed: every kind of value the columns
// take, strings needing escapes, fields in any order, and about 1% of
// records that do not convert.
func genEvents(n int, seed uint64) []event {
	r := rand.New(rand.NewPCG(seed, 1))
	names := []string{"ana", "bob", "zoë", `q"uote`, "back\\slash", "new\nline", "tab\t", "日本", "", "emoji 😀"}
	out := make([]event, n)
	for i := range out {
		id := uint64(i) + seed<<32
		var fields []field
		add := func(key string, v any) { fields = append(fields, field{key, v}) }
		add("id", id)
		user := names[r.IntN(len(names))]
		uid := r.Uint32()
		switch r.IntN(4) {
		case 0: // no user: "", 0
			user, uid = "", 0
		case 1:
			add("user", []field{{"name", user}, {"id", uid}, {"extra", []any{1, "x"}}})
		default:
			add("user", []field{{"id", strconv.FormatUint(uint64(uid), 10)}, {"name", user}})
		}
		nv := r.Int32() - math.MaxInt32/2
		add("n", nv)
		amount := math.Round(r.NormFloat64()*1e6) / 100
		if r.IntN(3) == 0 {
			amount = r.Float64() * 1e9
		}
		add("amount", amount)
		ts := int64(r.IntN(2_000_000_000))
		switch r.IntN(3) {
		case 0:
			add("ts", time.Unix(ts, 0).UTC().Format(time.RFC3339))
		case 1:
			add("ts", ts)
		default:
			// Milliseconds from 1e11 up: below, they read as seconds.
			ts = max(ts, epochMillisFrom/1000)
			add("ts", ts*1000+int64(r.IntN(1000)))
		}
		day := time.Unix(int64(r.IntN(3_000_000_000)), 0).UTC().Format("2006-01-02")
		add("day", day)
		if day == "1970-01-01" {
			day = "0000-00-00" // as ClickHouse 18.16 writes the zero Date
		}
		tags := make([]string, r.IntN(4))
		for j := range tags {
			tags[j] = names[r.IntN(len(names))]
		}
		if len(tags) > 0 || r.IntN(2) == 0 {
			add("tags", tags)
		}
		note := "null"
		switch r.IntN(3) {
		case 0:
			note = fmt.Sprintf("note %d", i)
			add("note", note)
		case 1:
			add("note", nil)
		}
		bad := r.IntN(100) == 0
		if bad {
			switch r.IntN(4) {
			case 0:
				add("n", "many") // a repeated key: the last one counts
			case 1:
				add("day", "2024-13-01")
			case 2:
				add("tags", []any{"a", nil})
			default:
				fields = fields[1:] // no id
			}
		}
		if r.IntN(4) == 0 {
			r.Shuffle(len(fields), func(a, b int) { fields[a], fields[b] = fields[b], fields[a] })
		}
		out[i] = event{json: appendObject(nil, fields, r), bad: bad, row: strings.Join([]string{
			strconv.FormatUint(id, 10), user, strconv.FormatUint(uint64(uid), 10), strconv.Itoa(int(nv)),
			fmt.Sprintf("%016X", binary.LittleEndian.AppendUint64(nil, math.Float64bits(amount))),
			strconv.FormatInt(ts, 10), day, strings.Join(tags, ","), note,
		}, "|")}
	}
	return out
}

// field is a key and value of a generated JSON object; a value that is a
// []field is an object.
type field struct {
	key string
	val any
}

// appendObject writes fields as a JSON object, with spaces here and there.
func appendObject(dst []byte, fields []field, r *rand.Rand) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if r.IntN(8) == 0 {
			dst = append(dst, " \n"[r.IntN(2)])
		}
		dst = appendJSON(dst, f.key)
		dst = append(dst, ':')
		if sub, ok := f.val.([]field); ok {
			dst = appendObject(dst, sub, r)
		} else {
			dst = appendJSON(dst, f.val)
		}
	}
	return append(dst, '}')
}

// appendJSON writes a generated value. strconv's quoting is JSON for the
// strings genEvents makes (no control characters but \n and \t).
func appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return strconv.AppendQuote(dst, v)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case float64:
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	case []string:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, e)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	}
	panic(fmt.Sprintf("appendJSON: %T", v))
}

// checksum is eventChecksum computed in Go over the rows that convert.
func checksum(evs []event) (count, sum uint64) {
	for _, e := range evs {
		if e.bad {
			continue
		}
		h := md5.Sum([]byte(e.row))
		count++
		sum += binary.LittleEndian.Uint64(h[:8])
	}
	return count, sum
}

// 100k records in batches of 5,000 from 4 goroutines: every row that
// converts arrives, whole, once, and exactly the others are rejected.
func TestInsert100k(t *testing.T) {
	srv := startServer(t, serverOptions{})
	cfg := srv.Config("events", eventColumns...)
	cfg.CreateTable = true
	s := newSink(t, cfg)

	// Batches of every size: one record, a few thousand, and more than
	// chunkRows, which several goroutines convert.
	const n = 100_000
	sizes := []int{30_000, 5_000, 1, 25_000, 999, 20_000, 19_000}
	evs := genEvents(n, 7)
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var rejected []int
	type span struct{ from, to int }
	work := make(chan span)
	for range 4 {
		wg.Go(func() {
			for w := range work {
				rs := make([]record.Record, 0, w.to-w.from)
				for _, e := range evs[w.from:w.to] {
					rs = append(rs, record.Record{Data: e.json})
				}
				rej := insert(t, s, rs)
				mu.Lock()
				for _, r := range rej {
					rejected = append(rejected, w.from+r.Index)
				}
				mu.Unlock()
			}
		})
	}
	from := 0
	for _, size := range sizes {
		work <- span{from, from + size}
		from += size
	}
	close(work)
	wg.Wait()
	if from != n {
		t.Fatalf("the batches hold %d records; want %d", from, n)
	}
	t.Logf("%d records inserted in %v", n, time.Since(began).Round(time.Millisecond))

	wantRejected := 0
	for _, e := range evs {
		if e.bad {
			wantRejected++
		}
	}
	if len(rejected) != wantRejected {
		t.Errorf("%d records rejected; want %d", len(rejected), wantRejected)
	}
	for _, i := range rejected {
		if !evs[i].bad {
			t.Errorf("record %d rejected: %s", i, evs[i].json)
		}
	}
	var count, sum uint64
	srv.QueryRow(fmt.Sprintf(eventChecksum, "default.events"), &count, &sum)
	wantCount, wantSum := checksum(evs)
	if count != wantCount || sum != wantSum {
		t.Errorf("table: count %d, checksum %d; sent %d rows, checksum %d", count, sum, wantCount, wantSum)
	}
	var parts uint64
	srv.QueryRow("SELECT count() FROM system.parts WHERE database = 'default' AND table = 'events' AND active", &parts)
	t.Logf("%d rows, %d rejected, %d active parts", count, len(rejected), parts)
}

// Each type round trips: the server reads back what the JSON said.
func TestRoundTrip(t *testing.T) {
	srv := startServer(t, serverOptions{})
	cols := []Column{
		{Name: "s", Type: "String"},
		{Name: "fs", Type: "FixedString(4)"},
		{Name: "u8", Type: "UInt8"},
		{Name: "i64", Type: "Int64"},
		{Name: "u64", Type: "UInt64"},
		{Name: "f32", Type: "Float32"},
		{Name: "d", Type: "Date"},
		{Name: "t", Type: "DateTime"},
		{Name: "tb", Type: "DateTime('Europe/Berlin')"},
		{Name: "id", Type: "UUID"},
		{Name: "ns", Type: "Nullable(String)"},
		{Name: "nt", Type: "Nullable(DateTime)"},
		{Name: "ni", Type: "Nullable(Int16)"},
		{Name: "ai", Type: "Array(Int32)"},
		{Name: "ans", Type: "Array(Nullable(String))"},
		{Name: "aai", Type: "Array(Array(UInt8))"},
		{Name: "ad", Type: "Array(Date)"},
		{Name: "adt", Type: "Array(DateTime)"},
		{Name: "au", Type: "Array(UUID)"},
		{Name: "af", Type: "Array(Float32)"},
		{Name: "afs", Type: "Array(FixedString(2))"},
		{Name: "au64", Type: "Array(UInt64)"},
		{Name: "lc", Type: "LowCardinality(String)"},
		{Name: "lcn", Type: "LowCardinality(Nullable(String))"},
		{Name: "raw", Type: "String", Path: ".obj"},
		{Name: "deep", Type: "Nullable(Int64)", Path: ".obj.x.y"},
	}
	cfg := srv.Config("rt", cols...)
	cfg.CreateTable = true
	cfg.Engine = "MergeTree() ORDER BY tuple()"
	cfg.Settings = map[string]int{"allow_experimental_low_cardinality_type": 1}
	s := newSink(t, cfg)
	rej := insert(t, s, recs(
		`{"k": 1, "s": "a\"b\\c\u00e9", "fs": "ab", "u8": 255, "i64": -9223372036854775808, "u64": "18446744073709551615", "f32": 1.5,
		  "d": "2106-02-07", "t": "2105-12-31T23:59:59Z", "tb": "2024-05-01 12:00:00", "id": "8d0f1f2e-0000-4000-8000-000000000001",
		  "ns": "x", "nt": 1714564800123, "ni": -7, "ai": [1, -2], "ans": ["a", null], "aai": [[1, 2], []], "ad": ["2024-05-01", 0], "adt": [1714564800, "2024-05-01T12:00:01Z"],
		  "au": ["8d0f1f2e-0000-4000-8000-000000000002"], "af": [0.5, -2], "afs": ["ab", "c"], "au64": [18446744073709551615, 0],
		  "lc": "low", "lcn": null, "obj": {"x": {"y": 42}}}`,
		`{"k": 2}`,
	))
	if len(rej) != 0 {
		t.Fatalf("rejected: %v", rej)
	}
	var exprs []string
	for _, c := range cols {
		exprs = append(exprs, "toString("+c.Name+")")
	}
	rows, err := srv.Conn().Query(context.Background(), "SELECT "+strings.Join(exprs, ", ")+" FROM rt ORDER BY s DESC")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := [][]string{
		{`a"b\cé`, "ab", "255", "-9223372036854775808", "18446744073709551615", "1.5", "2106-02-07", "2105-12-31 23:59:59", "2024-05-01 12:00:00",
			"8d0f1f2e-0000-4000-8000-000000000001", "x", "2024-05-01 12:00:00", "-7", "[1,-2]", "['a',NULL]", "[[1,2],[]]", "['2024-05-01','0000-00-00']", "['2024-05-01 12:00:00','2024-05-01 12:00:01']",
			"['8d0f1f2e-0000-4000-8000-000000000002']", "[0.5,-2]", "['ab','c\\0']", "[18446744073709551615,0]",
			"low", "", `{"x": {"y": 42}}`, "42"},
		// ClickHouse 18.16 writes the zero Date and DateTime as zeros.
		{"", "", "0", "0", "0", "0", "0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00",
			"00000000-0000-0000-0000-000000000000", "", "", "", "[]", "[]", "[]", "[]", "[]", "[]", "[]", "[]", "[]", "", "", "", ""},
	}
	for i := 0; rows.Next(); i++ {
		got := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for j := range got {
			dest[j] = &got[j]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for j, c := range cols {
			g := ""
			if got[j] != nil {
				g = *got[j]
			}
			if i < len(want) && g != want[i][j] {
				t.Errorf("row %d, column %s (%s) = %q; want %q", i, c.Name, c.Type, g, want[i][j])
			}
		}
	}
	// NULLs are NULL, not empty.
	var nulls uint64
	srv.QueryRow("SELECT countIf(ns IS NULL) + countIf(nt IS NULL) + countIf(ni IS NULL) + countIf(lcn IS NULL) + countIf(deep IS NULL) FROM rt", &nulls)
	if nulls != 6 {
		t.Errorf("%d NULLs; want 6 (row 1: lcn; row 2: ns, nt, ni, lcn, deep)", nulls)
	}
	// The ends of the ranges are stored exactly; 18.16 cannot print them.
	insert(t, s, recs(`{"s": "max", "d": "2149-06-06", "t": "2106-02-07T06:28:15Z", "fs": "abcd"}`))
	var d uint16
	var tm uint32
	var fs string
	srv.QueryRow("SELECT toUInt16(d), toUInt32(t), hex(fs) FROM rt WHERE s = 'max'", &d, &tm, &fs)
	if d != math.MaxUint16 || tm != math.MaxUint32 || fs != "61626364" {
		t.Errorf("the ends of the ranges read back as %d, %d, %s", d, tm, fs)
	}
	srv.QueryRow("SELECT hex(fs) FROM rt WHERE s = ''", &fs)
	if fs != "00000000" {
		t.Errorf("an empty FixedString(4) reads back as %s; want 00000000", fs)
	}
}

// Rejected records come back with their index and reason; the rest are
// inserted.
func TestRejected(t *testing.T) {
	srv := startServer(t, serverOptions{})
	srv.Exec("CREATE TABLE r (id UInt32, at DateTime, name String DEFAULT 'anon', computed UInt32 MATERIALIZED id * 2) ENGINE = MergeTree() ORDER BY id")
	cfg := srv.Config("r", Column{Name: "id"}, Column{Name: "at", Path: ".meta.at"})
	cfg.UnknownFields = "reject"
	s := newSink(t, cfg)
	rej := insert(t, s, recs(
		`{"id": 1, "meta": {"at": "2024-05-01T12:00:00Z"}}`,
		`{"id": -1}`,
		`{"id": 2, "meta": {"at": "2024-05-01 12:00:00"}}`,
		`{"id": 3, "name": "x"}`,
		`not json`,
		`{"id": 4}`,
	))
	want := []Rejected{
		{1, "field .id: cannot convert a number to UInt32 for column id: -1 is out of range [0, 4294967295]"},
		{2, "field .meta.at: cannot convert a string to DateTime for column at: a date-time without a zone offset is ambiguous: add Z or ±hh:mm (RFC 3339), or give the column a zone, as in DateTime('UTC')"},
		{3, "field .name is not mapped to a column, and unknown fields are rejected"},
		{4, "the record is not a JSON object"},
	}
	if fmt.Sprint(rej) != fmt.Sprint(want) {
		t.Errorf("rejected:\n got %v\nwant %v", rej, want)
	}
	var got string
	srv.QueryRow("SELECT arrayStringConcat(groupArray(concat(toString(id), ' ', toString(at), ' ', name, ' ', toString(computed))), ';') FROM (SELECT id, at, name, computed FROM r ORDER BY id)", &got)
	if want := "1 2024-05-01 12:00:00 anon 2;4 0000-00-00 00:00:00 anon 8"; got != want {
		t.Errorf("table = %q; want %q", got, want)
	}
	// A batch of only rejected records sends nothing.
	if rej := insert(t, s, recs(`{"id": "x"}`)); len(rej) != 1 {
		t.Errorf("rejected %v; want the one record", rej)
	}
}

// Without Columns, every column that an INSERT can write is filled from
// the field of its name.
func TestTableColumns(t *testing.T) {
	srv := startServer(t, serverOptions{})
	srv.Exec("CREATE TABLE tc (id UInt32, tags Array(String), x Nullable(Float64), c UInt32 MATERIALIZED id + 1, a UInt32 ALIAS id + 2) ENGINE = Memory")
	s := newSink(t, srv.Config("tc"))
	insert(t, s, recs(`{"id": 1, "tags": ["a"], "x": 0.5}`, `{"id": 2}`))
	var got string
	srv.QueryRow("SELECT arrayStringConcat(groupArray(concat(toString(id), toString(tags), ifNull(toString(x), 'NULL'), toString(c), toString(a))), ';') FROM (SELECT id, tags, x, c, a FROM tc ORDER BY id)", &got)
	if want := "1['a']0.523;2[]NULL34"; got != want {
		t.Errorf("table = %q; want %q", got, want)
	}
}

// Errors a retry cannot cure are permanent: at New, and at Insert when the
// table changes under the sink, which then reads the table again.
func TestPermanentErrors(t *testing.T) {
	srv := startServer(t, serverOptions{})
	srv.Exec("CREATE TABLE p (id UInt32, s String) ENGINE = MergeTree() ORDER BY id")
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no table", func(c *Config) { c.Table = "nope" }, "table default.nope does not exist"},
		{"no database", func(c *Config) {
			c.Database = "nope"
			c.CreateTable = true
			c.Columns = []Column{{Name: "id", Type: "UInt32"}}
		}, "code: 81"},
		{"no column", func(c *Config) { c.Columns = []Column{{Name: "id"}, {Name: "x"}} }, `table default.p has no column "x" (it has id, s)`},
		{"other type", func(c *Config) { c.Columns = []Column{{Name: "id", Type: "Int64"}} }, "column id is Int64 in the config but UInt32 in table default.p"},
		{"password", func(c *Config) { c.Password = "wrong" }, "code: 193"},
		{"whole record", func(c *Config) { c.Columns = []Column{{Name: "id", Path: "."}} }, "column id takes the whole record (path .), which only a String column can hold, not UInt32"},
		{"create over other", func(c *Config) { c.CreateTable = true; c.Columns = []Column{{Name: "s", Type: "Nullable(String)"}} }, "column s is Nullable(String) in the config but String"},
	} {
		cfg := srv.Config("p")
		tt.change(&cfg)
		_, err := New(ctx, cfg, nil)
		if !IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v; want a permanent error containing %q", tt.name, err, tt.want)
		}
	}

	s := newSink(t, srv.Config("p"))
	insert(t, s, recs(`{"id": 1, "s": "a"}`))
	srv.Exec("DROP TABLE p")
	_, err := s.Insert(ctx, recs(`{"id": 2}`))
	var e *Error
	if !errors.As(err, &e) || !e.Permanent || e.Code != 60 {
		t.Errorf("Insert into a dropped table = %v; want a permanent *Error, code 60", err)
	}
	// Recreated with another type: read again, and converted for it.
	srv.Exec("CREATE TABLE p (id String, s String) ENGINE = MergeTree() ORDER BY id")
	insert(t, s, recs(`{"id": 3, "s": "b"}`))
	// Altered between inserts: the INSERT's header says so, and the next
	// insert converts for the new type.
	srv.Exec("ALTER TABLE p MODIFY COLUMN s Nullable(String)")
	_, err = s.Insert(ctx, recs(`{"id": 4}`))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "column s is now Nullable(String), not String: the table changed") {
		t.Errorf("Insert after ALTER = %v; want a retryable error saying the table changed", err)
	}
	insert(t, s, recs(`{"id": 4}`))
	var got string
	srv.QueryRow("SELECT arrayStringConcat(groupArray(concat(id, '=', ifNull(s, 'NULL'))), ',') FROM (SELECT * FROM p ORDER BY id)", &got)
	if got != "3=b,4=NULL" {
		t.Errorf("table = %q; want 3=b,4=NULL", got)
	}
}

// A server that is down gives retryable errors, at New and at Insert, and
// the sink carries on when it is back; a restart in the middle of a stream
// of inserts, retried as delivery does, loses nothing.
func TestRestart(t *testing.T) {
	srv := startServer(t, serverOptions{})
	srv.Stop()
	cfg := srv.Config("events", eventColumns...)
	cfg.CreateTable = true
	began := time.Now()
	s := newSink(t, cfg) // the server is down: no error
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("New took %v with the server down", d)
	}
	ctx := context.Background()
	evs := genEvents(2000, 3)
	batches := make([][]record.Record, 0, 200)
	for i := 0; i < len(evs); i += 10 {
		var rs []record.Record
		for _, e := range evs[i : i+10] {
			rs = append(rs, record.Record{Data: e.json})
		}
		batches = append(batches, rs)
	}
	_, err := s.Insert(ctx, batches[0])
	var e *Error
	if !errors.As(err, &e) || e.Permanent {
		t.Fatalf("Insert with the server down = %v; want a retryable *Error", err)
	}
	// A batch large enough to be converted by several goroutines fails
	// the same way, and they stop.
	var big []record.Record
	for len(big) <= 3*chunkRows {
		big = append(big, batches[0]...)
	}
	if _, err := s.Insert(ctx, big); err == nil || IsPermanent(err) {
		t.Fatalf("Insert of %d records with the server down = %v; want a retryable error", len(big), err)
	}
	srv.Start()

	// retry inserts a batch as delivery would: again after a retryable
	// error, with a short backoff.
	retry := func(rs []record.Record) (tries int) {
		for {
			tries++
			_, err := s.Insert(ctx, rs)
			if err == nil {
				return tries
			}
			if IsPermanent(err) || tries > 600 {
				t.Errorf("Insert, try %d: %v", tries, err)
				return tries
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	retry(batches[0])
	srv.Stop()
	if _, err := s.Insert(ctx, batches[1]); err == nil || IsPermanent(err) {
		t.Errorf("Insert after the server stopped = %v; want a retryable error", err)
	}
	srv.Start()
	retry(batches[1])

	// Restarts, one clean and one a crash, while another goroutine
	// inserts the other batches.
	done := make(chan struct{})
	failures := 0
	go func() {
		defer close(done)
		for _, b := range batches[2:] {
			failures += retry(b) - 1
		}
	}()
	for _, stop := range []func(){srv.Stop, srv.Kill} {
		time.Sleep(300 * time.Millisecond)
		stop()
		time.Sleep(300 * time.Millisecond)
		srv.Start()
	}
	<-done
	var count, distinct uint64
	srv.QueryRow("SELECT count(), uniqExact(id) FROM events", &count, &distinct)
	_, wantSum := checksum(evs)
	wantCount, _ := checksum(evs)
	if distinct != wantCount {
		t.Errorf("%d distinct rows after restarts; want %d", distinct, wantCount)
	}
	t.Logf("%d rows, %d distinct, %d failed inserts retried", count, distinct, failures)
	if count == distinct {
		var sum uint64
		srv.QueryRow(fmt.Sprintf(eventChecksum, "events"), &count, &sum)
		if sum != wantSum {
			t.Errorf("checksum %d; want %d", sum, wantSum)
		}
	}
}

// Every compression method of the native protocol works with the server.
func TestCompression(t *testing.T) {
	srv := startServer(t, serverOptions{})
	for _, c := range []string{"none", "lz4", "zstd"} {
		cfg := srv.Config("c_"+c, Column{Name: "id", Type: "UInt64"}, Column{Name: "s", Type: "String"})
		cfg.CreateTable, cfg.Compression = true, c
		s := newSink(t, cfg)
		var rs []record.Record
		for i := range 10_000 {
			rs = append(rs, record.Record{Data: fmt.Appendf(nil, `{"id": %d, "s": "%s"}`, i, strings.Repeat("x", i%50))})
		}
		insert(t, s, rs)
		var count, sum uint64
		srv.QueryRow("SELECT count(), sum(id + length(s)) FROM c_"+c, &count, &sum)
		if count != 10_000 || sum != 49995000+(49*50/2)*200 {
			t.Errorf("%s: count %d, sum %d", c, count, sum)
		}
	}
}

// TLS to tcp_port_secure, trusting the server's CA through CAFile; a
// client that does not trust it is refused, permanently.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	srv := startServer(t, serverOptions{certFile: cert, keyFile: key})
	cfg := srv.Config("tls", Column{Name: "id", Type: "UInt64"})
	cfg.Addrs = []string{srv.tls}
	cfg.CreateTable, cfg.TLS, cfg.CAFile = true, true, ca
	s := newSink(t, cfg)
	insert(t, s, recs(`{"id": 1}`, `{"id": 2}`))
	var count uint64
	srv.QueryRow("SELECT count() FROM tls", &count)
	if count != 2 {
		t.Errorf("%d rows; want 2", count)
	}
	cfg.CAFile = ""
	_, err := New(context.Background(), cfg, nil)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) || !IsPermanent(err) {
		t.Errorf("New without the CA = %v; want a permanent certificate verification error", err)
	}
}
