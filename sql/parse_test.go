package sql

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden parses every testdata/*.sql and compares its summary and plan
// with testdata/*.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			app, err := Parse(filepath.Base(f), src)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", f, err)
			}
			got := Summary(app) + "\n" + Explain(app)
			golden := strings.TrimSuffix(f, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Explain(%s) =\n%s\nwant\n%s", f, got, want)
			}
		})
	}
}

func TestParseModel(t *testing.T) {
	src, err := os.ReadFile("testdata/design.sql")
	if err != nil {
		t.Fatal(err)
	}
	app, err := Parse("design.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	clicks := app.table("clicks")
	if clicks == nil || clicks.Watermark == nil || clicks.Watermark.Column != "ts" || clicks.Watermark.Lateness != 5*time.Second {
		t.Fatalf("clicks = %+v; want event time ts with 5s lateness", clicks)
	}
	if !clicks.Read || clicks.Written || len(clicks.Columns) != 3 || !clicks.Columns[0].NotNull || clicks.Columns[2].Type != TypeTimestamp {
		t.Errorf("clicks = %+v", clicks)
	}
	users := app.table("users")
	if !users.Reference() || users.Connection != (Connection{Target: "ref/users.csv", Format: "csv", Refresh: 300 * time.Second}) || !users.Columns[0].PrimaryKey {
		t.Errorf("users = %+v", users)
	}
	q := app.Queries[0]
	sink := q.Plan.(*Sink)
	wa := sink.Input.(*WindowAggregate)
	if wa.Window != (Window{Kind: Tumble, TimeColumn: "ts", Size: time.Minute, Lateness: 5 * time.Second}) {
		t.Errorf("window = %+v", wa.Window)
	}
	if _, ok := wa.Input.(*Scan); !ok {
		t.Errorf("input of the window = %T; want *Scan", wa.Input)
	}
}

func TestJSONPath(t *testing.T) {
	src, err := os.ReadFile("testdata/nexmark.sql")
	if err != nil {
		t.Fatal(err)
	}
	app, err := Parse("nexmark.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	if p := app.table("bid").Columns[5].Path; p != "$.bid.dateTime" {
		t.Errorf("date_time path = %q; want $.bid.dateTime", p)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"10 SECOND": 10 * time.Second, "1 minute": time.Minute, "2 HOURS": 2 * time.Hour,
		"500 MILLISECOND": 500 * time.Millisecond, "1 DAY": 24 * time.Hour,
	}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "10", "SECOND", "0 SECOND", "-1 SECOND", "1.5 SECOND", "10  SECOND", " 10 SECOND",
		"10 SECOND ", "10 FORTNIGHT", "10s", "+1 SECOND", "99999999999999999999 SECOND", "9999999999999 DAY"} {
		if d, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v; want an error", s, d)
		}
	}
}

// TestErrors checks each error's message and exact position.
func TestErrors(t *testing.T) {
	const clicks = "CREATE TABLE clicks (user_id VARCHAR(64), n BIGINT, ts TIMESTAMP(3),\n" +
		"  watermark TIMESTAMP(3) AS (ts - INTERVAL 5 SECOND)) ENGINE = stream CONNECTION = 'clicks';\n" +
		"CREATE TABLE raw (user_id VARCHAR(64), ts TIMESTAMP(3)) ENGINE = stream CONNECTION = 'raw';\n" +
		"CREATE TABLE out1 (user_id VARCHAR(64), n BIGINT) ENGINE = stream CONNECTION = 'out1';\n"
	// line 5 is the first line of each case's query.
	tests := []struct {
		src  string
		want string // "line:col: message substring"
	}{
		{"SELECT user_id FROM clicks;", "5:1: a query must feed a sink"},
		{"INSERT INTO out1 SELECT user_id, n FROM nowhere;", "5:41: unknown table or view nowhere"},
		{"INSERT INTO out2 SELECT user_id, n FROM clicks;", "5:13: unknown sink table out2"},
		{"INSERT INTO out1 SELECT user_id, m FROM clicks;", "5:34: unknown column m in clicks"},
		{"INSERT INTO out1\nSELECT user_id,\n  x.n FROM clicks;", "7:3: unknown table x in x.n"},
		{"INSERT INTO out1 SELECT user_id FROM clicks;", "5:18: the SELECT gives 1 columns, the sink takes 2"},
		{"INSERT INTO out1 SELECT user_id, ts FROM clicks;", "5:34: column 2 (ts) is timestamp, but sink column n is BIGINT"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM raw GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:77: raw has no watermark"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTES please');", "5:84: TUMBLE: duration"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, TUMBLE(ts, 60);", "5:84: TUMBLE: a duration is a string"},
		{"INSERT INTO out1 SELECT user_id, TUMBLE(ts, '1 MINUTE') FROM clicks;", "5:34: TUMBLE is a window: it belongs in GROUP BY"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks WHERE TUMBLE_END(ts, '1 MINUTE') > ts;", "5:54: TUMBLE_END needs TUMBLE(…) in GROUP BY"},
		{"CREATE VIEW v AS SELECT user_id, TUMBLE_END(ts, '2 MINUTE') AS e, COUNT(*) AS c FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:34: TUMBLE_END(ts, '2 MINUTE') does not match the window in GROUP BY, TUMBLE(ts, '1 MINUTE')"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:34: column n must be in GROUP BY"},
		{"INSERT INTO out1 SELECT user_id, STDDEV_POP(n) FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:34: aggregate STDDEV_POP is not supported"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;", "5:55: GROUP BY on a stream needs a window"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks;", "5:18: aggregates over a stream need a window"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks WHERE COUNT(*) > 1;", "5:54: aggregate COUNT is not allowed here"},
		{"INSERT INTO out1\nSELECT STREAM user_id, n FROM clicks;", "6:8: SELECT STREAM is not supported"},
		{"INSERT INTO out1 SELECT clicks.user_id, clicks.n FROM clicks\n  FULL JOIN raw ON clicks.user_id = raw.user_id;", "6:3: FULL JOIN is not supported"},
		{"INSERT INTO out1 SELECT c.user_id, r.n FROM clicks c JOIN raw r ON c.user_id = r.user_id;", "5:40: joins are not supported yet"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks ORDER BY n;", "5:48: ORDER BY is not supported"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks WHERE user_id + 1 > 2;", "5:54: + needs numbers, not string"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks WHERE n;", "5:54: WHERE must be a condition"},
		{"INSERT INTO out1 SELECT user_id, NO_SUCH(n) FROM clicks;", "5:34: function NO_SUCH is not supported"},
		{"INSERT INTO out1 SELECT user_id, SUM(n) OVER (PARTITION BY user_id) FROM clicks;", "5:34: OVER windows are not supported yet"},
		{"INSERT INTO out1 VALUES ('a', 1);", "5:1: INSERT … VALUES is not supported"},
		{"INSERT INTO out1 SELECT user_id, n\nFROM clicks WHERE;", "6:18: syntax error near \";\""},
		{"INSERT INTO out1 SELECT user_id, n FROM", "5:40: syntax error: unexpected end of input"},
		{"DROP TABLE clicks;", "5:1: statement \"DROP\" is not supported"},
		{"CREATE TABLE clicks (a INT) ENGINE = stream CONNECTION = 'x';", "5:14: clicks is already declared"},
		{"CREATE TABLE t (a INT) ENGINE = kafka CONNECTION = 'x';", "5:33: unknown ENGINE \"kafka\""},
		{"CREATE TABLE t (a INT) ENGINE = stream;", "5:14: table t needs a CONNECTION"},
		{"CREATE TABLE t (a INT) ENGINE = stream CONNECTION = 't?format=xml';", "5:53: unknown format \"xml\""},
		{"CREATE TABLE t (a INT) ENGINE = stream CONNECTION = 't?refresh=10s';", "5:53: refresh is for reference tables"},
		{"CREATE TABLE t (a INT, b BLOB, c BIT(8)) ENGINE = stream CONNECTION = 't';", "5:32: column c: type BIT(8) is not supported"},
		{"CREATE TABLE t (a INT COMMENT 'a.b') ENGINE = stream CONNECTION = 't';", "5:17: column a: COMMENT \"a.b\" is not a JSON path"},
		{"CREATE TABLE t (a INT COMMENT '$.a') ENGINE = stream CONNECTION = 't?format=csv';", "5:17: a JSON path (COMMENT '$.a') needs format=json"},
		{"CREATE TABLE t (a INT,\n  watermark TIMESTAMP(3) AS (a - INTERVAL 1 SECOND)) ENGINE = stream CONNECTION = 't';", "6:30: event-time column a must be a TIMESTAMP"},
		{"CREATE TABLE t (ts TIMESTAMP,\n  watermark TIMESTAMP(3) AS (ts + 1)) ENGINE = stream CONNECTION = 't';", "6:30: watermark of t: want (ts)"},
		{"CREATE TABLE t (ts TIMESTAMP,\n  watermark TIMESTAMP(3) AS (tz)) ENGINE = stream CONNECTION = 't';", "6:30: watermark of t: unknown column tz"},
		{"CREATE TABLE t (a INT) ENGINE = file CONNECTION = 'x.csv';", "5:1: reference table t needs exactly one PRIMARY KEY"},
		{"CREATE TABLE t (a INT PRIMARY KEY) ENGINE = s3 CONNECTION = 'bucket/x.csv';", "5:61: an s3 table's target is s3://bucket/key"},
		{"INSERT INTO out1 SELECT user_id, n FROM t;\nCREATE TABLE t (a INT PRIMARY KEY) ENGINE = file CONNECTION = 'x.csv';", "5:41: unknown table or view t"},
		{"CREATE TABLE r (a INT PRIMARY KEY) ENGINE = file CONNECTION = 'x.csv';\nINSERT INTO out1 SELECT user_id, n FROM r;", "6:41: r is a reference table"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, HOP(ts, '10 MINUTE', '1 MINUTE');", "5:81: the slide (10m) is longer than the size (1m)"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, TUMBLE(n, '1 MINUTE');", "5:80: TUMBLE windows on event time: use ts"},
		{"CREATE VIEW v AS SELECT user_id, n + 1 FROM clicks;", "5:34: a view's computed column needs a name"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY 1, TUMBLE(ts, '1 MINUTE');", "5:55: GROUP BY by column position is not supported"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks\nUNION ALL SELECT user_id, n FROM clicks;", "6:1: UNION is not supported yet"},
		{"INSERT INTO out1 SELECT user_id, SUM(SUM(n)) FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:38: aggregates cannot be nested"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE'), TUMBLE(ts, '2 MINUTE');", "5:97: GROUP BY has two windows"},
		{"INSERT INTO out1 SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id, HOP(ts, '1 MINUTE', '5 MINUTE')\n  HAVING HOP_END(ts, '1 MINUTE', '4 MINUTE') > 0;", "6:10: HOP_END(ts, '1 MINUTE', '4 MINUTE') does not match the window in GROUP BY, HOP(ts, '1 MINUTE', '5 MINUTE')"},
		{"INSERT INTO out1 SELECT user_id, APPROX_PERCENTILE(user_id, 2) FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:34: APPROX_PERCENTILE takes a number"},
		{"INSERT INTO out1 SELECT * FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');", "5:18: SELECT * cannot be used with GROUP BY"},
		{"INSERT INTO out1 SELECT user_id, (SELECT 1) FROM clicks;", "5:34: subqueries are not supported"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks LIMIT 3;", "5:48: LIMIT is not supported"},
		{"CREATE VIEW v AS SELECT user_id, n FROM out1;\nINSERT INTO out1 SELECT user_id, n FROM v;", "6:13: INSERT INTO out1 reads out1 too"},
		{"INSERT INTO out1 SELECT \"user_id\", `n` FROM \"clicks\" WHERE \"nope\" > 1;", "5:60: unknown column nope"},
		{"INSERT INTO out1 SELECT user_id, n FROM clicks WHERE user_id = 'é' AND nope > 1;", "5:72: unknown column nope"},
	}
	for _, tt := range tests {
		src := clicks + tt.src
		_, err := Parse("app.sql", []byte(src))
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("Parse(%q) = %v; want %s", tt.src, err, tt.want)
			continue
		}
		got := list[0].Error()
		pos, msg, _ := strings.Cut(tt.want, ": ")
		if !strings.HasPrefix(got, pos+": ") || !strings.Contains(got, msg) {
			t.Errorf("Parse(%q) = %v; want %s", tt.src, err, tt.want)
		}
	}
}

// TestManyErrors checks that Parse reports every bad statement, in order.
func TestManyErrors(t *testing.T) {
	src := "CREATE TABLE t (a INT) ENGINE = nope CONNECTION = 'x';\n" +
		"INSERT INTO missing SELECT a FROM t;\n" +
		"CREATE TABLE u (a FLOAT) ENGINE = stream CONNECTION = 'u';\n" +
		"INSERT INTO u SELECT b FROM u;\n"
	_, err := Parse("app.sql", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse = %v; want an ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Error())
	}
	want := []string{
		`1:33: table t: unknown ENGINE "nope" (want stream, file or s3)`,
		`2:13: unknown sink table missing: declare it with CREATE TABLE missing (…) ENGINE = stream CONNECTION = '…'`,
		`4:22: unknown column b in u`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Parse errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if list[1].Near != "missing" {
		t.Errorf("Near = %q; want missing", list[1].Near)
	}
}
